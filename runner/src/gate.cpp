#include "crashcheck/runner/gate.hpp"

#include <algorithm>

namespace crashcheck::runner {
namespace fs = std::filesystem;
using reports::Verdict;
namespace {

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Whether a property's verdict counts for the exit status.
bool decides(const GatePolicy& policy, std::string_view property) {
  return (policy.require.empty() || listed(policy.require, property)) && !listed(policy.allow, property);
}

std::string counterexamples(const reports::PropertyResult& p) {
  const std::uint64_t n = reports::failing_cases(p);  // every failing case, listed or not
  return std::to_string(n) + " counterexample" + (n == 1 ? "" : "s");
}

// A gate must not pass on a property it did not check.
void require_run(const reports::Report& report, const GatePolicy& policy, GateDecision& decision) {
  for (const auto& name : policy.require) {
    const auto& p = report.properties.at(name);
    if (p.verdict != Verdict::not_run) continue;
    decision.fails = true;
    decision.text += "required property " + name + " was not run" + (p.reason.empty() ? "" : ": " + p.reason) + "\n";
  }
}

// Nor on a run that judged nothing about the content: when the backend or
// the trace self-check withheld every such verdict, one passing side property
// (mode_preserved) must not turn the gate green. A --require list is the
// user's own choice of what decides, and is kept.
void require_content_judged(const reports::Report& report, const GatePolicy& policy, GateDecision& decision) {
  if (!policy.require.empty()) return;
  if (const auto unjudged = reports::content_unjudged(report)) {
    decision.fails = true;
    decision.text += "nothing about the target's content was judged (" + *unjudged + ")\n";
  }
}

void note_allowed(const reports::Report& report, const GatePolicy& policy, GateDecision& decision) {
  for (const auto& name : policy.allow) {
    const auto& p = report.properties.at(name);
    if (p.verdict == Verdict::fail) decision.text += "allowed to fail: " + name + " (" + counterexamples(p) + ")\n";
  }
}

}  // namespace

GatePolicy policy_for(const Scenario& scenario, const GatePolicy& flags) {
  GatePolicy policy = flags;
  if (flags.require.empty()) policy.require = scenario.require;
  if (flags.allow.empty()) policy.allow = scenario.allow;
  check_policy_lists(
      policy.require, policy.allow,
      (scenario.file.empty() ? std::string("--allow") : scenario.file.string() + " with --require/--allow"));
  return policy;
}

fs::path baseline_file(const fs::path& given, const std::string& name, bool several) {
  std::error_code ec;
  if (!fs::is_directory(given, ec)) {
    if (several)
      throw InputError(
          "--baseline: with several scenarios, give the -o directory of an earlier run (DIR/<name>/report.json), not a "
          "file");
    return given;
  }
  return several ? given / name / "report.json" : given / "report.json";
}

GateDecision decide(const reports::Report& report, const GatePolicy& policy, const std::optional<Baseline>& baseline,
                    std::string_view report_name, bool partial) {
  GateDecision decision;
  if (baseline) {
    const auto comparison = reports::compare(baseline->report, report);
    decision.text = reports::render_comparison(comparison, baseline->file.string(), report_name);
    for (const auto& change : comparison.changes)
      if (change.worse && decides(policy, change.property))
        decision.fails = true;
      else if (change.worse)
        decision.text += "allowed to get worse: " + change.property + "\n";
  } else {
    for (const auto& [name, p] : report.properties)
      if (p.verdict == Verdict::fail && decides(policy, name)) decision.fails = true;
    note_allowed(report, policy, decision);
    if (!partial) require_content_judged(report, policy, decision);
  }
  if (!partial) require_run(report, policy, decision);
  return decision;
}

}  // namespace crashcheck::runner
