// Each rule on synthetic traces: the agent's records built by hand, the
// report's verdicts, counterexamples and cells set as the runner would.
#include "diagnosis.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <set>

namespace crashcheck::diagnosis {
namespace {

using faults::OpClass;
using reports::Verdict;

// A trace and a report around target "t.json" (old file, mode 0644).
class Case {
 public:
  Case() {
    report.subject.target = "t.json";
    report.subject.had_old = true;
    report.subject.old_mode = "0644";
    for (auto name : reports::kProperties) report.properties[std::string(name)].verdict = Verdict::pass;
  }

  faults::TraceRecord& add(std::string call, OpClass op, std::string path, std::string path2 = "") {
    faults::TraceRecord r;
    r.seq = static_cast<std::uint32_t>(trace.records.size() + 1);
    r.call = std::move(call);
    r.op = op;
    r.path = std::move(path);
    r.path2 = std::move(path2);
    trace.records.push_back(r);
    return trace.records.back();
  }
  void create(const std::string& path, std::uint32_t mode = 0600) {
    auto& r = add("open", OpClass::open, path);
    r.created = true, r.flags = O_WRONLY | O_CREAT | O_EXCL, r.mode = mode;
  }
  void fsync_dir(const std::string& dir = ".") { add("fsync", OpClass::sync, dir).is_directory = true; }
  // The correct sequence: create, write, fchmod, fsync, close, rename, fsync dir.
  void correct(const std::string& tmp = ".t.json.tmp") {
    create(tmp);
    add("write", OpClass::write, tmp);
    add("fchmod", OpClass::chmod, tmp).mode = 0644;
    add("fsync", OpClass::sync, tmp);
    add("close", OpClass::close, tmp);
    add("rename", OpClass::rename, tmp, "t.json");
    fsync_dir();
  }
  void fail(const std::string& property, reports::Failure f = {}) {
    auto& p = report.properties[property];
    p.verdict = Verdict::fail;
    p.failures.push_back(std::move(f));
  }
  void cell(std::uint32_t call, const std::string& error, const std::string& outcome) {
    report.cells.push_back({"errno", call, outcome, "errno-" + std::to_string(call) + "-" + error});
  }
  // {rule, property, call} of every diagnosis.
  std::set<std::tuple<std::string, std::string, std::uint32_t>> found() const {
    std::set<std::tuple<std::string, std::string, std::uint32_t>> out;
    for (const auto& d : diagnose(trace, report)) out.insert({d.rule, d.property, d.call_index});
    return out;
  }

  faults::Trace trace;
  reports::Report report;
};

using Found = std::set<std::tuple<std::string, std::string, std::uint32_t>>;

TEST(Rules, CorrectSequenceGetsNone) {
  Case c;
  c.correct();
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, FailingPropertyNoRuleExplainsGetsNone) {
  Case c;
  c.correct();
  c.fail("crash_atomic");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, InPlaceRewriteExplainsEveryPropertyItBreaks) {
  Case c;
  c.add("open", OpClass::open, "t.json").flags = O_WRONLY | O_TRUNC;
  c.add("write", OpClass::write, "t.json");
  c.add("fsync", OpClass::sync, "t.json");
  c.fail("crash_atomic");
  c.fail("reader_safe");
  EXPECT_EQ(c.found(),
            (Found{{"write_temp_then_rename", "crash_atomic", 1}, {"write_temp_then_rename", "reader_safe", 1}}));
}

TEST(Rules, InPlaceWithoutFsyncIsAlsoNotDurable) {
  Case c;
  c.add("open", OpClass::open, "t.json").flags = O_WRONLY | O_TRUNC;
  c.add("write", OpClass::write, "t.json");
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "durable", 2}}));
}

TEST(Rules, RenameBeforeFsyncOfTheFile) {
  Case c;
  c.correct();
  c.trace.records.erase(c.trace.records.begin() + 3);  // the fsync
  for (std::uint32_t i = 0; i < c.trace.records.size(); ++i) c.trace.records[i].seq = i + 1;
  c.fail("powerloss_atomic");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "powerloss_atomic", 5}}));
}

// An O_TMPFILE file is written as "(O_TMPFILE)" until a linkat names it
// (faults/README.md, "O_TMPFILE"): its writes and fsync count for the name.
void unnamed_then_renamed(Case& c, bool fsync_file) {
  auto& open = c.add("openat", OpClass::open, "(O_TMPFILE)");
  open.created = true, open.flags = O_WRONLY | O_TMPFILE, open.mode = 0644;
  c.add("write", OpClass::write, "(O_TMPFILE)");
  if (fsync_file) c.add("fsync", OpClass::sync, "(O_TMPFILE)");
  c.add("linkat", OpClass::link, "(O_TMPFILE)", "t.json.tmp").created = true;
  c.add("close", OpClass::close, "t.json.tmp");
  c.add("rename", OpClass::rename, "t.json.tmp", "t.json");
  c.fsync_dir();
}

