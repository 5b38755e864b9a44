// Synthetic traces whose power-loss answers are known, under both
// profiles, plus the reporting details the runner relies on.
#include "model.hpp"
#include "point.hpp"
#include "trace_builder.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <limits>
#include <map>
#include <set>

namespace crashcheck::powerloss {
namespace {

using testing::TraceBuilder;

const std::string kOld = "{\"status\": \"old\"}\n";
const std::string kNew = "{\"status\": \"new\", \"checks\": [1, 2, 3]}\n";

// How a writer replaces `target`; each flag drops one step of the reference sequence.
struct Recipe {
  bool fsync_file = true;
  bool fsync_before_rename = true;  // false: the file is fsync'd only after the rename
  bool fsync_dir = true;
  bool unlink_first = false;
};

TraceBuilder replace(const Recipe& recipe, bool with_old = true) {
  TraceBuilder b;
  if (with_old) b.initial_file("target", kOld);
  int fd = b.create("target.tmp");
  b.write(fd, kNew);
  if (recipe.fsync_file && recipe.fsync_before_rename) b.fsync(fd);
  if (recipe.unlink_first) b.unlink("target");
  b.rename("target.tmp", "target");
  if (recipe.fsync_file && !recipe.fsync_before_rename) b.fsync(fd);
  b.close(fd);
  if (recipe.fsync_dir) {
    b.fsync_directory();
  }
  return b;
}

TraceBuilder in_place_truncate() {
  TraceBuilder b;
  b.initial_file("target", kOld);
  int fd = b.open("target", O_WRONLY | O_TRUNC);
  b.write(fd, kNew);
  b.close(fd);
  return b;
}

Verdicts judge(const TraceBuilder& b, Profile profile, bool exited_zero = true) {
  Options options;
  options.profile = profile;
  return check_properties(b.trace(), b.initial(), Subject{"target", kNew, exited_zero}, options);
}

void expect_verdicts(const Verdicts& v, Verdict atomic, Verdict durable) {
  EXPECT_EQ(v.powerloss_atomic.verdict, atomic);
  EXPECT_EQ(v.durable.verdict, durable);
  EXPECT_GT(v.powerloss_atomic.cases, 0u);
  EXPECT_EQ(v.powerloss_atomic.failures.empty(), atomic == Verdict::pass);
  EXPECT_EQ(v.durable.failures.empty(), durable != Verdict::fail);
}

class BothProfiles : public ::testing::TestWithParam<Profile> {};
INSTANTIATE_TEST_SUITE_P(Profiles, BothProfiles, ::testing::Values(Profile::posix, Profile::ext4_ordered),
                         [](const auto& info) { return info.param == Profile::posix ? "posix" : "ext4_ordered"; });

TEST_P(BothProfiles, FullySyncedReplacePassesBoth) {
  expect_verdicts(judge(replace({}), GetParam()), Verdict::pass, Verdict::pass);
}

TEST_P(BothProfiles, NoDirectoryFsyncFailsDurableOnly) {
  auto v = judge(replace({.fsync_dir = false}), GetParam());
  expect_verdicts(v, Verdict::pass, Verdict::fail);
  const auto& failure = v.durable.failures.front();
  EXPECT_EQ(failure.call, "close");  // the crash comes after the subject's last call
  EXPECT_TRUE(failure.target_exists);
  EXPECT_EQ(failure.target_content, kOld);
  EXPECT_NE(failure.lost.find("dropped #"), std::string::npos) << failure.lost;
  EXPECT_NE(failure.lost.find("rename(target.tmp → target)"), std::string::npos) << failure.lost;
}

// The subject reported success (its first process exited) after call 3
// (the temp's fsync); a process it left running renamed and synced later.
// From the report on, a power loss can keep the old content: durable fails
// there, although every state after the last call holds the new one.
TEST_P(BothProfiles, SuccessReportedBeforeTheRenameFailsDurable) {
  const auto b = replace({});
  Options options;
  options.profile = GetParam();
  const auto early = check_properties(b.trace(), b.initial(), Subject{"target", kNew, true, 3}, options);
  ASSERT_EQ(early.durable.verdict, Verdict::fail);
  EXPECT_EQ(early.durable.failures.front().target_content, kOld);
  EXPECT_NE(early.durable.failures.front().detail.find("after call 3, before the commit"), std::string::npos)
      << early.durable.failures.front().detail;
  const auto last = b.trace().records.back().seq;
  EXPECT_EQ(check_properties(b.trace(), b.initial(), Subject{"target", kNew, true, last}, options).durable.verdict,
            Verdict::pass);
}

TEST_P(BothProfiles, NoFsyncAtAllFailsDurable) {
  auto v = judge(replace({.fsync_file = false, .fsync_dir = false}), GetParam());
  EXPECT_EQ(v.durable.verdict, Verdict::fail);
}

TEST_P(BothProfiles, UnlinkThenRenameFailsAtomic) {
  auto v = judge(replace({.unlink_first = true}), GetParam());
  expect_verdicts(v, Verdict::fail, Verdict::pass);
  bool missing = false;
  for (const auto& failure : v.powerloss_atomic.failures) missing |= !failure.target_exists;
  EXPECT_TRUE(missing) << "the window between unlink and rename leaves no target at all";
}

// O_TMPFILE, write, (fsync), linkat to a temp name, rename over the target,
// directory fsync (faults/README.md, "O_TMPFILE"; ground truth:
// tests/tmpfile_truth.py). `publish`: the linkat names the target itself.
TraceBuilder replace_unnamed(bool fsync_file, bool fsync_dir, bool publish = false, bool with_old = true) {
  TraceBuilder b;
  if (with_old && !publish) b.initial_file("target", kOld);
  int fd = b.create_unnamed();
  b.write(fd, kNew);
  if (fsync_file) b.fsync(fd);
  b.link_unnamed(fd, publish ? "target" : "target.tmp");
  b.close(fd);
  if (!publish) b.rename("target.tmp", "target");
  if (fsync_dir) b.fsync_directory();
  return b;
}

TEST_P(BothProfiles, AnUnnamedFileLinkedAndRenamedLikeATempPassesBoth) {
  expect_verdicts(judge(replace_unnamed(true, true), GetParam()), Verdict::pass, Verdict::pass);
}

// With no old target (ext4's rename over an existing file would start the
// renamed file's write-back: auto_da_alloc, Ext4Ordered.RenameWithoutFsyncOverExistingFileIsAtomic).
TEST_P(BothProfiles, AnUnnamedFileNeverFsyncedLeavesAnEmptyTarget) {
  const auto v = judge(replace_unnamed(false, true, false, false), GetParam());
  ASSERT_EQ(v.powerloss_atomic.verdict, Verdict::fail);
  bool empty = false;
  for (const auto& failure : v.powerloss_atomic.failures)
    empty |= failure.target_exists && failure.target_content.empty();
  EXPECT_TRUE(empty) << "the name survives, the bytes do not";
}

TEST_P(BothProfiles, ALinkatPublishingTheTargetIsDurableOnlyAfterTheDirectoryFsync) {
  const auto unsynced = judge(replace_unnamed(true, false, true), GetParam());
  expect_verdicts(unsynced, Verdict::pass, Verdict::fail);
  EXPECT_FALSE(unsynced.durable.failures.front().target_exists) << "the name is lost, not the file's bytes";
  expect_verdicts(judge(replace_unnamed(true, true, true), GetParam()), Verdict::pass, Verdict::pass);
}

// Before its linkat the file is in no state: no entry, nothing to keep.
TEST(Model, AnUnnamedFileIsInNoStateBeforeItsLink) {
  TraceBuilder b;
  int fd = b.create_unnamed();
  b.write(fd, kNew);
  b.fsync(fd);
  const auto seen = visible_state(b.trace(), b.initial());
  EXPECT_TRUE(seen.empty()) << seen.begin()->first;
  b.link_unnamed(fd, "target");
  const auto linked = visible_state(b.trace(), b.initial());
  ASSERT_EQ(linked.count("target"), 1u);
  EXPECT_EQ(std::string_view(linked.at("target").content), kNew);
  EXPECT_EQ(linked.at("target").mode, 0644u & ~b.initial().umask);
}

TEST_P(BothProfiles, InPlaceTruncateAndWriteFailsAtomic) {
  auto v = judge(in_place_truncate(), GetParam());
  expect_verdicts(v, Verdict::fail, Verdict::fail);
  bool empty = false;
  for (const auto& failure : v.powerloss_atomic.failures)
    empty |= failure.target_exists && failure.target_content.empty();
  EXPECT_TRUE(empty) << "a committed O_TRUNC without the data leaves an empty target";
}

// Issue 11 F6 (fsyncgate): Linux marks the pages of a failed write-back
// clean and reports the error once (errseq_t), so a retried fsync returns 0
// without writing them: the writes before the failure stay lost-or-kept.
// Writing the content again after the error dirties it again, and the next
// fsync makes it durable.
TraceBuilder fsync_fails_then(bool rewrite) {
  TraceBuilder b;
  b.initial_file("target", kOld);
  const int fd = b.create("target.tmp");
  b.write(fd, kNew);
  b.failed("fsync", faults::OpClass::sync, "target.tmp", "", EIO);
  if (rewrite) {
    b.ftruncate(fd, 0);
    b.pwrite(fd, 0, kNew);
  }
  b.fsync(fd);
  b.close(fd);
  b.rename("target.tmp", "target");
  b.fsync_directory();
  return b;
}

TEST_P(BothProfiles, ARetriedFsyncDoesNotMakeWhatFailedDurable) {
  const auto v = judge(fsync_fails_then(false), GetParam());
  EXPECT_EQ(v.durable.verdict, Verdict::fail);
  ASSERT_FALSE(v.durable.failures.empty());
  EXPECT_NE(v.durable.failures.front().target_content, kNew);
  EXPECT_EQ(judge(fsync_fails_then(true), GetParam()).durable.verdict, Verdict::pass);
}

// A write through an O_SYNC / O_DSYNC descriptor is durable when it returns
// (open(2)): no fsync of the file is needed, the directory's still is.
TEST_P(BothProfiles, SynchronousWritesNeedNoFileFsync) {
  for (const int flag : {O_DSYNC, O_SYNC}) {
    for (const bool fsync_dir : {true, false}) {
      TraceBuilder b;
      b.initial_file("target", kOld);
      const int fd = b.create("target.tmp", 0600, "open", flag);
      b.write(fd, kNew);
      b.rename("target.tmp", "target");
      b.close(fd);
      if (fsync_dir) {
        b.fsync_directory();
      }
      SCOPED_TRACE(std::string(flag == O_SYNC ? "O_SYNC" : "O_DSYNC") + (fsync_dir ? ", dir fsync" : ", no dir fsync"));
      expect_verdicts(judge(b, GetParam()), Verdict::pass, fsync_dir ? Verdict::pass : Verdict::fail);
    }
  }
}

// A write through an O_DSYNC descriptor makes its own range durable, not
// the file's earlier unsynced writes elsewhere (Linux: generic_write_sync ->
// vfs_fsync_range over the bytes written). The tail written through a plain
// descriptor and never synced can be lost under posix; ext4-ordered's
// rename over the old file carries the temp's data (auto_da_alloc). Its twin
// writes the tail through an O_DSYNC descriptor too, and passes both.
TEST_P(BothProfiles, ASynchronousWriteMakesOnlyItsOwnRangeDurable) {
  for (const bool tail_synchronous : {false, true}) {
    TraceBuilder b;
    b.initial_file("target", kOld);
    const int plain = b.create("target.tmp", 0600, "open", tail_synchronous ? O_DSYNC : 0);
    b.pwrite(plain, 16, kNew.substr(16));
    b.close(plain);
    const int head = b.open("target.tmp", O_WRONLY | O_DSYNC);
    b.pwrite(head, 0, kNew.substr(0, 16));
    b.close(head);
    b.rename("target.tmp", "target");
    b.fsync_directory();
    SCOPED_TRACE(tail_synchronous ? "tail through O_DSYNC too" : "tail through a plain descriptor");
    const Verdicts v = judge(b, GetParam());
    const Verdict expected = tail_synchronous || GetParam() == Profile::ext4_ordered ? Verdict::pass : Verdict::fail;
    EXPECT_EQ(v.durable.verdict, expected);
    EXPECT_EQ(v.powerloss_atomic.verdict, expected);
  }
}

// The final crash states of `trace` under `profile` (after its last call).
std::vector<std::map<std::string, std::string>> final_states(const faults::Trace& trace, const InitialState& initial,
                                                             Profile profile) {
  Options options;
  options.profile = profile;
  std::vector<std::map<std::string, std::string>> out;
  for_each_state(trace, initial, options, [&](const Coverage& point, const CrashState& state) {
    if (point.after_seq != trace.records.back().seq) return;
    std::map<std::string, std::string> files;
    for (const auto& name : state.names())
      if (const auto file = state.file(name)) files[name] = file->content;
    out.push_back(std::move(files));
  });
  return out;
}

// A descriptor number opened O_DSYNC and then reused for another file
// without a traced close (the writer exec'd itself: close-on-exec; or
// dup2'd over it) makes nothing of that file durable (adversarial pass on
// issue 15: the stale number kept its O_DSYNC).
TEST_P(BothProfiles, ADescriptorNumberReusedWithoutATracedCloseIsNotSynchronous) {
  TraceBuilder b;
  const int journal = b.create("journal", 0600, "open", O_DSYNC);
  b.write(journal, "j");
  const int data = b.create("data", 0600, "open");
  b.write(data, kNew);
  b.fsync_directory();
  faults::Trace trace = b.trace();
  for (auto& r : trace.records)
    if (r.fd == data) r.fd = journal;  // the same number, untraced in between
  bool lost = false;
  for (const auto& files : final_states(trace, b.initial(), GetParam()))
    lost = lost || (files.count("data") && files.at("data").empty());
  EXPECT_TRUE(lost) << "data was never synced: a power loss can empty it";
}

// ext4: fdatasync (or an O_DSYNC write) of a pure overwrite waits only for
// the data, not for the running transaction, so an unsynced rename in it
// can be lost while the overwrite is on disk; fsync commits it. Ground
// truth: adv6 ptr_truth.sh (loop-mounted ext4).
TEST(Ext4OrderedProfile, AnOverwriteFdatasyncedDoesNotCommitAnUnrelatedRename) {
  for (const std::string call : {"fdatasync", "fsync"}) {
    TraceBuilder b;
    b.initial_file("LOG", std::string(4096, 'a'));
    const int seg = b.create("seg.tmp", 0600, "open");
    b.write(seg, "segment");
    b.fsync(seg);
    b.close(seg);
    b.rename("seg.tmp", "seg");
    const int log = b.open("LOG", O_WRONLY);
    b.pwrite(log, 0, std::string(4096, 'b'));
    b.fsync(log);
    faults::Trace trace = b.trace();
    trace.records.back().call = call;
    bool new_log_without_seg = false;
    for (const auto& files : final_states(trace, b.initial(), Profile::ext4_ordered))
      new_log_without_seg = new_log_without_seg || (files.at("LOG")[0] == 'b' && !files.count("seg"));
    EXPECT_EQ(new_log_without_seg, call == "fdatasync") << call;
  }
}

// ext4 writes a file back by page: an O_DSYNC append of bytes 100..119
// writes page 0, and the plain append of bytes 0..99 before it with it
// (adv6 log_truth.sh: 5 of 5 on loop-mounted ext4). POSIX promises only
// the range: the posix profile keeps the state without the first append.
TEST_P(BothProfiles, AnODsyncWriteTakesItsPagesOnExt4AndOnlyItsBytesUnderPosix) {
  TraceBuilder b;
  const int plain = b.create("log", 0600, "open");
  b.write(plain, std::string(100, 'r'));
  const int sync = b.open("log", O_WRONLY | O_DSYNC);
  b.pwrite(sync, 100, std::string(20, 's'));
  b.fsync_directory();
  bool first_lost = false;
  for (const auto& files : final_states(b.trace(), b.initial(), GetParam()))
    first_lost = first_lost || (files.count("log") && files.at("log").starts_with(std::string(100, '\0')));
  EXPECT_EQ(first_lost, GetParam() == Profile::posix);
}

// The earlier writes a synchronous write overlaps are durable where it
// overwrote them and pending elsewhere: a plain write of the whole file,
// then an O_DSYNC rewrite of its middle; a power loss keeps the middle and
// either the rest of the plain write or nothing of it, never its old bytes
// over the middle.
TEST(PosixProfile, ASynchronousWriteClipsTheEarlierWriteItOverlaps) {
  TraceBuilder b;
  const std::string whole(12, 'a'), middle(4, 'b');
  const int plain = b.create("file", 0600, "open");
  b.write(plain, whole);
  b.close(plain);
  const int sync = b.open("file", O_WRONLY | O_DSYNC);
  b.pwrite(sync, 4, middle);
  b.close(sync);
  b.fsync_directory();
  Options options;
  options.profile = Profile::posix;
  std::set<std::string> seen;
  for_each_state(b.trace(), b.initial(), options, [&](const Coverage& point, const CrashState& state) {
    if (point.after_seq != b.trace().records.back().seq) return;
    if (const auto file = state.file("file")) seen.insert(file->content);
  });
  EXPECT_TRUE(seen.count("aaaabbbbaaaa")) << "all kept";
  EXPECT_TRUE(seen.count(std::string(4, '\0') + middle)) << "the plain write lost, the middle kept";
  EXPECT_FALSE(seen.count(whole)) << "the synced middle lost";
  for (const auto& content : seen) {
    ASSERT_GE(content.size(), 8u) << content;
    EXPECT_EQ(content.substr(4, 4), middle) << content;
  }
}

// pwritev2 with RWF_DSYNC or RWF_SYNC is durable when it returns, like a
// write through an O_DSYNC descriptor; without the flag it is not.
TEST_P(BothProfiles, PwriteWithSyncFlagsNeedsNoFileFsync) {
  for (const int flags : {0, 2 /* RWF_DSYNC */, 4 /* RWF_SYNC */}) {
    TraceBuilder b;
    b.initial_file("target", kOld);
    const int fd = b.create("target.tmp");
    b.pwritev2(fd, kNew, flags);
    b.close(fd);
    b.rename("target.tmp", "target");
    b.fsync_directory();
    SCOPED_TRACE("RWF flags " + std::to_string(flags));
    const Verdicts v = judge(b, GetParam());
    // ext4-ordered: a rename over an existing file carries its data (auto_da_alloc)
    const Verdict unsynced = GetParam() == Profile::posix ? Verdict::fail : Verdict::pass;
    EXPECT_EQ(v.durable.verdict, flags ? Verdict::pass : unsynced);
    EXPECT_EQ(v.powerloss_atomic.verdict, flags ? Verdict::pass : unsynced);
  }
}

// Stores through a shared mapping reach the disk at any moment between the
// mapping and the msync/munmap that records them: an in-place rewrite of
// three pages can leave any of them old or new, even when msync(MS_SYNC)
// makes the result durable at the end.
TEST_P(BothProfiles, AnInPlaceMappedRewriteIsTornBeforeItsMsync) {
  const std::string old(3 * 4096, 'o'), fresh(3 * 4096, 'n');
  TraceBuilder b;
  b.initial_file("target", old);
  const int fd = b.open("target", O_RDWR);
  b.mapped(fd, fresh, "msync", 4 /* MS_SYNC */);
  b.mapped(fd, fresh, "munmap");
  b.close(fd);
  Options options;
  options.profile = GetParam();
  const Verdicts v = check_properties(b.trace(), b.initial(), Subject{"target", fresh, true}, options);
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::fail);
  ASSERT_FALSE(v.powerloss_atomic.failures.empty());
  EXPECT_EQ(v.powerloss_atomic.failures.front().after_seq, 1u) << "torn after the open, before the msync";
  EXPECT_EQ(v.durable.verdict, Verdict::pass) << "msync(MS_SYNC) of the whole file made it durable";
}

// A temp filled through a mapping, msync(MS_SYNC), renamed and its
// directory fsync'd: MS_SYNC made the bytes durable, nothing is torn. With
// MS_ASYNC (and no fsync) the rename can persist before the bytes.
TEST_P(BothProfiles, ATempFilledThroughAMappingIsDurableAfterMsSync) {
  for (const int flags : {4 /* MS_SYNC */, 1 /* MS_ASYNC */}) {
    TraceBuilder b;
    b.initial_file("target", kOld);
    const int fd = b.create("target.tmp");
    b.ftruncate(fd, kNew.size());
    b.mapped(fd, kNew, "msync", flags);
    b.mapped(fd, kNew, "munmap");
    b.close(fd);
    b.rename("target.tmp", "target");
    b.fsync_directory();
    SCOPED_TRACE("msync flags " + std::to_string(flags));
    const Verdicts v = judge(b, GetParam());
    // ext4-ordered: a rename over an existing file carries its data (auto_da_alloc)
    const Verdict unsynced = GetParam() == Profile::posix ? Verdict::fail : Verdict::pass;
    EXPECT_EQ(v.durable.verdict, flags == 4 ? Verdict::pass : unsynced);
    EXPECT_EQ(v.powerloss_atomic.verdict, flags == 4 ? Verdict::pass : unsynced);
  }
}

// msync(MS_SYNC) of part of a file: durable when the range holds every
// unsynced change of the file (here the second page, stored through the
// mapping), not when an unsynced write lies outside it (the first page).
TEST(Posix, APartialMsSyncIsDurableOnlyForWhatItCovers) {
  for (const bool write_outside : {false, true}) {
    const std::string old(2 * 4096, 'o');
    std::string fresh = old;
    fresh.replace(4096, 4096, std::string(4096, 'n'));
    if (write_outside) fresh[0] = 'n';
    TraceBuilder b;
    b.initial_file("target", old);
    const int fd = b.open("target", O_RDWR);
    if (write_outside) b.pwrite(fd, 0, "n");
    b.mapped(fd, std::string(4096, 'n'), "msync", 4 /* MS_SYNC */, 4096);
    b.close(fd);
    Options options;
    const Verdicts v = check_properties(b.trace(), b.initial(), Subject{"target", fresh, true}, options);
    SCOPED_TRACE(write_outside ? "a write outside the range" : "only the range changed");
    EXPECT_EQ(v.durable.verdict, write_outside ? Verdict::fail : Verdict::pass);
  }
}

TEST(Posix, RenameBeforeDataFsyncFailsAtomic) {
  auto v = judge(replace({.fsync_before_rename = false}), Profile::posix);
  expect_verdicts(v, Verdict::fail, Verdict::pass);
  const auto& failure = v.powerloss_atomic.failures.front();
  EXPECT_EQ(failure.call, "rename");
  EXPECT_NE(failure.lost.find("write(target.tmp"), std::string::npos) << failure.lost;
}

TEST(Posix, NoFsyncAtAllFailsBoth) {
  expect_verdicts(judge(replace({.fsync_file = false, .fsync_dir = false}), Profile::posix), Verdict::fail,
                  Verdict::fail);
}

// auto_da_alloc: ext4 flushes a file renamed over an existing one before the
// rename commits, so the rename is atomic even without fsync, but not durable.
TEST(Ext4Ordered, RenameWithoutFsyncOverExistingFileIsAtomic) {
  auto recipe = Recipe{.fsync_file = false, .fsync_dir = false};
  expect_verdicts(judge(replace(recipe), Profile::ext4_ordered), Verdict::pass, Verdict::fail);
  EXPECT_EQ(judge(replace(recipe), Profile::posix).powerloss_atomic.verdict, Verdict::fail);
}

TEST(Ext4Ordered, RenameBeforeDataFsyncOverExistingFileIsAtomic) {
  expect_verdicts(judge(replace({.fsync_before_rename = false}), Profile::ext4_ordered), Verdict::pass, Verdict::pass);
}

// The heuristic only fires when the rename replaces a file: a first write of
// a new target can still come back empty.
TEST(Ext4Ordered, RenameWithoutFsyncToNewNameIsNotAtomic) {
  auto v = judge(replace({.fsync_file = false, .fsync_dir = false}, /*with_old=*/false), Profile::ext4_ordered);
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::fail);
  for (const auto& failure : v.powerloss_atomic.failures) {
    EXPECT_TRUE(failure.target_exists);
    EXPECT_TRUE(failure.target_content.empty());
  }
}

