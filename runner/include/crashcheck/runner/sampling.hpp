// Which counted calls get fault cases of their own.
//
// A writer that replaces 1 MiB in 4 KiB writes makes 250 `write` calls that
// differ only in position. Injecting every errno into every one of them costs
// hundreds of runs and, for almost every writer, finds nothing that the first,
// the second and the last of them do not. So calls that repeat — the same call
// on the same file with the same size, back to back — form a *run*; a run gets
// cases at its first two members, its last, and a seeded sample of O(log n)
// members between (a defect tied to one member in the middle is found by the
// sample or by `--exhaustive`). The first call of each kind on each file gets
// every errno of the call table; the others a representative few. The sample
// is a pure function of the trace and the seed, so the same seed replays the
// same cases, and the report says how many cases were possible and how many ran.
#pragma once

#include <crashcheck/faults.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace crashcheck::runner {

inline constexpr std::uint64_t kDefaultSampleSeed = 0x63726173686368ull;  // "crashch"

struct SamplingPolicy {
  bool exhaustive = false;  // every call, every errno: no sampling at all
  std::uint64_t seed = kDefaultSampleSeed;
};

// Consecutive records of one call on one file with one size: [first, first + count).
struct CallRun {
  std::size_t first = 0;
  std::size_t count = 0;
};

// The trace cut into runs, in order; a call that repeats nothing is a run of one.
std::vector<CallRun> repeated_runs(const faults::Trace& trace);

// The members of a run of `count` that get cases: 0, 1, count − 1 and
// ceil(log2(count)) seeded others, ascending, without repeats. `salt` tells
// runs apart so that two runs of one length are not sampled alike.
std::vector<std::size_t> sample_members(std::size_t count, std::uint64_t seed, std::uint64_t salt);

// A call that gets cases: its index in trace.records, and whether it is the
// first call of its kind (same call name) on its file in the trace.
struct ChosenCall {
  std::size_t index = 0;
  bool first_of_kind = false;
  bool operator==(const ChosenCall&) const = default;
};

// The calls that get cases, ascending: every call when exhaustive, else the
// sampled members of every run.
std::vector<ChosenCall> chosen_calls(const faults::Trace& trace, const SamplingPolicy& policy);

// The errnos worth injecting into a chosen call: all of `all` for the first
// call of its kind on its file (and always when exhaustive), else the
// representative ones among `all` — EIO, EINTR and, for write-class calls, ENOSPC.
std::vector<int> errnos_for(const ChosenCall& call, faults::OpClass op, std::span<const int> all,
                            const SamplingPolicy& policy);

}  // namespace crashcheck::runner
