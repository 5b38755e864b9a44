// A case: one run of the subject in its own scratch directory under one
// fault plan, and what it left behind. Case IDs are stable strings, one per
// fault plan, so a report's failure can be replayed by ID alone:
//   baseline, kill-before-7, kill-after-12, errno-5-ENOSPC, disk-full-1024, reader-3
#pragma once

#include <crashcheck/faults.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/scenario.hpp"
#include "crashcheck/runner/scratch_case.hpp"
#include "crashcheck/runner/subject_process.hpp"

namespace crashcheck::runner {

struct CaseSpec {
  std::string id;
  std::string model;  // "baseline", "kill", "errno", "disk-full", "reader"
  faults::FaultPlan plan;
  std::uint32_t reader_call = 0;  // reader-N: the pause at which the reader looks
};

std::string case_id(const std::string& model, const faults::FaultPlan& plan, std::uint32_t reader_call = 0);
std::optional<CaseSpec> parse_case_id(std::string_view id);

// Everything a case needs that does not change from case to case.
struct SubjectSetup {
  Scenario scenario;
  Contents contents;
  std::filesystem::path agent_library;
  std::filesystem::path crashcheck_write;  // {crashcheck_write}
  std::filesystem::path work_root;         // case directories go below it
  std::chrono::milliseconds timeout{30000};
};

// Reads the old and new content; resolves the agent, {crashcheck_write} and
// the work root. Throws InputError when a file cannot be read.
SubjectSetup make_setup(const Scenario& scenario, std::optional<double> timeout_s,
                        const std::filesystem::path& agent_library, const std::filesystem::path& work_root);

// crashcheck-write next to the running program (installed or built), else the
// one this build made; empty when there is none.
std::filesystem::path find_crashcheck_write();

// argv with {target} {payload} {dir} {scenario_dir} {crashcheck_write} replaced.
std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch);

struct CaseResult {
  CaseSpec spec;
  SubjectOutcome outcome;
  Snapshot initial;
  Snapshot final;
  std::optional<faults::Trace> trace;  // nullopt when unreadable (trace_error says why)
  std::string trace_error;
  std::uint32_t agents_loaded = 0;
  std::uint32_t calls_counted = 0;
  std::map<std::uint32_t, Snapshot> pauses;  // pause plan: the directory before call N
  std::vector<std::string> outside_writes;   // files written in the case root outside scratch/
  std::string stderr_tail;                   // last lines of the subject's stderr
};

// Runs one case to its end (or timeout, or cancellation).
CaseResult execute_case(const SubjectSetup& setup, const CaseSpec& spec);

}  // namespace crashcheck::runner