TEST(Ext4Ordered, AnyFsyncOfAChangedFileCommitsEarlierMetadata) {
  // The directory is never fsync'd, but fsync of an unrelated file changed
  // after the rename commits the journal, rename included. Its twin fsyncs
  // that file unchanged: ext4 waits for the inode's last change, already
  // committed, so nothing commits and the rename can be lost (adv7 4: a
  // loop-mounted ext4 kept the old name 3 of 3 times).
  for (const bool changed : {true, false}) {
    TraceBuilder b;
    b.initial_file("target", kOld);
    b.initial_file("other", "x");
    int fd = b.create("target.tmp");
    b.write(fd, kNew);
    b.fsync(fd);
    b.rename("target.tmp", "target");
    int other = b.open("other", O_WRONLY);
    if (changed) b.write(other, "y");
    b.fsync(other);
    SCOPED_TRACE(changed ? "other changed" : "other unchanged");
    EXPECT_EQ(judge(b, Profile::ext4_ordered).durable.verdict, changed ? Verdict::pass : Verdict::fail);
    EXPECT_EQ(judge(b, Profile::posix).durable.verdict, Verdict::fail);
  }
}

TEST(Properties, NotRunWithoutCallsOrSuccess) {
  TraceBuilder empty;
  empty.initial_file("target", kOld);
  auto v = judge(empty, Profile::posix);
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::not_run);
  EXPECT_FALSE(v.powerloss_atomic.reason.empty());
  auto failed_run = judge(replace({}), Profile::posix, /*exited_zero=*/false);
  EXPECT_EQ(failed_run.powerloss_atomic.verdict, Verdict::pass);
  EXPECT_EQ(failed_run.durable.verdict, Verdict::not_run);
  EXPECT_NE(failed_run.durable.reason.find("exit 0"), std::string::npos);
}

