// Planning: the errno, disk-full and exact-kill cases of a baseline trace,
// and the shard slice. Nothing here runs the subject.
#include "plan.hpp"

#include <algorithm>
#include <random>
#include <set>

namespace crashcheck::runner {
using faults::OpClass;
using faults::Trace;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

constexpr std::size_t kMaxDiskFullBoundaries = 64;  // budgets around write boundaries, at most
constexpr std::size_t kDiskFullSamples = 8;         // seeded budgets between boundaries

bool errno_worthy(OpClass op) {
  return op == OpClass::open || op == OpClass::write || op == OpClass::sync || op == OpClass::sync_all ||
         op == OpClass::close || op == OpClass::rename;
}

std::vector<CaseSpec> plan_errno(const Trace& trace) {
  std::vector<CaseSpec> out;
  for (const auto& r : trace.records) {
    const faults::CallInfo* info = faults::find_call(r.call);
    if (!info || !errno_worthy(r.op)) continue;
    for (int error : info->errnos) {
      faults::FaultPlan plan{Kind::fail_call, r.seq, error, 0};
      out.push_back({case_id(Model::errno_fault, plan), Model::errno_fault, plan, 0});
    }
  }
  return out;
}

std::vector<std::uint64_t> write_boundaries(const Trace& trace) {
  std::vector<std::uint64_t> out;
  std::uint64_t total = 0;
  for (const auto& r : trace.records)
    if (r.op == OpClass::write && r.result > 0) out.push_back(total += static_cast<std::uint64_t>(r.result));
  return out;
}

// 0, 1, one below and at each write boundary, payload size − 1, and a seeded
// sample between: deterministic, so a report's budgets can be replayed.
std::vector<std::uint64_t> disk_budgets(const Trace& trace, std::uint64_t payload_size) {
  auto boundaries = write_boundaries(trace);
  const std::uint64_t written = boundaries.empty() ? 0 : boundaries.back();
  std::set<std::uint64_t> budgets{0, 1};
  const std::size_t stride = std::max<std::size_t>(1, boundaries.size() / kMaxDiskFullBoundaries);
  for (std::size_t i = 0; i < boundaries.size(); i += stride) budgets.insert({boundaries[i] - 1, boundaries[i]});
  if (payload_size > 0) budgets.insert(payload_size - 1);
  std::mt19937_64 random(0x63726173u ^ written);
  for (std::size_t i = 0; written > 2 && i < kDiskFullSamples; ++i) budgets.insert(2 + random() % (written - 2));
  std::vector<std::uint64_t> out;
  for (auto b : budgets)
    if (b < written) out.push_back(b);  // a budget at or past what is written injects nothing
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

bool has(const std::vector<std::string>& models, Model m) {
  return std::find(models.begin(), models.end(), reports::model_name(m)) != models.end();
}

std::uint32_t last_seq(const Trace& trace) { return trace.records.empty() ? 0 : trace.records.back().seq; }

std::uint32_t write_at_budget(const Trace& trace, std::uint64_t budget) {
  std::uint64_t total = 0;
  for (const auto& r : trace.records) {
    if (r.op != OpClass::write || r.result <= 0) continue;
    total += static_cast<std::uint64_t>(r.result);
    if (total > budget) return r.seq;
  }
  return last_seq(trace);
}

std::vector<CaseSpec> plan_exact_kills(std::uint32_t calls) {
  std::vector<CaseSpec> out;
  for (std::uint32_t n = 1; n <= calls; ++n) {
    faults::FaultPlan plan{Kind::kill_before, n, 0, 0};
    out.push_back({case_id(Model::kill, plan), Model::kill, plan, 0});
  }
  faults::FaultPlan last{Kind::kill_after, calls, 0, 0};
  out.push_back({case_id(Model::kill, last), Model::kill, last, 0});
  return out;
}

// Fast kills and readers come from one paused run, and the baseline is that
// run: pausing changes timing only, so it is traced and ends like any other.
CaseSpec baseline_run(const std::vector<std::string>& models, KillMode mode) {
  const bool paused = (has(models, Model::kill) && mode == KillMode::fast) || has(models, Model::reader);
  const faults::FaultPlan plan{paused ? Kind::pause : Kind::none, 0, 0, 0};
  return {case_id(Model::baseline, {}), Model::baseline, plan, 0};
}

std::vector<CaseSpec> plan_cases(const Trace& trace, const std::vector<std::string>& models, KillMode mode,
                                 std::uint64_t payload_size) {
  std::vector<CaseSpec> out;
  if (has(models, Model::kill) && mode == KillMode::exact)
    for (auto& c : plan_exact_kills(last_seq(trace))) out.push_back(c);
  if (has(models, Model::errno_fault))
    for (auto& c : plan_errno(trace)) out.push_back(c);
  if (has(models, Model::disk_full))
    for (auto b : disk_budgets(trace, payload_size)) {
      faults::FaultPlan plan{Kind::disk_full, 0, 0, b};
      out.push_back({case_id(Model::disk_full, plan), Model::disk_full, plan, 0});
    }
  return out;
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
