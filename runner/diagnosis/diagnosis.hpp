// Diagnosis: for each failing property of a report, the step the writer most
// likely misses or misplaces, at which call, with a fix per language.
//
// One table of rules (rules.cpp) says, for each rule, the properties it
// explains, how it is recognised in the fault-free (baseline) trace and the
// report's counterexamples and per-call outcomes, a hint and a snippet per
// language. diagnose() applies every rule to one report; the runner stores the
// result in report.diagnoses and the renderers turn it into "Fix:" lines.
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <string_view>
#include <vector>

namespace crashcheck::diagnosis {

// One row of the rule table, as tests and documentation see it.
struct RuleInfo {
  std::string_view id;
  std::vector<std::string_view> properties;  // the properties it explains
  // An advisory rule reports what the property checkers accept by definition
  // (exit 0 with the new content after a failed fsync or close, giving up on
  // EINTR, a temp file outside the target's directory): when none of its
  // properties failed it is still reported, on its first property.
  bool advisory = false;
  std::string_view hint;
};
std::vector<RuleInfo> rules();

// Every rule that matches, once per property it explains that failed (an
// advisory rule at least once), in table order.
// `baseline` is the fault-free run's trace; `report` has its verdicts,
// counterexamples, cells, calls and subject filled in.
std::vector<reports::Diagnosis> diagnose(const faults::Trace& baseline, const reports::Report& report);

}  // namespace crashcheck::diagnosis
