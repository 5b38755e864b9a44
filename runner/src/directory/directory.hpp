// Directory mode (issue 15, runner/README.md "Directory mode"): the scratch
// directory starts as a copy of the scenario's initial directory, every fault
// model produces whole-directory states, and the user's checker judges each
// distinct state once, in a throw-away copy. The folder's door for the
// campaign (campaign/campaign.cpp calls run_directory_campaign).
//
//   states.cpp    StateBook: distinct states by content hash, the checker run on each
//   campaign.cpp  the stages: baseline (paused), cases, kills inside writes, power loss, the checker, the report
//   replay.cpp    one case of a directory-mode report again, its state kept on request
#pragma once

#include <crashcheck/powerloss.hpp>
#include <crashcheck/report.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"

namespace crashcheck::runner {

// The whole campaign of a scenario with `directory_mode` set.
CampaignResult run_directory_campaign(const Scenario& scenario, const RunOptions& options);

// What the checker said of one state.
struct CheckerVerdict {
  bool consistent = false;  // exited 0
  bool timed_out = false;   // did not finish within the case timeout: never consistent
  std::string outcome;      // "exit 1", "timed out", "killed by SIGSEGV"
  std::string output;       // the tail of its stdout and stderr, on one line
};

// Every distinct (directory state, committed) pair the models produced, each
// kept once until the checker has judged it. A state is its entries: names,
// kinds, modes and bytes (inodes and times do not count).
class StateBook {
 public:
  using Entries = std::map<std::string, Entry>;
  // The job that judges `entries` with CRASHCHECK_COMMITTED as given; the
  // same state twice is the same job. Thread-safe.
  std::size_t add(Entries entries, bool committed);
  // Runs the checker once per job, -j in parallel; each job's copy lives
  // under `work_root` only while its checker runs.
  void judge(const SubjectSetup& setup, unsigned jobs);
  const CheckerVerdict& verdict(std::size_t job) const { return verdicts_.at(job); }
  const Entries& entries(std::size_t job) const { return jobs_.at(job).entries; }
  bool committed(std::size_t job) const { return jobs_.at(job).committed; }
  std::size_t size() const { return jobs_.size(); }

 private:
  struct Job {
    Entries entries;
    bool committed = false;
  };
  std::mutex mutex_;
  std::map<std::string, std::size_t> by_key_;  // content hash + committed -> job
  std::vector<Job> jobs_;
  std::vector<CheckerVerdict> verdicts_;
};

// Writes `entries` below `dir` (created), modes kept.
void materialise(const StateBook::Entries& entries, const std::filesystem::path& dir);

// The checker on one state, in a copy under `root` (removed afterwards).
CheckerVerdict check_state(const SubjectSetup& setup, const StateBook::Entries& entries, bool committed,
                           const std::filesystem::path& root);

// A power-loss state as the checker sees it: its entries and bytes. The
// model holds a symlink of `initial` as a file of its target's name; one it
// left as it was is a symlink again.
StateBook::Entries entries_of(const powerloss::CrashState& state, const Snapshot& initial);

// `crashcheck replay` of a directory-mode report (replay.cpp): the case
// re-run (a power-loss state recomputed from the re-run baseline's trace)
// and its whole directory judged by the checker; with `keep`, that
// directory is also written there for the user to open.
struct DirectoryReplay {
  std::string fault;                                      // what was done, as the report says it
  std::string outcome;                                    // the writer's end in the re-run
  std::vector<std::string> names;                         // the entries of the state
  std::vector<std::pair<bool, CheckerVerdict>> verdicts;  // per CRASHCHECK_COMMITTED judged
  bool fails = false;
};
DirectoryReplay replay_directory_case(const reports::Report& report, std::string_view id, const RunOptions& options,
                                      const std::filesystem::path& keep);

}  // namespace crashcheck::runner
