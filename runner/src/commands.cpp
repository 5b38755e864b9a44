#include "crashcheck/runner/commands.hpp"

#include "directory/directory.hpp"

#include <crashcheck/reference.hpp>
#include <crashcheck/report.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace crashcheck::runner {
namespace fs = std::filesystem;
using reports::Verdict;
namespace {

void on_interrupt(int) { cancel_requested().store(true); }

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path out = fs::absolute(p, ec);
  return ec ? p : out.lexically_normal();
}

// The program a command starts, with {crashcheck_write} resolved like a case would.
void check_command_runs(const Scenario& scenario, const std::string& where) {
  std::string program = scenario.command.front();
  if (program.find("{crashcheck_write}") != std::string::npos) {
    const fs::path writer = find_crashcheck_write();
    if (writer.empty()) throw InputError(where + ": {crashcheck_write} cannot be found next to crashcheck");
    program = writer.string();
  }
  if (program.find('{') == std::string::npos) check_executable(program, where);  // else: decided per case
  if (scenario.directory_mode && scenario.directory_mode->checker.front().find('{') == std::string::npos)
    check_executable(scenario.directory_mode->checker.front(),
                     scenario.file.empty() ? "--checker" : scenario.file.string() + ": field \"checker.command\"");
}

std::string verdict_line(const reports::Report& report) {
  std::string out;
  for (auto name : reports::kProperties) {
    const auto& p = report.properties.at(std::string(name));
    out += " " + std::string(name) + "=" + std::string(reports::verdict_name(p.verdict));
  }
  return out;
}

// "  sampled: error_safe, crash_atomic passed on …", or "" when no pass rests on a sample.
std::string sampled_passes_line(const reports::Report& report) {
  std::string names;
  for (auto name : reports::kProperties)
    for (const auto& note : report.properties.at(std::string(name)).notes)
      if (note.rfind(kSampledPass, 0) == 0) {
        names += (names.empty() ? "" : ", ") + std::string(name);
        break;
      }
  if (names.empty()) return "";
  return "\n  sampled: " + names +
         " passed on a sample of repeated calls; a defect at a skipped call is not seen (`--exhaustive` runs "
         "every case)";
}

// Lines "property: expected X, got Y" for every mismatch, by the expectations
// of the profile the run judged power loss on.
std::vector<std::string> expectation_diff(const Scenario& scenario, const reports::Report& report,
                                          std::string_view fs_profile) {
  std::vector<std::string> diff;
  for (const auto& [property, want] : scenario.expected(fs_profile)) {
    const std::string got(reports::verdict_name(report.properties.at(property).verdict));
    if (got != want) diff.push_back(property + ": expected " + want + ", got " + got);
  }
  return diff;
}

struct Outcome {
  int status = kExitPass;
  std::string summary;
  std::optional<nlohmann::json> report;  // for --json, once written
};

// How one scenario's verdicts become its exit status.
struct Judging {
  bool expect = false;     // by the scenario's "expect" block, nothing else
  std::string fs_profile;  // whose "expect_by_profile" overrides apply
  GatePolicy policy;
  std::optional<Baseline> baseline;
  bool partial = false;  // one shard of several: the merged report decides what was not run
};

void check_gate_flags(const GatePolicy& flags, bool expect, const RunOptions& options) {
  check_policy_lists(flags.require, flags.allow, "--allow");
  if (expect && (!flags.require.empty() || !flags.allow.empty() || !flags.baseline.empty()))
    throw InputError(
        "--expect decides by each scenario's \"expect\" block; it does not combine with --require, --allow or "
        "--baseline");
  if (expect && options.shard && options.shard->count > 1)
    throw InputError("--expect: one shard's verdicts cover only part of the cases; check the merged report instead");
  if (!flags.baseline.empty() && options.shard && options.shard->count > 1)
    throw InputError("--baseline: one shard holds only part of the cases; give --baseline to crashcheck merge instead");
}

