// Case timings: where a campaign's time goes, case by case, for the benchmark
// that holds the harness's own cost per case to a share of one bare run of the
// subject (bench/case_overhead.py, bench/README.md). Off unless the
// environment variable CRASHCHECK_CASE_TIMINGS names a file. Then every fault
// case a campaign runs (kill in exact mode, errno, disk-full) adds its wall
// time in its worker and the part of it during which its subject ran, and
// `crashcheck check|run` writes the totals to that file when it ends.
// Timings never enter a report: a report is a regression record, and wall
// times differ from one run to the next.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace crashcheck::runner {

class CaseTimings {
 public:
  using Duration = std::chrono::steady_clock::duration;

  // nullptr when CRASHCHECK_CASE_TIMINGS is unset or empty.
  static std::shared_ptr<CaseTimings> from_environment();
  explicit CaseTimings(std::filesystem::path file) : file_(std::move(file)) {}

  // One case: `whole` from its worker taking it up to its state being judged;
  // `subject` from its subject's start (or fork) until its end was known.
  // Thread-safe.
  void add(bool forked, Duration whole, Duration subject);

  // The totals so far: {"from_start"|"forked": {"cases", "whole_s", "subject_s"}}.
  std::string json() const;
  // Writes json() to the named file with the reference writer; an error is a
  // line on stderr, never the run's status.
  void write() const;

 private:
  struct Totals {
    std::size_t cases = 0;
    Duration whole{}, subject{};
  };
  std::filesystem::path file_;
  mutable std::mutex mutex_;
  Totals from_start_, forked_;
};

}  // namespace crashcheck::runner
