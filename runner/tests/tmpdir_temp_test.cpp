// A writer that stages its temp in $TMPDIR (Python's tempfile default) and
// builds its own content (no payload) is judged like one that stages beside
// the target (adversarial pass on issue 13, N7): every case has its own
// TMPDIR, and traces name paths in it "$TMPDIR/…", so an errno case's calls
// compare with the baseline's by name, and the report shows no harness path.
// Writer: writers/stages_in_tmpdir.py; ground truth first, with strace.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing;  // support.hpp

const std::string kOld = "{\"status\": \"old\"}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/stages_in_tmpdir.py"; }

// `mode` on DIR/t.json with its data write failing EIO under strace (the first write is tempfile's probe of
// TMPDIR), TMPDIR in DIR; exit status and the target.
std::pair<int, std::string> run_directly(const TempDir& dir, const std::string& mode) {
  write_text(dir / "t.json", kOld, 0644);
  fs::create_directories(dir / "tmp");
  const int status = shell("TMPDIR=" + reports::shell_quote((dir / "tmp").string()) +
                           " strace -f -qqq -o /dev/null -e trace=write -e inject=write:error=EIO:when=2 " +
                           CRASHCHECK_PYTHON + " " + reports::shell_quote(writer()) + " " +
                           reports::shell_quote((dir / "t.json").string()) + " " + mode + " 2>/dev/null");
  return {status, read_text(dir / "t.json")};
}

TEST(TmpdirTempGroundTruth, AnIgnoredWriteErrorPublishesAPartialTempTheCheckedTwinKeepsTheOld) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  const auto [unchecked_status, unchecked] = run_directly(dir, "unchecked");
  EXPECT_EQ(unchecked_status, 0);
  EXPECT_NE(unchecked, kOld);
  EXPECT_TRUE(json::parse(unchecked, nullptr, false).is_discarded()) << unchecked;  // neither old nor new
  const auto [checked_status, checked] = run_directly(dir, "checked");
  EXPECT_EQ(checked_status, 1);
  EXPECT_EQ(checked, kOld);
  EXPECT_TRUE(fs::is_empty(dir / "tmp")) << "the checked writer removes its temp";
}

json check(const TempDir& dir, const std::string& mode, const std::string& backend) {
  write_text(dir / "old.json", kOld, 0644);
  const auto out = dir / ("out-" + mode + "-" + backend);
  const auto r =
      run_crashcheck({"check", "--old", (dir / "old.json").string(), "--models", "errno", "--backend", backend, "-o",
                      out.string(), "--quiet", "--", CRASHCHECK_PYTHON, writer(), "{target}", mode});
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(out / "report.json"));
}

// seccomp sees the temp's writes: the content each errno case built is known.
TEST(TmpdirTemp, ErrnoCasesAreJudgedAndTheReportNamesTheTempByTmpdir) {
  TempDir dir;
  const json checked = check(dir, "checked", "seccomp");
  EXPECT_EQ(checked["properties"]["error_safe"]["verdict"], "pass") << checked["properties"]["error_safe"].dump(2);
  const std::string calls = checked["calls"].dump();
  EXPECT_TRUE(has(calls, "$TMPDIR/tmp")) << calls;
  EXPECT_FALSE(has(calls, "crashcheck-")) << "a harness path in the report: " << calls;
  const json unchecked = check(dir, "unchecked", "seccomp");
  const auto& safe = unchecked["properties"]["error_safe"];
  ASSERT_EQ(safe["verdict"], "fail") << safe.dump(2);
  const std::string call = safe["failures"].at(0)["call"];
  EXPECT_TRUE(call.starts_with("write(fd ") && has(call, " → $TMPDIR/tmp")) << call;
  EXPECT_EQ(safe["failures"].at(0)["exit_status"], 0);
}

// The preload agent follows descriptors in the scratch directory only: it
// cannot rebuild a temp written in $TMPDIR, so neither twin is judged — never a pass.
TEST(TmpdirTemp, PreloadCannotRebuildATempOutsideTheDirectoryAndSaysSo) {
  TempDir dir;
  for (const std::string mode : {"checked", "unchecked"}) {
    const json report = check(dir, mode, "preload");
    const auto& safe = report["properties"]["error_safe"];
    EXPECT_EQ(safe["verdict"], "not_run") << mode << safe.dump(2);
    EXPECT_TRUE(has(safe["reason"].get<std::string>(), "not judged")) << safe.dump(2);
  }
}

}  // namespace
}  // namespace crashcheck::runner