TEST(Properties, NotRunWhenTheTraceLacksWrittenBytes) {
  auto b = replace({});
  auto trace = b.trace();
  for (auto& r : trace.records) {
    if (r.op == faults::OpClass::write) r.data.resize(r.data.size() / 2);  // as if the agent lost half
  }
  auto v = check_properties(trace, b.initial(), Subject{"target", kNew, true}, Options{});
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::not_run);
  EXPECT_EQ(v.durable.verdict, Verdict::not_run);
  EXPECT_NE(v.powerloss_atomic.reason.find("1 successful write"), std::string::npos) << v.powerloss_atomic.reason;
}

TEST(Properties, AbsenceIsOldOnlyWithoutOldFile) {
  // Fully synced replace of a target that did not exist: absent or new, both fine.
  expect_verdicts(judge(replace({}, /*with_old=*/false), Profile::posix), Verdict::pass, Verdict::pass);
}

TEST(Model, InitialFileWithoutInodeIsMatchedByPath) {
  auto b = in_place_truncate();
  auto initial = b.initial();
  initial.files[0].inode = 0;  // the runner could not stat it
  auto v = check_properties(b.trace(), initial, Subject{"target", kNew, true}, Options{});
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::fail);
  EXPECT_EQ(enumerate(b.trace(), initial, Options{}).back().states.size(),
            enumerate(b.trace(), b.initial(), Options{}).back().states.size());
}

