// Issues 11 (F4) and 13 (N1d): a process that outlives the writer's report
// of success. The writer's exit is that report; what its background job or
// setsid() daemon does afterwards is the writer's doing too, and the case
// used to kill it unseen: a daemon's later in-place rewrite passed every
// property, and a rename handed to a background job passed `durable`.
// Each defect has a twin without it (writers/outliving_writer.c).
//
// Ground truth first, without crashcheck: the writer run bare, its target
// read right after a waitpid() on its first process (the outliving process
// waits for a gate this test holds, so nothing races the read), then after
// every process has ended (end of file on a pipe they all hold); and strace
// killing the daemon at its second pwrite. Then crashcheck must agree on
// both backends.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

extern char** environ;

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, strace_works, read_text, …

const std::string kOld = "{\"a\": 1}\n";

// Two pages and more, so the daemon's two pwrites leave a half that is neither.
std::string payload() { return "{\"k\": \"" + std::string(9000, 'v') + "\"}\n"; }

void prepare(const TempDir& dir) {
  write_text(dir / "t.json", kOld);
  write_text(dir / "new.json", payload());
}

// The target when the writer's first process has exited (its report of
// success), and when every process it started has ended.
struct BareRun {
  int status = -1;
  std::string at_exit, at_end;
};
BareRun run_bare(const TempDir& dir, const std::string& mode) {
  prepare(dir);
  int gate[2], done[2];
  if (::pipe2(gate, O_CLOEXEC) != 0 || ::pipe2(done, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, gate[0], 10);  // the outliving process waits for its end of file
  posix_spawn_file_actions_adddup2(&actions, done[1], 11);  // held by every process: end of file when all ended
  std::vector<std::string> env_text{"OUTLIVE_GATE=10"};
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<std::string> args{CRASHCHECK_OUTLIVING_WRITER, mode, (dir / "t.json").string(),
                                (dir / "new.json").string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(gate[0]);
  ::close(done[1]);
  BareRun run;
  if (spawned == 0 && ::waitpid(pid, &run.status, 0) == pid) {
    run.status = WIFEXITED(run.status) ? WEXITSTATUS(run.status) : 128 + WTERMSIG(run.status);
    run.at_exit = read_text(dir / "t.json");
  }
  ::close(gate[1]);  // the outliving process may go on now
  char c;
  while (::read(done[0], &c, 1) > 0) {
  }
  ::close(done[0]);
  run.at_end = read_text(dir / "t.json");
  return run;
}

TEST(OutlivingGroundTruth, WhatTheTargetHoldsAtTheWritersExitAndAfter) {
  TempDir dir;
  const auto bg = run_bare(dir, "bg-rename");
  EXPECT_EQ(bg.status, 0);
  EXPECT_EQ(bg.at_exit, kOld);  // success reported, and the new content is not there yet
  EXPECT_EQ(bg.at_end, payload());
  const auto waited = run_bare(dir, "bg-wait");
  EXPECT_EQ(waited.status, 0);
  EXPECT_EQ(waited.at_exit, payload());
  for (const char* mode : {"daemon-rewrite", "daemon-log"}) {
    const auto daemon = run_bare(dir, mode);
    EXPECT_EQ(daemon.status, 0) << mode;
    EXPECT_EQ(daemon.at_exit, payload()) << mode;
    EXPECT_EQ(daemon.at_end, payload()) << mode;
  }
}

TEST(OutlivingGroundTruth, ACrashOfTheDaemonAfterTheExitLeavesHalfTheContent) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  prepare(dir);
  const auto command = [&](const std::string& mode) {
    return "strace -f -qqq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=2 " +
           reports::shell_quote(CRASHCHECK_OUTLIVING_WRITER) + " " + mode + " " +
           reports::shell_quote((dir / "t.json").string()) + " " + reports::shell_quote((dir / "new.json").string()) +
           " 2>/dev/null";
  };
  EXPECT_EQ(shell(command("daemon-rewrite")), 0);  // the writer itself exited 0
  EXPECT_EQ(read_text(dir / "t.json"), payload().substr(0, payload().size() / 2));
  write_text(dir / "t.json", kOld);
  EXPECT_EQ(shell(command("daemon-log")), 0);
  EXPECT_EQ(read_text(dir / "t.json"), payload());
}

json check(const TempDir& dir, const std::string& mode, const std::string& backend, std::vector<std::string> extra) {
  prepare(dir);
  const auto out = dir / ("out-" + mode + "-" + backend);
  std::vector<std::string> args{"check",
                                "--old",
                                (dir / "t.json").string(),
                                "--payload",
                                (dir / "new.json").string(),
                                "--backend",
                                backend,
                                "-o",
                                out.string(),
                                "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  for (const std::string& arg : {std::string("--"), std::string(CRASHCHECK_OUTLIVING_WRITER), mode,
                                 std::string("{target}"), std::string("{payload}")})
    args.push_back(arg);
  const auto r = run_crashcheck(args);
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(out / "report.json"));
}

