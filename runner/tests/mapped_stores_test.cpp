// Stores through a shared writable mapping (issue 11, item 3): between a
// writable MAP_SHARED mmap of a file and the msync/munmap/exit that the
// seccomp supervisor records, any page of the range may hold old or new
// bytes at a kill, a read or a power loss, and msync(MS_SYNC) makes the range
// durable. An in-place mmap rewrite fails crash_atomic, reader_safe and
// powerloss_atomic; a temp filled through a mapping, msync'd, renamed and its
// directory fsync'd passes all of them. The preload agent cannot see the
// stores: its verdicts are not_run with the reason, never a fail or a pass.
// Ground truth for the torn states, without crashcheck: ground_truth_test.cpp
// (a real reader racing a real mmap rewrite sees it half done; the temp twin
// never shows a mix).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

// The planted C writer dies without removing its temp when a call fails (a
// real temp_clean failure of its own), so its twin is judged without errno;
// the Python twin cleans up, and is judged with it.
const std::string kModels = "kill,reader,power-loss";

std::string verdict(const nlohmann::json& report, const char* property) {
  return report["properties"][property]["verdict"].get<std::string>();
}

void expect_torn(const nlohmann::json& report) {
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic"}) {
    const auto& p = report["properties"][name];
    EXPECT_EQ(p["verdict"], "fail") << name << ": " << p.dump(2);
  }
  for (const char* name : {"crash_atomic", "reader_safe"}) {
    const auto& p = report["properties"][name];
    ASSERT_FALSE(p["failures"].empty()) << name;
    EXPECT_TRUE(testing::has(p["failures"][0]["case_id"].get<std::string>(), "-within-")) << p.dump(2);
    EXPECT_TRUE(testing::has(p["failures"][0]["call"].get<std::string>(), "msync")) << p.dump(2);
  }
  // modelled, not withheld: the only passes withheld are those a window of the mapping bears on
  // (nil_rewrite_test.cpp), never these fails
  for (const auto& note : report["notes"]) {
    if (testing::has(note.get<std::string>(), "passes withheld")) {
      EXPECT_TRUE(testing::has(note.get<std::string>(), "stores through a shared writable mapping")) << note;
    }
  }
}

TEST(MappedStores, AnInPlaceMmapRewriteFailsEveryAtomicity) {
  expect_torn(testing::check_planted(kModels, "inplace-mmap", "seccomp"));
}

// msync(MS_SYNC) of the whole file made the stores before it durable, but
// the file stays mapped until munmap and nothing syncs it after: stores in
// between are unseen (a page changed and put back may be what stays on
// disk), so durable is not judged — never a fail the stores would not cause.
// Synced after its munmap, the same rewrite is durable
// (StoresAnFsyncWroteBackAreTornBeforeItOnly).
TEST(MappedStores, AnInPlaceMmapRewriteNotSyncedAfterItsMunmapIsNotJudgedDurable) {
  const auto report = testing::check_planted("power-loss", "inplace-mmap", "seccomp");
  const auto& durable = report["properties"]["durable"];
  EXPECT_EQ(durable["verdict"], "not_run") << durable.dump(2);
  EXPECT_TRUE(testing::has(durable["reason"].get<std::string>(), "nothing syncs the file after them")) << durable;
}

TEST(MappedStores, ATempFilledThroughAMappingPassesEveryProperty) {
  const auto report = testing::check_planted(kModels, "temp-mmap", "seccomp");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "mode_preserved"})
    EXPECT_EQ(verdict(report, name), "pass") << name << ": " << report["properties"][name].dump(2);
}

// The preload agent never sees the stores: not_run with the reason, and
// never a fail the stores would not cause.
TEST(MappedStores, UnseenStoresAreNotRunNeverFail) {
  const auto report = testing::check_planted(kModels, "temp-mmap", "preload");
  for (const auto& [name, p] : report["properties"].items()) EXPECT_NE(p["verdict"], "fail") << name << p.dump(2);
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"}) {
    EXPECT_EQ(verdict(report, name), "not_run") << name;
    EXPECT_TRUE(testing::has(report["properties"][name]["reason"].get<std::string>(), "the trace does not explain"))
        << name << ": " << report["properties"][name].dump(2);
  }
}

// The same writers in Python (one_big_write.py: mmap.mmap, a slice
// assignment, flush = MS_SYNC).
nlohmann::json check_python(const std::string& mode, const std::string& backend = "seccomp",
                            std::size_t size = 3 * 4096) {
  testing::TempDir dir;
  testing::write_text(dir / "old", std::string(size, 'o'));
  testing::write_text(dir / "new", std::string(size, 'n'));
  const auto result = testing::run_crashcheck(
      {"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(), "--models",
       "kill,reader,errno,power-loss", "--backend", backend, "--quiet", "-o", (dir / "out").string(), "--",
       CRASHCHECK_PYTHON, std::string(CRASHCHECK_WRITERS_DIR) + "/one_big_write.py", mode, "{target}", "{payload}"});
  EXPECT_LE(result.status, 1) << result.output;
  return nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
}

