// crashcheck: parses the command line (CLI11) and hands each verb to
// commands.cpp. Nothing here decides anything about a subject.
#include <CLI/CLI.hpp>

#include <iostream>

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
  verb.add_option("--allow", flags.allow,
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
  if (out) verb.add_option("-o,--output", *out, "Directory that receives report.json, .md, .html and .junit.xml")
               ->capture_default_str();
  verb.add_option("-j,--jobs", flags.jobs, "Cases run in parallel (default: one per core)")->check(CLI::PositiveNumber);
  verb.add_option("--models", flags.models, "Comma-separated subset of kill,errno,disk-full,reader,power-loss (default: all)");
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
  return options;
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
  CommonFlags run_flags, check_flags, replay_flags;
  GateFlags run_gate, check_gate, merge_gate;

  RunCommand run;
  auto* run_verb = app.add_subcommand("run", "Judge the writers described by scenario files");
  run_verb->add_option("scenarios", run.scenarios, "SCENARIO.json files (format: runner/README.md)")->required();
  add_common(*run_verb, run_flags, &run.out);
  add_gate(*run_verb, run_gate);
  run_verb->add_flag("--expect", run.expect,
                     "Exit 0 when every verdict matches the scenario's \"expect\" block, 1 otherwise (with the diff)");

  CheckCommand check;
  std::string old_file, mode;
  auto* check_verb = app.add_subcommand("check", "Judge an ad-hoc writer command: crashcheck check [flags] -- CMD ARGS...");
  check_verb->add_option("--old", old_file, "The old content (no --old: the target does not exist beforehand)");
  check_verb->add_option("--mode", mode, "Permission bits of the old file, e.g. 0644 (default: --old's own)");
  check_verb->add_option("--payload", check.payload, "The new content")->required();
  check_verb->add_option("--validate", check.validate, "json, or a shell command that exits 0 when {target} is valid");
  check_verb->add_option("--target", check.target, "File name of the target (default: --old's, else --payload's)");
  add_common(*check_verb, check_flags, &check.out);
  add_gate(*check_verb, check_gate);
  check_verb->add_option("command", check.command, "The writer; placeholders {target} {payload} {dir} {scenario_dir} (the current directory)")->required();

  std::filesystem::path replay_report;
  std::string replay_case;
  auto* replay_verb = app.add_subcommand("replay", "Re-run exactly one case of a report and judge it");
  replay_verb->add_option("report", replay_report, "REPORT.json")->required();
  replay_verb->add_option("case", replay_case, "CASE-ID, e.g. kill-before-7")->required();
  replay_verb->add_option("--timeout", replay_flags.timeout, "Seconds the case may take")->check(CLI::PositiveNumber);
  replay_verb->add_option("--agent", replay_flags.agent, "libcrashcheck_agent.so to preload");
  replay_verb->add_option("--fs-profile", replay_flags.fs_profile, "posix or ext4-ordered (power-loss cases)")
      ->check(CLI::IsMember({"posix", "ext4-ordered"}));

  std::filesystem::path compare_a, compare_b;
  auto* compare_verb = app.add_subcommand("compare", "Where OTHER falls short of BASELINE (exit 1 when worse)");
  compare_verb->add_option("baseline", compare_a, "BASELINE.json")->required();
  compare_verb->add_option("other", compare_b, "OTHER.json")->required();

  MergeCommand merge;
  auto* merge_verb = app.add_subcommand("merge", "Join the reports of every shard of a run (--shard K/N) into one");
  merge_verb->add_option("shards", merge.shards, "The report.json of each shard, in any order")->required();
  merge_verb->add_option("-o,--output", merge.out, "Directory that receives the merged report.json, .md, .html and .junit.xml")
      ->capture_default_str();
  add_gate(*merge_verb, merge_gate);

  std::filesystem::path report_file;
  std::string format;
  std::filesystem::path report_out;
  auto* report_verb = app.add_subcommand("report", "Render a report.json as Markdown, HTML or JUnit XML");
  report_verb->add_option("report", report_file, "REPORT.json")->required();
  report_verb->add_option("--format", format, "md, html, junit or json")->required();
  report_verb->add_option("-o,--output", report_out, "File to write (default: standard output)");

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
    if (*run_verb) {
      run.options = options_from(run_flags);
      run.policy = policy_from(run_gate);
      return command_run(run);
    }
    if (*check_verb) {
      if (!old_file.empty()) check.old = old_file;
      if (!mode.empty()) check.mode = mode;
      check.options = options_from(check_flags);
      check.policy = policy_from(check_gate);
      return command_check(check);
    }
    if (*replay_verb) return command_replay(replay_report, replay_case, options_from(replay_flags));
    if (*compare_verb) return command_compare(compare_a, compare_b);
    if (*merge_verb) {
      merge.policy = policy_from(merge_gate);
      return command_merge(merge);
    }
    return command_report(report_file, format, report_out.empty() ? std::nullopt : std::optional(report_out));
  } catch (const InputError& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitUsage;
  }
}
