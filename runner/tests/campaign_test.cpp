// End to end: the campaigns on real subjects (the agent preloaded), through
// the library and through the crashcheck program.
#include "crashcheck/runner/campaign.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include <csignal>
#include <set>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "crashcheck/faults/backend.hpp"
#include "crashcheck/runner/commands.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::shell_scenario;
using testing::TempDir;
using testing::wait_until;
using namespace std::chrono_literals;

// Without a payload each run writes its own bytes (timestamps): its states
// are compared by what they are, not by their excerpt.
std::string state_key(const Observation& o, bool with_excerpt) {
  return o.target.matches + " size=" + std::to_string(o.target.size) + " mode=" + o.target.mode + " " +
         (with_excerpt ? o.target.excerpt : "") + " leftovers=" + std::to_string(o.leftovers.size());
}

std::map<std::string, std::string> kill_states(const Scenario& scenario, KillMode mode) {
  RunOptions options;
  options.models = {"kill"};
  options.kill_mode = mode;
  options.jobs = 2;
  options.progress = false;
  const CampaignResult result = run_campaigns(scenario, options);
  EXPECT_FALSE(result.not_checkable) << *result.not_checkable;
  std::map<std::string, std::string> states;
  for (const auto& o : result.observations)
    if (o.model == reports::Model::kill) states[o.case_id] = state_key(o, !scenario.payload.empty());
  return states;
}

TEST(KillModes, FastAndExactFindTheSameStatesOnEveryBundledScenario) {
  for (const auto& file : testing::bundled_scenario_files()) {
    const Scenario scenario = load_scenario(file);
    if (scenario.command.front().find("node") != std::string::npos && std::string(CRASHCHECK_NODE).empty()) continue;
    SCOPED_TRACE(scenario.name);
    const auto fast = kill_states(scenario, KillMode::fast);
    const auto exact = kill_states(scenario, KillMode::exact);
    EXPECT_GE(fast.size(), 3u);
    EXPECT_EQ(fast, exact);
  }
}

nlohmann::json load_json(const fs::path& file) { return nlohmann::json::parse(testing::read_text(file)); }

std::vector<int> pids_in(const fs::path& dir) {
  std::vector<int> pids;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("pid-", 0) == 0) pids.push_back(testing::read_pid(e.path()));
  return pids;
}

TEST(Run, InPlaceShellWriterFailsAndItsReplayStillFails) {
  TempDir dir;
  const auto scenario = shell_scenario(dir, "cat {payload} > {target}");
  auto result = testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string(), "-j", "2"});
  ASSERT_EQ(result.status, 1) << result.output;
  const auto report = load_json(dir / "out" / "report.json");
  EXPECT_EQ(report["schema"], "crashcheck-report/1");
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "fail");
  EXPECT_EQ(report["properties"]["mode_preserved"]["verdict"], "pass");
  EXPECT_EQ(report["properties"]["valid_content"]["verdict"], "not_run");
  for (const char* file : {"report.md", "report.html", "report.junit.xml"}) EXPECT_TRUE(fs::exists(dir / "out" / file));
  const std::string replay = report["properties"]["crash_atomic"]["failures"][0]["replay"];
  const std::string id = report["properties"]["crash_atomic"]["failures"][0]["case_id"];
  const std::string replay_args = " replay " + fs::absolute(dir / "out" / "report.json").string() + " " + id;
  ASSERT_GT(replay.size(), replay_args.size());
  EXPECT_EQ(replay.substr(replay.size() - replay_args.size()), replay_args);
  const int printed = std::system((replay + " >/dev/null 2>&1").c_str());  // runs exactly as printed
  EXPECT_TRUE(WIFEXITED(printed) && WEXITSTATUS(printed) == 1) << replay;
  auto replayed = testing::run_crashcheck({"replay", (dir / "out" / "report.json").string(), id});
  EXPECT_EQ(replayed.status, 1) << replayed.output;
  EXPECT_NE(replayed.output.find("crash_atomic: fail"), std::string::npos) << replayed.output;
  auto baseline = testing::run_crashcheck({"replay", (dir / "out" / "report.json").string(), "baseline"});
  EXPECT_EQ(baseline.status, 0) << baseline.output;
  EXPECT_EQ(testing::run_crashcheck({"replay", (dir / "out" / "report.json").string(), "kill-sideways-2"}).status, 2);
  // A power-loss case is recomputed from a fresh baseline trace.
  ASSERT_EQ(report["properties"]["powerloss_atomic"]["verdict"], "fail");
  const std::string power_case = report["properties"]["powerloss_atomic"]["failures"][0]["case_id"];
  auto power = testing::run_crashcheck({"replay", (dir / "out" / "report.json").string(), power_case});
  EXPECT_EQ(power.status, 1) << power.output;
  EXPECT_NE(power.output.find("powerloss_atomic: fail"), std::string::npos) << power.output;
}

