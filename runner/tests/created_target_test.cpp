// Issue 13 N8: a writer that creates a target where there was none and
// reports failure after a write error can leave the file it created behind,
// empty. That is neither the old state (no file) nor the new content, so
// error_safe fails; it was left unjudged ("this run wrote nothing into the
// file at its target"). Ground truth: RLIMIT_FSIZE 0 makes the first write
// fail for real (EFBIG); the writer exits 1 and the empty file stays. The
// twin removes what it created and passes. Writer: writers/creates_target.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, read_text, …

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/creates_target.py"; }

TEST(CreatedTargetGroundTruth, ARealWriteErrorLeavesTheCreatedFileEmptyAndTheTwinRemovesIt) {
  TempDir dir;
  const auto target = dir / "t.json";
  const std::string run = "ulimit -f 0; exec " + std::string(CRASHCHECK_PYTHON) + " " + reports::shell_quote(writer()) +
                          " " + reports::shell_quote(target.string());
  EXPECT_EQ(shell(run + " 2>/dev/null"), 1);
  ASSERT_TRUE(std::filesystem::exists(target));
  EXPECT_EQ(std::filesystem::file_size(target), 0u);
  std::filesystem::remove(target);
  EXPECT_EQ(shell(run + " --remove-on-error 2>/dev/null"), 1);
  EXPECT_FALSE(std::filesystem::exists(target));
}

json check(const TempDir& dir, const std::vector<std::string>& flags) {
  const auto out = dir / (flags.empty() ? "out" : "out-removes");
  std::vector<std::string> args{"check", "--target",   "t.json", "--models",        "errno",  "--quiet",
                                "-o",    out.string(), "--",     CRASHCHECK_PYTHON, writer(), "{target}"};
  args.insert(args.end(), flags.begin(), flags.end());
  const auto r = run_crashcheck(args);
  EXPECT_NE(r.status, 2) << r.output;
  return json::parse(read_text(out / "report.json"));
}

TEST(CreatedTarget, LeavingTheCreatedFileEmptyAfterAReportedFailureFailsErrorSafe) {
  TempDir dir;
  const json report = check(dir, {});
  const json& error_safe = report["properties"]["error_safe"];
  EXPECT_EQ(error_safe["verdict"], "fail") << error_safe.dump(2);
  EXPECT_NE(error_safe.dump().find("torn prefix (0 bytes)"), std::string::npos) << error_safe.dump(2);
}

TEST(CreatedTarget, TheTwinThatRemovesItPassesErrorSafe) {
  TempDir dir;
  const json report = check(dir, {"--remove-on-error"});
  EXPECT_EQ(report["properties"]["error_safe"]["verdict"], "pass") << report["properties"]["error_safe"].dump(2);
}

}  // namespace
}  // namespace crashcheck::runner
