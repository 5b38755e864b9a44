// Planning: the errno, disk-full and exact-kill cases of a baseline trace,
// and the shard slice. Nothing here runs the subject.
#include "plan.hpp"

#include <algorithm>
#include <fcntl.h>
#include <map>
#include <random>
#include <set>

namespace crashcheck::runner {
using faults::OpClass;
using faults::Trace;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

constexpr std::size_t kDiskFullSamples = 8;  // seeded budgets between boundaries

// Every errno the call tables (faults/src/calls.def, seccomp/syscalls.def)
// list for a call is possible at every call of the trace, whatever its kind:
// an ignored ftruncate, fchmod or link failure breaks a writer as surely as
// an ignored write failure. The chosen calls (sampling.hpp) get theirs, the
// rest only when exhaustive.
std::vector<CaseSpec> plan_errno(const Trace& trace, const SamplingPolicy& policy, PlanCount& count) {
  std::vector<CaseSpec> out;
  for (const auto& r : trace.records) count.possible += faults::injectable_errnos(r.call).size();
  for (const ChosenCall& chosen : chosen_calls(trace, policy)) {
    const auto& r = trace.records[chosen.index];
    if (faults::is_stream_write(r)) continue;  // a buffered stream fails at its flush (blind_spots.hpp)
    for (int error : errnos_for(chosen, r.op, faults::injectable_errnos(r.call), policy)) {
      faults::FaultPlan plan{Kind::fail_call, r.seq, error, 0};
      out.push_back({case_id(Model::errno_fault, plan), Model::errno_fault, plan, 0});
    }
  }
  count.run = out.size();
  return out;
}

// The new space each call of `trace` took: cc_disk_full_fit's rule replayed
// on each file's allocated end (bytes below it are overwrites, free; a
// truncation or truncating open brings it down), 0 for all but writes.
std::vector<std::uint64_t> new_space(const Trace& trace, const InitialSizes& sizes) {
  std::map<std::uint64_t, std::uint64_t> allocated(sizes.begin(), sizes.end());
  std::vector<std::uint64_t> out(trace.records.size(), 0);
  for (std::size_t i = 0; i < trace.records.size(); ++i) {
    const auto& r = trace.records[i];
    if (r.error != 0 || r.is_directory) continue;
    std::uint64_t& end = allocated[r.inode];
    const auto at = static_cast<std::uint64_t>(std::max<std::int64_t>(r.offset, 0));
    if (r.op == OpClass::open && (r.flags & O_TRUNC)) end = 0;
    if (r.op == OpClass::truncate) end = std::min(end, at);
    if (r.op != OpClass::write || r.result <= 0) continue;
    const std::uint64_t from = r.offset < 0 ? end : at, to = from + static_cast<std::uint64_t>(r.result);
    out[i] = to - std::min(to, std::max(from, end));
    end = std::max(end, to);
  }
  return out;
}

// The new space taken once each write ends (`taken`: new_space), for the
// writes `calls` names (every write when it is empty).
std::vector<std::uint64_t> write_boundaries(const std::vector<std::uint64_t>& taken,
                                            const std::vector<ChosenCall>& calls) {
  std::set<std::size_t> wanted;
  for (const auto& c : calls) wanted.insert(c.index);
  std::vector<std::uint64_t> out;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    if (taken[i] == 0) continue;
    total += taken[i];
    if (calls.empty() || wanted.count(i)) out.push_back(total);
  }
  return out;
}

// 0, 1, one below and at the end of each chosen write, payload size − 1,
// and a seeded sample between, below `written` (all the new space the run
// took): deterministic, so a report's budgets can be replayed. Exhaustive:
// every write's end.
std::set<std::uint64_t> budgets_at(const std::vector<std::uint64_t>& ends, std::uint64_t written,
                                   std::uint64_t payload_size, std::uint64_t seed) {
  std::set<std::uint64_t> budgets{0, 1};
  for (auto end : ends) budgets.insert({end - 1, end});
  if (payload_size > 0) budgets.insert(payload_size - 1);
  std::mt19937_64 random(seed ^ written);
  for (std::size_t i = 0; written > 2 && i < kDiskFullSamples; ++i) budgets.insert(2 + random() % (written - 2));
  std::set<std::uint64_t> out;
  for (auto b : budgets)
    if (b < written) out.insert(b);  // a budget at or past what is written injects nothing
  return out;
}

