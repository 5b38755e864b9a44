// Runs of repeated calls and the seeded sample of their members
// (sampling.hpp says why).
#include "crashcheck/runner/sampling.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

namespace crashcheck::runner {
namespace {

using faults::TraceRecord;

// The file a call acted on: its inode when the trace knows it, else its path.
std::string file_key(const TraceRecord& r) { return r.inode ? "#" + std::to_string(r.inode) : r.path; }

// Two calls that differ only in position.
bool repeats(const TraceRecord& a, const TraceRecord& b) {
  return a.call == b.call && a.op == b.op && file_key(a) == file_key(b) && a.length == b.length && a.error == b.error &&
         a.fd == b.fd;
}

std::size_t ceil_log2(std::size_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

bool representative(int error, faults::OpClass op) {
  return error == EIO || error == EINTR || (error == ENOSPC && op == faults::OpClass::write);
}

}  // namespace

std::vector<CallRun> repeated_runs(const faults::Trace& trace) {
  std::vector<CallRun> runs;
  const auto& records = trace.records;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!runs.empty() && repeats(records[i - 1], records[i]))
      ++runs.back().count;
    else
      runs.push_back({i, 1});
  }
  return runs;
}

std::vector<std::size_t> sample_members(std::size_t count, std::uint64_t seed, std::uint64_t salt) {
  std::set<std::size_t> members;
  for (std::size_t fixed : {std::size_t{0}, std::size_t{1}, count - 1})
    if (fixed < count) members.insert(fixed);
  if (count > 3) {
    // Drawn from the middle [2, count − 2] only: the ends are always in.
    std::mt19937_64 random(seed ^ (salt * 0x9e3779b97f4a7c15ull));
    const std::size_t middle = count - 3;
    const std::size_t wanted = std::min(middle, ceil_log2(count));
    for (std::size_t drawn = 0; drawn < wanted;)
      if (members.insert(2 + random() % middle).second) ++drawn;
  }
  return {members.begin(), members.end()};
}

std::vector<ChosenCall> chosen_calls(const faults::Trace& trace, const SamplingPolicy& policy) {
  std::vector<ChosenCall> out;
  std::set<std::pair<std::string, std::string>> seen;  // (call, file) already met
  auto take = [&](std::size_t index) {
    const TraceRecord& r = trace.records[index];
    out.push_back({index, seen.insert({r.call, file_key(r)}).second});
  };
  for (const CallRun& run : repeated_runs(trace)) {
    if (policy.exhaustive) {
      for (std::size_t i = 0; i < run.count; ++i) take(run.first + i);
      continue;
    }
    // The first member is met first, so it carries first_of_kind when any does.
    for (std::size_t m : sample_members(run.count, policy.seed, trace.records[run.first].seq)) take(run.first + m);
  }
  return out;
}

std::vector<int> errnos_for(const ChosenCall& call, faults::OpClass op, std::span<const int> all,
                            const SamplingPolicy& policy) {
  std::vector<int> out;
  for (int error : all)
    if (policy.exhaustive || call.first_of_kind || representative(error, op)) out.push_back(error);
  return out;
}

}  // namespace crashcheck::runner
