// A crashcheck killed outright (SIGKILL: a CI job's timeout, the OOM killer)
// cannot remove its work directory or that directory's /dev/shm twin. The
// ground truth is a real SIGKILL of a real campaign: its subject dies with it
// and its directories stay behind. The next crashcheck using the same work
// root removes them, and only them: a live crashcheck's directory (its lock
// held) and a directory that is not a crashcheck's (no lock file) stay.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<fs::path> work_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.path().filename().string().rfind("crashcheck-", 0) == 0) out.push_back(entry.path());
  return out;
}

// The twin a work directory's lock file names (its second line).
fs::path twin_of(const fs::path& work_dir) {
  const std::string text = testing::read_text(work_dir / ".crashcheck-lock");
  const auto first = text.find('\n');
  return first == std::string::npos ? fs::path()
                                    : fs::path(text.substr(first + 1, text.find('\n', first + 1) - first - 1));
}

// Starts `crashcheck run SCENARIO` with TMPDIR=work; its pid.
pid_t start_campaign(const fs::path& scenario, const fs::path& work, const fs::path& out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TMPDIR", work.c_str(), 1);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(CRASHCHECK_EXE, CRASHCHECK_EXE, "run", scenario.c_str(), "-o", out.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

TEST(WorkDir, WhatAKilledCrashcheckLeftIsRemovedByTheNextOneAndNothingElse) {
  testing::TempDir dir;
  const fs::path work = dir / "work";
  fs::create_directories(work);
  const auto scenario = testing::shell_scenario(
      dir, "echo $$ > " + (dir / "pid").string() + "; cat {payload} > {target}; sleep 300", ", \"models\": [\"kill\"]");
  const pid_t crashcheck = start_campaign(scenario, work, dir / "out");
  const bool started = testing::wait_until([&] { return testing::read_pid(dir / "pid") > 0; }, 60s);
  ::kill(crashcheck, SIGKILL);
  ::waitpid(crashcheck, nullptr, 0);
  ASSERT_TRUE(started) << "the subject never started";
  const int subject = testing::read_pid(dir / "pid");
  const bool subject_gone = testing::wait_until([&] { return testing::process_gone(subject); }, 30s);
  if (!subject_gone) ::kill(subject, SIGKILL);
  EXPECT_TRUE(subject_gone) << "the subject outlived its crashcheck";
  // The leftovers, for real: the killed run's directory and its twin.
  const auto left = work_dirs(work);
  ASSERT_EQ(left.size(), 1u);
  const fs::path twin = twin_of(left.front());
  ASSERT_FALSE(twin.empty());
  ASSERT_TRUE(fs::is_directory(twin)) << twin;
  // A directory that is not crashcheck's, and a live crashcheck's (its lock held here).
  fs::create_directories(work / "crashcheck-not-ours");
  fs::create_directories(work / "crashcheck-live");
  testing::write_text(work / "crashcheck-live" / ".crashcheck-lock", "crashcheck work directory\n\n", 0600);
  const int held = ::open((work / "crashcheck-live" / ".crashcheck-lock").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  {
    testing::ScopedEnvironment tmpdir("TMPDIR", work.string());
    testing::write_text(dir / "new", "new\n");
    const auto next = testing::run_crashcheck({"check", "--payload", (dir / "new").string(), "--models", "kill", "-o",
                                               (dir / "out2").string(), "--quiet", "--", "{crashcheck_write}",
                                               "{target}", "--payload", "{payload}"});
    EXPECT_EQ(next.status, 0) << next.output;
  }
  ::close(held);
  EXPECT_FALSE(fs::exists(left.front())) << "the killed run's directory is still there";
  EXPECT_FALSE(fs::exists(twin)) << "the killed run's /dev/shm twin is still there";
  std::error_code ec;
  fs::remove_all(twin, ec);  // outside the TempDir: not left behind when the test fails
  EXPECT_TRUE(fs::is_directory(work / "crashcheck-not-ours"));
  EXPECT_TRUE(fs::is_directory(work / "crashcheck-live"));
  EXPECT_EQ(work_dirs(work).size(), 2u);  // and the second run removed its own
}

}  // namespace
}  // namespace crashcheck::runner