// The write whose new space crosses `budget` (`taken`: new_space).
std::uint32_t crossing_write(const Trace& trace, const std::vector<std::uint64_t>& taken, std::uint64_t budget) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    total += taken[i];
    if (total > budget) return trace.records[i].seq;
  }
  return last_seq(trace);
}

// Whether a stdio stream writes at or after call `seq`: a full disk fails
// every write from its crossing one on, and a buffered stream's failure
// comes at its flush, which the preload agent does not place.
bool stream_write_from(const Trace& trace, std::uint32_t seq) {
  return std::any_of(trace.records.begin(), trace.records.end(),
                     [seq](const faults::TraceRecord& r) { return r.seq >= seq && faults::is_stream_write(r); });
}

std::vector<CaseSpec> plan_disk_full(const Trace& trace, std::uint64_t payload_size, const SamplingPolicy& policy,
                                     const InitialSizes& sizes, PlanCount& count) {
  const auto taken = new_space(trace, sizes);
  const auto all = write_boundaries(taken, {});
  const std::uint64_t written = all.empty() ? 0 : all.back();
  count.possible = budgets_at(all, written, payload_size, policy.seed).size();
  const auto chosen =
      budgets_at(write_boundaries(taken, chosen_calls(trace, policy)), written, payload_size, policy.seed);
  std::vector<CaseSpec> out;
  for (auto b : chosen) {
    const std::uint32_t crossing = crossing_write(trace, taken, b);
    if (stream_write_from(trace, crossing)) continue;  // as in plan_errno
    faults::FaultPlan plan{Kind::disk_full, crossing, 0, b};
    out.push_back({case_id(Model::disk_full, plan), Model::disk_full, plan, 0});
  }
  count.run = out.size();
  return out;
}

std::vector<CaseSpec> plan_sampled_kills(const Trace& trace, const SamplingPolicy& policy, PlanCount& count) {
  auto out = plan_exact_kills(trace, policy);
  count = {trace.records.size() + 1, out.size()};
  return out;
}