// The policy and the baseline report, read before anything runs so that bad
// input costs nothing.
Judging judging_for(const Scenario& scenario, const GatePolicy& flags, bool expect, const RunOptions& options,
                    bool several) {
  Judging judging;
  judging.expect = expect;
  judging.fs_profile = options.fs_profile;
  judging.partial = options.shard && options.shard->count > 1;
  if (expect) return judging;
  judging.policy = policy_for(scenario, flags);
  if (flags.baseline.empty()) return judging;
  const fs::path file = baseline_file(flags.baseline, scenario.name, several);
  judging.baseline = Baseline{file, reports::load_report(file)};
  if (judging.baseline->report.shard)
    throw InputError(file.string() +
                     ": --baseline: this is one shard's report; merge the shards first (crashcheck merge)");
  return judging;
}

// Writes the report files into `dir`; the summary line, or a harness failure.
Outcome write_reports(const reports::Report& report, const fs::path& dir) {
  if (std::string error = reports::write_report_files(report, dir); !error.empty()) {
    std::cerr << "crashcheck: cannot write the report: " << error << "\n";
    return {kExitHarness, report.subject.name + ": report not written", std::nullopt};
  }
  return {kExitPass, report.subject.name + ":" + verdict_line(report) + " → " + absolute_path(dir).string(),
          reports::to_json(report)};
}

void judge_outcome(const reports::Report& report, const Scenario& scenario, const Judging& judging, const fs::path& dir,
                   Outcome& out) {
  if (judging.expect) {
    auto diff = expectation_diff(scenario, report, judging.fs_profile);
    for (const auto& line : diff) out.summary += "\n  MISMATCH " + line;
    if (diff.empty()) out.summary += " (as expected)";
    out.status = diff.empty() ? kExitPass : kExitFail;
    return;
  }
  const GateDecision decision =
      decide(report, judging.policy, judging.baseline, absolute_path(dir / "report.json").string(), judging.partial);
  if (!decision.text.empty()) out.summary += "\n" + decision.text.substr(0, decision.text.size() - 1);
  out.status = decision.fails ? kExitFail : kExitPass;
}

// Runs one scenario, writes its report files, and says how it went.
Outcome run_one(const Scenario& scenario, const fs::path& dir, RunOptions options, const Judging& judging) {
  options.report_file = absolute_path(dir / "report.json");
  CampaignResult result = run_campaigns(scenario, options);
  Outcome out = write_reports(result.report, dir);
  if (out.status != kExitPass) return out;
  if (result.not_checkable) {
    std::cerr << scenario.name << ": " << *result.not_checkable << "\n";
    return {kExitHarness, scenario.name + ": not checkable, every property not_run → " + absolute_path(dir).string(),
            out.report};
  }
  if (result.interrupted) return {kExitHarness, out.summary + " (interrupted, report incomplete)", out.report};
  judge_outcome(result.report, scenario, judging, dir, out);
  for (const auto& line : reports::fix_summary(result.report)) out.summary += "\n  " + line;
  out.summary += sampled_passes_line(result.report);
  return out;
}

// The worst status wins, harness failure above all.
int combine(int a, int b) {
  auto rank = [](int s) { return s == kExitHarness ? 3 : s == kExitUsage ? 2 : s == kExitFail ? 1 : 0; };
  return rank(a) >= rank(b) ? a : b;
}

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitUsage;
  } catch (const reports::ReportError& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitUsage;
  } catch (const BackendUnavailable& e) {
    std::cerr << "crashcheck: " << e.what() << "\n";
    return kExitHarness;
  } catch (const std::exception& e) {
    std::cerr << "crashcheck: harness failure: " << e.what() << "\n";
    return kExitHarness;
  }
}

// --verbose: the settings a run applies, before it starts.
void print_settings(const Scenario& s, const RunOptions& options, const fs::path& dir) {
  std::string models;
  for (const auto& m : options.models.empty() ? s.models : options.models) models += (models.empty() ? "" : ",") + m;
  std::cerr << s.name << ": models " << (models.empty() ? "all" : models) << ", kill mode "
            << (options.kill_mode == KillMode::exact ? "exact" : "fast") << ", timeout "
            << seconds_text(options.timeout_s.value_or(s.timeout_s))
            << " per case (the paused baseline may take 3 × that), fs profile " << options.fs_profile << ", jobs "
            << (options.jobs ? std::to_string(options.jobs) : "one per core") << ", new content: "
            << (s.payload.empty() ? std::string("each run's own (no payload)") : "the payload " + s.payload.string())
            << " compared as " << compare_name(s.compare) << ", reports → " << absolute_path(dir).string() << "\n";
}

