// Unit tests of the reference writer's opt-in parts: keep_backup and
// read_file_with_fallback, the checksum envelope and read_file_verified,
// update_file_atomic's lock; each new failure point injected.
#include "support.hpp"

#include <crashcheck/reference.hpp>

#include <fcntl.h>
#include <fiu-control.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

namespace crashcheck::test {
namespace {

using Names = std::vector<std::string>;

std::error_code errno_code(int error) { return {error, std::generic_category()}; }

bool verifies(std::string_view bytes) { return !decode_envelope(bytes).error; }

class Options : public ::testing::Test {
 protected:
  ScratchDir dir;
  fs::path target = dir / "state";
  fs::path backup = dir / "state.bak";
};

// ---- keep_backup ------------------------------------------------------------

TEST_F(Options, KeepBackupGivesTheOldInodeTheBackupName) {
  write_plain(target, "v1", 0640);
  const ino_t old_inode = lstat_of(target).st_ino;
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  EXPECT_EQ(read_file(target), "v2");
  EXPECT_EQ(read_file(backup), "v1");
  EXPECT_EQ(lstat_of(backup).st_ino, old_inode) << "copied instead of linked";
  EXPECT_EQ(entries(dir.path()), (Names{"state", "state.bak"}));
}

TEST_F(Options, KeepBackupKeepsNothingForANewTargetAndLeavesAnOldBackup) {
  ASSERT_FALSE(write_file_atomic(target, "v1", with_backup()));
  EXPECT_EQ(entries(dir.path()), Names{"state"});
  write_plain(backup, "older");
  fs::remove(target);
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  EXPECT_EQ(read_file(backup), "older");
}

TEST_F(Options, EachWriteReplacesTheBackupWithThePreviousVersion) {
  for (const std::string v : {"v1", "v2", "v3"}) ASSERT_FALSE(write_file_atomic(target, v, with_backup()));
  EXPECT_EQ(read_file(target), "v3");
  EXPECT_EQ(read_file(backup), "v2");
  EXPECT_EQ(entries(dir.path()), (Names{"state", "state.bak"}));
}

TEST_F(Options, KeepBackupCrossesItsFailurePointsBeforeTheRename) {
  write_plain(target, "v1");
  StepRecorder recorder;
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  EXPECT_EQ(recorder.steps(), (Names{"resolve", "open_temp", "write", "chown", "chmod", "fsync_file", "close",
                                     "backup_link", "backup_rename", "rename", "fsync_dir"}));
}

TEST_F(Options, ARefusedLinkFallsBackToAnAtomicCopy) {
  for (int refusal : {EXDEV, EPERM}) {
    write_plain(target, "v1", 0640);
    write_plain(backup, "older");
    const ino_t old_inode = lstat_of(target).st_ino;
    InjectedFault refused(WriteStep::backup_link, refusal);
    ASSERT_FALSE(write_file_atomic(target, "v2", with_backup())) << ::strerrorname_np(refusal);
    EXPECT_EQ(read_file(target), "v2");
    EXPECT_EQ(read_file(backup), "v1");
    EXPECT_NE(lstat_of(backup).st_ino, old_inode);
    EXPECT_EQ(entries(dir.path()), (Names{"state", "state.bak"}));
  }
}

TEST_F(Options, TheCopyOfANewBackupGetsTheTargetsMode) {
  write_plain(target, "v1", 0604);
  InjectedFault refused(WriteStep::backup_link, EXDEV);
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  EXPECT_EQ(mode_of(backup), 0604u);
}

// Each backup step failing: the target and the old backup untouched, no temp file left.
TEST_F(Options, AFailedBackupStepLeavesTargetAndBackupAsBefore) {
  for (WriteStep step : steps_with_failure_points()) {
    if (step_feature(step) != StepFeature::backup) continue;
    write_plain(target, "v1");
    write_plain(backup, "v0");
    // backup_copy runs only when the link is refused.
    std::optional<InjectedFault> refused;
    if (step == WriteStep::backup_copy) refused.emplace(WriteStep::backup_link, EXDEV);
    InjectedFault fault(step, EIO);
    const WriteError result = write_file_atomic(target, "v2", with_backup());
    EXPECT_EQ(result.code, errno_code(EIO)) << step_name(step);
    EXPECT_EQ(result.step, step) << step_name(step);
    EXPECT_EQ(read_file(target), "v1");
    EXPECT_EQ(read_file(backup), "v0");
    EXPECT_EQ(entries(dir.path()), (Names{"state", "state.bak"})) << step_name(step);
  }
}

TEST_F(Options, ABackupNameTooLongFailsAtBackupRenameLeavingTheTarget) {
  const fs::path longest = dir / std::string(NAME_MAX, 'n');
  write_plain(longest, "v1");
  const WriteError result = write_file_atomic(longest, "v2", with_backup());
  EXPECT_EQ(result.code, errno_code(ENAMETOOLONG));
  EXPECT_EQ(result.step, WriteStep::backup_rename);
  EXPECT_EQ(read_file(longest), "v1");
  EXPECT_EQ(entries(dir.path()), Names{longest.filename()});
}

TEST_F(Options, FallbackReadsTheTargetWhenItValidatesElseTheBackupSayingWhich) {
  const auto options = with_backup(with_checksum());
  ASSERT_FALSE(write_file_atomic(target, "v1", options));
  ASSERT_FALSE(write_file_atomic(target, "v2", options));

  FallbackRead read = read_file_with_fallback(target, verifies);
  EXPECT_EQ(read.source, ReadSource::target);
  EXPECT_EQ(decode_envelope(read.content.value()).payload, "v2");

  flip_byte(target, kEnvelopeHeaderSize, 0x01);  // the injected corruption
  read = read_file_with_fallback(target, verifies);
  EXPECT_EQ(read.source, ReadSource::backup);
  EXPECT_EQ(decode_envelope(read.content.value()).payload, "v1");
  EXPECT_EQ(source_name(read.source), "backup");

  flip_byte(backup, 0, 0x20);
  read = read_file_with_fallback(target, verifies);
  EXPECT_EQ(read.source, ReadSource::none);
  EXPECT_FALSE(read.content);
}

TEST_F(Options, FallbackReadsTheBackupWhenTheTargetIsGone) {
  ASSERT_FALSE(write_file_atomic(target, "v1", with_backup()));
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  fs::remove(target);
  const FallbackRead read = read_file_with_fallback(target, [](std::string_view) { return true; });
  EXPECT_EQ(read.source, ReadSource::backup);
  EXPECT_EQ(read.content, "v1");
}

TEST_F(Options, TheBackupOfALinkedTargetIsBesideTheFileItNames) {
  fs::create_directory(dir / "real");
  write_plain(dir / "real" / "state", "v1");
  fs::create_symlink("real/state", target);
  ASSERT_FALSE(write_file_atomic(target, "v2", with_backup()));
  EXPECT_EQ(read_file(dir / "real" / "state.bak"), "v1");
  EXPECT_FALSE(fs::exists(backup));
  fs::remove(dir / "real" / "state");
  EXPECT_EQ(read_file_with_fallback(target, [](std::string_view) { return true; }).content, "v1");
}

TEST_F(Options, ACorruptChecksummedTargetIsNotBackedUpOverTheLastGoodOne) {
  const auto options = with_backup(with_checksum());
  ASSERT_FALSE(write_file_atomic(target, "v1", options));
  ASSERT_FALSE(write_file_atomic(target, "v2", options));
  flip_byte(target, kEnvelopeHeaderSize + 1, 0x40);
  ASSERT_FALSE(write_file_atomic(target, "v3", options));
  EXPECT_EQ(read_file_verified(target).payload, "v3");
  EXPECT_EQ(read_file_verified(backup).payload, "v1");
}

// ---- checksum -------------------------------------------------------------------

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // RFC 3720, appendix B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c("6789", crc32c("12345")), crc32c("123456789"));
}

TEST(Envelope, HasTheDocumentedLayout) {
  const std::string e = encode_envelope("hello");
  const std::string expected_header(
      "CCEN"
      "\x01\x00"                          // version 1
      "\x00\x00"                          // flags
      "\x05\x00\x00\x00\x00\x00\x00\x00"  // length 5
      "\x4c\xbb\x71\x9a",                 // CRC-32C("hello") = 0x9A71BB4C
      20);
  ASSERT_EQ(e.size(), kEnvelopeHeaderSize + 5);
  EXPECT_EQ(e.substr(0, 20), expected_header);
  const std::uint32_t header_crc = crc32c(expected_header);
  const std::string header_crc_le{static_cast<char>(header_crc), static_cast<char>(header_crc >> 8),
                                  static_cast<char>(header_crc >> 16), static_cast<char>(header_crc >> 24)};
  EXPECT_EQ(e.substr(20, 4), header_crc_le);
  EXPECT_EQ(e.substr(24), "hello");
}

TEST_F(Options, ChecksumWritesTheEnvelopeAndReadFileVerifiedReturnsThePayload) {
  const std::string payload = pattern_bytes(5000, 9);
  ASSERT_FALSE(write_file_atomic(target, payload, with_checksum()));
  EXPECT_EQ(read_file(target), encode_envelope(payload));
  const VerifiedRead read = read_file_verified(target);
  EXPECT_FALSE(read.error) << read.error.message();
  EXPECT_EQ(read.payload, payload);
}

TEST(Envelope, EachDamageIsItsOwnErrorKind) {
  const std::string good = encode_envelope("payload");
  std::string version2 = good;
  version2[4] = 2;
  const std::uint32_t crc = crc32c(std::string_view(version2).substr(0, 20));
  for (int i = 0; i < 4; ++i) version2[20 + i] = static_cast<char>(crc >> (8 * i));
  std::string length_flipped = good, payload_flipped = good;
  length_flipped[8] ^= 1;
  payload_flipped.back() ^= 1;
  const struct {
    std::string bytes;
    EnvelopeErrc kind;
  } cases[] = {
      {"plain text, not an envelope", EnvelopeErrc::not_an_envelope},
      {"", EnvelopeErrc::truncated},
      {"CC", EnvelopeErrc::truncated},
      {good.substr(0, 23), EnvelopeErrc::truncated},
      {good.substr(0, good.size() - 1), EnvelopeErrc::truncated},
      {good + "x", EnvelopeErrc::extended},
      {length_flipped, EnvelopeErrc::header_corrupt},
      {version2, EnvelopeErrc::unsupported_version},
      {payload_flipped, EnvelopeErrc::payload_corrupt},
  };
  for (const auto& c : cases) EXPECT_EQ(decode_envelope(c.bytes).error, make_error_code(c.kind)) << c.bytes.size();
  EXPECT_FALSE(decode_envelope(good).error);
  EXPECT_STREQ(envelope_category().name(), "crashcheck.envelope");
  EXPECT_EQ(make_error_code(EnvelopeErrc::truncated).message(), "envelope truncated");
}

TEST_F(Options, ReadFileVerifiedOfAMissingFileIsEnoent) {
  EXPECT_EQ(read_file_verified(target).error, errno_code(ENOENT));
}

// ---- update_file_atomic -----------------------------------------------------

std::string append_x(const std::optional<std::string>& current) { return current.value_or("") + "x"; }

TEST_F(Options, UpdateSeesNoFileThenTheCurrentContentAndLeavesTheLockFile) {
  std::vector<std::optional<std::string>> seen;
  auto record = [&](const std::optional<std::string>& current) {
    seen.push_back(current);
    return append_x(current);
  };
  ASSERT_FALSE(update_file_atomic(target, record));
  ASSERT_FALSE(update_file_atomic(target, record));
  EXPECT_EQ(seen, (std::vector<std::optional<std::string>>{std::nullopt, "x"}));
  EXPECT_EQ(read_file(target), "xx");
  EXPECT_EQ(entries(dir.path()), (Names{"state", "state.lock"}));
}

TEST_F(Options, UpdateLocksAndReadsBeforeTheWrite) {
  write_plain(target, "v1");
  StepRecorder recorder;
  ASSERT_FALSE(update_file_atomic(target, append_x));
  EXPECT_EQ(recorder.steps(), (Names{"resolve", "lock", "read_current", "resolve", "open_temp", "write", "chown",
                                     "chmod", "fsync_file", "close", "rename", "fsync_dir"}));
}

TEST_F(Options, WriteFileLockedLocksButDoesNotRead) {
  write_plain(target, "not an envelope");
  {  // the recorder ends before a fault is injected: libfiu leaks a point name enabled under its wildcard
    StepRecorder recorder;
    ASSERT_FALSE(write_file_locked(target, "new", with_checksum()));
    EXPECT_EQ(recorder.steps(), (Names{"resolve", "lock", "resolve", "open_temp", "write", "chown", "chmod",
                                       "fsync_file", "close", "rename", "fsync_dir"}));
  }
  EXPECT_EQ(read_file_verified(target).payload, "new");
  EXPECT_EQ(entries(dir.path()), (Names{"state", "state.lock"}));
  InjectedFault fault(WriteStep::lock, EIO);
  const WriteError result = write_file_locked(target, "newer");
  EXPECT_EQ(result.code, errno_code(EIO));
  EXPECT_EQ(result.step, WriteStep::lock);
  EXPECT_EQ(read_file_verified(target).payload, "new");
}

TEST_F(Options, AFailedLockOrReadLeavesTheTargetAndNeverCallsTheFunction) {
  for (WriteStep step : steps_with_failure_points()) {
    if (step_feature(step) != StepFeature::lock) continue;
    write_plain(target, "v1");
    InjectedFault fault(step, EIO);
    bool called = false;
    const WriteError result = update_file_atomic(target, [&](const std::optional<std::string>& current) {
      called = true;
      return append_x(current);
    });
    EXPECT_EQ(result.code, errno_code(EIO)) << step_name(step);
    EXPECT_EQ(result.step, step);
    EXPECT_FALSE(called) << step_name(step);
    EXPECT_EQ(read_file(target), "v1");
  }
}

TEST_F(Options, UpdateWithChecksumReadsTheVerifiedPayloadAndRefusesACorruptOne) {
  ASSERT_FALSE(update_file_atomic(target, append_x, with_checksum()));
  ASSERT_FALSE(update_file_atomic(target, append_x, with_checksum()));
  EXPECT_EQ(read_file_verified(target).payload, "xx");
  flip_byte(target, kEnvelopeHeaderSize, 0x01);
  const std::string corrupt = read_file(target).value();
  const WriteError result = update_file_atomic(target, append_x, with_checksum());
  EXPECT_EQ(result.code, make_error_code(EnvelopeErrc::payload_corrupt));
  EXPECT_EQ(result.step, WriteStep::read_current);
  EXPECT_EQ(read_file(target), corrupt);
}

// Whether someone holds the lock on `target` now (without waiting for it).
bool lock_is_held(const fs::path& target) {
  const int probe = ::open(lock_path(target).c_str(), O_RDONLY | O_CLOEXEC);
  const bool held = probe >= 0 && ::flock(probe, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (probe >= 0) ::close(probe);
  return held;
}

TEST_F(Options, AnExceptionFromTheFunctionPropagatesWithTheLockReleased) {
  write_plain(target, "v1");
  bool held_inside = false;
  EXPECT_THROW(update_file_atomic(target,
                                  [&](const std::optional<std::string>&) -> std::string {
                                    held_inside = lock_is_held(target);
                                    throw std::runtime_error("no");
                                  }),
               std::runtime_error);
  EXPECT_TRUE(held_inside);
  EXPECT_FALSE(lock_is_held(target));
  EXPECT_EQ(read_file(target), "v1");
}

TEST_F(Options, AMissingDirectoryFailsAtLock) {
  const WriteError result = update_file_atomic(dir / "missing" / "state", append_x);
  EXPECT_EQ(result.code, errno_code(ENOENT));
  EXPECT_EQ(result.step, WriteStep::lock);
}

// Runs `body` in `n` forked children at once; returns how many exited 0.
int run_in_children(int n, const std::function<bool()>& body) {
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body() ? 0 : 1);
    children.push_back(pid);
  }
  int succeeded = 0;
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    succeeded += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return succeeded;
}

