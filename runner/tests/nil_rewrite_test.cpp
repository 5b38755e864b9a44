// Writes that end where they began (issue 11, "never a pass when blind";
// adversarial pass 4, F0 and F1): a correct atomic replace, then the
// published target changed and put back where the backend does not see each
// step (writers/planted_writer.c). The end state and every pause agree
// with the trace, yet a SIGKILL between the change and its undoing finds
// neither old nor new.
//
// * Stores through a shared writable mapping of the target (wipe-store): the
//   seccomp supervisor sees only the bytes at the msync, so the window's
//   passes are withheld (blind_spots.hpp, mapped_window_spots). The same
//   stores in a temp mapped, synced and unmapped before its rename
//   (temp-wipe) keep every pass.
// * A hole punched through the mapping (wipe-punch, madvise(MADV_REMOVE)): a
//   counted call on seccomp, so the punched page is a state the models offer.
// * Writes the preload agent cannot see (raw-rewrite, the syscall
//   instruction): the target's mtime and ctime change between two pauses
//   with no traced write there (pause_check.hpp). Unseen calls that write
//   nothing (raw-read) or set times on purpose (temp-utime, as cp -p) are no
//   such evidence.
//
// Ground truth first, without crashcheck: strace's SIGKILL at the writer's
// log line, and at one of its raw writes. Then crashcheck on both backends,
// and the two rules on traces and snapshots written by hand
// (MappedWindowSpots, PauseTimes).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include <fcntl.h>
#include <sys/mman.h>

#include <set>
#include <string>

#include "../src/campaign/blind_spots.hpp"
#include "../src/campaign/pause_check.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, strace_works, read_text, …

constexpr std::size_t kPage = 4096;
const std::string kOld(3 * kPage, 'o'), kNew(3 * kPage, 'n');

// The target after the writer `how` was killed by strace at the entry of its
// `nth` call of `syscall`.
std::string killed_at(const std::string& how, const std::string& syscall, int nth) {
  TempDir dir;
  write_text(dir / "t", kOld);
  write_text(dir / "new", kNew);
  shell("strace -f -qqq -o /dev/null -e trace=" + syscall + " -e inject=" + syscall +
        ":signal=KILL:when=" + std::to_string(nth) + " " + reports::shell_quote(CRASHCHECK_PLANTED_WRITER) + " " + how +
        " " + reports::shell_quote((dir / "t").string()) + " " + reports::shell_quote((dir / "new").string()) +
        " >/dev/null 2>&1");
  return read_text(dir / "t");
}

TEST(NilRewriteGroundTruth, AKillAtTheLogLineFindsPageOneChangedInTheTargetOnly) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  // the temp is filled by pwrite: write #1 is the log line between the change and its undoing
  const std::string page_one = kNew.substr(0, kPage);
  EXPECT_EQ(killed_at("wipe-store", "write", 1), page_one + std::string(kPage, 'Z') + page_one);
  EXPECT_EQ(killed_at("wipe-punch", "write", 1), page_one + std::string(kPage, '\0') + page_one);
  // the same stores in the temp, before its rename
  EXPECT_EQ(killed_at("temp-wipe", "write", 1), kOld);
  EXPECT_EQ(killed_at("temp-write", "rename", 1), kOld);
}

TEST(NilRewriteGroundTruth, AKillAtARawWriteFindsTheTargetShort) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  // the temp is filled by pwrite: every write is a raw one
  EXPECT_EQ(killed_at("raw-rewrite", "write", 1), "");  // after the raw open's O_TRUNC
  EXPECT_EQ(killed_at("raw-rewrite", "write", 3), kNew.substr(0, 2000));
  EXPECT_EQ(killed_at("raw-read", "read", 4), kNew);  // reads 1-2 take the payload; a raw read changes nothing
}