// Linux hands a freed inode number to the next file created (SQLite's -shm
// often gets its deleted journal's). A power loss can keep the unlink undone:
// the journal is back with its own synced bytes, never the new file's.
TEST(Model, AReusedInodeNumberIsANewFile) {
  TraceBuilder b;
  const std::string journal = "journal: old page 1\n", shm = "wal-index header";
  int fd = b.create("db-journal", 0644);
  const auto journal_inode = b.inode_of("db-journal");
  b.write(fd, journal);
  b.fsync(fd);
  b.fsync_directory();
  b.close(fd);
  b.unlink("db-journal");
  fd = b.create("db-shm", 0644);
  const auto shm_inode = b.inode_of("db-shm");
  b.write(fd, shm);
  auto trace = b.trace();
  for (auto& r : trace.records)
    if (r.inode == shm_inode) r.inode = journal_inode;  // the number the kernel gave it
  bool journal_back = false;
  for (const auto& point : enumerate(trace, b.initial(), Options{}))
    for (const auto& state : point.states) {
      const auto found = state.entries.find("db-journal");
      if (found == state.entries.end() || point.coverage.after_seq < 5) continue;
      journal_back = true;
      EXPECT_EQ(found->second.content, journal) << "after call " << point.coverage.after_seq;
    }
  EXPECT_TRUE(journal_back);  // the unlink was never synced: some state keeps it undone
}

