// crashcheck: parses the command line (CLI11) and hands each verb to
// commands.cpp. Nothing here decides anything about a subject. Before CLI11
// parses, every verb and flag is checked against the chosen verb's own
// (suggest.hpp), so a typo is named with a "did you mean".
#include <CLI/CLI.hpp>

#include <cctype>
#include <functional>
#include <iostream>
#include <malloc.h>
#include <memory>
#include <optional>

#include "crashcheck/runner/commands.hpp"
#include "crashcheck/runner/suggest.hpp"

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
  bool exhaustive = false;
  bool fork = false;
  std::uint64_t seed = kDefaultSampleSeed;
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
  verb.add_option("--timeout", flags.timeout,
                  "Seconds one case may take (default: the scenario's, else 30); the baseline may take " +
                      std::to_string(kPausedTimeoutFactor) + " × --timeout because it pauses at every call")
      ->check(CLI::PositiveNumber);
  verb.add_option("--agent", flags.agent, "libcrashcheck_agent.so to preload (default: found next to crashcheck)");
  verb.add_option("--fs-profile", flags.fs_profile,
                  "What the power-loss model lets survive: posix (strict) or ext4-ordered")
      ->check(CLI::IsMember({"posix", "ext4-ordered"}))
      ->capture_default_str();
  verb.add_option("--backend", flags.backend,
                  "How the subject is observed: seccomp or preload (default: the scenario's, else seccomp where the "
                  "kernel supports it, else preload with a report note)")
      ->check(CLI::IsMember({"seccomp", "preload"}));
  verb.add_flag("--exhaustive", flags.exhaustive,
                "Every case at every call: no sampling of repeated calls (default: a run of calls that differ only "
                "in position gets cases at its first two, its last and a seeded O(log n) sample)");
  verb.add_flag("--fork", flags.fork,
                "Fork the kill, errno and disk-full cases from runs parked at the subject's first counted call "
                "instead of starting it anew for each (seccomp, root; faster, but not the same run for a writer "
                "that reads the clock, its pid or its files' inodes before its first file call: runner/README.md)");
  verb.add_option("--seed", flags.seed, "Seed of that sample; the report's notes name the one used")
      ->capture_default_str();
  verb.add_option("--shard", flags.shard,
                  "K/N: run only the K-th of N deterministic slices of the cases (one CI job each; join the reports "
                  "with crashcheck merge)");
}

// --quiet / --verbose (run, check, merge) and --json (run, check).
void add_output(CLI::App& verb, OutputFlags& output, bool json) {
  auto* quiet = verb.add_flag_callback(
      "-q,--quiet", [&output] { output.level = OutputFlags::Level::quiet; },
      "Print nothing but errors (no progress, no summary); the exit status and the report files say how it went");
  verb.add_flag_callback(
          "-v,--verbose", [&output] { output.level = OutputFlags::Level::verbose; },
          "Also print the settings each run applies (models, timeout, profile, jobs, output directory)")
      ->excludes(quiet);
  if (json)
    verb.add_flag("--json", output.json,
                  "Print the report JSON on standard output and nothing else there (several scenarios: an array of "
                  "reports); summaries go to standard error. The report files are still written to -o");
}

// Each verb's help ends with its own exit statuses.
constexpr const char* kGateExit =
    "1 a deciding property failed, a required one was not run, or a property did worse than --baseline; 2 bad usage "
    "or input (nothing ran; the message names the file or flag); 3 the subject is not checkable, the harness failed, "
    "or the run was interrupted (the report says incomplete).";

