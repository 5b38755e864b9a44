// Planning the concurrent model: the calls of A and B that conflict, every
// interleaving of them up to kMaxInterleavings (a seeded sample above, said
// in a note with both counts and the seed), each turned into a full schedule
// and a case id that replays it, plus kRaces free-running races. Only the
// order of conflicting calls can change what the target ends as; the calls
// between them touch names private to their instance, so each runs just
// before its instance's next conflicting call.
#include <algorithm>
#include <cctype>
#include <random>
#include <set>

#include "concurrent.hpp"

namespace crashcheck::runner {
using faults::OpClass;
using faults::Trace;
using faults::TraceRecord;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

constexpr std::string_view kRacePrefix = "race-";

// A call that can change what a name holds, or see it: not a sync, not the
// opening or closing of a directory for its fsync.
bool may_conflict(const TraceRecord& r) {
  if (r.op == OpClass::sync || r.op == OpClass::sync_all) return false;
  return !(r.is_directory && (r.op == OpClass::open || r.op == OpClass::close));
}

std::set<std::string> names_touched(const Trace& trace) {
  std::set<std::string> out;
  for (const auto& r : trace.records) {
    if (!may_conflict(r)) continue;
    if (!r.path.empty() && r.path != ".") out.insert(r.path);
    if (!r.path2.empty() && r.path2 != ".") out.insert(r.path2);
  }
  return out;
}

// C(n, k), saturating at `cap`.
std::uint64_t binomial(std::uint64_t n, std::uint64_t k, std::uint64_t cap) {
  std::uint64_t c = 1;
  k = std::min(k, n - k);
  for (std::uint64_t i = 1; i <= k; ++i) {
    c = c * (n - k + i) / i;  // exact: c * (n-k+i) is divisible by i
    if (c > cap) return cap + 1;
  }
  return c;
}

// Every merge of `a` A's and `b` B's, in lexicographic order.
void all_merges(std::size_t a, std::size_t b, std::string& prefix, std::vector<std::string>& out) {
  if (a == 0 && b == 0) return out.push_back(prefix);
  for (const char c : {'A', 'B'}) {
    if ((c == 'A' ? a : b) == 0) continue;
    prefix.push_back(c);
    all_merges(a - (c == 'A'), b - (c == 'B'), prefix, out);
    prefix.pop_back();
  }
}

// `count` distinct merges drawn with `seed`; the two serial orders first.
std::vector<std::string> sampled_merges(std::size_t a, std::size_t b, std::size_t count, std::uint64_t seed) {
  std::string merge = std::string(a, 'A') + std::string(b, 'B');
  std::vector<std::string> out{merge, std::string(b, 'B') + std::string(a, 'A')};
  std::set<std::string> seen(out.begin(), out.end());
  std::mt19937_64 random(seed);
  while (out.size() < count) {
    std::shuffle(merge.begin(), merge.end(), random);
    if (seen.insert(merge).second) out.push_back(merge);
  }
  return out;
}

// The full schedule of a merge of conflicting calls: each instance runs up
// to and including its next conflicting call when the merge names it; the
// rest of A, then the rest of B, at the end.
Schedule expand(std::string_view merge, const std::vector<std::uint32_t>& a_conflicts,
                const std::vector<std::uint32_t>& b_conflicts, std::uint32_t a_calls, std::uint32_t b_calls) {
  Schedule out;
  std::uint32_t done[2] = {0, 0};
  std::size_t next[2] = {0, 0};
  for (const char c : merge) {
    const int i = c == 'A' ? 0 : 1;
    const std::uint32_t upto = (i == 0 ? a_conflicts : b_conflicts)[next[i]++];
    out.append(upto - done[i], c);
    done[i] = upto;
  }
  out.append(a_calls - done[0], 'A');
  out.append(b_calls - done[1], 'B');
  return out;
}

std::uint32_t calls_of(const Trace& trace) { return trace.records.empty() ? 0 : trace.records.back().seq; }

std::string prefix() { return std::string(reports::model_info(Model::concurrent).case_prefix); }

}  // namespace