json check(const std::string& how, const std::string& backend) {
  TempDir dir;
  write_text(dir / "old", kOld);
  write_text(dir / "new", kNew);
  const auto result =
      run_crashcheck({"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(), "--models",
                      "kill,reader,power-loss", "--backend", backend, "--quiet", "-o", (dir / "out").string(), "--",
                      CRASHCHECK_PLANTED_WRITER, how, "{target}", "{payload}"});
  EXPECT_LE(result.status, 1) << result.output;
  return json::parse(read_text(dir / "out" / "report.json"));
}

std::string verdict(const json& report, const char* property) {
  return report["properties"][property]["verdict"].get<std::string>();
}

std::string reason(const json& report, const char* property) {
  return report["properties"][property].value("reason", "");
}

constexpr const char* kAtomicity[] = {"crash_atomic", "reader_safe", "powerloss_atomic"};

TEST(MappedWindow, StoresChangedAndPutBackInTheTargetAreNotRunNeverPass) {
  const auto report = check("wipe-store", "seccomp");
  for (const char* name : kAtomicity) {
    EXPECT_EQ(verdict(report, name), "not_run") << name << ": " << report["properties"][name].dump(2);
    EXPECT_TRUE(has(reason(report, name), "stores through a shared writable mapping of `")) << reason(report, name);
    EXPECT_TRUE(has(reason(report, name), "are not observed one by one")) << reason(report, name);
  }
  // after the msync the file stays mapped until munmap and nothing syncs it again: stores in between are
  // unseen too, and a page they changed may be what stays on disk after the exit
  EXPECT_EQ(verdict(report, "durable"), "not_run") << report["properties"]["durable"].dump(2);
  EXPECT_TRUE(has(reason(report, "durable"), "nothing syncs the file after them")) << reason(report, "durable");
}

// madvise(MADV_REMOVE) is a counted call on seccomp: the punched page is a
// state the models offer, and it is neither old nor new.
TEST(MappedWindow, AHolePunchedThroughTheMappingFails) {
  const auto report = check("wipe-punch", "seccomp");
  for (const char* name : {"crash_atomic", "reader_safe"})
    EXPECT_EQ(verdict(report, name), "fail") << name << ": " << report["properties"][name].dump(2);
  EXPECT_TRUE(has(report["calls"].dump(), "madvise")) << report["calls"].dump(2);
}

TEST(MappedWindow, ATempMappedSyncedAndUnmappedBeforeItsRenameKeepsEveryPass) {
  const auto report = check("temp-wipe", "seccomp");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "mode_preserved"})
    EXPECT_EQ(verdict(report, name), "pass") << name << ": " << report["properties"][name].dump(2);
  EXPECT_FALSE(has(report["notes"].dump(), "passes withheld")) << report["notes"].dump(2);
}

TEST(MappedWindow, AReplaceThatMapsNothingKeepsEveryPass) {
  for (const char* backend : {"seccomp", "preload"}) {
    const auto report = check("temp-write", backend);
    for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"})
      EXPECT_EQ(verdict(report, name), "pass") << backend << " " << name << ": " << report["properties"][name].dump(2);
    EXPECT_FALSE(has(report["notes"].dump(), "disagree")) << report["notes"].dump(2);
  }
}

// The preload agent sees neither the stores nor the punch: the target's times
// give them away.
TEST(UnseenWrites, ChangesThroughAMappingThePreloadAgentMissesAreNotRun) {
  for (const char* how : {"wipe-store", "wipe-punch"}) {
    const auto report = check(how, "preload");
    for (const char* name : kAtomicity) {
      EXPECT_EQ(verdict(report, name), "not_run") << how << " " << name;
      EXPECT_TRUE(has(reason(report, name), "was written between")) << how << ": " << reason(report, name);
    }
  }
}

