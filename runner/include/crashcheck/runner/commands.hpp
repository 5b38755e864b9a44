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

// What a verb prints besides errors (always on stderr): --quiet, --verbose,
// and --json (the report JSON alone on stdout; summaries move to stderr).
struct OutputFlags {
  enum class Level { quiet, normal, verbose } level = Level::normal;
  bool json = false;
};

struct RunCommand {
  std::vector<std::filesystem::path> scenarios;
  std::filesystem::path out = "crashcheck-out";
  RunOptions options;
  bool expect = false;  // compare verdicts with each scenario's "expect" block
  GatePolicy policy;    // --require / --allow / --baseline (over each scenario's own)
  OutputFlags output;
};

struct CheckCommand {
  std::optional<std::filesystem::path> old;
  std::optional<std::string> mode;               // default: the old file's own mode
  std::filesystem::path payload;                 // empty: none (the writer builds its own content)
  std::string compare;                           // "", "bytes" or "json"
  std::string validate;                          // "", "json" or a shell command ({target} is the state)
  std::string target;                            // default: the old file's name, else the payload's
  std::optional<std::filesystem::path> initial;  // directory mode: the initial directory
  std::string checker;                           // directory mode: a shell command ({dir} is a state's copy)
  std::vector<std::string> command;
  std::filesystem::path out = "crashcheck-out";
  RunOptions options;
  GatePolicy policy;
  OutputFlags output;
};

struct MergeCommand {
  std::vector<std::filesystem::path> shards;  // the report.json of each shard (or the -o directory holding it)
  std::filesystem::path out = "crashcheck-out";
  GatePolicy policy;
  OutputFlags output;
};

int command_run(const RunCommand& command);
int command_check(const CheckCommand& command);
// `keep`: a directory-mode case's state is also written there (empty: not kept).
int command_replay(const std::filesystem::path& report, const std::string& case_id, const RunOptions& options,
                   const std::filesystem::path& keep = {});
int command_compare(const std::filesystem::path& baseline, const std::filesystem::path& other);
int command_merge(const MergeCommand& command);
int command_report(const std::filesystem::path& report, const std::string& format,
                   const std::optional<std::filesystem::path>& out);

// A verb's report argument: a report.json, or an -o directory holding one
// (DIR/report.json). Bad input (neither) throws InputError naming it.
std::filesystem::path report_argument(const std::filesystem::path& given);

// -o DIR checked before anything runs: an existing non-directory, "-", or a
// place that cannot be written throws InputError naming it.
void check_output_directory(const std::filesystem::path& dir);

// SIGINT / SIGTERM set cancel_requested(): cases stop, the report is still written.
void install_interrupt_handlers();

}  // namespace crashcheck::runner