// 1680 -> "1,680".
std::string with_commas(std::size_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> chosen_models(const Scenario& scenario, const RunOptions& options) {
  const auto& wanted = !options.models.empty() ? options.models : scenario.models;
  std::vector<std::string> out;
  for (auto m : kModels) {
    // With no list, every model but the opt-in ones (concurrent: report.hpp).
    const bool by_default = !reports::model_info(*reports::model_from_name(m)).opt_in;
    if (wanted.empty() ? by_default : std::count(wanted.begin(), wanted.end(), std::string(m)) > 0) out.emplace_back(m);
  }
  return out;
}

RunOptions campaign_options(const Scenario& scenario, const RunOptions& given) {
  RunOptions options = given;
  options.models = chosen_models(scenario, given);
  options.sampling.exhaustive = given.sampling.exhaustive || scenario.exhaustive;
  return options;
}

bool has(const std::vector<std::string>& models, Model m) {
  return std::find(models.begin(), models.end(), reports::model_name(m)) != models.end();
}

std::uint32_t last_seq(const Trace& trace) { return trace.records.empty() ? 0 : trace.records.back().seq; }

std::uint32_t write_at_budget(const Trace& trace, std::uint64_t budget, const InitialSizes& sizes) {
  return crossing_write(trace, new_space(trace, sizes), budget);
}

InitialSizes initial_sizes(const Snapshot& initial) {
  InitialSizes out;
  for (const auto& [name, entry] : initial.entries)
    if (entry.kind == Entry::Kind::file) out[entry.inode] = entry.content.size();
  return out;
}

std::vector<CaseSpec> plan_exact_kills(const Trace& trace, const SamplingPolicy& policy) {
  std::vector<CaseSpec> out;
  for (const ChosenCall& c : chosen_calls(trace, policy)) {
    faults::FaultPlan plan{Kind::kill_before, trace.records[c.index].seq, 0, 0};
    out.push_back({case_id(Model::kill, plan), Model::kill, plan, 0});
  }
  faults::FaultPlan last{Kind::kill_after, last_seq(trace), 0, 0};
  out.push_back({case_id(Model::kill, last), Model::kill, last, 0});
  return out;
}

// Fast kills and readers come from one paused run, and the baseline is that
// run: pausing changes timing only, so it is traced and ends like any other.
CaseSpec baseline_run(const std::vector<std::string>& models, KillMode mode, faults::BackendKind backend) {
  const bool paused = (has(models, Model::kill) && mode == KillMode::fast) || has(models, Model::reader) ||
                      backend == faults::BackendKind::preload;
  const faults::FaultPlan plan{paused ? Kind::pause : Kind::none, 0, 0, 0};
  CaseSpec spec{case_id(Model::baseline, {}), Model::baseline, plan, 0};
  spec.sites = true;  // the report shows this run's calls, with their sites
  return spec;
}

Plan plan_cases(const Trace& trace, const std::vector<std::string>& models, KillMode mode, std::uint64_t payload_size,
                const SamplingPolicy& policy, const InitialSizes& sizes) {
  Plan out;
  auto add = [&](Model model, std::vector<CaseSpec> cases, PlanCount count) {
    for (auto& c : cases) out.cases.push_back(std::move(c));
    if (count.run == count.possible) return;
    out.notes.push_back(sampling_note(model, count, policy));
    out.sampled[model] = out.notes.back();
  };
  PlanCount count;
  if (has(models, Model::kill) && mode == KillMode::exact)
    add(Model::kill, plan_sampled_kills(trace, policy, count), count);
  if (has(models, Model::errno_fault)) add(Model::errno_fault, plan_errno(trace, policy, count = {}), count);
  if (has(models, Model::disk_full))
    add(Model::disk_full, plan_disk_full(trace, payload_size, policy, sizes, count = {}), count);
  const bool writes = std::any_of(trace.records.begin(), trace.records.end(),
                                  [](const faults::TraceRecord& r) { return r.op == OpClass::write && r.result > 0; });
  if (has(models, Model::disk_full) && writes && write_boundaries(new_space(trace, sizes), {}).empty())
    out.notes.push_back(
        "disk-full: no case: the run's writes need no new space (they overwrite bytes the files "
        "already hold), so a full disk cannot fail them");
  return out;
}

void note_sampled_passes(reports::Report& report, const std::map<Model, std::string>& sampled) {
  for (auto& [name, property] : report.properties) {
    if (property.verdict != reports::Verdict::pass) continue;
    for (const auto& [model, note] : sampled)
      if (reports::judges(model, name)) property.notes.push_back(std::string(kSampledPass) + note);
  }
}

std::string sampling_note(Model model, PlanCount count, const SamplingPolicy& policy) {
  return std::string(reports::model_name(model)) + ": " + with_commas(count.possible) + " possible cases, " +
         with_commas(count.run) + " run: repeated calls sampled, seed " + std::to_string(policy.seed) +
         "; `--exhaustive` runs all";
}

// A shard keeps its round-robin share of the planned cases; what is judged
// from the baseline run itself stays with shard 1 (shards.hpp).
std::optional<reports::Shard> take_slice(std::vector<CaseSpec>& cases, std::vector<std::string>& notes,
                                         const RunOptions& options) {
  if (!options.shard) return std::nullopt;
  const ShardSlice slice = *options.shard;
  std::string settings = "models=";
  for (const auto& m : options.models) settings += m + ",";
  settings += std::string(" kill-mode=") + (options.kill_mode == KillMode::fast ? "fast" : "exact");
  settings += options.sampling.exhaustive ? " exhaustive" : " seed=" + std::to_string(options.sampling.seed);
  std::vector<std::string> planned{settings + " fs-profile=" + options.fs_profile};
  std::vector<CaseSpec> mine;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    planned.push_back(cases[i].id);
    if (slice.owns(i)) mine.push_back(std::move(cases[i]));
  }
  notes.push_back("shard " + std::to_string(slice.index) + "/" + std::to_string(slice.count) + ": ran " +
                  std::to_string(mine.size()) + " of the " + std::to_string(cases.size()) +
                  " planned cases; the baseline run's own states and power-loss are judged in shard 1");
  cases = std::move(mine);
  return reports::Shard{slice.index, slice.count, plan_fingerprint(planned)};
}

}  // namespace crashcheck::runner
