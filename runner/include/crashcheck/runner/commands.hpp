// The verbs of the `crashcheck` program. main.cpp only parses flags (CLI11)
// and calls one of these; each returns the process exit status:
// 0 every property that decides (gate.hpp) holds, 1 one failed or a required
// one was not run (or --expect mismatched, or compare / --baseline found a
// regression), 2 bad usage or input, 3 harness failure or a
// subject that cannot be checked.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/gate.hpp"

namespace crashcheck::runner {

inline constexpr int kExitPass = 0, kExitFail = 1, kExitUsage = 2, kExitHarness = 3;

struct RunCommand {
  std::vector<std::filesystem::path> scenarios;
  std::filesystem::path out = "crashcheck-out";
  RunOptions options;
  bool expect = false;  // compare verdicts with each scenario's "expect" block
  GatePolicy policy;    // --require / --allow / --baseline (over each scenario's own)
};

struct CheckCommand {
  std::optional<std::filesystem::path> old;
  std::optional<std::string> mode;  // default: the old file's own mode
  std::filesystem::path payload;
  std::string validate;  // "", "json" or a shell command ({target} is the state)
  std::string target;    // default: the old file's name, else the payload's
  std::vector<std::string> command;
  std::filesystem::path out = "crashcheck-out";
  RunOptions options;
  GatePolicy policy;
};

struct MergeCommand {
  std::vector<std::filesystem::path> shards;  // the report.json of each shard
  std::filesystem::path out = "crashcheck-out";
  GatePolicy policy;
};

int command_run(const RunCommand& command);
int command_check(const CheckCommand& command);
int command_replay(const std::filesystem::path& report, const std::string& case_id, const RunOptions& options);
int command_compare(const std::filesystem::path& baseline, const std::filesystem::path& other);
int command_merge(const MergeCommand& command);
int command_report(const std::filesystem::path& report, const std::string& format,
                   const std::optional<std::filesystem::path>& out);

// SIGINT / SIGTERM set cancel_requested(): cases stop, the report is still written.
void install_interrupt_handlers();

}  // namespace crashcheck::runner