TEST_F(Options, FourProcessesIncrementingAHundredTimesEachLoseNoIncrement) {
  const auto increment = [](const std::optional<std::string>& current) {
    return std::to_string(std::stoi(current.value_or("0")) + 1);
  };
  // Durability is not what is tested here; skipping the fsyncs keeps it quick.
  const int succeeded = run_in_children(4, [&] {
    for (int i = 0; i < 100; ++i)
      if (update_file_atomic(target, increment, with_durability(Durability::no_sync))) return false;
    return true;
  });
  EXPECT_EQ(succeeded, 4);
  EXPECT_EQ(read_file(target), "400");
}

TEST_F(Options, AKilledLockHolderLetsTheNextUpdaterProceed) {
  write_plain(target, "old");
  int holding[2];
  ASSERT_EQ(::pipe(holding), 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    ::close(holding[0]);
    update_file_atomic(target, [&](const std::optional<std::string>&) -> std::string {
      if (::write(holding[1], "h", 1) != 1) ::_exit(3);
      for (;;) ::pause();  // holds the lock until killed
    });
    ::_exit(2);
  }
  ::close(holding[1]);
  char byte = 0;
  ASSERT_EQ(::read(holding[0], &byte, 1), 1);  // the holder is inside fn: it holds the lock
  ::close(holding[0]);

  const int probe = ::open(lock_path(target).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  EXPECT_EQ(::flock(probe, LOCK_EX | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);

  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(::flock(probe, LOCK_EX | LOCK_NB), 0) << "the kernel did not drop the dead holder's lock";
  ::close(probe);

  ASSERT_FALSE(update_file_atomic(target, append_x));
  EXPECT_EQ(read_file(target), "oldx");
}

}  // namespace
}  // namespace crashcheck::test
