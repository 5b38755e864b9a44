// States inside one call (within.hpp says why): which page boundaries are
// cut, and the kill and reader states each cut leaves.
#include "within.hpp"

#include <algorithm>
#include <csignal>
#include <iterator>
#include <map>
#include <random>
#include <set>

#include "plan.hpp"

namespace crashcheck::runner {
using faults::Trace;
using faults::TraceRecord;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

constexpr std::uint64_t kPage = 4096;  // the unit generic_perform_write copies between fatal-signal checks

// The bytes of `r` applied at each page boundary strictly inside its range,
// ascending. Only successful write-class calls whose trace carries their
// bytes: a cut is replayed from them (a copy the backend could not read
// back has none, and stays a blind spot of the self-check).
// Stores through a shared mapping (faults::is_mapped_store) are recorded
// with result 0 and the range's bytes: the CPU stores them in any order, not
// page by page, so their cuts also include the middle of the range (a range
// inside one page is torn too).
std::vector<std::uint64_t> page_boundaries(const TraceRecord& r) {
  // An fsync while mapped shows the stores made so far: they are cut there.
  const bool mapped =
      (faults::is_mapped_store(r) && r.error == 0 && !r.data.empty()) || faults::carries_mapped_range(r);
  if (!mapped && (r.op != faults::OpClass::write || r.error != 0 || r.result <= 0 ||
                  r.data.size() != static_cast<std::uint64_t>(r.result)))
    return {};
  const auto start = static_cast<std::uint64_t>(std::max<std::int64_t>(r.offset, 0));
  const auto end = start + r.data.size();
  std::set<std::uint64_t> out;
  for (std::uint64_t page = (start / kPage + 1) * kPage; page < end; page += kPage) out.insert(page - start);
  if (mapped && r.data.size() >= 2) out.insert(r.data.size() / 2);
  return {out.begin(), out.end()};
}

// A write's bytes as they land, when its record carries them all (else none).
bool whole_write(const TraceRecord& r) {
  return r.op == faults::OpClass::write && r.error == 0 && r.result > 1 && !faults::is_mapped_store(r) &&
         r.data.size() == static_cast<std::uint64_t>(r.result);
}

// Which of `count` boundaries get states: all up to kCutsPerCall (or when
// exhaustive), else the first, the last and a seeded sample between.
std::vector<std::size_t> chosen_boundaries(std::size_t count, const SamplingPolicy& policy, std::uint32_t seq) {
  std::set<std::size_t> chosen;
  if (policy.exhaustive || count <= kCutsPerCall) {
    for (std::size_t i = 0; i < count; ++i) chosen.insert(i);
  } else {
    chosen = {0, count - 1};
    std::mt19937_64 random(policy.seed ^ (seq * 0x9e3779b97f4a7c15ull));
    while (chosen.size() < kCutsPerCall) chosen.insert(1 + random() % (count - 2));
  }
  return {chosen.begin(), chosen.end()};
}

// How the subject ends in a state inside a call: killed, or (a reader
// observes) going on to exit 0.
SubjectOutcome ended(const CaseSpec& spec) {
  return spec.model == Model::kill ? SubjectOutcome{SubjectOutcome::End::signaled, SIGKILL}
                                   : SubjectOutcome{SubjectOutcome::End::exited, 0};
}

Observation within_observation(const CaseSpec& spec, const Snapshot& seen, const CaseResult& baseline,
                               const SubjectSetup& setup) {
  return observe(spec, seen, baseline.initial, ended(spec), setup, *baseline.trace);
}

// Which states of a cut are synthesized: the chosen models', but those run for real.
struct Wanted {
  bool kills = false, readers = false;
  const std::set<std::string>& real;
};

// The kill and reader states of one cut; the state is read once, each
// model's case is a copy.
void add_states(const WithinCut& cut, const Snapshot& seen, const Wanted& wanted, const CaseResult& baseline,
                const SubjectSetup& setup, std::vector<Observation>& out) {
  std::optional<Observation> first;
  for (Model model : {Model::kill, Model::reader}) {
    const CaseSpec spec = within_case(model, cut);
    if (!(model == Model::kill ? wanted.kills : wanted.readers) || wanted.real.count(spec.id)) continue;
    if (model == Model::kill && cut.reader_only) continue;
    out.push_back(first ? as_case(spec, *first, ended(spec), *baseline.trace)
                        : within_observation(spec, seen, baseline, setup));
    if (!first) first = out.back();
  }
}

std::string with_count(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void add_notes(const WithinPlan& plan, const SubjectSetup& setup, const RunOptions& options, std::size_t real,
               Collected& collected) {
  std::string note = "states inside calls: " + with_count(plan.cuts.size(), "page boundary", "page boundaries") +
                     " inside " + with_count(plan.calls, "write-class call", "write-class calls") +
                     ", synthesized from the trace (a SIGKILL or a reader finds a write's bytes applied up to a "
                     "page boundary, the rest not; a reader also finds each write half applied: it copies bytes, "
                     "not pages)";
  if (plan.mapped > 0)
    note += "; " + with_count(plan.mapped, "of them records", "of them record") +
            " stores through a shared mapping, made before the msync/munmap that shows them, each cut at its page "
            "boundaries and in its middle, always synthesized";
  if (real > 0)
    note += "; exact mode also killed " + with_count(real, "real subject", "real subjects") +
            " inside a call (one per call)";
  collected.add_note(note);
  if (has(options.models, Model::kill) && options.kill_mode == KillMode::exact &&
      setup.backend.kind != faults::BackendKind::seccomp)
    collected.add_note("exact mode: the " + std::string(faults::backend_name(setup.backend.kind)) +
                       " backend cannot stop a write midway, so the kill states inside calls are synthesized from "
                       "the trace too (--backend seccomp kills inside them for real)");
  if (plan.cuts.size() < plan.possible)
    collected.add_note(
        "states inside calls: " + std::to_string(plan.possible) + " page boundaries, " +
        std::to_string(plan.cuts.size()) + " modelled: repeated calls and boundaries sampled (the first " +
        "and last of each call always), seed " + std::to_string(options.sampling.seed) + "; `--exhaustive` models all");
}

}  // namespace

// For each chosen call with more boundaries than kCutsPerCall, the range of
// its bytes that differ from what they overwrite, [first, last] relative to
// the call; none when nothing differs.
std::map<std::uint32_t, std::optional<std::pair<std::uint64_t, std::uint64_t>>> changed_ranges(
    const Trace& trace, const Snapshot& initial, const std::string& target, const std::vector<ChosenCall>& chosen) {
  std::vector<WithinCut> before;
  for (const ChosenCall& c : chosen)
    if (const TraceRecord& r = trace.records[c.index];
        (target.empty() || r.path == target) && page_boundaries(r).size() > kCutsPerCall)
      before.push_back({r.seq, 0});
  std::map<std::uint32_t, std::optional<std::pair<std::uint64_t, std::uint64_t>>> out;
  if (before.empty()) return out;
  for_each_within_state(trace, initial, target, before, [&](const WithinCut& cut, const Snapshot& seen) {
    const TraceRecord& r = *trace.find(cut.call);
    const Entry* file = seen.find(r.path);
    const std::string_view old = file ? std::string_view(file->content) : std::string_view();
    const auto start = static_cast<std::uint64_t>(std::max<std::int64_t>(r.offset, 0));
    const auto differs = [&](std::uint64_t i) { return start + i >= old.size() || old[start + i] != r.data[i]; };
    std::uint64_t first = 0, last = r.data.size();
    while (first < r.data.size() && !differs(first)) ++first;
    while (last > first && !differs(last - 1)) --last;
    out[cut.call] = first < last ? std::optional(std::pair(first, last - 1)) : std::nullopt;
  });
  return out;
}

WithinPlan plan_within(const Trace& trace, const Snapshot& initial, const std::string& target,
                       const SamplingPolicy& policy) {
  WithinPlan plan;
  for (const auto& r : trace.records) plan.possible += page_boundaries(r).size();
  const auto chosen = chosen_calls(trace, policy);
  const auto changed = policy.exhaustive ? decltype(changed_ranges(trace, initial, target, chosen)){}
                                         : changed_ranges(trace, initial, target, chosen);
  for (const ChosenCall& c : chosen) {
    const TraceRecord& r = trace.records[c.index];
    auto all = page_boundaries(r);
    if (const auto range = changed.find(r.seq); range != changed.end()) {
      const auto torn = [&](std::uint64_t b) {
        return range->second && range->second->first < b && b <= range->second->second;
      };
      std::vector<std::uint64_t> tearing;
      std::copy_if(all.begin(), all.end(), std::back_inserter(tearing), torn);
      if (!tearing.empty()) all = std::move(tearing);  // else every cut is old or new: keep the usual sample
    }
    const std::uint64_t middle = r.data.size() / 2;
    const bool reader_middle = whole_write(r) && !std::binary_search(all.begin(), all.end(), middle);
    if (all.empty() && !reader_middle) continue;
    ++plan.calls;
    plan.mapped += faults::is_mapped_store(r);
    for (auto i : chosen_boundaries(all.size(), policy, r.seq)) plan.cuts.push_back({r.seq, all[i]});
    if (reader_middle) plan.cuts.push_back({r.seq, middle, true});
  }
  std::sort(plan.cuts.begin(), plan.cuts.end(), [](const WithinCut& a, const WithinCut& b) {
    return std::pair(a.call, a.bytes) < std::pair(b.call, b.bytes);
  });
  return plan;
}

CaseSpec within_case(Model model, const WithinCut& cut) {
  const faults::FaultPlan plan{Kind::kill_within, cut.call, 0, cut.bytes};
  const std::uint32_t reader_call = model == Model::reader ? cut.call : 0;
  return {case_id(model, plan, reader_call), model, plan, reader_call};
}

bool is_within_case(const CaseSpec& spec) { return spec.plan.kind == Kind::kill_within; }

bool synthesized_only(const CaseSpec& spec, const Trace& trace) {
  if (!is_within_case(spec)) return false;
  const TraceRecord* r = trace.find(spec.plan.call);
  return r && (faults::is_mapped_store(*r) || faults::carries_mapped_range(*r));
}

std::vector<CaseSpec> real_within_kills(const WithinPlan& plan, const Trace& trace) {
  std::vector<CaseSpec> out;
  for (std::size_t first = 0; first < plan.cuts.size();) {
    std::size_t end = first;
    while (end < plan.cuts.size() && plan.cuts[end].call == plan.cuts[first].call) ++end;
    const WithinCut& middle = plan.cuts[first + (end - first) / 2];
    const CaseSpec spec = within_case(Model::kill, middle);
    if (!middle.reader_only && !synthesized_only(spec, trace)) out.push_back(spec);
    first = end;
  }
  return out;
}

std::vector<CaseSpec> observe_within(const CaseResult& baseline, const SubjectSetup& setup, const RunOptions& options,
                                     Collected& collected) {
  const bool kills = has(options.models, Model::kill), readers = has(options.models, Model::reader);
  if (!kills && !readers) return {};
  const Trace& trace = *baseline.trace;
  const WithinPlan plan = plan_within(trace, baseline.initial, setup.scenario.target, options.sampling);
  if (plan.cuts.empty()) return {};
  if (!collected.unexplained.empty()) {  // the baseline's self-check (its end state is released by now)
    collected.add_note(
        "states inside calls not modelled: they are replayed from the trace, and the trace does not "
        "explain the run (trace self-check)");
    return {};
  }
  const bool exact_real =
      kills && options.kill_mode == KillMode::exact && setup.backend.kind == faults::BackendKind::seccomp;
  const auto run = exact_real ? real_within_kills(plan, trace) : std::vector<CaseSpec>{};
  std::set<std::string> run_ids;
  for (const auto& spec : run) run_ids.insert(spec.id);
  const Wanted wanted{kills, readers, run_ids};
  for_each_within_state(trace, baseline.initial, setup.scenario.target, plan.cuts,
                        [&](const WithinCut& cut, const Snapshot& seen) {
                          add_states(cut, seen, wanted, baseline, setup, collected.observations);
                        });
  add_notes(plan, setup, options, run.size(), collected);
  return run;
}

WithinState synthesize_within(const CaseSpec& spec, const CaseResult& baseline, const SubjectSetup& setup) {
  const Trace& trace = *baseline.trace;
  if (const auto unexplained = unexplained_by_trace(trace, baseline.initial, baseline.final); !unexplained.empty())
    return {std::nullopt, "trace self-check: " + describe_unexplained(unexplained)};
  const WithinCut cut{spec.plan.call, spec.plan.byte_budget};
  const TraceRecord* record = trace.find(cut.call);
  const bool cuttable =
      record != nullptr && (!page_boundaries(*record).empty() || (spec.model == Model::reader && whole_write(*record)));
  if (!cuttable || cut.bytes == 0 || cut.bytes >= record->data.size())
    return {std::nullopt, "call " + std::to_string(cut.call) + " of the re-run is not a write-class call whose first " +
                              std::to_string(cut.bytes) + " bytes are only part of it"};
  WithinState out;
  for_each_within_state(trace, baseline.initial, setup.scenario.target, {cut},
                        [&](const WithinCut&, const Snapshot& seen) {
                          out.observation = within_observation(spec, seen, baseline, setup);
                        });
  return out;
}

}  // namespace crashcheck::runner