// Summaries go to stdout, or to stderr when stdout carries --json; --quiet
// drops them (errors still go to stderr).
void print_outcomes(const std::vector<Outcome>& outcomes, const fs::path& out, const OutputFlags& output) {
  std::ostream& text = output.json ? std::cerr : std::cout;
  if (output.level != OutputFlags::Level::quiet) {
    for (const auto& o : outcomes) text << o.summary << "\n";
    if (outcomes.size() > 1)
      text << "reports: " << absolute_path(out).string() << "/<scenario>/report.{json,md,html,junit.xml}\n";
  }
  if (!output.json) return;
  // One scenario: its report; several: an array of them, in command-line order.
  nlohmann::json all = nlohmann::json::array();
  for (const auto& o : outcomes)
    if (o.report) all.push_back(*o.report);
  const nlohmann::json& doc = outcomes.size() == 1 && all.size() == 1 ? all.front() : all;
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int run_scenarios(const std::vector<Scenario>& scenarios, const std::vector<Judging>& judgings, const fs::path& out,
                  RunOptions options, const OutputFlags& output) {
  int status = kExitPass;
  std::vector<Outcome> outcomes;
  if (output.level == OutputFlags::Level::quiet) options.progress = false;
  if (!options.case_timings) options.case_timings = CaseTimings::from_environment();
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    if (cancel_requested().load()) break;
    const auto& scenario = scenarios[i];
    const fs::path dir = scenarios.size() == 1 ? out : out / scenario.name;
    if (output.level == OutputFlags::Level::verbose) print_settings(scenario, options, dir);
    outcomes.push_back(run_one(scenario, dir, options, judgings[i]));
    status = combine(status, outcomes.back().status);
  }
  if (cancel_requested().load()) status = kExitHarness;
  if (options.case_timings) options.case_timings->write();
  print_outcomes(outcomes, out, output);
  return status;
}

}  // namespace

fs::path report_argument(const fs::path& given) {
  std::error_code ec;
  if (!fs::is_directory(given, ec)) return given;  // a file, or missing: load_report names the problem
  const fs::path file = given / "report.json";
  if (fs::is_regular_file(file, ec)) return file;
  throw InputError(given.string() +
                   ": a directory without report.json (give a report.json, or the -o directory of one run; with "
                   "several scenarios that is DIR/<scenario>)");
}

void check_output_directory(const fs::path& dir) {
  if (dir == "-")
    throw InputError(
        "-o -: reports are four files in a directory; name a directory (--json prints the report JSON "
        "on standard output)");
  if (dir.empty()) throw InputError("-o: empty directory name");
  std::error_code ec;
  // The directory, or the nearest ancestor that exists (the rest is created).
  fs::path existing = absolute_path(dir);
  while (!fs::exists(fs::symlink_status(existing, ec)) && existing.has_relative_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, ec))
    throw InputError("-o " + dir.string() + ": " + existing.string() + " exists and is not a directory");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw InputError("-o " + dir.string() + ": cannot write in " + existing.string() + ": " + std::strerror(errno));
}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

int command_run(const RunCommand& command) {
  return guarded([&] {
    std::vector<Scenario> scenarios;
    std::set<std::string> names;
    for (const auto& file : command.scenarios) {
      scenarios.push_back(load_scenario(file));
      const auto& s = scenarios.back();
      if (!names.insert(s.name).second)
        throw InputError(file.string() + ": field \"name\": \"" + s.name + "\" is used by another scenario");
      check_command_runs(s, file.string() + ": field \"command[0]\"");
      choose_backend(command.options.backend, s.backend,
                     locate_agent(command.options.agent_library));  // before any run
    }
    check_gate_flags(command.policy, command.expect, command.options);
    check_output_directory(command.out);
    std::vector<Judging> judgings;
    for (const auto& s : scenarios)
      judgings.push_back(judging_for(s, command.policy, command.expect, command.options, scenarios.size() > 1));
    return run_scenarios(scenarios, judgings, command.out, command.options, command.output);
  });
}

