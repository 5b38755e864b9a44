// The gate: which verdicts make `crashcheck run`, `check` and `merge` exit 1.
//   --require P,…  only these properties decide (and each must have been run)
//   --allow P,…    these may fail without failing the gate
//   --baseline R   fail only where the subject does worse than report R
// Default: every property that was run decides.
#pragma once

#include <crashcheck/report.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashcheck/runner/scenario.hpp"

namespace crashcheck::runner {

struct GatePolicy {
  std::vector<std::string> require;  // empty: every property that was run
  std::vector<std::string> allow;
  std::filesystem::path baseline;  // empty: none; a report.json, or an -o directory of an earlier run
};

// The flags' lists where given, else the scenario's "require" / "allow".
GatePolicy policy_for(const Scenario& scenario, const GatePolicy& flags);  // throws InputError on a conflict

// The baseline report for scenario `name`: `given` itself when it is a file,
// else given/report.json (one scenario) or given/<name>/report.json.
std::filesystem::path baseline_file(const std::filesystem::path& given, const std::string& name, bool several);

struct Baseline {
  std::filesystem::path file;
  reports::Report report;
};

struct GateDecision {
  bool fails = false;
  std::string text;  // lines for the user: the comparison, properties required but not run, allowed failures
};

// `partial`: the report is one shard's slice, so a required property that
// slice did not run is no failure (the merged report decides).
GateDecision decide(const reports::Report& report, const GatePolicy& policy, const std::optional<Baseline>& baseline,
                    std::string_view report_name, bool partial);

}  // namespace crashcheck::runner
