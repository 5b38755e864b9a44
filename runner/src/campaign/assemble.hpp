// Stage 3 of a campaign, assembling: judges the observations into the
// properties, adds power loss (computed from the baseline's trace, after the
// trace self-check), the diagnoses and the notes, and fills the report the
// renderers read.
#pragma once

#include <crashcheck/report.hpp>

#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"
#include "durable_after_error.hpp"
#include "observe.hpp"

namespace crashcheck::runner {

// A report with the subject filled in and every property not run for `reason`.
reports::Report empty_report(const SubjectSetup& setup, const RunOptions& options, const std::string& reason);

// Each baseline call as a report lists it, with its call site when known.
std::vector<reports::CallSummary> call_summaries(const faults::Trace& trace);

// Every counterexample and diagnosis names a baseline call: it shows that
// call's site next to it (runner/README.md, "Call sites").
void attach_sites(reports::Report& report);

// The baseline's power-loss states judged, or why they are not. It needs
// only the baseline's trace, its own contents and the trace self-check, so
// it runs beside the cases (campaign.cpp), not after them.
struct BaselinePowerLoss {
  std::optional<PowerLossJudgement> judged;
  std::string reason;  // without `judged`: why powerloss_atomic and durable were not judged
  std::string note;    // and the note that says so, when there is one
};
BaselinePowerLoss judge_baseline_power_loss(const CaseResult& baseline, const Contents& own, const SubjectSetup& setup,
                                            const RunOptions& options, const ContentValidator& validator,
                                            const std::vector<Unexplained>& unexplained);

// The whole report of a campaign whose baseline was checkable. `validator`:
// the one `power_loss` was judged with (its verdicts are cached by content).
reports::Report assemble_report(const Collected& collected, const CaseResult& baseline, const SubjectSetup& setup,
                                const RunOptions& options, const DurableAfterError& after_errors,
                                BaselinePowerLoss power_loss, const ContentValidator& validator);

}  // namespace crashcheck::runner
