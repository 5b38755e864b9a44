// The power-loss model (runner/powerloss/, crashcheck_powerloss) seen from
// the runner: computed from the baseline's trace, no re-run, and mapped into
// the report's vocabulary (powerloss_atomic, durable, cells, case ids
// "power-loss-<N><letters>": one state a power failure just after counted
// call N can leave, cases.hpp).
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crashcheck/runner/properties.hpp"
#include "crashcheck/runner/scratch_case.hpp"

namespace crashcheck::powerloss {
struct InitialState;
}

namespace crashcheck::runner {

// The model's input from the scratch directory before the run (with inodes);
// directory mode enumerates the states from it itself (runner/src/directory/).
powerloss::InitialState power_loss_initial(const Snapshot& initial);

// What a replayed file image `name` is: the model knows files and
// directories only (power_loss_initial gives it a symlink as a file holding
// its target), so a symlink of `initial` whose image still holds that target
// is that symlink again.
Entry::Kind replayed_kind(const Snapshot& initial, const std::string& name, bool is_directory,
                          std::string_view content);

struct PowerLossJudgement {
  reports::PropertyResult powerloss_atomic;
  reports::PropertyResult durable;
  reports::PropertyResult valid_content;  // the validator on each distinct target content (not_run without one)
  std::vector<reports::Cell> cells;
  std::vector<std::string> notes;  // profile, sampled crash points
  std::uint64_t states = 0;        // crash states checked
};

// What a validator said of each target content, by (size, hash).
using ValidatedContents = std::map<std::pair<std::size_t, std::size_t>, bool>;

// `initial` is the scratch directory before the baseline ran (with inodes).
// `validator` (may be empty) judges valid_content on every distinct target
// content the states hold; with `validated`, it runs only on contents not
// in it (their verdicts are added), so judgements of several traces run it
// once per content, each still counting and failing on its own.
// `reported_after`: CaseResult::reported_after.
PowerLossJudgement judge_power_loss(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                    const std::string& target, bool exited_zero, const std::string& profile,
                                    const ContentValidator& validator = {}, ValidatedContents* validated = nullptr,
                                    std::optional<std::uint32_t> reported_after = std::nullopt);

// One power-loss state judged alone (replay): the state the properties judged
// is the state described, so what replay prints and its verdicts agree.
struct PowerLossState {
  std::string reason;                 // not empty: the model could not run on this trace, and why
  std::uint64_t states_at_point = 0;  // how many states crash point `after` has (0: no such point)
  bool found = false;                 // false: `index` is not below states_at_point
  reports::Failure seen;              // case id, call, fault (with what was lost), target, leftovers
  std::map<std::string, reports::PropertyResult> properties;  // only those that judged this state
};
PowerLossState judge_power_loss_state(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                      const std::string& target, bool exited_zero, const std::string& profile,
                                      std::uint32_t after, std::uint64_t index,
                                      std::optional<std::uint32_t> reported_after = std::nullopt);

// Tears inside one call (powerloss::for_each_cut): the scratch directory as
// the subject sees it while write-class call `call` has applied only its
// first `bytes` bytes, replayed from `trace` on `initial`. As a pause
// snapshot, it holds the bytes of `target` only (the other entries' names,
// kinds and modes); an empty `target` keeps every file's bytes (directory
// mode judges the whole directory). Synthesized, so only as true as the trace: use it when
// the trace self-check passes.
struct WithinCut {
  std::uint32_t call = 0;
  std::uint64_t bytes = 0;
  // A concurrent read copies what is there byte by byte, so it can find a
  // write applied up to any byte; a SIGKILL stops one only between pages.
  bool reader_only = false;
};
void for_each_within_state(const faults::Trace& trace, const Snapshot& initial, const std::string& target,
                           const std::vector<WithinCut>& cuts,
                           const std::function<void(const WithinCut& cut, const Snapshot& seen)>& visit);

// The umask every subject inherits from this process (read once).
std::uint32_t subject_umask() noexcept;

// Counterexamples a power-loss verdict lists (powerloss::Options::max_failures);
// verdicts derived from power-loss states list as many.
std::size_t power_loss_listed() noexcept;

// Trace self-check: one file whose real final state the run's own trace,
// replayed with nothing lost, does not reproduce.
struct Unexplained {
  std::string name;         // relative to the scratch directory
  std::string what;         // "bytes 0–14335 differ", "it exists, but no traced call made it"
  std::uint64_t bytes = 0;  // length of the differing range (0: metadata only)
  // Seen, but not replayed: a call the model does not follow (a directory
  // renamed with what it holds), named in `what`; the entries after it are
  // the files it moved.
  bool unmodelled = false;
};

// Every file in scope whose existence, kind, size, content or mode after the
// run differs from the replay of its trace. Empty: the trace explains the run.
std::vector<Unexplained> unexplained_by_trace(const faults::Trace& trace, const Snapshot& initial,
                                              const Snapshot& final);

// One sentence for a report: "the trace does not explain 14 KiB of
// `pipeline_health.json` (bytes 0–14335 differ): writes the harness could not
// see (a store through a shared mapping? a call it does not intercept?)".
std::string describe_unexplained(const std::vector<Unexplained>& found);

}  // namespace crashcheck::runner
