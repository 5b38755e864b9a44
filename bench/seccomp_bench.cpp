// Backend overhead: the same subjects bare, under the preload agent and under
// the seccomp supervisor (trace on, plan none), interleaved in one run, each
// through the spawn helper the tests use; medians of the subject's wall time
// (spawn to exit) and the ratios to the bare run. Subjects: a -static C
// writer (the atomic protocol ROUNDS times; the agent cannot see it, so its
// preload time is a bare run plus the agent's environment) and the Python
// subject of agent_bench. Goal (issue 10): seccomp wall overhead <= 10%;
// exit 1 if missed. The supervisor's own CPU time is spent in this process,
// not in the subject, so only wall time is compared.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "backends.hpp"
#include "subject.hpp"

namespace cf = crashcheck::faults;
namespace ct = crashcheck::faults::testing;
namespace fs = std::filesystem;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

[[noreturn]] void fail(const char* what, int status) {
  std::fprintf(stderr, "%s run failed (wait status %d)\n", what, status);
  std::exit(3);
}

struct Times {
  std::vector<double> bare, preload, seccomp;
  std::uint32_t seccomp_calls = 0, preload_calls = 0;
};

Times measure(const ct::Sandbox& box, const std::vector<std::string>& subject, int repeats) {
  Times t;
  ct::SubjectOptions bare;
  bare.without_agent = true;
  fs::path work = box.trace_file().parent_path() / "seccomp-work";
  for (int i = 0; i <= repeats; ++i) {  // round 0 warms the caches and is not counted
    ct::SubjectRun b = ct::run_subject(box, subject, bare);
    if (!b.exited(0)) fail("bare", b.status);
    ct::SubjectRun p = ct::run_subject(box, subject);
    if (!p.exited(0)) fail("preload", p.status);
    fs::remove_all(work);
    fs::create_directories(work);
    auto observer = cf::make_seccomp_observer(cf::RunSetup{box.scope(), work, {}, {}});
    ct::ObservedRun s = ct::run_observed(*observer, cf::Launch{subject, {}});
    if (!s.exited(0) || s.obs.calls_counted == 0) fail("seccomp", s.status);
    if (i == 0) continue;
    t.bare.push_back(ms(b.wall));
    t.preload.push_back(ms(p.wall));
    t.seccomp.push_back(ms(s.wall));
    t.preload_calls = p.calls_counted;
    t.seccomp_calls = s.obs.calls_counted;
  }
  return t;
}

// Prints one subject's line of the table; returns the seccomp ratio.
double report(const char* name, const Times& t) {
  double bare = median(t.bare), preload = median(t.preload), seccomp = median(t.seccomp);
  std::printf("| %s | %zu | %.1f | %.1f (%.3f, %u calls) | %.1f (%.3f, %u calls) |\n", name, t.bare.size(), bare,
              preload, preload / bare, t.preload_calls, seccomp, seccomp / bare, t.seccomp_calls);
  return seccomp / bare;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::atoi(argv[1]) : 15;
  std::string rounds = argc > 2 ? argv[2] : "20";
  std::string only = argc > 3 ? argv[3] : "";  // "c" or "python": one subject
  if (auto why = cf::seccomp_unavailable()) {
    std::fprintf(stderr, "seccomp backend unavailable: %s\n", why->c_str());
    return 3;
  }
  ct::Sandbox box;
  std::printf("%d runs each, %s rounds per run; wall ms medians (ratio to bare)\n\n", repeats, rounds.c_str());
  std::printf("| subject | runs | bare | preload | seccomp |\n|---|---|---|---|---|\n");
  double c = 1, py = 1;
  if (only != "python")
    c = report("static C writer",
               measure(box, {CRASHCHECK_STATIC_WRITER, "repeat", box.scope().string(), rounds}, repeats));
  box.reset();
  if (only != "c")
    py = report(
        "Python writer",
        measure(box, {CRASHCHECK_PYTHON, CRASHCHECK_BENCH_SUBJECT, (box.scope() / "target.json").string(), rounds},
                repeats));
  bool ok = c <= 1.10 && py <= 1.10;
  std::printf("\ngoal seccomp overhead <= 10%%: %s\n", ok ? "met" : "MISSED");
  return ok ? 0 : 1;
}