TEST(UnseenWrites, ARawRewriteOfTheSameBytesIsNotRunUnderPreloadAndFailsUnderSeccomp) {
  const auto unseen = check("raw-rewrite", "preload");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"}) {
    EXPECT_EQ(verdict(unseen, name), "not_run") << name << ": " << unseen["properties"][name].dump(2);
    EXPECT_TRUE(has(reason(unseen, name), "` was written between the pause before call ")) << reason(unseen, name);
    EXPECT_TRUE(has(reason(unseen, name), "but no call the trace shows there writes it")) << reason(unseen, name);
  }
  EXPECT_TRUE(has(unseen["notes"].dump(), "the trace and the run disagree")) << unseen["notes"].dump(2);
  const auto seen = check("raw-rewrite", "seccomp");
  for (const char* name : {"crash_atomic", "reader_safe"})
    EXPECT_EQ(verdict(seen, name), "fail") << name << ": " << seen["properties"][name].dump(2);
}

TEST(UnseenWrites, UnseenCallsThatWriteNothingKeepThePasses) {
  for (const char* how : {"raw-read", "temp-utime"}) {
    const auto report = check(how, "preload");
    for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"})
      EXPECT_EQ(verdict(report, name), "pass") << how << " " << name << ": " << report["properties"][name].dump(2);
    EXPECT_FALSE(has(report["notes"].dump(), "disagree")) << how << ": " << report["notes"].dump(2);
  }
}

// mapped_window_spots on traces written by hand: which passes a window of a
// mapping withholds, by where the target names the mapped file.
struct TraceBuilder {
  faults::Trace trace;
  TraceBuilder& add(const std::string& call, faults::OpClass op, std::uint64_t inode, const std::string& path,
                    const std::string& path2 = "", int flags = 0, const std::string& data = "") {
    faults::TraceRecord r;
    r.seq = static_cast<std::uint32_t>(trace.records.size() + 1);
    r.call = call;
    r.op = op;
    r.inode = inode;
    r.path = path;
    r.path2 = path2;
    r.flags = flags;
    r.created = op == faults::OpClass::open && (flags & O_CREAT) != 0;
    r.offset = data.empty() ? -1 : 0;
    r.data = data;
    trace.records.push_back(std::move(r));
    return *this;
  }
  std::set<std::string> withheld(std::uint64_t old_inode = 5) const {
    std::set<std::string> out;
    for (const auto& spot : mapped_window_spots(trace, "t", old_inode))
      for (auto name : spot.properties) out.insert(std::string(name));
    return out;
  }
};

using faults::OpClass;
const std::set<std::string> kKill{"crash_atomic", "reader_safe", "valid_content", "concurrent_safe"};

// A temp: open, ftruncate, the stores shown at msync(MS_SYNC) and munmap.
TraceBuilder mapped_temp() {
  TraceBuilder b;
  b.add("openat", OpClass::open, 7, "t.tmp", "", O_CREAT | O_RDWR).add("ftruncate", OpClass::truncate, 7, "t.tmp");
  b.add("msync", OpClass::write, 7, "t.tmp", "", MS_SYNC, "nnnn")
      .add("munmap", OpClass::write, 7, "t.tmp", "", 0, "nnnn");
  return b;
}

TEST(MappedWindowSpots, ATempUnmappedAndSyncedBeforeItsRenameWithholdsNothing) {
  auto b = mapped_temp();
  b.add("fsync", OpClass::sync, 7, "t.tmp").add("rename", OpClass::rename, 7, "t.tmp", "t");
  EXPECT_EQ(b.withheld(), std::set<std::string>{});
}

TEST(MappedWindowSpots, ATempNotSyncedAfterItsMunmapWithholdsThePowerLossPasses) {
  auto b = mapped_temp();
  b.add("rename", OpClass::rename, 7, "t.tmp", "t");
  EXPECT_EQ(b.withheld(), (std::set<std::string>{"powerloss_atomic", "valid_content", "durable"}));
}