TEST(Rules, AnUnnamedFileFsyncedBeforeItsLinkGetsNone) {
  Case c;
  unnamed_then_renamed(c, true);
  c.fail("powerloss_atomic");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, AnUnnamedFileNeverFsyncedIsRenamedBeforeItIsOnDisk) {
  Case c;
  unnamed_then_renamed(c, false);
  c.fail("powerloss_atomic");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "powerloss_atomic", 5}}));
}

TEST(Rules, FsyncBeforeTheLastWriteDoesNotCount) {
  Case c;
  c.create(".t.json.tmp");
  c.add("fsync", OpClass::sync, ".t.json.tmp");
  c.add("write", OpClass::write, ".t.json.tmp");
  c.add("rename", OpClass::rename, ".t.json.tmp", "t.json");
  c.fsync_dir();
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "durable", 4}}));
}

TEST(Rules, SyncFileRangeIsNoFsyncButSyncIs) {
  Case c;
  c.create(".t.json.tmp");
  c.add("write", OpClass::write, ".t.json.tmp");
  c.add("sync_file_range", OpClass::sync, ".t.json.tmp");
  c.add("rename", OpClass::rename, ".t.json.tmp", "t.json");
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "durable", 4}, {"fsync_dir_after_rename", "durable", 4}}));
}

TEST(Rules, SyncAllCountsForFileAndDirectory) {
  Case c;
  c.create(".t.json.tmp");
  c.add("write", OpClass::write, ".t.json.tmp");
  c.add("sync", OpClass::sync_all, "");
  c.add("rename", OpClass::rename, ".t.json.tmp", "t.json");
  c.add("syncfs", OpClass::sync_all, "");
  c.fail("durable");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, DirectoryNotFsyncedAfterRename) {
  Case c;
  c.correct();
  c.trace.records.pop_back();
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_dir_after_rename", "durable", 6}}));
}

TEST(Rules, DirectoryFsyncedBeforeTheRenameDoesNotCount) {
  Case c;
  c.fsync_dir();
  c.correct();
  c.trace.records.pop_back();
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_dir_after_rename", "durable", 7}}));
}

TEST(Rules, CrossDirectoryRenameNeedsBothDirectories) {
  Case c;
  c.correct("staging/.t.json.tmp");
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_dir_of_temp_and_target", "durable", 6}}));
  c.fsync_dir("staging");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, TempKeepsMkstempMode) {
  Case c;
  c.correct();
  c.trace.records[2].mode = 0600;  // fchmod to the wrong mode
  c.fail("mode_preserved");
  EXPECT_EQ(c.found(), (Found{{"preserve_mode", "mode_preserved", 1}}));
  c.report.subject.old_mode = "0600";  // now the fchmod copies it
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, TempLeftBehindPointsAtItsCreation) {
  Case c;
  c.correct();
  reports::Failure f;
  f.leftovers = {".t.json.tmp"};
  c.fail("temp_clean", f);
  EXPECT_EQ(c.found(), (Found{{"remove_temp_on_error", "temp_clean", 1}}));
}

TEST(Rules, IgnoredWriteErrorOnlyWhenTheWriterExitedZero) {
  Case c;
  c.correct();
  reports::Failure f;
  f.model = "errno", f.call_index = 2, f.exit_status = 1;
  c.fail("error_safe", f);
  EXPECT_EQ(c.found(), Found{});  // reported the failure, left a torn file: not this rule
  c.report.properties["error_safe"].failures[0].exit_status = 0;
  EXPECT_EQ(c.found(), (Found{{"check_write_result", "error_safe", 2}}));
}

TEST(Rules, IgnoredFsyncFailureIsAdvisoryOnDurable) {
  Case c;
  c.correct();
  c.cell(4, "EIO", "error_ok");
  EXPECT_EQ(c.found(), Found{});
  c.cell(4, "ENOSPC", "new");
  EXPECT_EQ(c.found(), (Found{{"check_fsync_result", "durable", 4}}));
}

TEST(Rules, IgnoredDirectoryFsyncFailureIsTheReferencePolicy) {
  Case c;
  c.correct();
  c.cell(7, "EIO", "new");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, IgnoredCloseFailureButNotEintr) {
  Case c;
  c.correct();
  c.cell(5, "EINTR", "new");
  EXPECT_EQ(c.found(), Found{});
  c.cell(5, "EIO", "new");
  EXPECT_EQ(c.found(), (Found{{"check_close_result", "error_safe", 5}}));
}

