// Stage 2 of a campaign, observing: runs the planned cases and turns each
// case's end state into an Observation (what the target holds, what was left
// beside it, which call the fault hit). Kill and reader states of fast mode
// are read off the baseline's pauses instead of being run.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "forked.hpp"
#include "crashcheck/runner/progress.hpp"
#include "crashcheck/runner/properties.hpp"
#include "durable_after_error.hpp"
#include "pause_check.hpp"

namespace crashcheck::runner {

// Why a baseline run cannot be judged ("not checkable: …"), or nullopt.
std::optional<std::string> why_not_checkable(const CaseResult& base, const SubjectSetup& setup);

// What the observing stage hands to the assembling one.
struct Collected {
  std::vector<Observation> observations;
  std::vector<std::string> notes;
  std::map<std::string, std::pair<std::size_t, std::string>> outside;  // path -> (cases, first case)
  std::size_t planned = 0, ran = 0;
  // The baseline's trace self-check, made before the cases run so the
  // baseline's end state need not be held through them (release_contents).
  std::vector<Unexplained> unexplained;
  PausePrints::Check pauses;  // the same check of the paused run's snapshots (fast mode)
  // The baseline's own contents (own_contents), taken with the self-check:
  // they share the payload's bytes when the run left those, so the end
  // state's copy of the target goes too.
  std::optional<Contents> baseline_contents;
  std::map<reports::Model, std::string> sampled;  // Plan::sampled: a pass resting on them says so

  void add_note(const std::string& note);  // once, however many cases say it
};

// The progress lines of a run of `specs` (one group per model), or none when
// options.progress is off.
std::unique_ptr<Progress> progress_for(const std::vector<CaseSpec>& specs, const SubjectSetup& setup,
                                       const RunOptions& options);

// The paused baseline's directory at each pause, reduced as it happens to
// what a kill or reader case there is judged on (no bytes of old or new).
class PauseStates {
 public:
  explicit PauseStates(const SubjectSetup& setup);
  PauseVisitor visitor();                           // for execute_case; keeps `this`
  const Observation* at(std::uint32_t call) const;  // nullptr: the run never stopped there
  // Without a payload: judges the pauses' targets against the new content
  // the run left, once adopt_baseline_content has set it.
  void settle();
  const PausePrints& prints() const { return prints_; }

 private:
  const SubjectSetup& setup_;
  std::map<std::uint32_t, Observation> seen_;
  std::map<std::uint32_t, Entry> unsettled_;  // no payload: the target at each pause, until settle()
  PausePrints prints_;
};

// The setup's contents with new_bytes the bytes `run` left at the target
// when they are new (JSON-equal to the payload with --compare json; any
// file without a payload, for a run that exited 0): what
// the power-loss model, which compares bytes, judges that run's states by.
Contents own_contents(const CaseResult& run, const SubjectSetup& setup);

// Without a payload, the baseline's final target becomes the new content of
// every state read off the baseline (pauses, power loss), and its trace's
// recipe the way a separately run case's own new content is rebuilt.
void adopt_baseline_content(SubjectSetup& setup, const CaseResult& baseline);

// The contents case `r` is judged against: the setup's with a payload (and
// for the baseline); without one, what r's own trace wrote by the recipe, or
// unknown_new saying why that cannot be known.
Contents case_contents(const CaseResult& r, const SubjectSetup& setup, const faults::Trace& baseline);

// The baseline's own observation, and the kill and reader states of its
// pauses; returns the kill points its pauses did not reach, to run for real.
std::vector<CaseSpec> observe_baseline(const CaseResult& baseline, const PauseStates& states, const SubjectSetup& setup,
                                       const RunOptions& options, Collected& collected);

// Runs `specs` (in parallel, -j) and observes each case that was not
// cancelled; every ended case is also shown to `after_errors`. Kill, errno
// and disk-full cases are forked from `templates` when it can (forked.hpp).
void run_planned(const std::vector<CaseSpec>& specs, const SubjectSetup& setup, const RunOptions& options,
                 const CaseResult& baseline, Collected& collected, DurableAfterError& after_errors,
                 std::unique_ptr<ForkedCases> templates = nullptr);

// The templates of a campaign's forked cases, started now, or nullptr with a
// note saying why its cases will run from the start.
std::unique_ptr<ForkedCases> launch_templates(const SubjectSetup& setup, const RunOptions& options,
                                              Collected& collected);

// One note per path written outside the scratch directory, however many cases wrote it.
void add_outside_notes(Collected& collected);

// The observation of one finished case, its calls described from the baseline's trace.
Observation observe_case(const CaseResult& r, const SubjectSetup& setup, const faults::Trace& baseline);

// A state already seen, as the case `spec` that ended with `end` left it.
Observation as_case(const CaseSpec& spec, Observation seen, const SubjectOutcome& end, const faults::Trace& baseline);

// The observation of `state` as if `spec` had left it (a reader's pause, a replayed case).
Observation observe(const CaseSpec& spec, const Snapshot& state, const Snapshot& initial, const SubjectOutcome& end,
                    const SubjectSetup& setup, const faults::Trace& baseline);
// The same judged against `contents` (a run's own, case_contents).
Observation observe(const CaseSpec& spec, const Snapshot& state, const Snapshot& initial, const SubjectOutcome& end,
                    const SubjectSetup& setup, const faults::Trace& baseline, const Contents& contents);

}  // namespace crashcheck::runner