// A punched hole is zeros on disk at once; the write that refills it is
// data like any other: unsynced, a power loss can keep the hole under posix's
// rules (ext4's auto_da_alloc writes a file's data before a rename replaces
// another with it: there both pass).
TEST_P(BothProfiles, APunchedHoleRefilledWithoutFsyncCanSurvive) {
  for (const bool synced_refill : {false, true}) {
    TraceBuilder b;
    b.initial_file("target", kOld);
    int fd = b.create("target.tmp");
    b.write(fd, kNew);
    b.fsync(fd);
    b.punch_hole(fd, 4, 8);
    b.pwrite(fd, 4, kNew.substr(4, 8));
    if (synced_refill) b.fsync(fd);
    b.close(fd);
    b.rename("target.tmp", "target");
    b.fsync_directory();
    const auto v = judge(b, GetParam());
    const bool kept = !synced_refill && GetParam() == Profile::posix;
    EXPECT_EQ(v.powerloss_atomic.verdict, kept ? Verdict::fail : Verdict::pass) << synced_refill;
  }
}

TEST(Model, FailedCallsChangeNothing) {
  TraceBuilder b;
  b.initial_file("target", kOld);
  int fd = b.create("target.tmp");
  b.write(fd, kNew);
  b.failed("rename", faults::OpClass::rename, "target.tmp", "target", EXDEV);
  b.failed("unlink", faults::OpClass::unlink, "target", "", EACCES);
  auto points = enumerate(b.trace(), b.initial(), Options{});
  ASSERT_EQ(points.size(), 5u);
  EXPECT_EQ(points[3].states.size(), points[2].states.size());
  for (const auto& state : points.back().states) EXPECT_EQ(state.entries.at("target").content, kOld);
}