TEST(Run, ExpectComparesVerdictsAndShowsTheDiff) {
  TempDir dir;
  const auto scenario = shell_scenario(dir, "cat {payload} > {target}",
                                       ", \"models\": [\"kill\"], \"expect\": {\"crash_atomic\": \"pass\", "
                                       "\"error_safe\": \"not_run\"}");
  auto result = testing::run_crashcheck({"run", scenario.string(), "--expect", "-o", (dir / "out").string()});
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_NE(result.output.find("crash_atomic: expected pass, got fail"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("error_safe: expected"), std::string::npos) << result.output;
}

// Exhaustive: every errno at every call (sampled_campaign_test.cpp covers
// what sampling leaves out).
TEST(Run, ExhaustiveErrnoCampaignFailsEachFileCallWithEachErrnoItCanReturn) {
  TempDir dir;
  const auto scenario =
      shell_scenario(dir, "cat {payload} > {dir}/.t.tmp && chmod 0644 {dir}/.t.tmp && mv {dir}/.t.tmp {target}",
                     ", \"models\": [\"errno\"], \"exhaustive\": true");
  testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string()});
  const auto report = load_json(dir / "out" / "report.json");
  std::set<std::string> expected, found;
  std::size_t chmod_calls = 0;
  for (const auto& call : report["calls"]) {
    const auto* info = faults::find_call(call["call"].get<std::string>());
    ASSERT_NE(info, nullptr) << call.dump();
    chmod_calls += info->op == faults::OpClass::chmod;
    for (int e : info->errnos)  // every call kind (issue 13 N1c: ftruncate, fchmod, link… too)
      expected.insert("errno-" + std::to_string(call["seq"].get<int>()) + "-" + faults::errno_name(e));
  }
  for (const auto& cell : report["cells"])
    if (cell["model"] == "errno") found.insert(cell["case_id"].get<std::string>());
  EXPECT_GE(expected.size(), 10u);
  EXPECT_EQ(chmod_calls, 1u);
  EXPECT_EQ(found, expected);
  EXPECT_EQ(report["model_cases"]["errno"].get<std::size_t>(), expected.size());
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "not_run");
  EXPECT_NE(report["properties"]["crash_atomic"]["reason"].get<std::string>().find("kill"), std::string::npos);
}

TEST(Run, HangingSubjectGetsTimeoutVerdictsAndNothingKeepsRunning) {
  TempDir dir;
  // Hangs when its write fails, after saying where it is.
  const std::string script =
      "import os, sys, time\n"
      "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)\n"
      "try:\n"
      "    os.write(fd, open(sys.argv[2], 'rb').read())\n"
      "except OSError:\n"
      "    open(os.path.join(sys.argv[3], 'pid-%d' % os.getpid()), 'w').write(str(os.getpid()))\n"
      "    time.sleep(1000)\n"
      "os.close(fd)\n";
  testing::write_text(dir / "w.py", script);
  auto result = testing::run_crashcheck({"check", "--old", (dir / "w.py").string(), "--payload",
                                         (dir / "w.py").string(), "--models", "errno", "--timeout", "2", "-j", "2",
                                         "-o", (dir / "out").string(), "--", CRASHCHECK_PYTHON, (dir / "w.py").string(),
                                         "{target}", "{payload}", dir.path().string()});
  EXPECT_EQ(result.status, 1) << result.output;
  const auto report = load_json(dir / "out" / "report.json");
  bool timeout_cell = false;
  for (const auto& cell : report["cells"]) timeout_cell |= cell["outcome"] == "timeout";
  EXPECT_TRUE(timeout_cell);
  EXPECT_EQ(report["properties"]["error_safe"]["verdict"], "fail");
  const auto pids = pids_in(dir.path());
  EXPECT_FALSE(pids.empty());
  for (int pid : pids) EXPECT_TRUE(testing::process_gone(pid)) << pid;
}

TEST(Run, BackgroundChildrenOfTheSubjectDoNotOutliveTheirCase) {
  TempDir dir;
  const auto scenario =
      shell_scenario(dir, "sleep 1000 & echo $! > " + dir.path().string() + "/pid-$$; cat {payload} > {target}",
                     ", \"models\": [\"kill\"]");
  auto result =
      testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string(), "--kill-mode", "exact"});
  EXPECT_EQ(result.status, 1) << result.output;
  const auto pids = pids_in(dir.path());
  EXPECT_GE(pids.size(), 3u);  // baseline and the kill cases
  for (int pid : pids) EXPECT_TRUE(testing::process_gone(pid)) << pid;
}

