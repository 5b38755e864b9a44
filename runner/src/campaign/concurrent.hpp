// The concurrent model (issue 17): two instances of the subject, A with the
// scenario's payload and B with `payload_b`, write the same target at once.
// Planning (concurrent_plan.cpp) finds the calls of each that conflict with
// the other's and lists the interleavings to explore as schedules; running
// (concurrent_run.cpp) drives one schedule through the pause handshake; the
// stage (concurrent.cpp) runs B alone, plans, runs, observes and replays.
// Property concurrent_safe: after both end the target is exactly the old
// content, A's or B's — never a mix, never missing.
#pragma once

#include <crashcheck/faults.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/sampling.hpp"
#include "observe.hpp"

namespace crashcheck::runner {

// --- planning (concurrent_plan.cpp) ---------------------------------------

// Which instance runs its next counted call, step by step: "AABBBA".
using Schedule = std::string;

// Run-length form used in case ids: "AABBBA" <-> "A2B3A1".
std::string encode_schedule(std::string_view schedule);
std::optional<Schedule> decode_schedule(std::string_view text);  // nullopt: not A<n>/B<n> runs

inline constexpr std::size_t kMaxInterleavings = 100;             // above: a seeded sample of this many
inline constexpr std::size_t kMaxExhaustiveInterleavings = 5000;  // the same bound under --exhaustive
inline constexpr std::uint32_t kRaces = 3;                        // free-running races besides the schedules

// The counted calls (seq numbers) of one instance's solo trace that conflict
// with the other instance: they change or open a name both solo runs touch
// (the target, a fixed temp name, a lock file). mkstemp names differ between
// runs, so they never conflict; syncs change no name and never conflict.
std::vector<std::uint32_t> conflicting_calls(const faults::Trace& self, const faults::Trace& other);

struct ConcurrentPlan {
  std::vector<CaseSpec> cases;     // the schedules, then the races
  std::vector<std::string> notes;  // how many interleavings, whether sampled (with the seed)
};
// The sample's seed derives from `policy.seed` (--seed); --exhaustive raises
// the bound to kMaxExhaustiveInterleavings (a sample above it still).
ConcurrentPlan plan_concurrent(const faults::Trace& a, const faults::Trace& b, const SamplingPolicy& policy = {});

// The schedule of a concurrent case id ("concurrent-A2B3"), or nullopt for a
// race ("concurrent-race-2") or an id of another model.
std::optional<Schedule> schedule_of(std::string_view case_id);
bool is_concurrent_case(std::string_view case_id);
bool is_race(std::string_view case_id);

// --- running (concurrent_run.cpp) -----------------------------------------

struct ConcurrentRun {
  SubjectOutcome a, b;
  Snapshot initial, final;
  Schedule executed;  // the steps really taken (an instance that ended or waits on a lock gives way)
  std::vector<std::string> notes;
  // A reader looks at the target between every two steps of a schedule; the
  // first time it finds neither old, A nor B: the steps so far and the bytes
  // (nullopt: no target, which only a run without an old file may show).
  struct Sighting {
    Schedule after;
    std::optional<std::string> bytes;
  };
  std::optional<Sighting> reader_found;
};

// Runs one concurrent case: both instances paused before every counted call
// and resumed as its schedule says, or (a race) both free at once.
ConcurrentRun run_concurrent_case(const SubjectSetup& setup, const SharedBytes& payload_b, const CaseSpec& spec);

// --- the stage (concurrent.cpp) -------------------------------------------

// Instance B's content: the scenario's payload_b, else derive_payload_b.
std::string payload_b_bytes(const SubjectSetup& setup);
// The same length, other bytes: the case of every ASCII letter inside JSON
// string literals swapped (keys and values, so JSON stays JSON and a subject
// that parses and re-serialises it still writes it verbatim); with no such
// letter, of every ASCII letter. Unchanged when the payload has no letter.
std::string derive_payload_b(std::string_view payload);

// The contents as instance B sees them: its payload (shared) as the new content.
Contents instance_b(const SubjectSetup& setup, const SharedBytes& payload_b);
// The observation of a concurrent case: the target judged against old, A and
// B (`as_b`); `keep_bytes`: keep the target's bytes (a replay shows them).
Observation observe_concurrent(const CaseSpec& spec, const ConcurrentRun& run, const SubjectSetup& setup,
                               const Contents& as_b, bool keep_bytes);

// Runs B alone, plans from both solo traces, runs every case (-j) and adds
// the observations and notes; the baseline is A's solo run.
void run_concurrent_stage(const CaseResult& baseline, const SubjectSetup& setup, const RunOptions& options,
                          Collected& collected);

// `crashcheck replay REPORT concurrent-…`: the schedule run again.
ReplayResult replay_concurrent(const SubjectSetup& setup, std::string_view case_id);

}  // namespace crashcheck::runner
