// Tears inside a call. Linux copies a write page by page and takes a fatal
// signal between pages (generic_perform_write), so a SIGKILL inside one
// write-class call, or a reader racing it, finds the call's bytes up to a page
// boundary applied and the rest not. The kill and reader models stop at call
// boundaries; this stage adds, for every successful write-class call whose
// byte range crosses a page boundary, the states "its first B bytes applied"
// at each boundary B inside it (kill-within-N-B, reader-within-N-B).
//
// They are synthesized from the baseline's trace (power_loss.hpp,
// for_each_within_state): no extra run, so only when the trace self-check
// passes (else the blind spot stays, blind_spots.hpp). `--kill-mode exact` on
// the seccomp backend also kills one real subject inside each such call (the
// supervisor performs the first B bytes of the write itself, then SIGKILL);
// the preload agent cannot stop a write midway, so there every state is
// synthesized and the report says so.
//
// Stores through a shared writable mapping (msync, munmap, exit_group
// records, faults::is_mapped_store) get the same states: any of them may be
// in the page cache before the call that shows them, so a kill or a reader
// before it finds the range partly new (its page boundaries and its middle,
// always synthesized).
#pragma once

#include <crashcheck/faults.hpp>

#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/sampling.hpp"
#include "observe.hpp"

namespace crashcheck::runner {

// Above this many page boundaries inside one call, a seeded sample of them
// (always the first and the last); `--exhaustive` takes all.
inline constexpr std::size_t kCutsPerCall = 16;

struct WithinPlan {
  std::vector<WithinCut> cuts;  // ascending by call, then bytes
  std::size_t possible = 0;     // every page boundary inside every such call
  std::size_t calls = 0;        // calls with at least one cut
  std::size_t mapped = 0;       // of those, records of stores through a shared mapping
};

// The cuts of the write-class calls `policy` chooses (sampling.hpp). When a
// call has more boundaries than are sampled, they are drawn from those a
// tear shows at: strictly after the first byte it changes and at or before
// its last (the trace replayed from `initial` says what it overwrote in the
// file `target`, the one whose states are judged; every file when it is
// empty, as in directory mode);
// outside them a cut leaves the old bytes or the new ones, nothing torn.
WithinPlan plan_within(const faults::Trace& trace, const Snapshot& initial, const std::string& target,
                       const SamplingPolicy& policy);

// kill-within-N-B (Model::kill) or reader-within-N-B (Model::reader).
CaseSpec within_case(reports::Model model, const WithinCut& cut);

// Whether `spec` is a state inside a call.
bool is_within_case(const CaseSpec& spec);

// Whether `spec` is a state inside stores through a shared mapping (the cut
// of a record faults::is_mapped_store names): always synthesized, since the
// subject made those stores before the call that shows them.
bool synthesized_only(const CaseSpec& spec, const faults::Trace& trace);

// Exact mode on seccomp: one real kill inside each call, at its middle
// chosen boundary; the other cuts of that call stay synthesized. Not inside
// stores through a mapping: the subject made them before the call, so no
// kill during the call can leave them half done.
std::vector<CaseSpec> real_within_kills(const WithinPlan& plan, const faults::Trace& trace);

// The kill and reader states inside the baseline's calls, as the chosen
// models and kill mode ask: synthesized ones go to `collected`; real
// kill-within runs (exact mode, seccomp) are returned, to be run.
std::vector<CaseSpec> observe_within(const CaseResult& baseline, const SubjectSetup& setup, const RunOptions& options,
                                     Collected& collected);

// One state inside a call, synthesized from `baseline`'s trace (replay); why
// not, when the trace cannot give it.
struct WithinState {
  std::optional<Observation> observation;
  std::string why_not;
};
WithinState synthesize_within(const CaseSpec& spec, const CaseResult& baseline, const SubjectSetup& setup);

}  // namespace crashcheck::runner