TEST(Model, CrashPointsStartBeforeTheFirstCall) {
  auto b = replace({});
  auto points = enumerate(b.trace(), b.initial(), Options{});
  ASSERT_EQ(points.size(), b.trace().records.size() + 1);
  EXPECT_EQ(points.front().coverage.after_seq, 0u);
  ASSERT_EQ(points.front().states.size(), 1u);
  EXPECT_EQ(points.front().states[0].entries.at("target").content, kOld);
  EXPECT_EQ(points.front().states[0].entries.at("target").mode, 0644u);
  EXPECT_EQ(points[3].coverage.after_seq, 3u);
  EXPECT_EQ(points[3].coverage.call, "fsync");
}

TEST(Model, UnsyncedChmodMayBeLostUnderPosixUntilFsync) {
  TraceBuilder b;
  b.initial_file("f", "x", 0644);
  int fd = b.open("f", O_WRONLY);
  b.fchmod(fd, 0600);
  b.fsync(fd);
  auto modes_at = [](const CrashPoint& point) {
    std::set<std::uint32_t> modes;
    for (const auto& state : point.states) modes.insert(state.entries.at("f").mode);
    return modes;
  };
  auto points = enumerate(b.trace(), b.initial(), Options{});
  EXPECT_EQ(modes_at(points[2]), (std::set<std::uint32_t>{0644, 0600}));
  EXPECT_EQ(modes_at(points[3]), (std::set<std::uint32_t>{0600}));
  for (const auto& state : points[2].states) {
    if (state.entries.at("f").mode == 0644) {
      EXPECT_NE(state.lost.find("dropped #2 fchmod(f, 0600)"), std::string::npos) << state.lost;
    }
  }
}

TEST(Model, TornBlockKeepsAPrefixOfTheNewBytes) {
  TraceBuilder b;
  b.initial_file("f", std::string(8, 'o'));
  int fd = b.open("f", O_WRONLY);
  b.pwrite(fd, 0, std::string(8, 'n'), "pwrite");
  Options options;
  options.block_size = 4;
  auto last = enumerate(b.trace(), b.initial(), options).back();
  std::set<std::string> contents;
  for (const auto& state : last.states) contents.insert(state.entries.at("f").content);
  // Each 4-byte block: old, new, or torn (first 2 changed bytes new).
  EXPECT_EQ(contents.size(), 9u);
  EXPECT_TRUE(contents.count("nnoonnnn"));
  EXPECT_TRUE(contents.count("oooooooo"));
  EXPECT_TRUE(contents.count("nnnnnnnn"));
  EXPECT_FALSE(contents.count("onnnoooo")) << "tears keep a prefix of the new bytes";
  for (const auto& state : last.states) {
    if (state.entries.at("f").content == "nnoonnnn") {
      EXPECT_NE(state.lost.find("torn #"), std::string::npos);
    }
  }
}

