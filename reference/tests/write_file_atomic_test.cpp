// Unit tests of write_file_atomic: each behaviour and policy of the header,
// each error path through its failure point.
#include "support.hpp"

#include <crashcheck/reference.hpp>

#include <fiu-control.h>
#include <fiu.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace crashcheck::test {
namespace {

using Names = std::vector<std::string>;

std::error_code errno_code(int error) { return {error, std::generic_category()}; }

// Sets the umask for one test and puts the old one back.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

class WriteFileAtomic : public ::testing::Test {
 protected:
  ScratchDir dir;
  fs::path target = dir / "target.txt";

  void expect_untouched(const WriteError& result, WriteStep step, std::error_code code, const std::string& old) {
    EXPECT_EQ(result.code, code);
    EXPECT_EQ(result.step, step) << step_name(result.step);
    EXPECT_EQ(read_file(target), old);
  }
};

// ---- the plain sequence ---------------------------------------------------

TEST_F(WriteFileAtomic, CreatesANewFileWithExactlyThePayload) {
  const std::string payload("new\0content\n", 12);
  const WriteError result = write_file_atomic(target, payload);
  ASSERT_FALSE(result) << result.message();
  EXPECT_FALSE(result.durability_warning);
  EXPECT_EQ(read_file(target), payload);
  EXPECT_EQ(entries(dir.path()), Names{"target.txt"});
}

TEST_F(WriteFileAtomic, WritesAnEmptyPayload) {
  write_plain(target, "old");
  ASSERT_FALSE(write_file_atomic(target, ""));
  EXPECT_EQ(read_file(target), "");
}

TEST_F(WriteFileAtomic, WritesAMultiMebibytePayload) {
  const std::string payload = pattern_bytes(3 * 1024 * 1024 + 17, 42);
  ASSERT_FALSE(write_file_atomic(target, payload));
  EXPECT_EQ(read_file(target), payload);
}

TEST_F(WriteFileAtomic, ReplacesAnExistingFileByRenameLeavingNoTemp) {
  write_plain(target, "old content", 0640);
  const ino_t old_inode = lstat_of(target).st_ino;
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(read_file(target), "new");
  EXPECT_NE(lstat_of(target).st_ino, old_inode) << "replaced in place instead of by rename";
  EXPECT_EQ(entries(dir.path()), Names{"target.txt"});
}

TEST_F(WriteFileAtomic, WorksOnARelativeTargetInTheCurrentDirectory) {
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  const WriteError result = write_file_atomic("plain.txt", "here");
  fs::current_path(previous);
  ASSERT_FALSE(result) << result.message();
  EXPECT_EQ(read_file(dir / "plain.txt"), "here");
}

TEST_F(WriteFileAtomic, CrossesTheFailurePointsInOrderForEachDurability) {
  const struct {
    Durability durability;
    bool exists;
    Names steps;
  } cases[] = {
      {Durability::full,
       true,
       {"resolve", "open_temp", "write", "chown", "chmod", "fsync_file", "close", "rename", "fsync_dir"}},
      {Durability::full, false, {"resolve", "open_temp", "write", "fsync_file", "close", "rename", "fsync_dir"}},
      {Durability::no_dir_sync,
       true,
       {"resolve", "open_temp", "write", "chown", "chmod", "fsync_file", "close", "rename"}},
      {Durability::no_sync, true, {"resolve", "open_temp", "write", "chown", "chmod", "close", "rename"}},
  };
  for (const auto& c : cases) {
    fs::remove(target);
    if (c.exists) write_plain(target, "old");
    StepRecorder recorder;
    ASSERT_FALSE(write_file_atomic(target, "payload", with_durability(c.durability)));
    EXPECT_EQ(recorder.steps(), c.steps) << "durability " << static_cast<int>(c.durability) << " exists " << c.exists;
  }
}

TEST_F(WriteFileAtomic, WorksWithoutAnyLibfiuSetUp) {
  // No fiu_init in this test: fiu_fail must be a harmless no-op then
  // (ctest runs each test in its own process).
  ASSERT_FALSE(write_file_atomic(target, "no fiu"));
  EXPECT_EQ(read_file(target), "no fiu");
}

// ---- mode and owner -------------------------------------------------------

TEST_F(WriteFileAtomic, NewFileGetsDefaultModeMinusUmask) {
  ScopedUmask mask(027);
  ASSERT_FALSE(write_file_atomic(target, "x"));
  EXPECT_EQ(mode_of(target), 0640u);
}

TEST_F(WriteFileAtomic, NewFileModeOptionIsExactWhateverTheUmask) {
  ScopedUmask mask(077);
  ASSERT_FALSE(write_file_atomic(target, "x", with_new_file_mode(0654)));
  EXPECT_EQ(mode_of(target), 0654u);
}

TEST_F(WriteFileAtomic, ExistingTargetKeepsItsModeIncludingSpecialBits) {
  for (mode_t mode : {0640u, 0400u, 0000u, 02750u, 0755u}) {
    write_plain(target, "old", mode);
    ASSERT_FALSE(write_file_atomic(target, "new", with_new_file_mode(0666)));
    EXPECT_EQ(mode_of(target), mode) << std::oct << mode;
  }
}

TEST_F(WriteFileAtomic, ExistingTargetKeepsItsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file away needs root";
  write_plain(target, "old");
  ASSERT_EQ(::chown(target.c_str(), 4242, 4343), 0);
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(lstat_of(target).st_uid, 4242u);
  EXPECT_EQ(lstat_of(target).st_gid, 4343u);
}

TEST_F(WriteFileAtomic, UnprivilegedCallerTakesOverAnotherUsersFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to set up two users";
  ASSERT_EQ(::chown(dir.path().c_str(), kNobody, kNobody), 0);
  write_plain(target, "root's", 0644);  // owned by root; fchown back to root is EPERM for nobody
  const int status = run_as_nobody([&] { return write_file_atomic(target, "nobody's") ? 1 : 0; });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(read_file(target), "nobody's");
  EXPECT_EQ(lstat_of(target).st_uid, kNobody);
  EXPECT_EQ(mode_of(target), 0644u);
}

// ---- policies -------------------------------------------------------------

TEST_F(WriteFileAtomic, ReplacesTheFileBehindARelativeLinkAndKeepsTheLink) {
  write_plain(dir / "real.txt", "old", 0640);
  fs::create_symlink("real.txt", target);
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_TRUE(fs::is_symlink(target));
  EXPECT_EQ(fs::read_symlink(target), "real.txt");
  EXPECT_EQ(read_file(dir / "real.txt"), "new");
  EXPECT_EQ(mode_of(dir / "real.txt"), 0640u);
  EXPECT_EQ(entries(dir.path()), (Names{"real.txt", "target.txt"}));
}

TEST_F(WriteFileAtomic, FollowsAChainOfLinksAcrossDirectories) {
  fs::create_directory(dir / "sub");
  write_plain(dir / "sub" / "real.txt", "old");
  fs::create_symlink("real.txt", dir / "sub" / "link2");  // relative to sub/
  fs::create_symlink("sub/link2", target);                // relative to dir/
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(read_file(dir / "sub" / "real.txt"), "new");
  EXPECT_EQ(entries(dir / "sub"), (Names{"link2", "real.txt"}));
  EXPECT_TRUE(fs::is_symlink(target));
}

TEST_F(WriteFileAtomic, FollowsAnAbsoluteLink) {
  write_plain(dir / "real.txt", "old");
  fs::create_symlink(dir / "real.txt", target);
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(read_file(dir / "real.txt"), "new");
  EXPECT_TRUE(fs::is_symlink(target));
}

TEST_F(WriteFileAtomic, ADanglingLinkCreatesTheFileItNames) {
  fs::create_symlink("later.txt", target);
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(read_file(dir / "later.txt"), "new");
  EXPECT_TRUE(fs::is_symlink(target));
}

TEST_F(WriteFileAtomic, ALinkLoopFailsWithEloop) {
  fs::create_symlink("other", target);
  fs::create_symlink("target.txt", dir / "other");
  const WriteError result = write_file_atomic(target, "new");
  EXPECT_EQ(result.code, errno_code(ELOOP));
  EXPECT_EQ(result.step, WriteStep::resolve);
  EXPECT_EQ(entries(dir.path()), (Names{"other", "target.txt"}));
}

TEST_F(WriteFileAtomic, RefusePolicyFailsWithEloopAndTouchesNothing) {
  write_plain(dir / "real.txt", "old");
  fs::create_symlink("real.txt", target);
  const WriteError result = write_file_atomic(target, "new", refusing_symlinks());
  expect_untouched(result, WriteStep::resolve, errno_code(ELOOP), "old");
  EXPECT_TRUE(fs::is_symlink(target));
  EXPECT_EQ(entries(dir.path()), (Names{"real.txt", "target.txt"}));
}

TEST_F(WriteFileAtomic, OtherHardLinksKeepTheOldContent) {
  write_plain(target, "old");
  fs::create_hard_link(target, dir / "other-name");
  ASSERT_FALSE(write_file_atomic(target, "new"));
  EXPECT_EQ(read_file(target), "new");
  EXPECT_EQ(read_file(dir / "other-name"), "old");
}

TEST_F(WriteFileAtomic, AMissingDirectoryFailsWithEnoent) {
  const fs::path nowhere = dir / "missing" / "target.txt";
  const WriteError result = write_file_atomic(nowhere, "new");
  EXPECT_EQ(result.code, errno_code(ENOENT));
  EXPECT_EQ(result.step, WriteStep::open_temp);
  EXPECT_FALSE(fs::exists(dir / "missing"));
}

TEST_F(WriteFileAtomic, ADirectoryTargetFailsWithEisdir) {
  fs::create_directory(target);
  const WriteError result = write_file_atomic(target, "new");
  EXPECT_EQ(result.code, errno_code(EISDIR));
  EXPECT_EQ(result.step, WriteStep::resolve);
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(write_file_atomic(dir.path().string() + "/new/", "x").code, errno_code(EISDIR));
}

TEST_F(WriteFileAtomic, AnEmptyPathFailsWithEnoent) { EXPECT_EQ(write_file_atomic("", "x").code, errno_code(ENOENT)); }

TEST_F(WriteFileAtomic, AFifoTargetIsRefusedAsNotARegularFile) {
  ASSERT_EQ(::mkfifo(target.c_str(), 0644), 0);
  const WriteError result = write_file_atomic(target, "new");
  EXPECT_EQ(result.code, make_error_code(WriteErrc::not_regular_file));
  EXPECT_EQ(result.step, WriteStep::resolve);
  EXPECT_TRUE(fs::is_fifo(target));
  EXPECT_EQ(result.message(), "resolve: target exists but is not a regular file");
}

TEST_F(WriteFileAtomic, AReadOnlyDirectoryFailsWithEaccesAndKeepsTheOldFile) {
  write_plain(target, "old", 0666);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  auto attempt = [&] {
    const WriteError result = write_file_atomic(target, "new");
    return result.code == errno_code(EACCES) && result.step == WriteStep::open_temp ? 0 : 1;
  };
  // root ignores permission bits, so try it as nobody
  EXPECT_EQ(::geteuid() == 0 ? run_as_nobody(attempt) : attempt(), 0);
  EXPECT_EQ(read_file(target), "old");
  EXPECT_EQ(entries(dir.path()), Names{"target.txt"});
}

// ---- faults at each failure point ----------------------------------------

struct StepFault {
  WriteStep step;
  bool target_exists;
};

class FaultAtStep : public WriteFileAtomic, public ::testing::WithParamInterface<StepFault> {};

TEST_P(FaultAtStep, FailsWithTheInjectedErrorAndLeavesTargetAndDirectoryAsBefore) {
  const auto [step, exists] = GetParam();
  if (exists) write_plain(target, "old", 0640);
  InjectedFault fault(step, EIO);
  const WriteError result = write_file_atomic(target, "new", with_new_file_mode(0644));
  if (step == WriteStep::fsync_dir) {  // after the rename: replaced, only not durable
    EXPECT_FALSE(result);
    EXPECT_EQ(result.durability_warning, errno_code(EIO));
    EXPECT_EQ(result.step, WriteStep::fsync_dir);
    EXPECT_EQ(read_file(target), "new");
  } else if (step == WriteStep::chown && !exists) {  // no owner to copy: never reached
    EXPECT_FALSE(result) << result.message();
  } else {
    EXPECT_EQ(result.code, errno_code(EIO));
    EXPECT_EQ(result.step, step);
    EXPECT_EQ(read_file(target), exists ? std::optional<std::string>("old") : std::nullopt);
    if (exists) {
      EXPECT_EQ(mode_of(target), 0640u);
    }
  }
  EXPECT_EQ(entries(dir.path()), exists || result.code != errno_code(EIO) ? Names{"target.txt"} : Names{});
}

// The plain sequence's steps; options_test.cpp fails the backup and lock steps.
std::vector<StepFault> all_step_faults() {
  std::vector<StepFault> faults;
  for (WriteStep step : steps_with_failure_points())
    if (step_feature(step) == StepFeature::sequence)
      for (bool exists : {true, false}) faults.push_back({step, exists});
  return faults;
}

INSTANTIATE_TEST_SUITE_P(EveryStep, FaultAtStep, ::testing::ValuesIn(all_step_faults()), [](const auto& info) {
  return std::string(step_name(info.param.step)) + (info.param.target_exists ? "_Existing" : "_New");
});

TEST_F(WriteFileAtomic, EpermFromChownIsNotAnError) {
  write_plain(target, "old");
  InjectedFault fault(WriteStep::chown, EPERM);
  const WriteError result = write_file_atomic(target, "new");
  EXPECT_FALSE(result) << result.message();
  EXPECT_EQ(read_file(target), "new");
}

TEST_F(WriteFileAtomic, InterruptedCallsAreRetriedExceptClose) {
  for (WriteStep step : {WriteStep::open_temp, WriteStep::write, WriteStep::fsync_file, WriteStep::fsync_dir}) {
    InjectedFault once(step, EINTR, FIU_ONETIME);
    const WriteError result = write_file_atomic(target, std::string(step_name(step)));
    EXPECT_FALSE(result) << result.message();
    EXPECT_FALSE(result.durability_warning) << result.message();
    EXPECT_EQ(read_file(target), std::string(step_name(step)));
  }
  write_plain(target, "old");
  InjectedFault close_once(WriteStep::close, EINTR, FIU_ONETIME);
  expect_untouched(write_file_atomic(target, "new"), WriteStep::close, errno_code(EINTR), "old");
  EXPECT_EQ(entries(dir.path()), Names{"target.txt"});
}

TEST_F(WriteFileAtomic, ShortWritesAreContinuedUntilEveryByteIsWritten) {
  const std::string payload = pattern_bytes(100, 7);
  InjectedFault short_writes(kShortWritePoint, 7);
  StepRecorder recorder;
  ASSERT_FALSE(write_file_atomic(target, payload));
  EXPECT_EQ(read_file(target), payload);
  EXPECT_EQ(std::count(recorder.steps().begin(), recorder.steps().end(), "write"), 15);  // ceil(100 / 7)
}

TEST_F(WriteFileAtomic, AFullDiskAfterAShortWriteFailsCleanly) {
  write_plain(target, "old");
  InjectedFault short_writes(kShortWritePoint, 10);
  fiu_init(0);  // the first write goes through (short), every later one fails
  fiu_enable_external(failure_point(WriteStep::write).c_str(), ENOSPC, nullptr, 0,
                      [](const char*, int*, void**, unsigned*) {
                        static int writes = 0;
                        return ++writes > 1 ? 1 : 0;
                      });
  const WriteError result = write_file_atomic(target, pattern_bytes(50, 1));
  fiu_disable(failure_point(WriteStep::write).c_str());
  expect_untouched(result, WriteStep::write, errno_code(ENOSPC), "old");
  EXPECT_EQ(entries(dir.path()), Names{"target.txt"});
}

TEST_F(WriteFileAtomic, ATempNameCollisionIsRetriedWithAnotherName) {
  {
    InjectedFault once(WriteStep::open_temp, EEXIST, FIU_ONETIME);
    ASSERT_FALSE(write_file_atomic(target, "new"));
    EXPECT_EQ(read_file(target), "new");
  }
  InjectedFault always(WriteStep::open_temp, EEXIST);
  expect_untouched(write_file_atomic(target, "newer"), WriteStep::open_temp, errno_code(EEXIST), "new");
}

// ---- names and messages ---------------------------------------------------

TEST(ReferenceNames, StepsAndFailurePoints) {
  EXPECT_EQ(step_name(WriteStep::none), "none");
  EXPECT_EQ(failure_point(WriteStep::none), "");
  Names names;
  for (WriteStep step : steps_with_failure_points()) {
    names.emplace_back(step_name(step));
    EXPECT_EQ(failure_point(step), "crashcheck/reference/" + names.back());
  }
  EXPECT_EQ(names, (Names{"resolve", "open_temp", "write", "chmod", "chown", "fsync_file", "close", "backup_link",
                          "backup_copy", "backup_rename", "rename", "fsync_dir", "lock", "read_current"}));
  EXPECT_EQ(step_feature(WriteStep::rename), StepFeature::sequence);
  EXPECT_EQ(step_feature(WriteStep::backup_copy), StepFeature::backup);
  EXPECT_EQ(step_feature(WriteStep::read_current), StepFeature::lock);
}

TEST(ReferenceNames, MessagesAreOneLine) {
  EXPECT_EQ((WriteError{errno_code(EIO), WriteStep::rename, {}}.message()), "rename: Input/output error");
  EXPECT_EQ((WriteError{{}, WriteStep::fsync_dir, errno_code(EIO)}.message()),
            "fsync_dir: Input/output error (target replaced, rename not durable)");
  EXPECT_EQ(WriteError{}.message(), "ok");
  EXPECT_STREQ(write_category().name(), "crashcheck.reference");
}

TEST(ReferenceNames, TempNamesAreRecognisable) {
  EXPECT_EQ(temp_name_prefix("data.json"), ".data.json.");
  EXPECT_TRUE(is_temp_name_for("data.json", ".data.json.0123456789abcdef.tmp"));
  EXPECT_FALSE(is_temp_name_for("data.json", ".data.json.0123456789abcdeg.tmp"));
  EXPECT_FALSE(is_temp_name_for("data.json", ".data.json.0123456789abcdef.tmp~"));
  EXPECT_FALSE(is_temp_name_for("data.json", ".other.json.0123456789abcdef.tmp"));
  EXPECT_FALSE(is_temp_name_for("data.json", "data.json"));
}

TEST_F(WriteFileAtomic, TempNamesForTheLongestTargetNameFitNameMax) {
  const std::string longest(NAME_MAX, 'n');
  EXPECT_LE(temp_name_prefix(longest).size() + 16 + kTempNameSuffix.size(), std::size_t{NAME_MAX});
  ASSERT_FALSE(write_file_atomic(dir / longest, "x")) << "temp name too long";
  EXPECT_EQ(read_file(dir / longest), "x");
}

TEST_F(WriteFileAtomic, TheTempFileIsInTheTargetsDirectoryUnderItsDocumentedName) {
  Names seen;
  fiu_init(0);
  static Names* seen_at_write = &seen;
  static fs::path scratch;
  scratch = dir.path();
  fiu_enable_external(failure_point(WriteStep::close).c_str(), 1, nullptr, 0, [](const char*, int*, void**, unsigned*) {
    *seen_at_write = entries(scratch);
    return 0;
  });
  ASSERT_FALSE(write_file_atomic(target, "x"));
  fiu_disable(failure_point(WriteStep::close).c_str());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(is_temp_name_for("target.txt", seen[0])) << seen[0];
}

}  // namespace
}  // namespace crashcheck::test