std::string encode_schedule(std::string_view schedule) {
  std::string out;
  for (std::size_t i = 0; i < schedule.size();) {
    std::size_t j = i;
    while (j < schedule.size() && schedule[j] == schedule[i]) ++j;
    out += schedule[i] + std::to_string(j - i);
    i = j;
  }
  return out;
}

std::optional<Schedule> decode_schedule(std::string_view text) {
  Schedule out;
  for (std::size_t i = 0; i < text.size();) {
    const char who = text[i++];
    std::size_t n = 0, digits = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 6; ++i, ++digits)
      n = n * 10 + static_cast<std::size_t>(text[i] - '0');
    if ((who != 'A' && who != 'B') || n == 0 || (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))))
      return std::nullopt;
    out.append(n, who);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::vector<std::uint32_t> conflicting_calls(const Trace& self, const Trace& other) {
  const auto theirs = names_touched(other);
  std::vector<std::uint32_t> out;
  for (const auto& r : self.records)
    if (may_conflict(r) && (theirs.count(r.path) > 0 || theirs.count(r.path2) > 0)) out.push_back(r.seq);
  return out;
}

ConcurrentPlan plan_concurrent(const Trace& a, const Trace& b, const SamplingPolicy& policy) {
  const auto a_conflicts = conflicting_calls(a, b), b_conflicts = conflicting_calls(b, a);
  const std::size_t na = a_conflicts.size(), nb = b_conflicts.size();
  const std::uint64_t total = binomial(na + nb, na, 1'000'000'000);
  ConcurrentPlan plan;
  std::vector<std::string> merges;
  std::string counts = std::to_string(na) + " of A's " + std::to_string(calls_of(a)) + " calls and " +
                       std::to_string(nb) + " of B's " + std::to_string(calls_of(b)) + " conflict";
  const std::size_t bound = policy.exhaustive ? kMaxExhaustiveInterleavings : kMaxInterleavings;
  if (total <= bound) {
    std::string scratch;
    all_merges(na, nb, scratch, merges);
    plan.notes.push_back("concurrent: " + counts + "; all " + std::to_string(merges.size()) +
                         " interleavings of them explored, plus " + std::to_string(kRaces) + " free-running races");
  } else {
    const std::uint64_t seed = policy.seed ^ (na << 16) ^ nb;
    merges = sampled_merges(na, nb, bound, seed);
    plan.notes.push_back("concurrent: " + counts + "; " + std::to_string(bound) + " of their " +
                         (total > 1'000'000'000 ? "more than 10^9" : std::to_string(total)) +
                         " interleavings explored (a sample, seed " + std::to_string(seed) +
                         ", the two serial orders included), plus " + std::to_string(kRaces) + " free-running races");
  }
  std::set<std::string> ids;  // distinct merges can expand to one schedule only if calls repeat; keep one
  for (const auto& merge : merges) {
    const std::string id =
        prefix() + encode_schedule(expand(merge, a_conflicts, b_conflicts, calls_of(a), calls_of(b)));
    if (ids.insert(id).second) plan.cases.push_back({id, Model::concurrent, {Kind::pause, 0, 0, 0}, 0});
  }
  for (std::uint32_t i = 1; i <= kRaces; ++i)
    plan.cases.push_back(
        {prefix() + std::string(kRacePrefix) + std::to_string(i), Model::concurrent, {Kind::none, 0, 0, 0}, 0});
  return plan;
}

bool is_concurrent_case(std::string_view case_id) { return case_id.substr(0, prefix().size()) == prefix(); }

bool is_race(std::string_view case_id) {
  if (!is_concurrent_case(case_id)) return false;
  const std::string_view rest = case_id.substr(prefix().size());
  if (rest.substr(0, kRacePrefix.size()) != kRacePrefix) return false;
  const std::string_view n = rest.substr(kRacePrefix.size());
  return !n.empty() && n.size() < 6 && std::all_of(n.begin(), n.end(), [](char c) { return std::isdigit(c); });
}

std::optional<Schedule> schedule_of(std::string_view case_id) {
  if (!is_concurrent_case(case_id)) return std::nullopt;
  return decode_schedule(case_id.substr(prefix().size()));
}

}  // namespace crashcheck::runner