TEST(Model, UnsyncedAppendMayLeaveZerosUnderPosixButNotExt4) {
  TraceBuilder b;
  int fd = b.create("f", 0600, "open");
  b.write(fd, "abcd");
  auto has_zeros = [&](Profile profile) {
    Options options;
    options.profile = profile;
    const auto points = enumerate(b.trace(), b.initial(), options);
    for (const auto& state : points.back().states) {
      auto it = state.entries.find("f");
      if (it != state.entries.end() && it->second.content == std::string(4, '\0')) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_zeros(Profile::posix));
  EXPECT_FALSE(has_zeros(Profile::ext4_ordered));
}

TEST_P(BothProfiles, EachCrashPointIsWhatAFreshReplayEndingThereGives) {
  // The model carries work from one crash point to the next (file models
  // extended op by op, hashes of durable files, per-version block rows,
  // overlays shared between states): every crash point must come out exactly
  // as the last point of a fresh replay of the trace up to it.
  TraceBuilder b;
  b.initial_file("kept", "kkkkkkkkk");
  b.initial_file("target", kOld);
  int fd = b.open("target", O_WRONLY);
  b.pwrite(fd, 2, "abcdef", "pwrite");
  b.fsync(fd);  // the durable bytes change under the cached models and hashes
  b.pwrite(fd, 20, "ghij", "pwrite");
  b.ftruncate(fd, 5);
  int tmp = b.create("target.tmp");
  b.write(tmp, "0123456789");
  b.write(tmp, "abc");
  b.rename("target.tmp", "target");
  b.close(tmp);
  b.close(fd);
  Options options;
  options.profile = GetParam();
  options.block_size = 4;
  options.max_states_per_point = 8;  // some points sampled too
  const auto full = enumerate(b.trace(), b.initial(), options);
  ASSERT_EQ(full.size(), b.trace().records.size() + 1);
  faults::Trace prefix;
  for (std::size_t n = 0; n < full.size(); ++n) {
    prefix.records.assign(b.trace().records.begin(), b.trace().records.begin() + static_cast<std::ptrdiff_t>(n));
    const auto alone = enumerate(prefix, b.initial(), options).back();
    EXPECT_EQ(alone.coverage.describe(), full[n].coverage.describe());
    ASSERT_EQ(alone.states.size(), full[n].states.size()) << "crash point " << n;
    for (std::size_t i = 0; i < alone.states.size(); ++i) {
      EXPECT_EQ(alone.states[i].entries, full[n].states[i].entries) << "crash point " << n << ", state " << i;
      EXPECT_EQ(alone.states[i].lost, full[n].states[i].lost) << "crash point " << n << ", state " << i;
    }
  }
}

TEST_P(BothProfiles, SameDirectoryThroughAnotherInodeIsOneState) {
  // "a" is rewritten and fsync'd (its durable bytes change after they were
  // first hashed), then replaced by a synced copy of the same bytes: keeping
  // neither or both of create+rename leaves the same directory, one state.
  TraceBuilder b;
  b.initial_file("a", "xxxx");
  int fd = b.open("a", O_WRONLY);
  b.pwrite(fd, 0, "yyyy", "pwrite");
  b.fsync(fd);
  b.close(fd);
  int tmp = b.create("t", 0644);
  b.write(tmp, "yyyy");
  b.fsync(tmp);
  b.close(tmp);
  b.rename("t", "a");
  Options options;
  options.profile = GetParam();
  const auto last = enumerate(b.trace(), b.initial(), options).back();
  for (std::size_t i = 0; i < last.states.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(last.states[i].entries, last.states[j].entries) << "visited twice";
  }
  EXPECT_EQ(last.states.size(), 2u);  // {a: yyyy} and {a: yyyy, t: yyyy}
}

TEST(Sampling, LargeCrashPointIsSampledReportedAndDeterministic) {
  TraceBuilder b;
  b.initial_file("target", kOld);
  int fd = b.create("target.tmp");
  for (int i = 0; i < 16; ++i) b.write(fd, std::string(4096, static_cast<char>('a' + i)));
  Options options;
  options.max_states_per_point = 32;
  auto first = enumerate(b.trace(), b.initial(), options);
  const auto& coverage = first.back().coverage;
  EXPECT_TRUE(coverage.sampled);
  EXPECT_EQ(coverage.explored, 32u);
  EXPECT_GT(coverage.total, 1000000u);
  EXPECT_NE(coverage.describe().find("(sampled)"), std::string::npos) << coverage.describe();
  auto again = enumerate(b.trace(), b.initial(), options);
  ASSERT_EQ(again.back().states.size(), first.back().states.size());
  for (std::size_t i = 0; i < first.back().states.size(); ++i) {
    EXPECT_EQ(again.back().states[i].entries, first.back().states[i].entries);
  }
  options.seed = 2;
  auto other = enumerate(b.trace(), b.initial(), options);
  bool differs = false;
  for (std::size_t i = 0; i < other.back().states.size(); ++i) {
    differs |= other.back().states[i].entries != first.back().states[i].entries;
  }
  EXPECT_TRUE(differs) << "the seed drives the sample";

  const std::string payload(16 * 4096, 'x');
  Subject subject{"target", payload, true};
  auto v = check_properties(b.trace(), b.initial(), subject, options);
  ASSERT_FALSE(v.powerloss_atomic.notes.empty());
  EXPECT_NE(v.powerloss_atomic.notes.back().find("sampled"), std::string::npos);
}

TEST(Sampling, IndependentDirectoryOperationsAreCountedExactly) {
  // 20 files, each created then renamed, nothing fsync'd: per file 3
  // persisted sets ({}, {create}, {create, rename}), 3^20 in all — counted
  // exactly because groups of independent names multiply.
  TraceBuilder b;
  for (int i = 0; i < 20; ++i) {
    const auto name = "f" + std::to_string(i);
    b.close(b.create(name, 0600, "open"));
    b.rename(name, name + ".done");
  }
  Options options;
  options.max_states_per_point = 16;
  auto coverage = enumerate(b.trace(), b.initial(), options).back().coverage;
  EXPECT_TRUE(coverage.sampled);
  EXPECT_EQ(coverage.explored, 16u);
  EXPECT_EQ(coverage.total, 3486784401u);  // 3^20
  EXPECT_NE(coverage.describe().find("16 of at most 3486784401 states (sampled)"), std::string::npos)
      << coverage.describe();
}

// A count that saturated is not printed as if it were one (issue 14: "256 of
// at most 18446744073709551615 states").
TEST(Sampling, SaturatedTotalSaysMoreThan) {
  Coverage coverage;
  coverage.after_seq = 3;
  coverage.call = "write";
  coverage.explored = 256;
  coverage.total = std::numeric_limits<std::uint64_t>::max();
  coverage.total_exact = false;
  coverage.sampled = true;
  EXPECT_EQ(coverage.describe(), "after #3 write: 256 of more than 10^19 states (sampled)");
}

TEST(Sampling, FailureListIsCapped) {
  Options options;
  options.max_failures = 3;
  const auto b = in_place_truncate();
  auto v = check_properties(b.trace(), b.initial(), Subject{"target", kNew, true}, options);
  EXPECT_LE(v.powerloss_atomic.failures.size(), 3u);
  EXPECT_GE(v.powerloss_atomic.failing, v.powerloss_atomic.failures.size());
}

// Issue 14: two counterexamples at one crash point shared an id. A state's
// index names it: distinct at a point, the same on every run of the trace,
// and judging only that state (replay) judges exactly the state described.
TEST(StateIndex, NamesOneStateAtItsPointAndOnlyJudgesThatState) {
  const auto b = in_place_truncate();
  const Subject subject{"target", kNew, true};
  std::map<std::uint32_t, std::vector<std::uint64_t>> seen;
  std::optional<Options::StateRef> holds_new;
  for_each_state(b.trace(), b.initial(), Options{}, [&](const Coverage& point, const CrashState& state) {
    seen[point.after_seq].push_back(state.index());
    if (state.content_equals("target", kNew)) holds_new = Options::StateRef{point.after_seq, state.index()};
  });
  for (const auto& [seq, indices] : seen)
    for (std::size_t i = 0; i < indices.size(); ++i) EXPECT_EQ(indices[i], i) << "after #" << seq;
  const auto all = check_properties(b.trace(), b.initial(), subject, Options{});
  ASSERT_GE(all.powerloss_atomic.failures.size(), 2u);
  const auto& first = all.powerloss_atomic.failures[0];
  const auto& second = all.powerloss_atomic.failures[1];
  ASSERT_EQ(first.after_seq, second.after_seq);  // two listed at one point (issue 14's power-loss-4 twice)
  EXPECT_NE(first.index, second.index);
  for (const auto* listed : {&first, &second}) {
    Options one;
    one.only = Options::StateRef{listed->after_seq, listed->index};
    const auto v = check_properties(b.trace(), b.initial(), subject, one);
    EXPECT_EQ(v.powerloss_atomic.cases, 1u);
    ASSERT_EQ(v.powerloss_atomic.failures.size(), 1u);
    EXPECT_EQ(v.powerloss_atomic.failures[0].index, listed->index);
    EXPECT_EQ(v.powerloss_atomic.failures[0].target_content, listed->target_content);
    EXPECT_EQ(v.powerloss_atomic.failures[0].detail, listed->detail);
  }
  ASSERT_TRUE(holds_new.has_value());
  Options passing;
  passing.only = holds_new;
  const auto v = check_properties(b.trace(), b.initial(), subject, passing);
  EXPECT_EQ(v.powerloss_atomic.cases, 1u);
  EXPECT_EQ(v.powerloss_atomic.verdict, Verdict::pass);
}

TEST(Options, ProfilesParseAndBadOptionsThrow) {
  EXPECT_EQ(parse_profile("posix"), Profile::posix);
  EXPECT_EQ(parse_profile("ext4-ordered"), Profile::ext4_ordered);
  EXPECT_EQ(parse_profile("ext4"), std::nullopt);
  EXPECT_EQ(profile_name(Profile::ext4_ordered), "ext4-ordered");
  Options bad;
  bad.block_size = 0;
  EXPECT_THROW(enumerate(faults::Trace{}, InitialState{}, bad), std::invalid_argument);
  bad = Options{};
  bad.max_states_per_point = 1;
  EXPECT_THROW(enumerate(faults::Trace{}, InitialState{}, bad), std::invalid_argument);
}

}  // namespace
}  // namespace crashcheck::powerloss

