// Power-loss analysis cost on the seed's fixed writer (issue 5): mkstemp,
// 1 MiB written in 8 KiB writes, fsync, close, rename, in a directory of 100
// other files. Prints states explored per second, peak memory, and the
// analysis time relative to one bare run of an equivalent Python subject
// measured in the same run (the goal: the analysis costs less than that run).
// Times are medians (5 subject runs, 3 analyses): the machine is shared.
#include <crashcheck/powerloss.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef CRASHCHECK_PYTHON
#define CRASHCHECK_PYTHON "/usr/bin/python3"
#endif

extern char** environ;

namespace {

using namespace crashcheck;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPayload = 1 << 20;
constexpr std::size_t kChunk = 8 << 10;
constexpr int kOtherFiles = 100;
const std::string kTarget = "pipeline_health.json";

std::string other_name(int i) { return "other_" + std::to_string(i) + ".json"; }
std::string payload() { return std::string(kPayload, 'p'); }

powerloss::InitialState initial_state() {
  powerloss::InitialState initial{2, {}};
  initial.files.push_back({kTarget, std::string(4096, 'o'), 0644, 10, false});
  for (int i = 0; i < kOtherFiles; ++i)
    initial.files.push_back({other_name(i), std::string(512, 'x'), 0644, 100u + i, false});
  return initial;
}

faults::Trace fixed_writer_trace() {
  faults::Trace trace;
  const std::string tmp = "tmpab12cd.json.tmp";
  auto add = [&](std::string call, faults::OpClass op, std::string path) -> faults::TraceRecord& {
    faults::TraceRecord r;
    r.seq = static_cast<std::uint32_t>(trace.records.size() + 1);
    r.call = std::move(call);
    r.op = op;
    r.path = std::move(path);
    r.fd = 3;
    r.inode = 500;
    trace.records.push_back(std::move(r));
    return trace.records.back();
  };
  auto& open = add("mkstemp", faults::OpClass::open, tmp);
  open.created = true;
  open.flags = O_RDWR | O_CREAT | O_EXCL;
  open.mode = 0600;
  const std::string chunk(kChunk, 'p');
  for (std::size_t at = 0; at < kPayload; at += kChunk) {
    auto& w = add("write", faults::OpClass::write, tmp);
    w.offset = static_cast<std::int64_t>(at);
    w.length = w.result = kChunk;
    w.data = chunk;
  }
  add("fsync", faults::OpClass::sync, tmp);
  add("close", faults::OpClass::close, tmp);
  add("rename", faults::OpClass::rename, tmp).path2 = kTarget;
  return trace;
}

// The machine is shared: time a few runs and keep the median.
template <class F>
double median_seconds(int runs, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// One bare run of the subject the trace stands for, in a directory like the
// scenario's: the seed's write_json_atomic reduced to its calls.
double bare_subject_run_seconds() {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("powerloss_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / kTarget) << std::string(4096, 'o');
  for (int i = 0; i < kOtherFiles; ++i) std::ofstream(dir / other_name(i)) << std::string(512, 'x');
  std::string script =
      "import os, sys, tempfile\n"
      "d = sys.argv[1]; data = b'p' * (1 << 20)\n"
      "fd, tmp = tempfile.mkstemp(dir=d, suffix='.json.tmp')\n"
      "with os.fdopen(fd, 'wb', buffering=0) as f:\n"
      "    for i in range(0, len(data), 8192): f.write(data[i:i + 8192])\n"
      "    os.fsync(f.fileno())\n"
      "os.replace(tmp, os.path.join(d, 'pipeline_health.json'))\n";
  std::string dir_text = dir.string();
  char* argv[] = {const_cast<char*>(CRASHCHECK_PYTHON), const_cast<char*>("-c"), script.data(), dir_text.data(),
                  nullptr};
  double seconds = median_seconds(5, [&] {
    pid_t pid = 0;
    int status = 0;
    if (posix_spawn(&pid, CRASHCHECK_PYTHON, nullptr, nullptr, argv, environ) != 0 || waitpid(pid, &status, 0) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "powerloss_bench: the bare subject run failed\n");
      std::exit(3);
    }
  });
  fs::remove_all(dir);
  return seconds;
}

// --digest: one 64-bit FNV-1a over everything a check reports and every
// state it visits (names, modes, bytes, lost text, index), so two builds can
// be shown to give the same states, choices, texts and verdicts.
class Digest {
 public:
  void add(std::string_view text) {
    for (unsigned char c : text) value_ = (value_ ^ c) * 0x100000001b3ull;
    value_ = (value_ ^ 0xff) * 0x100000001b3ull;  // a separator: "ab","c" differs from "a","bc"
  }
  void add(std::uint64_t number) { add(std::to_string(number)); }
  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_ = 0xcbf29ce484222325ull;
};

void add_state(Digest& digest, const powerloss::Coverage& point, const powerloss::CrashState& state) {
  digest.add(point.after_seq);
  digest.add(state.index());
  for (const auto& name : state.names()) {
    const auto file = state.file(name);
    digest.add(name);
    digest.add(file->is_directory ? 1 : 0);
    digest.add(file->mode);
    digest.add(file->content);
  }
  digest.add(state.lost());
}

void add_outcome(Digest& digest, const powerloss::PropertyOutcome& outcome) {
  digest.add(static_cast<std::uint64_t>(outcome.verdict));
  digest.add(outcome.cases);
  digest.add(outcome.failing);
  digest.add(outcome.reason);
  for (const auto& note : outcome.notes) digest.add(note);
  for (const auto& f : outcome.failures) {
    digest.add(f.after_seq);
    digest.add(f.index);
    for (const auto& text : {f.call, f.lost, f.target_content, f.detail}) digest.add(text);
    digest.add(f.target_exists ? f.target_mode : 1u << 31);
    for (const auto& name : f.entries) digest.add(name);
  }
}

int print_digests(const std::vector<powerloss::Profile>& profiles) {
  const auto trace = fixed_writer_trace();
  const auto initial = initial_state();
  const std::string new_content = payload();
  for (auto profile : profiles) {
    powerloss::Options options;
    options.profile = profile;
    Digest states, verdicts;
    const auto out = powerloss::check_properties(
        trace, initial, {kTarget, new_content, true}, options,
        [&](const powerloss::Coverage& point, const powerloss::CrashState& state) { add_state(states, point, state); });
    add_outcome(verdicts, out.powerloss_atomic);
    add_outcome(verdicts, out.durable);
    for (const auto& point : out.coverage) verdicts.add(point.describe());
    std::printf("%-12s states %016llx verdicts %016llx\n", std::string(powerloss::profile_name(profile)).c_str(),
                static_cast<unsigned long long>(states.value()), static_cast<unsigned long long>(verdicts.value()));
  }
  return 0;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  // Optional arguments: --digest (print what the checks report instead of
  // timing them), then the profiles to run (default: both).
  std::vector<powerloss::Profile> profiles;
  const bool digest = argc > 1 && std::string_view(argv[1]) == "--digest";
  for (int i = digest ? 2 : 1; i < argc; ++i) {
    auto profile = powerloss::parse_profile(argv[i]);
    if (!profile) {
      std::fprintf(stderr, "powerloss_bench: unknown profile '%s' (posix, ext4-ordered)\n", argv[i]);
      return 2;
    }
    profiles.push_back(*profile);
  }
  if (profiles.empty()) profiles = {powerloss::Profile::posix, powerloss::Profile::ext4_ordered};
  if (digest) return print_digests(profiles);
  const double bare = bare_subject_run_seconds();
  const auto trace = fixed_writer_trace();
  const auto initial = initial_state();
  const long rss_before = peak_rss_kib();
  std::printf(
      "fixed writer: %zu calls, 1 MiB in 8 KiB writes, %d other files; bare subject run %.1f ms (median of 5)\n",
      trace.records.size(), kOtherFiles, bare * 1e3);
  const std::string new_content = payload();  // the Subject only views it
  for (auto profile : profiles) {
    powerloss::Options options;
    options.profile = profile;
    const powerloss::Subject subject{kTarget, new_content, true};
    powerloss::Verdicts verdicts;
    double seconds =
        median_seconds(3, [&] { verdicts = powerloss::check_properties(trace, initial, subject, options); });
    std::uint64_t states = 0, sampled = 0;
    for (const auto& point : verdicts.coverage) {
      states += point.explored;
      sampled += point.sampled ? 1 : 0;
    }
    auto verdict = [](powerloss::Verdict v) {
      return v == powerloss::Verdict::pass ? "pass" : v == powerloss::Verdict::fail ? "fail" : "not_run";
    };
    std::printf(
        "%-12s %6llu states (%llu of %zu points sampled) in %7.1f ms = %9.0f states/s; "
        "analysis / bare run = %.2f; powerloss_atomic %s, durable %s\n",
        std::string(powerloss::profile_name(profile)).c_str(), static_cast<unsigned long long>(states),
        static_cast<unsigned long long>(sampled), verdicts.coverage.size(), seconds * 1e3, states / seconds,
        seconds / bare, verdict(verdicts.powerloss_atomic.verdict), verdict(verdicts.durable.verdict));
  }
  std::printf("peak RSS: %ld KiB (%ld KiB before the analyses)\n", peak_rss_kib(), rss_before);
  return 0;
}