// A shell opens a redirect's file, moves the descriptor (dup2) and closes the
// original before writing a byte: a failed close there loses nothing.
TEST(Rules, AFailedCloseOfADescriptorThatWroteNothingIsNoFinding) {
  Case c;
  c.create(".t.json.tmp");
  c.trace.records.back().fd = 3;
  c.add("close", OpClass::close, ".t.json.tmp").fd = 3;  // call 2
  c.add("write", OpClass::write, ".t.json.tmp").fd = 1;
  c.add("close", OpClass::close, ".t.json.tmp").fd = 1;  // call 4
  c.add("rename", OpClass::rename, ".t.json.tmp", "t.json");
  c.cell(2, "EIO", "new");
  EXPECT_EQ(c.found(), Found{});
  c.cell(4, "EIO", "new");
  EXPECT_EQ(c.found(), (Found{{"check_close_result", "error_safe", 4}}));
}

// sync_file_range promises nothing: ignoring its error is no finding.
TEST(Rules, AnIgnoredSyncFileRangeFailureIsNoFinding) {
  Case c;
  c.correct();
  c.add("sync_file_range", OpClass::sync, ".t.json.tmp");  // call 8
  c.cell(8, "EIO", "new");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, GivingUpOnEintr) {
  Case c;
  c.correct();
  c.cell(2, "EINTR", "new");  // retried
  EXPECT_EQ(c.found(), Found{});
  c.cell(2, "EINTR", "error_ok");
  EXPECT_EQ(c.found(), (Found{{"retry_eintr", "error_safe", 2}}));
}

TEST(Rules, UnlinkBeforeRename) {
  Case c;
  c.correct();
  c.trace.records.insert(c.trace.records.begin() + 5, c.trace.records[0]);
  c.trace.records[5].call = "unlink", c.trace.records[5].op = OpClass::unlink, c.trace.records[5].path = "t.json";
  for (std::uint32_t i = 0; i < c.trace.records.size(); ++i) c.trace.records[i].seq = i + 1;
  c.fail("crash_atomic");
  c.fail("error_safe");
  EXPECT_EQ(c.found(),
            (Found{{"no_unlink_before_rename", "crash_atomic", 6}, {"no_unlink_before_rename", "error_safe", 6}}));
}

TEST(Rules, TempOutsideTheDirectory) {
  Case c;
  c.add("rename", OpClass::rename, "../tmp/x.tmp", "t.json");
  c.fsync_dir();
  EXPECT_EQ(c.found(), (Found{{"temp_in_same_directory", "durable", 1}}));  // advisory: reported anyway
  c.fail("error_safe");
  EXPECT_EQ(c.found(), (Found{{"temp_in_same_directory", "error_safe", 1}}));
}

TEST(Rules, FixedTempNameExplainsAConcurrentFailure) {
  Case c;
  auto& open = c.add("open", OpClass::open, "t.json.tmp");
  open.created = true, open.flags = O_WRONLY | O_CREAT | O_TRUNC;
  c.add("write", OpClass::write, "t.json.tmp");
  c.add("fsync", OpClass::sync, "t.json.tmp");
  c.add("rename", OpClass::rename, "t.json.tmp", "t.json");
  c.fsync_dir();
  EXPECT_EQ(c.found(), Found{});  // concurrent_safe passed (or was not run): nothing to explain
  c.fail("concurrent_safe");
  EXPECT_EQ(c.found(), (Found{{"unique_temp_name", "concurrent_safe", 1}}));
  c.trace.records[0].flags |= O_EXCL;  // an exclusive create: a second instance fails instead of sharing it
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, MkstempTempIsUnique) {
  Case c;
  c.correct();
  c.trace.records[0].call = "mkstemp";
  c.trace.records[0].flags = O_RDWR;
  c.fail("concurrent_safe");
  EXPECT_EQ(c.found(), Found{});
}

TEST(Rules, ReadModifyWriteWithoutALockIsAdvisoryOnceConcurrentRan) {
  Case c;
  c.add("open", OpClass::open, "t.json").flags = O_RDONLY;
  c.add("close", OpClass::close, "t.json");
  c.correct();
  EXPECT_EQ(c.found(), (Found{{"lock_read_modify_write", "concurrent_safe", 1}}));  // passes, still advised
  c.report.properties["concurrent_safe"].verdict = Verdict::not_run;                // the model did not run: no claim
  EXPECT_EQ(c.found(), Found{});
  Case locked;
  locked.add("open", OpClass::open, "t.json.lock").flags = O_RDONLY | O_CREAT;
  locked.add("open", OpClass::open, "t.json").flags = O_RDONLY;
  locked.correct();
  EXPECT_EQ(locked.found(), Found{});
}