RunOptions options_from(const CommonFlags& flags) {
  RunOptions options;
  if (!flags.models.empty()) options.models = parse_models(flags.models, "--models");
  options.kill_mode = flags.kill_mode == "exact" ? KillMode::exact : KillMode::fast;
  options.jobs = flags.jobs;
  if (flags.timeout > 0) options.timeout_s = flags.timeout;
  options.agent_library = flags.agent;
  options.fs_profile = flags.fs_profile;
  options.sampling = {flags.exhaustive, flags.seed};
  options.fork_cases = flags.fork;
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
  add_output(*verb, state->command.output, true);
  verb->footer(std::string("Exit status: 0 every deciding property holds (default: every property that ran; with "
                           "--expect: every scenario got its expected verdicts, else 1); ") +
               kGateExit + "\nScenario format: runner/README.md");
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
    std::string old_file, mode, initial;
  };
  auto state = std::make_shared<State>();
  auto& check = state->command;
  auto* verb = app.add_subcommand("check", "Judge an ad-hoc writer command: crashcheck check [flags] -- CMD ARGS...");
  verb->add_option("--old", state->old_file, "The old content (no --old: the target does not exist beforehand)");
  verb->add_option("--mode", state->mode, "Permission bits of the old file, e.g. 0644 (default: --old's own)");
  verb->add_option("--payload", check.payload,
                   "The new content, also the writer's stdin (none: each run's own content is new; stdin is empty)");
  verb->add_option("--compare", check.compare,
                   "How a state is compared with the new content: bytes (default) or json (parsed values)");
  verb->add_option("--initial", state->initial, "Directory mode: the directory the writer starts from (copied)");
  verb->add_option("--checker", check.checker,
                   "Directory mode: a shell command that exits 0 when {dir} is consistent (CRASHCHECK_COMMITTED=1 "
                   "once the writer exited 0)");
  verb->add_option("--validate", check.validate, "json, or a shell command that exits 0 when {target} is valid");
  verb->add_option("--target", check.target,
                   "File name of the target (default: --old's, else --payload's; needed without both)");
  add_common(*verb, state->flags, &check.out);
  add_gate(*verb, state->gate);
  verb->add_option("command", check.command,
                   "The writer; placeholders {target} {payload} {dir} {scenario_dir} (the current directory)")
      ->required();
  add_output(*verb, check.output, true);
  verb->footer(std::string("Exit status: 0 every deciding property holds (default: every property that ran); ") +
               kGateExit);
  verb->callback([state, &action] {
    action = [state] {
      if (!state->old_file.empty()) state->command.old = state->old_file;
      if (!state->mode.empty()) state->command.mode = state->mode;
      if (!state->initial.empty()) state->command.initial = state->initial;
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
    std::filesystem::path keep;
    CommonFlags flags;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("replay", "Re-run exactly one case of a report and judge it");
  verb->add_option("report", state->report, "REPORT.json, or the -o directory holding it")->required();
  verb->add_option("case", state->case_id, "CASE-ID, e.g. kill-before-7, power-loss-4b")->required();
  verb->add_option("--timeout", state->flags.timeout, "Seconds the case may take (default: the report's)")
      ->check(CLI::PositiveNumber);
  verb->add_option("--agent", state->flags.agent, "libcrashcheck_agent.so to preload");
  verb->add_option("--fs-profile", state->flags.fs_profile, "posix or ext4-ordered (power-loss cases)")
      ->check(CLI::IsMember({"posix", "ext4-ordered"}));
  verb->add_option("--keep", state->keep,
                   "Directory mode: also write the case's directory state into DIR (new or empty), to open it");
  verb->footer(
      "Exit status: 0 the case passes now; 1 it still fails; 2 bad usage, an unreadable report, an unknown case "
      "id, or a writer that changed (the call at the case's index is no longer the report's: re-run crashcheck); 3 "
      "the harness failed.");
  verb->callback([state, &action] {
    action = [state] { return command_replay(state->report, state->case_id, options_from(state->flags), state->keep); };
  });
}

void add_compare(CLI::App& app, Action& action) {
  auto files = std::make_shared<std::pair<std::filesystem::path, std::filesystem::path>>();
  auto* verb = app.add_subcommand("compare", "Where OTHER falls short of BASELINE (exit 1 when worse)");
  verb->add_option("baseline", files->first, "BASELINE.json, or the -o directory holding it")->required();
  verb->add_option("other", files->second, "OTHER.json, or the -o directory holding it")->required();
  verb->footer(
      "Exit status: 0 OTHER does no worse than BASELINE on any property; 1 it does worse on at least one; 2 bad usage "
      "or a report that cannot be read (the message names it).");
  verb->callback([files, &action] { action = [files] { return command_compare(files->first, files->second); }; });
}

void add_merge(CLI::App& app, Action& action) {
  struct State {
    MergeCommand command;
    GateFlags gate;
  };
  auto state = std::make_shared<State>();
  auto* verb = app.add_subcommand("merge", "Join the reports of every shard of a run (--shard K/N) into one");
  verb->add_option("shards", state->command.shards,
                   "The report.json of each shard (or the -o directory holding it), in any order")
      ->required();
  verb->add_option("-o,--output", state->command.out,
                   "Directory that receives the merged report.json, .md, .html and .junit.xml")
      ->capture_default_str();
  add_gate(*verb, state->gate);
  add_output(*verb, state->command.output, false);
  verb->footer(
      "Exit status: 0 every deciding property of the merged report holds; 1 one failed, a required one was not run, "
      "or a property did worse than --baseline; 2 bad usage, an unreadable report, or shards that are not the N "
      "shards of one run (nothing is written); 3 a shard was interrupted or the report could not be written.");
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
  verb->add_option("report", state->report, "REPORT.json, or the -o directory holding it")->required();
  verb->add_option("--format", state->format, "md, html, junit or json")->required();
  verb->add_option("-o,--output", state->out, "File to write (default: standard output)");
  verb->footer(
      "Exit status: 0 written; 2 bad usage or a report that cannot be read (the message names it); 3 the output file "
      "could not be written.");
  verb->callback([state, &action] {
    action = [state] {
      return command_report(state->report, state->format,
                            state->out.empty() ? std::nullopt : std::optional(state->out));
    };
  });
}

// The names a verb accepts as flags: "--payload", "-o", …
std::vector<std::string> flag_names(const CLI::App& verb) {
  std::vector<std::string> names;
  for (const CLI::Option* option : verb.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

const CLI::Option* find_flag(const CLI::App& verb, std::string_view flag) {
  for (const CLI::Option* option : verb.get_options()) {
    if (flag.starts_with("--") && option->check_lname(std::string(flag.substr(2)))) return option;
    if (!flag.starts_with("--") && flag.size() == 2 && option->check_sname(std::string(flag.substr(1)))) return option;
  }
  return nullptr;
}

bool looks_like_flag(std::string_view arg) {
  return arg.size() >= 2 && arg[0] == '-' && (std::isalpha(static_cast<unsigned char>(arg[1])) || arg[1] == '-');
}

// Flags of `verb` (or of the program, before the verb) from args[at] on, up
// to "--"; returns the first one the verb does not know, as a message.
std::optional<std::string> unknown_flag(const CLI::App& verb, const std::string& where,
                                        const std::vector<std::string>& args, std::size_t& at) {
  for (; at < args.size(); ++at) {
    const std::string& arg = args[at];
    if (arg == "--") return std::nullopt;
    if (!looks_like_flag(arg)) {
      if (verb.get_parent() == nullptr) return std::nullopt;  // the program's first word: the verb
      continue;
    }
    const std::string name = arg.starts_with("--") ? arg.substr(0, arg.find('=')) : arg.substr(0, 2);
    const CLI::Option* option = find_flag(verb, name);
    if (!option) return unknown_name_message("flag", name, where, flag_names(verb));
    const bool inline_value = arg.find('=') != std::string::npos || (!arg.starts_with("--") && arg.size() > 2);
    // Its value may look like anything; never "--" (CLI11 gives -q,--quiet,
    // a flag with a callback, a type size: `--quiet -- cmd --flag` was refused).
    if (option->get_type_size() > 0 && !inline_value && at + 1 < args.size() && args[at + 1] != "--") ++at;
  }
  return std::nullopt;
}

// What CLI11 would report as "A subcommand is required" or "The following
// arguments were not expected", named with a suggestion instead.
std::optional<std::string> unknown_name(const CLI::App& app, const std::vector<std::string>& args) {
  std::size_t at = 0;
  if (auto message = unknown_flag(app, "crashcheck", args, at)) return message;
  if (at >= args.size() || args[at] == "--") return std::nullopt;  // CLI11 says a verb is required
  std::vector<std::string> verbs;
  for (const CLI::App* verb : app.get_subcommands([](const CLI::App*) { return true; })) {
    verbs.push_back(verb->get_name());
    if (verb->get_name() != args[at]) continue;
    ++at;
    return unknown_flag(*verb, "crashcheck " + verb->get_name(), args, at);
  }
  return unknown_name_message("verb", args[at], "crashcheck", verbs);
}

// Large buffers (a file's bytes, a trace) are mapped and given back to the
// system when freed. glibc's default raises the mapping threshold to the
// largest block freed so far (up to 32 MiB), after which every case's file
// copy came from heaps that are never returned: a 20 MiB campaign kept
// ~170 MiB it no longer used (bench/README.md, campaign growth).
void give_back_large_buffers() {
  mallopt(M_MMAP_THRESHOLD, 256 << 10);  // fixed: no longer raised as blocks are freed
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  give_back_large_buffers();
  CLI::App app{"crashcheck: what can a reader find after a writer is killed, runs out of disk, or hits an I/O error?"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "crashcheck " CRASHCHECK_VERSION);
  Action action;
  for (auto add : {add_run, add_check, add_replay, add_compare, add_merge, add_report}) add(app, action);
  // Set after the verbs: CLI11 copies a parent's footer into each new verb.
  app.footer(
      "Each verb's --help lists its exit statuses: 0 pass, 1 a property failed (or got worse), 2 bad usage or input, "
      "3 not checkable, harness failure or interrupted.\nScenario format: runner/README.md");

  if (auto message = unknown_name(app, std::vector<std::string>(argv + 1, argv + argc))) {
    std::cerr << "crashcheck: " << *message << "\nRun with --help for more information.\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
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
