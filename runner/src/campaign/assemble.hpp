// Stage 3 of a campaign, assembling: judges the observations into the
// properties, adds power loss (computed from the baseline's trace, after the
// trace self-check), the diagnoses and the notes, and fills the report the
// renderers read.
#pragma once

#include <crashcheck/report.hpp>

#include <string>

#include "crashcheck/runner/campaign.hpp"
#include "observe.hpp"

namespace crashcheck::runner {

// A report with the subject filled in and every property not run for `reason`.
reports::Report empty_report(const SubjectSetup& setup, const RunOptions& options, const std::string& reason);

// Each baseline call as a report lists it, with its call site when known.
std::vector<reports::CallSummary> call_summaries(const faults::Trace& trace);

// Every counterexample and diagnosis names a baseline call: it shows that
// call's site next to it (runner/README.md, "Call sites").
void attach_sites(reports::Report& report);

// The whole report of a campaign whose baseline was checkable.
reports::Report assemble_report(const Collected& collected, const CaseResult& baseline, const SubjectSetup& setup,
                                const RunOptions& options, const DurableAfterError& after_errors);

}  // namespace crashcheck::runner
