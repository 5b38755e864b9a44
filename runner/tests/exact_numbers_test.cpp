// Issue 13 N5: under --compare json a state is the new content only when
// every number in it has the same exact decimal value. A crash inside an
// in-place patch of a big integer leaves a third number that parses to the
// same double as the old and the new one, but Python's json (exact
// integers) reads three different documents. Ground truth: a real SIGKILL
// between the patch's two pwrites, read back with Python's json. Writer:
// writers/patches_number.py (in place, and its temp + rename twin).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>
#include <crashcheck/runner/new_content.hpp>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, read_text, …

const std::string kOld = "{\"id\": 12345678901234567890000}\n";
const std::string kNew = "{\"id\": 12345678901234567890123}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/patches_number.py"; }

TEST(ExactNumbers, NumbersCompareAsExactDecimals) {
  EXPECT_TRUE(same_content("{\"a\": 1.50}", "{\"a\":1.5}", Compare::json));
  EXPECT_TRUE(same_content("[15e-1, 100, -0.0]", "[1.5, 1E2, 0]", Compare::json));
  EXPECT_TRUE(same_content("[1.0]", "[1]", Compare::json));
  EXPECT_FALSE(same_content(kOld, kNew, Compare::json));  // the same double, different integers
  EXPECT_FALSE(same_content("[0.1000000000000000055511151231257827]", "[0.1]", Compare::json));
  EXPECT_FALSE(same_content("[-1]", "[1]", Compare::json));
  EXPECT_FALSE(same_content("[1e400]", "[1e401]", Compare::json));
  EXPECT_TRUE(
      same_content("{\"a\": [1, {\"b\": 2.50}], \"c\": null}", "{\"c\":null,\"a\":[1,{\"b\":2.5}]}", Compare::json));
}

// A real SIGKILL between the two pwrites leaves a number that is neither
// the old nor the new one, as Python's json reads it.
TEST(ExactNumbersGroundTruth, ARealKillInsideThePatchLeavesAThirdNumber) {
  TempDir dir;
  write_text(dir / "t.json", kOld);
  write_text(dir / "new.json", kNew);
  const std::string run = std::string(CRASHCHECK_PYTHON) + " " + reports::shell_quote(writer()) + " " +
                          reports::shell_quote((dir / "t.json").string()) + " " +
                          reports::shell_quote((dir / "new.json").string()) + " kill-in-place";
  EXPECT_NE(shell(run), 0);  // killed
  const std::string read_id = std::string(CRASHCHECK_PYTHON) +
                              " -c 'import json,sys; v = json.load(open(sys.argv[1]))"
                              "[\"id\"]; sys.exit(0 if v not in (" +
                              "12345678901234567890000, 12345678901234567890123) else 1)' " +
                              reports::shell_quote((dir / "t.json").string());
  EXPECT_EQ(shell(read_id), 0) << read_text(dir / "t.json");
}

json check(const TempDir& dir, const std::string& mode) {
  write_text(dir / "old.json", kOld);
  write_text(dir / "new.json", kNew);
  const auto out = dir / ("out-" + mode);
  const auto r =
      run_crashcheck({"check", "--old", (dir / "old.json").string(), "--payload", (dir / "new.json").string(),
                      "--compare", "json", "--quiet", "-o", out.string(), "--models", "kill,reader", "--",
                      CRASHCHECK_PYTHON, writer(), "{target}", "{payload}", mode});
  EXPECT_NE(r.status, 2) << r.output;
  return json::parse(read_text(out / "report.json"));
}

TEST(ExactNumbers, ThePatchInPlaceFailsCrashAtomicAndReaderSafe) {
  TempDir dir;
  const json report = check(dir, "in-place");
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "fail") << report.dump(2);
  EXPECT_EQ(report["properties"]["reader_safe"]["verdict"], "fail") << report.dump(2);
}

TEST(ExactNumbers, TheTempAndRenameTwinPasses) {
  TempDir dir;
  const json report = check(dir, "temp");
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "pass") << report.dump(2);
  EXPECT_EQ(report["properties"]["reader_safe"]["verdict"], "pass") << report.dump(2);
}

}  // namespace
}  // namespace crashcheck::runner
