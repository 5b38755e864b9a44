// crashcheck: parses the command line (CLI11) and hands each verb to
// commands.cpp. Nothing here decides anything about a subject.
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "crashcheck/runner/commands.hpp"

namespace {

using namespace crashcheck::runner;

struct CommonFlags {
  std::string models;
  std::string kill_mode = "fast";
  unsigned jobs = 0;
  double timeout = 0;
  std::string agent;
  std::string fs_profile = "posix";
  std::string shard;
  std::string backend;
};

// --require / --allow / --baseline: run, check and merge.
struct GateFlags {
  std::string require, allow;
  std::filesystem::path baseline;
};

void add_gate(CLI::App& verb, GateFlags& flags) {
  verb.add_option("--require", flags.require,
                  "Comma-separated properties that decide the exit status; each must also have been run (default: "
                  "every property that ran; overrides the scenario's \"require\")");
  verb.add_option(
      "--allow", flags.allow,
      "Comma-separated properties that may fail without failing the run (overrides the scenario's \"allow\")");
  verb.add_option("--baseline", flags.baseline,
                  "Exit 1 only where a property does worse than in this earlier report.json (or -o directory of an "
                  "earlier run), printed property by property like compare");
}

GatePolicy policy_from(const GateFlags& flags) {
  GatePolicy policy;
  if (!flags.require.empty()) policy.require = parse_properties(flags.require, "--require");
  if (!flags.allow.empty()) policy.allow = parse_properties(flags.allow, "--allow");
  policy.baseline = flags.baseline;
  return policy;
}

void add_common(CLI::App& verb, CommonFlags& flags, std::filesystem::path* out) {
  if (out)
    verb.add_option("-o,--output", *out, "Directory that receives report.json, .md, .html and .junit.xml")
        ->capture_default_str();
  verb.add_option("-j,--jobs", flags.jobs, "Cases run in parallel (default: one per core)")->check(CLI::PositiveNumber);
  verb.add_option("--models", flags.models,
                  "Comma-separated subset of kill,errno,disk-full,reader,power-loss (default: all)");
  verb.add_option("--kill-mode", flags.kill_mode,
                  "fast: snapshots from one paused run; exact: a real SIGKILL run per crash point")
      ->check(CLI::IsMember({"fast", "exact"}))
      ->capture_default_str();
  verb.add_option("--timeout", flags.timeout, "Seconds one case may take (default: the scenario's, else 30)")
      ->check(CLI::PositiveNumber);
  verb.add_option("--agent", flags.agent, "libcrashcheck_agent.so to preload (default: found next to crashcheck)");
  verb.add_option("--fs-profile", flags.fs_profile,
                  "What the power-loss model lets survive: posix (strict) or ext4-ordered")
      ->check(CLI::IsMember({"posix", "ext4-ordered"}))
      ->capture_default_str();
  verb.add_option("--backend", flags.backend,
                  "How the subject is observed: seccomp or preload (default: the scenario's, else seccomp when this "
                  "machine can run it, else preload)")
      ->check(CLI::IsMember({"seccomp", "preload"}));
  verb.add_option("--shard", flags.shard,
                  "K/N: run only the K-th of N deterministic slices of the cases (one CI job each; join the reports "
                  "with crashcheck merge)");
}

RunOptions options_from(const CommonFlags& flags) {
  RunOptions options;
  if (!flags.models.empty()) options.models = parse_models(flags.models, "--models");
  options.kill_mode = flags.kill_mode == "exact" ? KillMode::exact : KillMode::fast;
  options.jobs = flags.jobs;
  if (flags.timeout > 0) options.timeout_s = flags.timeout;
  options.agent_library = flags.agent;
  options.fs_profile = flags.fs_profile;
  if (!flags.shard.empty()) options.shard = parse_shard(flags.shard, "--shard");
  if (!flags.backend.empty()) options.backend = crashcheck::faults::backend_from_name(flags.backend);
  return options;
}

// Each verb registers its flags and, once chosen, the action main runs after
// parsing. Flags live in a shared state because CLI11 writes them during parse.
using Action = std::function<int()>;

void add_run(CLI::App& app, Action& action) {
  struct State {
    RunCommand command;
    CommonFlags flags;
    GateFlags gate;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("run", "Judge the writers described by scenario files");
  verb->add_option("scenarios", state->command.scenarios, "SCENARIO.json files (format: runner/README.md)")->required();
  add_common(*verb, state->flags, &state->command.out);
  add_gate(*verb, state->gate);
  verb->add_flag("--expect", state->command.expect,
                 "Exit 0 when every verdict matches the scenario's \"expect\" block, 1 otherwise (with the diff)");
  verb->callback([state, &action] {
    action = [state] {
      state->command.options = options_from(state->flags);
      state->command.policy = policy_from(state->gate);
      return command_run(state->command);
    };
  });
}

void add_check(CLI::App& app, Action& action) {
  struct State {
    CheckCommand command;
    CommonFlags flags;
    GateFlags gate;
    std::string old_file, mode;
  };
  auto state = std::make_shared<State>();
  auto& check = state->command;
  auto* verb = app.add_subcommand("check", "Judge an ad-hoc writer command: crashcheck check [flags] -- CMD ARGS...");
  verb->add_option("--old", state->old_file, "The old content (no --old: the target does not exist beforehand)");
  verb->add_option("--mode", state->mode, "Permission bits of the old file, e.g. 0644 (default: --old's own)");
  verb->add_option("--payload", check.payload, "The new content")->required();
  verb->add_option("--validate", check.validate, "json, or a shell command that exits 0 when {target} is valid");
  verb->add_option("--target", check.target, "File name of the target (default: --old's, else --payload's)");
  add_common(*verb, state->flags, &check.out);
  add_gate(*verb, state->gate);
  verb->add_option("command", check.command,
                   "The writer; placeholders {target} {payload} {dir} {scenario_dir} (the current directory)")
      ->required();
  verb->callback([state, &action] {
    action = [state] {
      if (!state->old_file.empty()) state->command.old = state->old_file;
      if (!state->mode.empty()) state->command.mode = state->mode;
      state->command.options = options_from(state->flags);
      state->command.policy = policy_from(state->gate);
      return command_check(state->command);
    };
  });
}

void add_replay(CLI::App& app, Action& action) {
  struct State {
    std::filesystem::path report;
    std::string case_id;
    CommonFlags flags;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("replay", "Re-run exactly one case of a report and judge it");
  verb->add_option("report", state->report, "REPORT.json")->required();
  verb->add_option("case", state->case_id, "CASE-ID, e.g. kill-before-7")->required();
  verb->add_option("--timeout", state->flags.timeout, "Seconds the case may take")->check(CLI::PositiveNumber);
  verb->add_option("--agent", state->flags.agent, "libcrashcheck_agent.so to preload");
  verb->add_option("--fs-profile", state->flags.fs_profile, "posix or ext4-ordered (power-loss cases)")
      ->check(CLI::IsMember({"posix", "ext4-ordered"}));
  verb->callback([state, &action] {
    action = [state] { return command_replay(state->report, state->case_id, options_from(state->flags)); };
  });
}

void add_compare(CLI::App& app, Action& action) {
  auto files = std::make_shared<std::pair<std::filesystem::path, std::filesystem::path>>();
  auto* verb = app.add_subcommand("compare", "Where OTHER falls short of BASELINE (exit 1 when worse)");
  verb->add_option("baseline", files->first, "BASELINE.json")->required();
  verb->add_option("other", files->second, "OTHER.json")->required();
  verb->callback([files, &action] { action = [files] { return command_compare(files->first, files->second); }; });
}

void add_merge(CLI::App& app, Action& action) {
  struct State {
    MergeCommand command;
    GateFlags gate;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("merge", "Join the reports of every shard of a run (--shard K/N) into one");
  verb->add_option("shards", state->command.shards, "The report.json of each shard, in any order")->required();
  verb->add_option("-o,--output", state->command.out,
                   "Directory that receives the merged report.json, .md, .html and .junit.xml")
      ->capture_default_str();
  add_gate(*verb, state->gate);
  verb->callback([state, &action] {
    action = [state] {
      state->command.policy = policy_from(state->gate);
      return command_merge(state->command);
    };
  });
}

void add_report(CLI::App& app, Action& action) {
  struct State {
    std::filesystem::path report, out;
    std::string format;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("report", "Render a report.json as Markdown, HTML or JUnit XML");
  verb->add_option("report", state->report, "REPORT.json")->required();
  verb->add_option("--format", state->format, "md, html, junit or json")->required();
  verb->add_option("-o,--output", state->out, "File to write (default: standard output)");
  verb->callback([state, &action] {
    action = [state] {
      return command_report(state->report, state->format,
                            state->out.empty() ? std::nullopt : std::optional(state->out));
    };
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crashcheck: what can a reader find after a writer is killed, runs out of disk, or hits an I/O error?"};
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 every property that decides holds (default: every property that ran; see --require, --allow, "
      "--baseline); 1 a deciding property failed, a required one was not run, or (--baseline, compare) a property "
      "did worse than the baseline (with --expect: a verdict differs from the scenario's expect block); 2 bad usage "
      "or input; 3 the subject is not checkable, the harness failed, or the run was interrupted.\n"
      "Scenario format: runner/README.md");
  Action action;
  for (auto add : {add_run, add_check, add_replay, add_compare, add_merge, add_report}) add(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  try {
    install_interrupt_handlers();
    return action();
  } catch (const InputError& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitUsage;
  }
}
