// crashcheck-write as the harness sees it: exit status, one-line messages.
#include "support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#ifndef CRASHCHECK_WRITE_EXE
#error "CRASHCHECK_WRITE_EXE must name the crashcheck-write binary"
#endif

namespace crashcheck::test {
namespace {

struct CliRun {
  int exit_status = -1;  // -1: did not exit normally
  std::string err;
};

// Runs crashcheck-write with `args`, `input` on stdin and extra `env` entries.
CliRun run_cli(const ScratchDir& io, const std::vector<std::string>& args, const std::string& input = "",
               const std::vector<std::string>& env = {}) {
  const fs::path in = io / "stdin", err = io / "stderr";
  write_plain(in, input);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int in_fd = ::open(in.c_str(), O_RDONLY);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in_fd < 0 || err_fd < 0 || ::dup2(in_fd, 0) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(126);
    for (const std::string& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    std::vector<char*> argv{const_cast<char*>(CRASHCHECK_WRITE_EXE)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(err).value_or("")};
}

// The environment in which libfiu's run preload enables `points` (FIU_ENABLE
// commands, one a line) in the CLI, the way the harness can.
std::vector<std::string> failure_points_enabled(const std::string& points) {
  return {"LD_PRELOAD=" CRASHCHECK_FIU_RUN_PRELOAD,
          // The preload is not ASan's runtime, and leaks the point name it strdup()s.
          "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", "FIU_ENABLE=" + points};
}

std::size_t lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

class CrashcheckWrite : public ::testing::Test {
 protected:
  ScratchDir io;   // the runner's own files
  ScratchDir dir;  // the subject's directory
  fs::path target = dir / "out.json";
};

TEST_F(CrashcheckWrite, WritesThePayloadFromStdin) {
  write_plain(target, "old", 0640);
  const CliRun run = run_cli(io, {target.string()}, "from stdin\n");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(read_file(target), "from stdin\n");
  EXPECT_EQ(mode_of(target), 0640u);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.json"});
}

TEST_F(CrashcheckWrite, WritesThePayloadFromAFile) {
  const std::string payload = pattern_bytes(200000, 3);
  write_plain(io / "payload", payload);
  const CliRun run = run_cli(io, {target.string(), "--payload", (io / "payload").string()}, "ignored stdin");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(read_file(target), payload);
}

TEST_F(CrashcheckWrite, AcceptsEveryDurabilityLevel) {
  for (const std::string level : {"full", "no-dir-sync", "none"}) {
    const CliRun run = run_cli(io, {target.string(), "--durability", level}, level);
    EXPECT_EQ(run.exit_status, 0) << level << ": " << run.err;
    EXPECT_EQ(read_file(target), level);
  }
}

TEST_F(CrashcheckWrite, BadUsageExitsTwo) {
  const std::vector<std::vector<std::string>> bad{
      {},                                              // no TARGET
      {target.string(), "--durability", "sometimes"},  // unknown level
      {target.string(), "--no-such-flag"},             // unknown flag
      {target.string(), "extra-argument"},             // two targets
  };
  for (const auto& args : bad) {
    const CliRun run = run_cli(io, args, "x");
    EXPECT_EQ(run.exit_status, 2) << (args.empty() ? "(none)" : args.back());
    EXPECT_NE(run.err, "");
  }
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(CrashcheckWrite, AnUnreadablePayloadFileExitsTwoNamingIt) {
  write_plain(target, "old");
  const std::string missing = (io / "no-such-payload").string();
  const CliRun run = run_cli(io, {target.string(), "--payload", missing});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_EQ(run.err, "crashcheck-write: payload " + missing + ": No such file or directory\n");
  EXPECT_EQ(read_file(target), "old");
}

TEST_F(CrashcheckWrite, AFailedWriteExitsOneWithOneLine) {
  const fs::path nowhere = dir / "missing" / "out.json";
  const CliRun run = run_cli(io, {nowhere.string()}, "x");
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(run.err, "crashcheck-write: " + nowhere.string() + ": open_temp: No such file or directory\n");
}

TEST_F(CrashcheckWrite, RefuseSymlinksExitsOneAndKeepsTheLink) {
  write_plain(dir / "real", "old");
  fs::create_symlink("real", target);
  const CliRun run = run_cli(io, {target.string(), "--refuse-symlinks"}, "new");
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(lines(run.err), 1u);
  EXPECT_NE(run.err.find("resolve: Too many levels of symbolic links"), std::string::npos) << run.err;
  EXPECT_EQ(read_file(dir / "real"), "old");
  EXPECT_TRUE(fs::is_symlink(target));
  // Without the flag the link is written through.
  EXPECT_EQ(run_cli(io, {target.string()}, "new").exit_status, 0);
  EXPECT_EQ(read_file(dir / "real"), "new");
}

TEST_F(CrashcheckWrite, HelpExitsZeroAndNamesEveryOption) {
  const fs::path out = io / "stdout";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out_fd, 1);
    ::execl(CRASHCHECK_WRITE_EXE, CRASHCHECK_WRITE_EXE, "--help", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::string help = read_file(out).value_or("");
  for (const char* option : {"--payload", "--durability", "--refuse-symlinks", "--backup", "--checksum", "--lock"})
    EXPECT_NE(help.find(option), std::string::npos) << option;
}

TEST_F(CrashcheckWrite, BackupKeepsThePreviousVersionBesideTheTarget) {
  write_plain(target, "v1");
  const CliRun run = run_cli(io, {target.string(), "--backup"}, "v2");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(read_file(target), "v2");
  EXPECT_EQ(read_file(dir / "out.json.bak"), "v1");
}

TEST_F(CrashcheckWrite, ChecksumWritesAVerifiableEnvelope) {
  const CliRun run = run_cli(io, {target.string(), "--checksum"}, "payload");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(read_file(target), encode_envelope("payload"));
  EXPECT_EQ(read_file_verified(target).payload, "payload");
}

TEST_F(CrashcheckWrite, LockReplacesUnderTheLockFile) {
  write_plain(target, "old");
  const std::vector<std::string> args{target.string(), "--lock", "--backup", "--checksum"};
  CliRun run = run_cli(io, args, "new");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(read_file_verified(target).payload, "new");
  // The old file was no envelope, so under --checksum it was no good version to back up.
  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"out.json", "out.json.lock"}));
  run = run_cli(io, args, "newer");
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(read_file_verified(target).payload, "newer");
  EXPECT_EQ(read_file_verified(dir / "out.json.bak").payload, "new");
}

// The failure points work in the CLI too: libfiu's run preload enables them
// from the environment, the way the harness can.
TEST_F(CrashcheckWrite, AFailurePointEnabledFromTheEnvironmentFailsTheWrite) {
  if (!fs::exists(CRASHCHECK_FIU_RUN_PRELOAD)) GTEST_SKIP() << "no " << CRASHCHECK_FIU_RUN_PRELOAD;
  write_plain(target, "old");
  auto with_point = [&](const std::string& step) {
    return run_cli(io, {target.string()}, "new " + step,
                   failure_points_enabled("enable name=crashcheck/reference/" + step + ",failnum=5"));  // EIO
  };
  const CliRun rename_fails = with_point("rename");
  EXPECT_EQ(rename_fails.exit_status, 1);
  EXPECT_EQ(rename_fails.err, "crashcheck-write: " + target.string() + ": rename: Input/output error\n");
  EXPECT_EQ(read_file(target), "old");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.json"});

  const CliRun dir_sync_fails = with_point("fsync_dir");
  EXPECT_EQ(dir_sync_fails.exit_status, 3);  // replaced, not durable: never success
  EXPECT_EQ(dir_sync_fails.err, "crashcheck-write: warning: " + target.string() +
                                    ": fsync_dir: Input/output error (target replaced, rename not durable)\n");
  EXPECT_EQ(read_file(target), "new fsync_dir");
}

// Each step the options add fails the CLI from the environment too.
TEST_F(CrashcheckWrite, EachOptionsFailurePointFailsTheWriteFromTheEnvironment) {
  if (!fs::exists(CRASHCHECK_FIU_RUN_PRELOAD)) GTEST_SKIP() << "no " << CRASHCHECK_FIU_RUN_PRELOAD;
  for (WriteStep step : steps_with_failure_points()) {
    // --lock replaces without reading: update_file_atomic's read_current is the library's alone.
    if (step_feature(step) == StepFeature::sequence || step == WriteStep::read_current) continue;
    write_plain(target, "old");
    std::string points = "enable name=" + failure_point(step) + ",failnum=5";  // EIO
    // backup_copy runs only when the link is refused (18: EXDEV).
    if (step == WriteStep::backup_copy)
      points += "\nenable name=" + failure_point(WriteStep::backup_link) + ",failnum=18";
    const CliRun run = run_cli(io, {target.string(), "--backup", "--lock"}, "new", failure_points_enabled(points));
    EXPECT_EQ(run.exit_status, 1) << step_name(step);
    EXPECT_EQ(run.err,
              "crashcheck-write: " + target.string() + ": " + std::string(step_name(step)) + ": Input/output error\n");
    EXPECT_EQ(read_file(target), "old");
  }
}

}  // namespace
}  // namespace crashcheck::test