namespace {

// `check --initial DIR --checker CMD`: directory mode (runner/README.md).
void directory_scenario(Scenario& s, const CheckCommand& command) {
  if (!command.initial) throw InputError("--checker: needs --initial DIR (the directory the writer starts from)");
  if (command.checker.empty()) throw InputError("--initial: needs --checker CMD (it judges each directory state)");
  if (command.old) throw InputError("--old: excludes --initial (one file, or a whole directory)");
  if (!command.target.empty()) throw InputError("--target: directory mode judges the whole directory");
  if (!command.validate.empty()) throw InputError("--validate: directory mode judges states with --checker");
  if (!fs::is_directory(*command.initial))
    throw InputError("--initial: no such directory: " + command.initial->string());
  s.directory_mode = DirectoryMode{absolute_path(*command.initial), {"/bin/sh", "-c", command.checker}};
  if (!command.payload.empty()) {
    if (!fs::is_regular_file(command.payload)) throw InputError("--payload: no such file: " + command.payload.string());
    s.payload = absolute_path(command.payload);
  }
}

// `check --payload FILE [--old FILE] …`: one file replaced.
void file_scenario(Scenario& s, const CheckCommand& command) {
  if (!command.payload.empty()) {
    if (!fs::is_regular_file(command.payload)) throw InputError("--payload: no such file: " + command.payload.string());
    s.payload = absolute_path(command.payload);
  }
  if (!command.compare.empty()) {
    const auto compare = compare_from_name(command.compare);
    if (!compare) throw InputError("--compare: expected bytes or json, got \"" + command.compare + "\"");
    s.compare = *compare;
  }
  if (command.old) {
    if (!fs::is_regular_file(*command.old)) throw InputError("--old: no such file: " + command.old->string());
    struct stat st {};
    ::stat(command.old->c_str(), &st);
    s.old =
        OldFile{absolute_path(*command.old), command.mode ? parse_mode(*command.mode, "--mode") : (st.st_mode & 07777)};
  } else if (command.mode) {
    throw InputError("--mode: needs --old (without it the target does not exist beforehand)");
  }
  if (command.target.empty() && !command.old && command.payload.empty())
    throw InputError("--target: needed without --old and --payload (the file name the writer writes)");
  s.target = !command.target.empty() ? command.target
             : command.old           ? command.old->filename().string()
                                     : command.payload.filename().string();
  if (command.validate == "json")
    s.validator.kind = Validator::Kind::json;
  else if (!command.validate.empty())
    s.validator = {Validator::Kind::command, {"/bin/sh", "-c", command.validate}};
}

}  // namespace

int command_check(const CheckCommand& command) {
  return guarded([&] {
    if (command.command.empty()) throw InputError("check: no command given after --");
    Scenario s;
    s.name = "check";
    s.command = command.command;
    if (command.initial || !command.checker.empty())
      directory_scenario(s, command);
    else
      file_scenario(s, command);
    check_command_runs(s, "command");
    choose_backend(command.options.backend, std::nullopt, locate_agent(command.options.agent_library));
    check_gate_flags(command.policy, false, command.options);
    check_output_directory(command.out);
    return run_scenarios({s}, {judging_for(s, command.policy, false, command.options, false)}, command.out,
                         command.options, command.output);
  });
}

// A directory-mode case: the checker's word on the state, per CRASHCHECK_COMMITTED judged.
int replay_directory(const reports::Report& report, const std::string& id, const RunOptions& options,
                     const fs::path& keep) {
  if (!keep.empty()) {
    std::error_code ec;
    if (fs::exists(keep, ec) && !fs::is_empty(keep, ec))
      throw InputError("--keep: " + keep.string() + " exists and is not empty; name a new directory");
  }
  const DirectoryReplay r = replay_directory_case(report, id, options, keep);
  std::cout << "case " << id << ": " << r.fault << "\n"
            << "writer: " << r.outcome << "\n";
  for (const auto& name : r.names) std::cout << "entry: " << name << "\n";
  for (const auto& [committed, v] : r.verdicts)
    std::cout << "checker (CRASHCHECK_COMMITTED=" << (committed ? 1 : 0)
              << "): " << (v.consistent ? "consistent" : v.outcome + (v.output.empty() ? "" : ": " + v.output)) << "\n";
  if (!keep.empty()) std::cout << "state kept in " << absolute_path(keep).string() << "\n";
  std::cout << "verdict: " << (r.fails ? "FAIL (still fails)" : "PASS") << "\n";
  return r.fails ? kExitFail : kExitPass;
}