TEST(MappedStores, PythonInPlaceMmapRewriteFails) { expect_torn(check_python("in-place-mmap")); }

TEST(MappedStores, PythonTempFilledThroughAMappingPasses) {
  const auto report = check_python("temp-mmap");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "error_safe", "temp_clean"})
    EXPECT_EQ(verdict(report, name), "pass") << name << ": " << report["properties"][name].dump(2);
}

// The other write no write(2) makes: splice(2) from a pipe into the temp.
// The supervisor reads the spliced range back, so every property is judged
// and passes; the preload agent sees no splice, and its verdicts are
// not_run with the reason, never a fail.
TEST(MappedStores, ATempFilledBySpliceIsJudgedWhereSeenAndNotRunWhereNot) {
  const auto seen = check_python("temp-splice");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "error_safe", "temp_clean"})
    EXPECT_EQ(verdict(seen, name), "pass") << name << ": " << seen["properties"][name].dump(2);
  const auto unseen = check_python("temp-splice", "preload");
  for (const auto& [name, p] : unseen["properties"].items()) EXPECT_NE(p["verdict"], "fail") << name << p.dump(2);
  for (const char* name : {"crash_atomic", "powerloss_atomic", "durable"}) {
    EXPECT_EQ(verdict(unseen, name), "not_run") << name;
    EXPECT_TRUE(testing::has(unseen["properties"][name]["reason"].get<std::string>(), "the trace does not explain"))
        << name << ": " << unseen["properties"][name].dump(2);
  }
}

// fsync(2) writes back pages dirtied through a mapping ("all modified
// in-core data of the file"). The supervisor records the mapped range at the
// fsync: stores already there were made durable by it, stores made after it
// were not. Only the order of the fsync and the stores differs.
// The mapping outlives that fsync until the temp is unmapped, and nothing
// syncs the temp after: stores between the fsync and the munmap would be
// unseen (nil_rewrite_test.cpp), so the power-loss verdicts are withheld
// while a kill or a reader, which never sees the temp as the target, passes.
TEST(MappedStores, AnFsyncWhileMappedCoversTheStoresMadeBeforeItOnly) {
  const auto synced = check_python("temp-mmap-fsync");
  for (const char* name : {"crash_atomic", "reader_safe", "error_safe"})
    EXPECT_EQ(verdict(synced, name), "pass") << name << ": " << synced["properties"][name].dump(2);
  for (const char* name : {"powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(synced, name), "not_run") << name << ": " << synced["properties"][name].dump(2);
  const auto late = check_python("temp-mmap-late-fsync");
  for (const char* name : {"powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(late, name), "fail") << name << ": " << late["properties"][name].dump(2);
  EXPECT_EQ(verdict(late, "crash_atomic"), "pass");  // a kill still finds old or new: the rename is atomic
}

// The same stores written back by an fsync while mapped, and the mapping
// unmapped only after the rename (or at exit): they are torn until that
// fsync, not at the unmap. In place they fail atomicity at the fsync; in a
// temp (temp-mmap-fsync) every property passes, as above.
TEST(MappedStores, StoresAnFsyncWroteBackAreTornBeforeItOnly) {
  const auto report = check_python("in-place-mmap-fsync");
  for (const char* name : {"crash_atomic", "reader_safe", "powerloss_atomic"}) {
    const auto& p = report["properties"][name];
    ASSERT_EQ(p["verdict"], "fail") << name << ": " << p.dump(2);
  }
  EXPECT_TRUE(testing::has(report["properties"]["crash_atomic"]["failures"][0]["call"].get<std::string>(), "fsync"))
      << report["properties"]["crash_atomic"].dump(2);
  EXPECT_EQ(verdict(report, "durable"), "pass");
}

// The guard on fast mode's paused snapshots: stores through a mapping the
// preload agent cannot see, then one pwrite of the same bytes, so the end
// state is explained but the pause before the pwrite already shows them. A
// kill during the stores finds them half made (a reader does, in
// ground_truth_test.cpp), so the pass the pauses would give is withheld and
// the report says the trace and the run disagree; seccomp sees the stores.
TEST(MappedStores, APausedSnapshotTheTraceDoesNotExplainWithholdsThePass) {
  const auto unseen = check_python("in-place-mmap-rewritten", "preload", 100);
  const auto& crash = unseen["properties"]["crash_atomic"];
  EXPECT_EQ(crash["verdict"], "not_run") << crash.dump(2);
  EXPECT_TRUE(testing::has(crash["reason"].get<std::string>(), "the paused run's directory before call "))
      << crash.dump(2);
  EXPECT_TRUE(testing::has(unseen["notes"].dump(), "the trace and the run disagree")) << unseen["notes"];
  EXPECT_EQ(verdict(check_python("in-place-mmap-rewritten", "seccomp", 100), "crash_atomic"), "fail");
  // A run whose pauses the trace explains gets no such note.
  EXPECT_FALSE(testing::has(check_python("temp-mmap")["notes"].dump(), "the trace and the run disagree"));
}

}  // namespace
}  // namespace crashcheck::runner
