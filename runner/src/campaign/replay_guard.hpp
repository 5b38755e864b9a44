// What replay checks before it injects anything: that the case id is one the
// report could hold (else the report's own ids of that model are listed), and
// that the writer still makes the call the report's case hit at that index
// (else the report is stale: injecting there would test a different call and
// could pass for the wrong reason). Both refusals are InputError, exit 2.
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <string>
#include <string_view>

#include "crashcheck/runner/cases.hpp"

namespace crashcheck::runner {

// The parsed case, or InputError: "unknown case id "X"; this report's kill
// cases: kill-before-1, kill-after-1 … and 4 more", also for a case at a
// call the report does not have. Needs nothing but the report: bad ids cost
// no run.
CaseSpec known_case(const reports::Report& report, std::string_view id);

// InputError naming `what` is wrong with `spec`, and the report's ids of its model.
[[noreturn]] void refuse_case(const reports::Report& report, const CaseSpec& spec, const std::string& what);

// The counted call the case's fault hits in the report (0: none to check).
std::uint32_t case_call(const reports::Report& report, const CaseSpec& spec);

// Refuses (InputError) when call `index` of `rerun` is not, by kind and
// paths, the call the report recorded at that index: "the writer changed:
// the report's call 4 was rename(t.tmp → t) but call 4 is now close(fd 3 →
// t.tmp); re-run crashcheck".
void check_call_unchanged(const reports::Report& report, const CaseSpec& spec, const faults::Trace& rerun);

// How a campaign compares a case's call with the baseline's of that number:
// by kind and paths, or by the call's name alone (paths drawn at random, such
// as temp names of another length, differ between faithful runs).
enum class CallMatch { shape, name };

// The same check within a campaign: the first call of `run` numbered at most
// `upto` that is not, as `match` compares them, the baseline's call of that
// number ("call 9 was fsync(fd 4 → .) but is now open(t.json)"), or "" when
// every one is. A case whose calls differ was not the run its id names.
std::string first_changed_call(const faults::Trace& baseline, const faults::Trace& run, std::uint32_t upto,
                               const std::string& target, CallMatch match = CallMatch::shape);

}  // namespace crashcheck::runner
