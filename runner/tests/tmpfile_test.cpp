// An O_TMPFILE file given its name by linkat, then renamed over the target
// (crashcheck issue 13, N11): both backends trace the anonymous file from its
// open, and the correct writer passes every property it is judged on, where
// each backend used to withhold every verdict (not_run: "the trace does not
// explain …"). Its twin never fsyncs the file: a power loss after the
// directory fsync keeps the name and loses the bytes. Writer:
// writers/links_tmpfile.py (its own content, no payload, the old file's
// mode kept); ground truth first, with strace and a real SIGKILL, and on a
// real ext4 in runner/powerloss/tests/tmpfile_truth.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "crashcheck/faults/backend.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::has, testing::read_text, testing::run_crashcheck, testing::TempDir, testing::write_text;

constexpr unsigned kOldMode = 0640;  // the writer keeps it
const std::string kOld = "{\"status\": \"old\"}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/links_tmpfile.py"; }

// The writer on DIR/t.json under strace (`inject`, e.g. "-e inject=renameat:signal=KILL"), its calls in DIR/strace.
int run_directly(const TempDir& dir, const std::string& mode, const std::string& inject) {
  write_text(dir / "t.json", kOld, kOldMode);
  fs::remove(dir / "strace");
  return testing::shell("strace -f -qqq -o " + reports::shell_quote((dir / "strace").string()) +
                        " -e trace=openat,linkat,renameat " + inject + " " + CRASHCHECK_PYTHON + " " +
                        reports::shell_quote(writer()) + " " + reports::shell_quote((dir / "t.json").string()) + " " +
                        mode + " 2>/dev/null");
}