std::string verdict(const json& report, const char* property) { return report["properties"][property]["verdict"]; }

const std::vector<std::string> kFast{"--models", "kill,reader,power-loss"};

class Outliving : public ::testing::TestWithParam<const char*> {};

TEST_P(Outliving, SuccessReportedBeforeABackgroundJobCommitsFailsDurable) {
  TempDir dir;
  const json early = check(dir, "bg-rename", GetParam(), kFast);
  ASSERT_EQ(verdict(early, "durable"), "fail") << early["properties"]["durable"].dump();
  const std::string detail = early["properties"]["durable"]["failures"][0]["detail"];
  EXPECT_TRUE(has(detail, "reported success (its first process exited 0) after call")) << detail;
  EXPECT_TRUE(has(detail, "before the commit")) << detail;
  EXPECT_TRUE(has(detail, "the target still holds the old content")) << detail;
  // Replaying that state re-runs the writer and judges it the same way.
  const std::string id = early["properties"]["durable"]["failures"][0]["case_id"];
  const auto replayed =
      run_crashcheck_split({"replay", (dir / ("out-bg-rename-" + std::string(GetParam()))).string(), id});
  EXPECT_EQ(replayed.status, 1) << replayed.out << replayed.err;
  EXPECT_TRUE(has(replayed.out, "\ndurable: fail — " + detail + "\n")) << replayed.out;
  const json waited = check(dir, "bg-wait", GetParam(), kFast);
  for (const char* p : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(waited, p), "pass") << p << ": " << waited["properties"][p].dump();
}

// Without pauses the run cannot place the exit among the job's calls:
// durable is not judged, never passed. The preload backend always pauses its
// baseline (its pauses are where file times show writes it cannot see), so
// there the exit is placed and the background rename fails durable.
TEST_P(Outliving, WithoutPausesTheExitOfABackgroundJobsWriterIsNotPlaced) {
  TempDir dir;
  const std::vector<std::string> exact{"--models", "kill,power-loss", "--kill-mode", "exact"};
  const json early = check(dir, "bg-rename", GetParam(), exact);
  if (std::string(GetParam()) == "preload") {
    EXPECT_EQ(verdict(early, "durable"), "fail") << early["properties"]["durable"].dump();
  } else {
    EXPECT_EQ(verdict(early, "durable"), "not_run") << early["properties"]["durable"].dump();
    EXPECT_TRUE(
        has(early["properties"]["durable"]["reason"], "cannot tell which calls came after that success report"));
  }
  EXPECT_EQ(verdict(check(dir, "bg-wait", GetParam(), exact), "durable"), "pass");
}

TEST_P(Outliving, ADaemonsRewriteAfterTheExitIsWaitedForAndJudged) {
  TempDir dir;
  const json rewrite = check(dir, "daemon-rewrite", GetParam(), kFast);
  for (const char* p : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(rewrite, p), "fail") << p << ": " << rewrite["properties"][p].dump();
  const json logs = check(dir, "daemon-log", GetParam(), kFast);
  for (const char* p : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "mode_preserved"})
    EXPECT_EQ(verdict(logs, p), "pass") << p << ": " << logs["properties"][p].dump();
}

// Still running at the case timeout: killed, named, and no pass rests on it.
TEST_P(Outliving, ADaemonKilledAtTheTimeoutWithholdsThePasses) {
  TempDir dir;
  const json forever = check(dir, "daemon-forever", GetParam(), {"--models", "power-loss", "--timeout", "1"});
  for (const char* p : {"powerloss_atomic", "durable", "mode_preserved"}) {
    EXPECT_EQ(verdict(forever, p), "not_run") << p;
    EXPECT_TRUE(has(forever["properties"][p]["reason"], "were killed: pid ")) << forever["properties"][p].dump();
  }
  bool named = false;
  for (const auto& note : forever["notes"]) named = named || has(note, "daemon-forever");
  EXPECT_TRUE(named) << forever["notes"].dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, Outliving, ::testing::Values("seccomp", "preload"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace crashcheck::runner