int command_replay(const fs::path& report_file, const std::string& id, const RunOptions& options,
                   const fs::path& keep) {
  return guarded([&] {
    const reports::Report report = reports::load_report(report_argument(report_file));
    if (!report.subject.initial_dir.empty()) return replay_directory(report, id, options, keep);
    if (!keep.empty()) throw InputError("--keep: only a directory-mode report's case leaves a directory to keep");
    const ReplayResult r = replay_case(report, id, options);
    const auto& o = r.observation;
    // A bare power-loss-N of an older report names the state it resolved to.
    const std::string resolved = o.case_id.empty() || o.case_id == id ? "" : " (state " + o.case_id + ")";
    std::cout << "case " << id << resolved << ": " << o.fault << (o.call.empty() ? "" : " — " + o.call) << "\n"
              << "writer: " << r.outcome << "\n"
              << "target: " << o.target.matches
              << (o.target.exists ? ", " + std::to_string(o.target.size) + " bytes, mode " + o.target.mode : "")
              << "\n";
    if (!o.target.excerpt.empty()) std::cout << "content: " << o.target.excerpt << "\n";
    for (const auto& l : o.leftovers) std::cout << "leftover: " << l << "\n";
    for (const auto& [name, p] : r.properties) {
      std::cout << name << ": " << reports::verdict_name(p.verdict);
      if (!p.failures.empty()) std::cout << " — " << p.failures.front().detail;
      std::cout << "\n";
    }
    std::cout << "verdict: " << (r.fails ? "FAIL (still fails)" : "PASS") << "\n";
    return r.fails ? kExitFail : kExitPass;
  });
}

int command_compare(const fs::path& baseline, const fs::path& other) {
  return guarded([&] {
    const auto a = reports::load_report(report_argument(baseline));
    const auto b = reports::load_report(report_argument(other));
    const auto comparison = reports::compare(a, b);
    std::cout << reports::render_comparison(comparison, baseline.string(), other.string());
    return comparison.worse() ? kExitFail : kExitPass;
  });
}

int command_merge(const MergeCommand& command) {
  return guarded([&] {
    check_gate_flags(command.policy, false, {});
    check_output_directory(command.out);
    std::vector<ShardFile> shards;
    for (const auto& given : command.shards) {
      const fs::path file = report_argument(given);
      shards.push_back({file, reports::load_report(file)});
    }
    reports::Report report = merge_shards(shards);
    Scenario scenario;  // for the policy and the baseline's file name
    scenario.name = report.subject.name;
    const Judging judging = judging_for(scenario, command.policy, false, {}, false);
    fill_replay_commands(report, absolute_path(command.out / "report.json"));
    Outcome out = write_reports(report, command.out);
    if (out.status == kExitPass && !report.complete)
      out = {kExitHarness, out.summary + " (a shard was interrupted, report incomplete)", std::nullopt};
    else if (out.status == kExitPass)
      judge_outcome(report, scenario, judging, command.out, out);
    print_outcomes({out}, command.out, command.output);
    return out.status;
  });
}

int command_report(const fs::path& report_file, const std::string& format_name, const std::optional<fs::path>& out) {
  return guarded([&] {
    const auto format = reports::parse_format(format_name);
    if (!format) throw InputError("--format: expected md, html, junit or json, got \"" + format_name + "\"");
    const std::string text = reports::render(reports::load_report(report_argument(report_file)), *format);
    if (!out) {
      std::cout << text;
      return kExitPass;
    }
    if (auto error = write_file_atomic(*out, text)) {
      std::cerr << "crashcheck: " << out->string() << ": " << error.message() << "\n";
      return kExitHarness;
    }
    return kExitPass;
  });
}

}  // namespace crashcheck::runner