TEST(TmpfileGroundTruth, TheFileHasNoNameUntilItsLinkAndTheRenamePublishesItWhole) {
  if (!testing::strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  ASSERT_EQ(run_directly(dir, "synced", ""), 0);
  const std::string calls = read_text(dir / "strace");
  EXPECT_TRUE(has(calls, "O_TMPFILE")) << calls;
  EXPECT_TRUE(has(calls, "\"/proc/self/fd/")) << calls;
  EXPECT_TRUE(has(calls, "AT_SYMLINK_FOLLOW) = 0")) << calls;
  const std::string written = read_text(dir / "t.json");
  EXPECT_TRUE(written.starts_with("{\"status\": \"ok\"")) << written;
  EXPECT_EQ(fs::status(dir / "t.json").permissions() & fs::perms::all, static_cast<fs::perms>(kOldMode));
  // killed at the linkat: the file never had a name, nothing is left of it
  EXPECT_NE(run_directly(dir, "synced", "-e inject=linkat:signal=KILL"), 0);
  EXPECT_EQ(read_text(dir / "t.json"), kOld);
  EXPECT_FALSE(fs::exists(dir / "t.json.tmp"));
  // killed at the renameat: the linked temp holds every byte, the target the old ones
  EXPECT_NE(run_directly(dir, "synced", "-e inject=renameat:signal=KILL"), 0);
  EXPECT_EQ(read_text(dir / "t.json"), kOld);
  EXPECT_TRUE(read_text(dir / "t.json.tmp").starts_with("{\"status\": \"ok\""));
}

// Every property the writer can be judged on without a validator.
constexpr const char* kJudged[] = {"crash_atomic", "powerloss_atomic", "durable",    "error_safe",
                                   "temp_clean",   "mode_preserved",   "reader_safe"};

class TmpfileVerdicts : public ::testing::TestWithParam<faults::BackendKind> {
 protected:
  void SetUp() override {
    if (auto why = faults::backend_unavailable(GetParam())) GTEST_SKIP() << *why;
  }
  json check(const std::string& mode) {
    write_text(dir_ / "old.json", kOld, kOldMode);
    const auto out = dir_ / ("out-" + mode);
    const std::string backend(faults::backend_name(GetParam()));
    const auto r = run_crashcheck({"check", "--old", (dir_ / "old.json").string(), "--backend", backend, "-j", "2",
                                   "-o", out.string(), "--quiet", "--", CRASHCHECK_PYTHON, writer(), "{target}", mode});
    output_ = r.output;
    EXPECT_LE(r.status, 1) << r.output;
    auto report = json::parse(read_text(out / "report.json"));
    EXPECT_EQ(report["subject"]["backend"], backend);
    return report;
  }
  TempDir dir_;
  std::string output_;
};

TEST_P(TmpfileVerdicts, TheSyncedWriterPassesEveryProperty) {
  const json report = check("synced");
  for (const char* p : kJudged)
    EXPECT_EQ(report["properties"][p]["verdict"], "pass") << p << ": " << report["properties"][p].dump(2) << "\n"
                                                          << output_;
  const std::string calls = report["calls"].dump();
  EXPECT_TRUE(has(calls, "(., O_TMPFILE)")) << calls;
  EXPECT_TRUE(has(calls, "linkat((O_TMPFILE) → old.json.tmp)")) << calls;
}

// adv8: /dev/fd/N resolved in the supervisor's process named the
// supervisor's own descriptor (EXDEV, a baseline that failed).
TEST_P(TmpfileVerdicts, TheLinkSpeltThroughDevFdIsTheWritersDescriptor) {
  const json report = check("devfd");
  for (const char* p : kJudged)
    EXPECT_EQ(report["properties"][p]["verdict"], "pass") << p << ": " << report["properties"][p].dump(2) << "\n"
                                                          << output_;
}

TEST_P(TmpfileVerdicts, TheUnsyncedTwinFailsPowerlossAtomicOnly) {
  const json report = check("unsynced");
  const auto& atomic = report["properties"]["powerloss_atomic"];
  EXPECT_EQ(atomic["verdict"], "fail") << atomic.dump(2) << "\n" << output_;
  for (const char* p : {"crash_atomic", "error_safe", "temp_clean", "mode_preserved", "reader_safe"})
    EXPECT_EQ(report["properties"][p]["verdict"], "pass") << p << ": " << report["properties"][p].dump(2);
}

// An O_TMPFILE file made in $TMPDIR and linked into the directory
// (seccomp_writer.c's `tmpfile`, no directory fsync): the supervisor follows
// it from its open and fails durable alone; the preload agent never saw its
// writes, and judges nothing rather than pass on what it did not see.
TEST_P(TmpfileVerdicts, MadeInTmpdirAndLinkedInIsFollowedOrNotJudged) {
  write_text(dir_ / "payload", "new content\n");  // what seccomp_writer.c writes
  const auto out = dir_ / "out-tmpdir";
  const std::string backend(faults::backend_name(GetParam()));
  const auto r =
      run_crashcheck({"check", "--payload", (dir_ / "payload").string(), "--target", "target", "--backend", backend,
                      "-j", "2", "-o", out.string(), "--quiet", "--", CRASHCHECK_SECCOMP_WRITER, "tmpfile", "{dir}"});
  EXPECT_LE(r.status, 1) << r.output;
  const json report = json::parse(read_text(out / "report.json"));
  const bool seen = GetParam() == faults::BackendKind::seccomp;
  for (const auto& [name, property] : report["properties"].items()) {
    std::string expected = seen ? "" : "not_run";
    if (seen && name == "durable") expected = "fail";
    if (seen && (name == "crash_atomic" || name == "powerloss_atomic")) expected = "pass";
    if (!expected.empty()) {
      EXPECT_EQ(property["verdict"], expected) << name << ": " << property.dump(2);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TmpfileVerdicts,
                         ::testing::Values(faults::BackendKind::seccomp, faults::BackendKind::preload),
                         [](const auto& info) { return std::string(faults::backend_name(info.param)); });

}  // namespace
}  // namespace crashcheck::runner
