// The supervisor: timeouts, exit statuses, and nothing the subject starts
// outlives it — checked by pid, for a background child, a setsid()
// double-forked daemon and a hanging subject.
#include "crashcheck/runner/subject_process.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using testing::TempDir;
using namespace std::chrono_literals;

SubjectSpec shell(const std::string& script, const TempDir& dir, std::chrono::milliseconds timeout = 10s) {
  return {{"/bin/sh", "-c", script}, {"PATH=/usr/bin:/bin"}, dir.path(), {}, dir / "out", dir / "err", timeout};
}

TEST(SubjectProcess, ReportsExitCodeAndSignal) {
  TempDir dir;
  auto exited = run_subject(shell("exit 7", dir));
  EXPECT_EQ(exited.end, SubjectOutcome::End::exited);
  EXPECT_EQ(exited.status(), 7);
  auto killed = run_subject(shell("kill -9 $$", dir));
  EXPECT_EQ(killed.end, SubjectOutcome::End::signaled);
  EXPECT_EQ(killed.status(), -SIGKILL);
  EXPECT_EQ(killed.describe(), "killed by SIGKILL");
}

TEST(SubjectProcess, FeedsStdinAndCapturesStdout) {
  TempDir dir;
  testing::write_text(dir / "in", "payload bytes\n");
  SubjectSpec spec = shell("cat; pwd >&2", dir);
  spec.stdin_file = dir / "in";
  ASSERT_TRUE(run_subject(spec).succeeded());
  EXPECT_EQ(testing::read_text(dir / "out"), "payload bytes\n");
  EXPECT_EQ(testing::read_text(dir / "err"), dir.path().string() + "\n");
}

TEST(SubjectProcess, HangingSubjectTimesOutAndIsKilled) {
  TempDir dir;
  const auto started = std::chrono::steady_clock::now();
  auto outcome = run_subject(shell("echo $$ > " + (dir / "pid").string() + "; exec sleep 1000", dir, 1s));
  EXPECT_EQ(outcome.end, SubjectOutcome::End::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  const int pid = testing::read_pid(dir / "pid");
  ASSERT_GT(pid, 0) << "the subject did not start within the timeout";
  EXPECT_TRUE(testing::process_gone(pid));
}

TEST(SubjectProcess, BackgroundChildIsKilledWhenSubjectExits) {
  TempDir dir;
  auto outcome = run_subject(shell("sleep 1000 & echo $! > " + (dir / "pid").string() + "; exit 0", dir));
  EXPECT_TRUE(outcome.succeeded());
  const int child = testing::read_pid(dir / "pid");
  ASSERT_GT(child, 0);
  EXPECT_TRUE(testing::process_gone(child));
}

TEST(SubjectProcess, SetsidDoubleForkedDaemonIsKilled) {
  TempDir dir;
  // The daemon leaves the subject's process group and session; only the
  // subreaper still finds it.
  const std::string script =
      "import os, sys, time\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    if os.fork() == 0:\n"
      "        open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n"
      "        os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
      "        time.sleep(1000)\n"
      "    os._exit(0)\n"
      "while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n";
  SubjectSpec spec{{CRASHCHECK_PYTHON, "-c", script, (dir / "pid").string()}, {}, dir.path(), {}, {}, {}, 10s};
  EXPECT_TRUE(run_subject(spec).succeeded());
  const int daemon = testing::read_pid(dir / "pid");
  ASSERT_GT(daemon, 0);
  EXPECT_TRUE(testing::process_gone(daemon));
}

// A writer's cases wait for what it left running, until the timeout, and
// say what they had to kill.
TEST(SubjectProcess, WaitsForDescendantsAndNamesTheOnesItKills) {
  TempDir dir;
  SubjectSpec finished = shell("(read x < /dev/null; echo done > " + (dir / "bg").string() + ") & exit 0", dir);
  finished.wait_for_descendants = true;
  auto process = SubjectProcess::start(finished);
  EXPECT_TRUE(process.wait().succeeded());
  EXPECT_EQ(process.outliving().killed, 0);
  EXPECT_EQ(testing::read_text(dir / "bg"), "done\n");  // waited for, not killed
  SubjectSpec hanging = shell("sleep 1000 & echo $! > " + (dir / "pid").string() + "; exit 0", dir, 1s);
  hanging.wait_for_descendants = true;
  auto hung = SubjectProcess::start(hanging);
  EXPECT_TRUE(hung.wait().succeeded());
  EXPECT_TRUE(hung.outliving().outlived);
  ASSERT_EQ(hung.outliving().killed, 1);
  EXPECT_NE(hung.outliving().named.front().find("sleep 1000"), std::string::npos) << hung.outliving().named.front();
  EXPECT_TRUE(testing::process_gone(testing::read_pid(dir / "pid")));
}

TEST(SubjectProcess, MissingExecutableIsASpawnFailure) {
  TempDir dir;
  SubjectSpec spec{{"/nonexistent/writer", "x"}, {}, dir.path(), {}, {}, {}, 10s};
  auto outcome = run_subject(spec);
  EXPECT_EQ(outcome.end, SubjectOutcome::End::spawn_failed);
  EXPECT_EQ(outcome.code, ENOENT);
  EXPECT_FALSE(outcome.succeeded());
}

TEST(SubjectProcess, StopKillsARunningSubject) {
  TempDir dir;
  auto process = SubjectProcess::start(shell("echo $$ > " + (dir / "pid").string() + "; exec sleep 1000", dir));
  while (testing::read_pid(dir / "pid") <= 0) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(process.finished());
  process.stop();
  EXPECT_EQ(process.wait().end, SubjectOutcome::End::cancelled);
  EXPECT_TRUE(testing::process_gone(testing::read_pid(dir / "pid")));
}

}  // namespace
}  // namespace crashcheck::runner