namespace crashcheck::powerloss {
namespace {

// Inside one write: the first B bytes of the call over what was there, every
// other file as before the call; a cut of another file's write leaves the
// target as it was.
TEST(Cuts, AWriteCutAfterItsFirstBytesShowsThemOverTheOldContent) {
  testing::TraceBuilder b;
  b.initial_file("target", std::string(8192, 'o'));
  const int temp = b.create("t.tmp");
  b.write(temp, std::string(8192, 't'));
  const int fd = b.open("target", O_WRONLY);
  b.pwrite(fd, 100, std::string(8000, 'n'));
  const auto& records = b.trace().records;
  const std::uint32_t temp_write = records[1].seq, target_write = records[3].seq;
  std::vector<std::pair<Cut, std::map<std::string, FileImage>>> seen;
  for_each_cut(b.trace(), b.initial(), {{temp_write, 4096}, {target_write, 3996}, {target_write, 8000 - 1}},
               [&](const Cut& cut, const auto& images) {  // views, valid only here: copied
                 std::map<std::string, FileImage> copied;
                 for (const auto& [name, image] : images)
                   copied[name] = FileImage{image.is_directory, image.mode, image.content.get()};
                 seen.push_back({cut, copied});
               });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].second.at("target").content, std::string(8192, 'o'));
  EXPECT_EQ(seen[0].second.at("t.tmp").content, std::string(4096, 't'));
  EXPECT_EQ(seen[1].second.at("target").content,
            std::string(100, 'o') + std::string(3996, 'n') + std::string(8192 - 4096, 'o'));
  EXPECT_EQ(seen[1].second.at("t.tmp").content, std::string(8192, 't'));
  EXPECT_EQ(seen[2].second.at("target").content,
            std::string(100, 'o') + std::string(7999, 'n') + std::string(8192 - 8099, 'o'));
}

// Memory bounded by the file (issue 12): a block one write covers whole is a
// view into the trace's bytes, a block of the durable bytes a view into them
// (kept alive by the option); only a block no single write or durable
// version covers whole holds bytes of its own.
TEST(Memory, BlocksCoveredWholeAreViewsNotCopies) {
  TraceBuilder b;
  const int fd = b.create("f");
  b.write(fd, std::string(4, 'a') + std::string(4, 'b') + std::string(2, 'c'));  // blocks 0 and 1 whole, 2 partly
  b.fsync(fd);
  b.pwrite(fd, 4, std::string(4, 'n'), "pwrite");
  const std::string_view written = b.trace().records[1].data;
  const std::string_view rewritten = b.trace().records[3].data;
  detail::Replay replay(b.initial(), Profile::posix);
  detail::FileModelCache cache;
  for (std::size_t i = 0; i < 2; ++i) replay.apply(b.trace().records[i]);
  {
    detail::PointModel model(replay.snapshot(), 4, cache);
    ASSERT_EQ(model.file_count(), 1u);
    const auto& file = model.file(0);
    ASSERT_EQ(file.blocks(), 3u);
    for (std::size_t block = 0; block < 2; ++block) {
      const auto& option = file.option(block, file.block_of_version[block].newest());
      EXPECT_EQ(option.owner, nullptr) << block;
      EXPECT_EQ(option.bytes.data(), written.data() + block * 4) << block;
    }
    const auto& partial = file.option(2, file.block_of_version[2].newest());
    EXPECT_NE(partial.owner, nullptr);
    EXPECT_EQ(partial.bytes, std::string_view("cc\0\0", 4));
  }
  for (std::size_t i = 2; i < 4; ++i) replay.apply(b.trace().records[i]);
  detail::PointModel model(replay.snapshot(), 4, cache);
  ASSERT_EQ(model.file_count(), 1u);
  const auto& file = model.file(0);
  const auto& durable = file.option(0, file.block_of_version[0].at(0));
  EXPECT_EQ(durable.owner, file.base);
  EXPECT_EQ(durable.bytes.data(), file.base->data());
  const auto& newest = file.option(1, file.block_of_version[1].newest());
  EXPECT_EQ(newest.bytes.data(), rewritten.data());
  EXPECT_EQ(newest.bytes, "nnnn");
}

// A replay of what is seen holds each file once, sized for the furthest its
// trace writes it: grown write by write, a reallocation would hold the old
// and the new buffer at once.
TEST(Memory, WhatIsSeenIsSizedOnceForTheTracesFurthestWrite) {
  TraceBuilder b;
  const int fd = b.create("f");
  for (int i = 0; i < 64; ++i) b.write(fd, std::string(4096, static_cast<char>('a' + i % 26)));
  const auto& records = b.trace().records;
  detail::Replay replay(b.initial(), Profile::posix, detail::Replay::Visible::bytes);
  replay.expect_extents(b.trace());
  replay.apply(records[0]);
  replay.apply(records[1]);
  const std::string* file = replay.written_file(records[1]);
  ASSERT_NE(file, nullptr);
  EXPECT_GE(file->capacity(), 64u * 4096);
  const char* first = file->data();
  for (std::size_t i = 2; i < records.size(); ++i) replay.apply(records[i]);
  EXPECT_EQ(replay.written_file(records.back())->data(), first) << "reallocated while growing";
  EXPECT_EQ(replay.take_visible().at("f").content, b.fully_persisted().at("f"));
}

}  // namespace
}  // namespace crashcheck::powerloss
