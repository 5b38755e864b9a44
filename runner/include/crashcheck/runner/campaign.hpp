// The campaigns: a baseline run, then every case of every chosen fault model,
// judged into a report. This is what `crashcheck run` and `check` do for one
// scenario, and what `replay` does for one case.
#pragma once

#include <crashcheck/report.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashcheck/runner/case_timings.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/properties.hpp"
#include "crashcheck/runner/sampling.hpp"
#include "crashcheck/runner/scenario.hpp"
#include "crashcheck/runner/shards.hpp"

namespace crashcheck::runner {

enum class KillMode { fast, exact };

struct RunOptions {
  std::vector<std::string> models;  // empty: the scenario's list, else all
  KillMode kill_mode = KillMode::fast;
  unsigned jobs = 0;                           // 0: one per core
  std::optional<double> timeout_s;             // overrides the scenario's
  std::filesystem::path agent_library;         // empty: CRASHCHECK_AGENT, next to the program, or the build's
  std::optional<faults::BackendKind> backend;  // --backend: overrides the scenario's (cases.hpp)
  std::filesystem::path work_root;             // empty: $TMPDIR or /tmp
  std::filesystem::path report_file;           // absolute report.json, for the replay commands
  bool progress = true;                        // progress line when stderr is a terminal
  std::string fs_profile = "posix";            // power-loss model: "posix" or "ext4-ordered"
  std::optional<ShardSlice> shard;             // --shard K/N: run only this slice of the cases (shards.hpp)
  SamplingPolicy sampling;                     // --exhaustive / --seed: which repeated calls get cases
  bool fork_cases = false;                     // --fork: fault cases forked from template runs (forked.hpp)
  std::shared_ptr<CaseTimings> case_timings;   // CRASHCHECK_CASE_TIMINGS: per-case wall times (case_timings.hpp)
};

// How the note of a property that passed on sampled cases begins (a pass
// says nothing of the calls the sample skipped; `--exhaustive` runs all).
inline constexpr std::string_view kSampledPass = "passed on a sample of repeated calls: ";

struct CampaignResult {
  reports::Report report;
  std::optional<std::string> not_checkable;  // "not checkable: …" — exit 3, never a pass
  bool interrupted = false;                  // Ctrl-C / SIGTERM: report.complete is false
  std::vector<Observation> observations;     // every state found, for tests and replay
};

CampaignResult run_campaigns(const Scenario& scenario, const RunOptions& options);

// Sets every failure's replay command to `crashcheck replay REPORT CASE-ID`.
void fill_replay_commands(reports::Report& report, const std::filesystem::path& report_file);

// Re-runs exactly one case of a report (its subject section says how) and
// judges that one case. Throws InputError for an unknown case id.
struct ReplayResult {
  Observation observation;
  std::map<std::string, reports::PropertyResult> properties;  // only those the case bears on
  std::string outcome;                                        // the subject's end, e.g. "exit 1"
  bool fails = false;
};
ReplayResult replay_case(const reports::Report& report, std::string_view case_id, const RunOptions& options);

// The scenario a report's subject section describes (for replay).
Scenario scenario_from_subject(const reports::Subject& subject, std::string_view source);

}  // namespace crashcheck::runner