TEST(Rules, DiagnosisCarriesTheCallHintAndEveryLanguage) {
  Case c;
  c.correct();
  c.trace.records.pop_back();
  c.report.calls.push_back({6, "rename", "rename(.t.json.tmp → t.json)"});
  c.fail("durable");
  const auto found = diagnose(c.trace, c.report);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].call, "rename(.t.json.tmp → t.json)");
  EXPECT_NE(found[0].hint.find("fsync"), std::string::npos);
  for (const char* language : {"python", "node", "c", "cpp", "go", "sh"})
    EXPECT_FALSE(found[0].fix.at(language).empty()) << language;
}

TEST(Rules, TableHasUniqueIdsAndKnownProperties) {
  std::set<std::string_view> ids;
  for (const auto& rule : rules()) {
    EXPECT_TRUE(ids.insert(rule.id).second) << rule.id;
    ASSERT_FALSE(rule.properties.empty()) << rule.id;
    for (const auto property : rule.properties)
      EXPECT_NE(std::find(reports::kProperties.begin(), reports::kProperties.end(), property),
                reports::kProperties.end())
          << rule.id << ": " << property;
  }
  EXPECT_EQ(ids.size(), 18u);
}

// Directory mode (issue 15): no target, the checker's properties, the same table.
class DirCase : public Case {
 public:
  DirCase() {
    report.subject.target.clear();
    report.subject.had_old = false;
    report.subject.initial_dir = "/initial";
  }
  // manifest_writer.py: data-2.bin (fsynced, with its directory, when `ordered`), then MANIFEST by temp + rename.
  void manifest(bool ordered) {
    create("data-2.bin", 0644);
    add("write", OpClass::write, "data-2.bin");
    if (ordered) add("fsync", OpClass::sync, "data-2.bin");
    add("close", OpClass::close, "data-2.bin");
    if (ordered) fsync_dir();
    create("MANIFEST.tmp", 0644);
    add("write", OpClass::write, "MANIFEST.tmp");
    add("fsync", OpClass::sync, "MANIFEST.tmp");
    add("close", OpClass::close, "MANIFEST.tmp");
    add("rename", OpClass::rename, "MANIFEST.tmp", "MANIFEST");
    fsync_dir();
  }
  std::uint32_t last() const { return trace.records.back().seq; }
};

TEST(DirectoryRules, ManifestRenamedBeforeItsDataFileIsFsyncedPointsAtTheRename) {
  DirCase c;
  c.manifest(false);
  const std::uint32_t rename = c.last() - 1;
  c.fail("powerloss_consistent");
  c.fail("durable");
  EXPECT_EQ(c.found(), (Found{{"fsync_file_before_rename", "powerloss_consistent", rename},
                              {"fsync_file_before_rename", "durable", rename}}));
}

TEST(DirectoryRules, OrderedManifestGetsNoneEvenWhenItsPropertiesFail) {
  DirCase c;
  c.manifest(true);
  for (auto p : reports::kDirectoryProperties) c.fail(std::string(p));
  EXPECT_EQ(c.found(), Found{});
}

TEST(DirectoryRules, ARenameOrAnUnlinkWithoutADirectoryFsyncAfterIt) {
  DirCase renamed;
  renamed.manifest(true);
  renamed.trace.records.pop_back();  // the directory fsync after the rename
  renamed.fail("durable");
  EXPECT_EQ(renamed.found(), (Found{{"fsync_dir_after_rename", "durable", renamed.last()}}));

  DirCase unlinked;  // SQLite, journal_mode=DELETE: deleting the journal commits
  unlinked.create("app.db-journal");
  unlinked.add("write", OpClass::write, "app.db-journal");
  unlinked.add("fsync", OpClass::sync, "app.db-journal");
  unlinked.add("write", OpClass::write, "app.db");
  unlinked.add("fsync", OpClass::sync, "app.db");
  unlinked.add("unlink", OpClass::unlink, "app.db-journal");
  unlinked.fail("durable");
  EXPECT_EQ(unlinked.found(), (Found{{"fsync_dir_after_unlink", "durable", unlinked.last()}}));
  unlinked.fsync_dir();  // SQLite's synchronous=EXTRA
  EXPECT_EQ(unlinked.found(), Found{});
}