TEST(Run, WritingOutsideTheScratchDirectoryIsNoted) {
  TempDir dir;
  const auto scenario =
      shell_scenario(dir, "echo escaped > {dir}/../escape.txt; cat {payload} > {target}", ", \"models\": [\"kill\"]");
  auto result = testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string()});
  EXPECT_EQ(result.status, 1) << result.output;
  const auto notes = load_json(dir / "out" / "report.json")["notes"].dump();
  EXPECT_NE(notes.find("wrote outside its scratch directory: escape.txt"), std::string::npos) << notes;
}

TEST(Run, MissingExecutableIsBadInputNamingTheField) {
  TempDir dir;
  testing::write_text(dir / "new.txt", "x");
  testing::write_text(dir / "s.json",
                      "{\"name\": \"m\", \"command\": [\"/no/such/writer\", \"{target}\"], "
                      "\"target\": \"t\", \"payload\": {\"file\": \"new.txt\"}}");
  auto result = testing::run_crashcheck({"run", (dir / "s.json").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("s.json: field \"command[0]\""), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("/no/such/writer"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Run, MalformedScenarioExitsTwoNamingFileAndField) {
  TempDir dir;
  testing::write_text(dir / "s.json",
                      "{\"name\": \"m\", \"command\": [\"sh\"], \"target\": \"t\", "
                      "\"payload\": {\"file\": \"none.txt\"}}");
  auto result = testing::run_crashcheck({"run", (dir / "s.json").string()});
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("s.json: field \"payload.file\": no such file"), std::string::npos) << result.output;
  EXPECT_EQ(testing::run_crashcheck({"run", (dir / "s.json").string(), "--models", "kill,meteor"}).status, 2);
  EXPECT_EQ(testing::run_crashcheck({"run", (dir / "s.json").string(), "--kill-mode", "slow"}).status, 2);
  EXPECT_EQ(testing::run_crashcheck({"run"}).status, 2);
}

TEST(Run, UncheckableSubjectsExitThreeNeverPass) {
  TempDir dir;
  struct Case {
    std::string script, why;
  } cases[] = {{"true", "saw no file-system call"},
               {"exit 4", "baseline run (no fault) failed: exit 4"},
               {"echo wrong > {target}", "does not hold the payload"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.script);
    testing::write_text(dir / "payload", "data\n");
    auto result = testing::run_crashcheck({"check", "--payload", (dir / "payload").string(), "-o",
                                           (dir / "out").string(), "--", "/bin/sh", "-c", c.script});
    EXPECT_EQ(result.status, 3) << result.output;
    EXPECT_NE(result.output.find("not checkable: "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(c.why), std::string::npos) << result.output;
    const auto report = load_json(dir / "out" / "report.json");
    for (const auto& [name, property] : report["properties"].items()) EXPECT_EQ(property["verdict"], "not_run") << name;
  }
}

#ifdef CRASHCHECK_STATIC_WRITER
// LD_PRELOAD cannot reach a static binary: under preload it is not checkable, never passed.
TEST(Run, StaticBinaryIsNotCheckableUnderPreloadTheAgentNeverLoads) {
  TempDir dir;
  testing::write_text(dir / "payload", "data\n");
  auto result =
      testing::run_crashcheck({"check", "--payload", (dir / "payload").string(), "--backend", "preload", "-o",
                               (dir / "out").string(), "--", CRASHCHECK_STATIC_WRITER, "{payload}", "{target}"});
  EXPECT_EQ(result.status, 3) << result.output;
  EXPECT_NE(result.output.find("not checkable: the fault-injection agent was never loaded"), std::string::npos)
      << result.output;
}

// The seccomp supervisor (the default where the kernel has it) sees the
// kernel's calls, so the same static in-place writer is judged: it fails.
TEST(Run, StaticBinaryIsJudgedUnderTheDefaultBackend) {
  if (auto why = faults::backend_unavailable(faults::BackendKind::seccomp))
    GTEST_SKIP() << "seccomp backend unavailable: " << *why;
  TempDir dir;
  testing::write_text(dir / "payload", "data\n");
  auto result = testing::run_crashcheck({"check", "--payload", (dir / "payload").string(), "--target", "t.txt",
                                         "--models", "kill", "-o", (dir / "out").string(), "--",
                                         CRASHCHECK_STATIC_WRITER, "{payload}", "{target}"});
  EXPECT_EQ(result.status, 1) << result.output;
  const auto report = load_json(dir / "out" / "report.json");
  EXPECT_EQ(report["subject"]["backend"], "seccomp");
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "fail") << result.output;
  for (const auto& call : report["calls"])  // the writer's own read of its payload is not the target's
    EXPECT_EQ(call["summary"].get<std::string>().find("payload"), std::string::npos) << call.dump();
}
#endif

TEST(Check, CommandValidatorJudgesEveryState) {
  TempDir dir;
  testing::write_text(dir / "payload", "complete\n");
  // Valid means "ends with a newline": a torn state does not.
  auto result = testing::run_crashcheck({"check", "--payload", (dir / "payload").string(), "--validate",
                                         "test \"$(tail -c1 {target} | od -An -c | tr -d ' ')\" = '\\n'", "--models",
                                         "kill,disk-full", "-o", (dir / "out").string(), "--", "/bin/sh", "-c",
                                         "cat {payload} > {target}"});
  const auto report = load_json(dir / "out" / "report.json");
  EXPECT_EQ(report["subject"]["validator"].get<std::string>().rfind("command: ", 0), 0u);
  EXPECT_EQ(report["properties"]["valid_content"]["verdict"], "fail") << result.output;
  EXPECT_GT(report["properties"]["valid_content"]["cases"].get<int>(), 0);
  EXPECT_EQ(report["properties"]["mode_preserved"]["verdict"], "not_run");  // no --old
}

// Subject starts whose pid file is complete (a start writes "pid-$$" first).
std::size_t started_subjects(const fs::path& dir) {
  std::size_t n = 0;
  for (int pid : pids_in(dir)) n += pid > 0;
  return n;
}

TEST(Interrupt, SigintStopsEveryCaseWritesAnIncompleteReportAndExitsThree) {
  TempDir dir;
  const auto scenario =
      shell_scenario(dir, "echo $$ > " + dir.path().string() + "/pid-$$; cat {payload} > {target}; sleep 3",
                     ", \"models\": [\"kill\"]");
  const fs::path out = dir / "out";
  const pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(CRASHCHECK_EXE, CRASHCHECK_EXE, "run", scenario.c_str(), "-o", out.c_str(), "--kill-mode", "exact", "-j",
            "2", nullptr);
    _exit(127);
  }
  // A second subject start is a planned kill case: the runner plans them from
  // the finished baseline, so the signal lands after it (each case sleeps 3 s).
  const bool in_cases = wait_until([&] { return started_subjects(dir.path()) >= 2; }, 60s);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(in_cases) << "no kill case started within 60 s";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  const auto report = load_json(out / "report.json");
  EXPECT_EQ(report["complete"], false);
  bool cases_note = false;
  for (const auto& note : report["notes"]) cases_note |= note.get<std::string>().rfind("interrupted: ", 0) == 0;
  EXPECT_TRUE(cases_note) << "interrupted after the baseline, among the cases: " << report["notes"].dump();
  for (int p : pids_in(dir.path())) EXPECT_TRUE(testing::process_gone(p)) << p;
}

TEST(Compare, ExitsOneWhenTheOtherReportIsWorse) {
  TempDir dir;
  const auto bad = shell_scenario(dir, "cat {payload} > {target}", ", \"models\": [\"kill\"]");
  ASSERT_EQ(testing::run_crashcheck({"run", bad.string(), "-o", (dir / "bad").string()}).status, 1);
  TempDir good_dir;
  const auto good =
      shell_scenario(good_dir, "cat {payload} > {dir}/.t.tmp && chmod 0640 {dir}/.t.tmp && mv {dir}/.t.tmp {target}",
                     ", \"models\": [\"kill\"]");
  auto good_run = testing::run_crashcheck({"run", good.string(), "-o", (dir / "good").string()});
  ASSERT_EQ(good_run.status, 0) << good_run.output;
  const std::string good_json = (dir / "good" / "report.json").string(),
                    bad_json = (dir / "bad" / "report.json").string();
  EXPECT_EQ(testing::run_crashcheck({"compare", good_json, bad_json}).status, 1);
  EXPECT_EQ(testing::run_crashcheck({"compare", bad_json, good_json}).status, 0);
  auto md = testing::run_crashcheck({"report", bad_json, "--format", "md"});
  EXPECT_EQ(md.status, 0);
  EXPECT_NE(md.output.find("crash"), std::string::npos);
  EXPECT_EQ(testing::run_crashcheck({"report", bad_json, "--format", "pdf"}).status, 2);
  testing::write_text(dir / "broken.json", "{\"schema\": \"something-else\"}");
  EXPECT_EQ(testing::run_crashcheck({"compare", good_json, (dir / "broken.json").string()}).status, 2);
}

}  // namespace
}  // namespace crashcheck::runner
