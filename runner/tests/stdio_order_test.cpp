// Issue 13 N0, N2b: under the preload backend a scoped stdio stream is made
// unbuffered, so its bytes reach the file at fprintf instead of at fflush or
// fclose. That moved the writes before the fsync or the rename of writers
// whose defect is that order (false passes), and failed fprintf where a
// buffered stream cannot fail (false fails of writers that check fflush).
// Now: under preload no error is injected at a stream write and every pass
// resting on the writes' order is not_run with the reason; the seccomp
// backend sees the real writes and judges the three orders. Ground truth:
// the writer stops itself after its fsync or its rename, the test looks at
// the files and kills it for real. Writer: writers/stdio_order.c.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/faults/backend.hpp>

#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, read_text, …

// Runs the writer until it stops itself at `moment`; returns its pid (stopped).
pid_t run_until(const std::string& mode, const std::filesystem::path& target, const char* moment) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("STDIO_ORDER_STOP", moment, 1);
    ::execl(CRASHCHECK_STDIO_ORDER, CRASHCHECK_STDIO_ORDER, mode.c_str(), target.c_str(), nullptr);
    ::_exit(127);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  EXPECT_TRUE(WIFSTOPPED(status)) << status;
  return pid;
}

void kill_for_real(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

std::uintmax_t size_of(const std::filesystem::path& file) { return std::filesystem::file_size(file); }

TEST(StdioOrderGroundTruth, AtItsFsyncTheBufferedTempIsStillEmpty) {
  TempDir dir;
  const auto target = dir / "t.json";
  for (const std::string mode : {"fsync-before-flush", "correct"}) {
    const pid_t pid = run_until(mode, target, "after-fsync");
    // What the fsync could make durable: nothing, unless the stream was flushed first.
    if (mode == "correct")
      EXPECT_GT(size_of(dir / "t.json.tmp"), 0u);
    else
      EXPECT_EQ(size_of(dir / "t.json.tmp"), 0u);
    kill_for_real(pid);
    std::filesystem::remove(dir / "t.json.tmp");
  }
}

TEST(StdioOrderGroundTruth, AKillAfterTheRenameBeforeFcloseLeavesAnEmptyTarget) {
  TempDir dir;
  const auto target = dir / "t.json";
  for (const std::string mode : {"rename-before-close", "correct"}) {
    write_text(target, "{\"old\": true}\n");
    kill_for_real(run_until(mode, target, "after-rename"));
    if (mode == "correct")
      EXPECT_GT(size_of(target), 0u);
    else
      EXPECT_EQ(size_of(target), 0u);
  }
}

json check(const TempDir& dir, const std::string& mode, const std::string& backend) {
  write_text(dir / "old.json", "{\"old\": true}\n");
  const auto out = dir / ("out-" + mode + "-" + backend);
  const auto r =
      run_crashcheck({"check", "--old", (dir / "old.json").string(), "--target", "t.json", "--backend", backend,
                      "--quiet", "-o", out.string(), "--", CRASHCHECK_STDIO_ORDER, mode, "{target}"});
  EXPECT_NE(r.status, 2) << r.output;
  return json::parse(read_text(out / "report.json"));
}

std::string verdict(const json& report, const char* property) {
  return report["properties"][property]["verdict"].get<std::string>();
}

class StdioOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = faults::backend_unavailable(faults::BackendKind::seccomp)) GTEST_SKIP() << *why;
  }
  TempDir dir_;
};

TEST_F(StdioOrder, SeccompSeesTheRealWritesAndJudgesEachOrder) {
  const json correct = check(dir_, "correct", "seccomp");
  for (const char* p : {"crash_atomic", "reader_safe", "error_safe", "temp_clean", "powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(correct, p), "pass") << p << ": " << correct["properties"][p].dump(2);
  const json unflushed = check(dir_, "fsync-before-flush", "seccomp");
  EXPECT_EQ(verdict(unflushed, "powerloss_atomic"), "fail");
  EXPECT_EQ(verdict(unflushed, "crash_atomic"), "pass");
  const json published = check(dir_, "rename-before-close", "seccomp");
  EXPECT_EQ(verdict(published, "crash_atomic"), "fail");
}

TEST_F(StdioOrder, PreloadPassesNothingThatRestsOnTheStreamsWritesAndFailsNoCorrectWriter) {
  for (const std::string mode : {"correct", "fsync-before-flush", "rename-before-close"}) {
    const json report = check(dir_, mode, "preload");
    for (const char* p : {"crash_atomic", "reader_safe", "error_safe", "temp_clean", "powerloss_atomic", "durable"})
      EXPECT_NE(verdict(report, p), "pass") << mode << " " << p << ": " << report["properties"][p].dump(2);
    if (mode == "correct") {
      for (const char* p : {"error_safe", "temp_clean"})  // no error injected where a buffered stream cannot fail
        EXPECT_EQ(verdict(report, p), "not_run") << p << ": " << report["properties"][p].dump(2);
    }
    EXPECT_NE(report["properties"]["crash_atomic"]["reason"].get<std::string>().find("stdio stream"), std::string::npos)
        << report["properties"]["crash_atomic"].dump(2);
  }
}

}  // namespace
}  // namespace crashcheck::runner