// SQLite with synchronous=OFF: nothing renamed, the database written and never fsynced.
TEST(DirectoryRules, AFileWrittenAndNeverSyncedWithoutAnyRename) {
  DirCase c;
  c.add("open", OpClass::open, "app.db").flags = O_RDWR;
  c.add("write", OpClass::write, "app.db");
  c.add("write", OpClass::write, "app.db");
  c.fail("powerloss_consistent");
  c.fail("durable");
  EXPECT_EQ(c.found(),
            (Found{{"fsync_file_after_write", "powerloss_consistent", 3}, {"fsync_file_after_write", "durable", 3}}));
  c.add("fsync", OpClass::sync, "app.db");  // synchronous=FULL
  EXPECT_EQ(c.found(), Found{});
}

TEST(DirectoryRules, AFileThatWasThereRewrittenInPlace) {
  DirCase c;
  c.add("open", OpClass::open, "data.bin").flags = O_WRONLY;
  c.add("write", OpClass::write, "data.bin");
  c.add("fsync", OpClass::sync, "data.bin");
  c.fail("crash_consistent");
  EXPECT_EQ(c.found(), (Found{{"write_temp_then_rename", "crash_consistent", 2}}));
}

TEST(DirectoryRules, ALeftoverIsATempOnlyWhenTheRunRenamesItAway) {
  DirCase temp;
  temp.manifest(true);
  reports::Failure left;
  left.leftovers = {"MANIFEST", "MANIFEST.tmp", "data-1.bin"};
  temp.fail("temp_clean", left);
  EXPECT_EQ(temp.found(), (Found{{"remove_temp_on_error", "temp_clean", 6}}));

  DirCase wal;  // SQLite's write-ahead log: kept for recovery, not a temp
  wal.create("app.db-wal");
  wal.add("write", OpClass::write, "app.db-wal");
  wal.add("fsync", OpClass::sync, "app.db-wal");
  wal.add("unlink", OpClass::unlink, "app.db-wal");
  wal.fsync_dir();
  left.leftovers = {"app.db", "app.db-wal"};
  wal.fail("temp_clean", left);
  EXPECT_EQ(wal.found(), Found{});
}

// Adversarial pass on issue 15 (adv6 9): removing an old file is cleanup,
// not a commit; an O_DSYNC write needs no fsync; an ignored write error is
// named in directory mode too; a journaled in-place rewrite is by design.
TEST(DirectoryRules, RemovingAFileThisRunDidNotKeepIsCleanupNotACommit) {
  DirCase c;
  c.manifest(true);
  c.add("unlink", OpClass::unlink, "data-1.bin");  // the old generation, no directory fsync after
  c.fail("durable");
  EXPECT_EQ(c.found(), Found{});
}

TEST(DirectoryRules, AWriteThroughAnODsyncDescriptorIsSynced) {
  DirCase c;
  c.add("open", OpClass::open, "app.db").flags = O_RDWR | O_DSYNC;
  c.add("write", OpClass::write, "app.db");
  c.fail("durable");
  EXPECT_EQ(c.found(), Found{});
  c.trace.records[0].flags = O_RDWR;  // its plain twin
  EXPECT_EQ(c.found(), (Found{{"fsync_file_after_write", "durable", 2}}));
}

TEST(DirectoryRules, AWriteErrorIgnoredIsNamedOnErrorConsistent) {
  DirCase c;
  c.manifest(true);
  reports::Failure f;
  f.model = "errno", f.exit_status = 0, f.call_index = 2;  // the data file's write
  c.fail("error_consistent", f);
  EXPECT_EQ(c.found(), (Found{{"check_write_result", "error_consistent", 2}}));
}

TEST(DirectoryRules, AnInPlaceRewriteAJournalProtectsIsByDesign) {
  DirCase c;  // SQLite, journal_mode=DELETE
  c.create("app.db-journal");
  c.add("write", OpClass::write, "app.db-journal");
  c.add("fsync", OpClass::sync, "app.db-journal");
  c.add("open", OpClass::open, "app.db").flags = O_RDWR;
  c.add("write", OpClass::write, "app.db");
  c.add("fsync", OpClass::sync, "app.db");
  c.add("unlink", OpClass::unlink, "app.db-journal");
  c.fsync_dir();
  c.fail("crash_consistent");
  EXPECT_EQ(c.found(), Found{});
  c.trace.records[2].op = OpClass::write, c.trace.records[2].call = "write";  // the journal never made durable
  EXPECT_EQ(c.found(), (Found{{"write_temp_then_rename", "crash_consistent", 5}}));
}

}  // namespace
}  // namespace crashcheck::diagnosis
