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
};

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
}

RunOptions options_from(const CommonFlags& flags) {
  RunOptions options;
  if (!flags.models.empty()) options.models = parse_models(flags.models, "--models");
  options.kill_mode = flags.kill_mode == "exact" ? KillMode::exact : KillMode::fast;
  options.jobs = flags.jobs;
  if (flags.timeout > 0) options.timeout_s = flags.timeout;
  options.agent_library = flags.agent;
  options.fs_profile = flags.fs_profile;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crashcheck: what can a reader find after a writer is killed, runs out of disk, or hits an I/O error?"};
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 every property that ran holds; 1 a property failed (with --expect: a verdict differs from "
      "the scenario's expect block; compare: the other report is worse); 2 bad usage or input; 3 the subject "
      "is not checkable, the harness failed, or the run was interrupted.\nScenario format: runner/README.md");
  CommonFlags run_flags, check_flags, replay_flags;

  RunCommand run;
  auto* run_verb = app.add_subcommand("run", "Judge the writers described by scenario files");
  run_verb->add_option("scenarios", run.scenarios, "SCENARIO.json files (format: runner/README.md)")->required();
  add_common(*run_verb, run_flags, &run.out);
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
      return command_run(run);
    }
    if (*check_verb) {
      if (!old_file.empty()) check.old = old_file;
      if (!mode.empty()) check.mode = mode;
      check.options = options_from(check_flags);
      return command_check(check);
    }
    if (*replay_verb) return command_replay(replay_report, replay_case, options_from(replay_flags));
    if (*compare_verb) return command_compare(compare_a, compare_b);
    return command_report(report_file, format, report_out.empty() ? std::nullopt : std::optional(report_out));
  } catch (const InputError& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitUsage;
  }
}
