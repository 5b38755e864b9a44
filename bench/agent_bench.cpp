// Agent overhead: the same Python subject with and without the agent (trace
// on, no fault), alternating in one run; reports the wall-time ratio and the
// trace's size per counted call. Goal: overhead <= 5%. Exit 1 if missed.
// Both run through the same spawn helper; the time is the subject's (spawn to
// exit), not the runner's setup of the control block or its trace reading.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "subject.hpp"

namespace cf = crashcheck::faults;
using crashcheck::faults::testing::run_subject;
using crashcheck::faults::testing::Sandbox;
using crashcheck::faults::testing::SubjectRun;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::atoi(argv[1]) : 15;
  const std::string rounds = argc > 2 ? argv[2] : "20";
  Sandbox box;
  std::vector<std::string> subject = {CRASHCHECK_PYTHON, CRASHCHECK_BENCH_SUBJECT,
                                      (box.scope() / "target.json").string(), rounds};
  std::vector<double> plain, traced, plain_cpu, traced_cpu;
  std::uint64_t calls = 0, trace_bytes = 0, data_bytes = 0;
  crashcheck::faults::testing::SubjectOptions baseline;
  baseline.without_agent = true;
  run_subject(box, subject, baseline);  // warm caches for both
  auto ms = [](std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (int i = 0; i < repeats; ++i) {
    SubjectRun base_run = run_subject(box, subject, baseline);
    if (!base_run.exited(0)) std::fprintf(stderr, "baseline run failed\n"), std::exit(3);
    plain.push_back(ms(base_run.wall));
    plain_cpu.push_back(ms(base_run.cpu));
    SubjectRun run = run_subject(box, subject);
    traced.push_back(ms(run.wall));
    traced_cpu.push_back(ms(run.cpu));
    if (!run.exited(0) || run.calls_counted == 0) std::fprintf(stderr, "traced run failed\n"), std::exit(3);
    calls = run.calls_counted;
    trace_bytes = std::filesystem::file_size(box.trace_file());
    data_bytes = 0;
    for (const auto& r : run.trace.records) data_bytes += r.data.size();
  }
  double base = median(plain), with = median(traced), ratio = with / base;
  std::printf("python subject, %d runs each, %s rounds per run\n", repeats, rounds.c_str());
  std::printf("baseline_ms_median %.2f\nagent_ms_median %.2f\noverhead_ratio %.4f (%.2f%%)\n", base, with, ratio,
              (ratio - 1) * 100);
  // CPU time is steadier than wall time on a shared machine (the subject's fsyncs wait on other people's I/O)
  double cpu_ratio = median(traced_cpu) / median(plain_cpu);
  std::printf("baseline_cpu_ms_median %.2f\nagent_cpu_ms_median %.2f\ncpu_overhead_ratio %.4f (%.2f%%)\n",
              median(plain_cpu), median(traced_cpu), cpu_ratio, (cpu_ratio - 1) * 100);
  std::printf("counted_calls %llu\ntrace_bytes %llu\nbytes_per_call %.1f\nbytes_per_call_without_data %.1f\n",
              (unsigned long long)calls, (unsigned long long)trace_bytes, double(trace_bytes) / double(calls),
              double(trace_bytes - data_bytes) / double(calls));
  bool ok = ratio <= 1.05;
  std::printf("goal overhead <= 5%%: %s\n", ok ? "met" : "MISSED");
  return ok ? 0 : 1;
}