TEST(MappedWindowSpots, AMappingStillOpenAtTheRenameWithholdsEveryOne) {
  TraceBuilder b;
  b.add("openat", OpClass::open, 7, "t.tmp", "", O_CREAT | O_RDWR).add("ftruncate", OpClass::truncate, 7, "t.tmp");
  b.add("rename", OpClass::rename, 7, "t.tmp", "t").add("munmap", OpClass::write, 7, "t", "", 0, "nnnn");
  auto expected = kKill;
  expected.insert({"powerloss_atomic", "durable"});
  EXPECT_EQ(b.withheld(), expected);
}

TEST(MappedWindowSpots, TheOldTargetMappedInPlaceWithholdsTheKillPassesAndDurableOnlyWhenNotSyncedAfter) {
  TraceBuilder b;
  b.add("openat", OpClass::open, 5, "t", "", O_RDWR).add("msync", OpClass::write, 5, "t", "", MS_SYNC, "nnnn");
  auto synced = b;
  synced.add("munmap", OpClass::write, 5, "t", "", 0, "nnnn").add("fsync", OpClass::sync, 5, "t");
  auto expected = kKill;
  expected.insert("powerloss_atomic");
  EXPECT_EQ(synced.withheld(), expected);
  b.add("munmap", OpClass::write, 5, "t", "", 0, "nnnn");
  expected.insert("durable");
  EXPECT_EQ(b.withheld(), expected);
  // another file mapped in place, never the target: nothing
  TraceBuilder other;
  other.add("openat", OpClass::open, 9, "u", "", O_RDWR).add("munmap", OpClass::write, 9, "u", "", 0, "nnnn");
  EXPECT_EQ(other.withheld(), std::set<std::string>{});
}

// The times check on snapshots written by hand: the target `t` (inode 5)
// seen at the start, before calls 1 and 2, and at the end, its times given
// at each; call 1 is `first` (a directory fsync when nothing is said).
std::string unseen_write(const std::vector<std::pair<std::int64_t, std::int64_t>>& times,
                         OpClass first = OpClass::sync) {
  auto at = [&](std::size_t i) {
    Snapshot s;
    Entry& e = s.entries["t"];
    e.inode = 5;
    e.content = SharedBytes(std::string("n"));
    e.mtime_ns = times[i].first;
    e.ctime_ns = times[i].second;
    return s;
  };
  TraceBuilder b;
  b.add(first == OpClass::sync ? "fsync" : "pwrite64", first, first == OpClass::sync ? 1 : 5,
        first == OpClass::sync ? "." : "t", "", 0, first == OpClass::write ? "n" : "");
  b.add("close", OpClass::close, 1, ".");
  PausePrints prints("t");
  prints.add(1, at(1));
  prints.add(2, at(2));
  return prints.check(b.trace, at(0), at(3)).unseen_write;
}

TEST(PauseTimes, AWriteTheTimesShowAndTheTraceLacksIsNamed) {
  EXPECT_EQ(unseen_write({{10, 10}, {10, 10}, {20, 20}, {20, 20}}),
            "`t` was written between the pause before call 1 and the pause before call 2 (its mtime and ctime "
            "changed together), but no call the trace shows there writes it");
  EXPECT_TRUE(has(unseen_write({{10, 10}, {10, 10}, {10, 10}, {30, 30}}), "and the end of the run"));
  EXPECT_TRUE(has(unseen_write({{10, 10}, {20, 20}, {20, 20}, {20, 20}}), "between the start and"));
}

TEST(PauseTimes, ATracedWriteOrTimesSetOnPurposeAreNoEvidence) {
  EXPECT_EQ(unseen_write({{10, 10}, {10, 10}, {20, 20}, {20, 20}}, OpClass::write), "");  // call 1 writes it
  EXPECT_EQ(unseen_write({{10, 10}, {10, 10}, {5, 20}, {5, 20}}), "");    // utimensat: mtime set apart from ctime
  EXPECT_EQ(unseen_write({{10, 10}, {10, 10}, {10, 20}, {10, 20}}), "");  // chmod, a rename: ctime alone
}

}  // namespace
}  // namespace crashcheck::runner
