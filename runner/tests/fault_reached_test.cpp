// A kill or errno case is judged as the crash or the error its id names
// only when its run reached that point: a writer whose later runs leave the
// first run's path (changes_after_baseline.py, which only makes and removes
// its temp after the first run) leaves states that are no crash at call N
// and no error at call N, so the properties resting on them are not_run,
// never passed; its first calls, which every run makes, are still judged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crashcheck/faults/backend.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;

TEST(FaultReached, StatesOfRunsThatNeverReachedTheirFaultAreNotJudged) {
  testing::TempDir dir;
  testing::write_text(dir / "old", "old\n");
  testing::write_text(dir / "new", "new content\n");
  const fs::path out = dir / "out";
  const auto result = testing::run_crashcheck({"check",
                                               "--old",
                                               (dir / "old").string(),
                                               "--payload",
                                               (dir / "new").string(),
                                               "--target",
                                               "t.txt",
                                               "--models",
                                               "kill,errno",
                                               "--kill-mode",
                                               "exact",
                                               "-o",
                                               out.string(),
                                               "--quiet",
                                               "--",
                                               CRASHCHECK_PYTHON,
                                               std::string(CRASHCHECK_WRITERS_DIR) + "/changes_after_baseline.py",
                                               "{target}",
                                               "{payload}",
                                               (dir / "marker").string()});
  const auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
  const auto& crash = report["properties"]["crash_atomic"];
  EXPECT_EQ(crash["verdict"], "not_run") << crash.dump() << "\n" << result.output;
  EXPECT_NE(crash.dump().find("before its kill point"), std::string::npos) << crash.dump();
  // errno cases at the later calls are not judged; those at call 1, which every run makes, are
  const auto& error = report["properties"]["error_safe"];
  EXPECT_NE(error.dump().find("its error was not injected"), std::string::npos) << error.dump();
  for (const auto& failure : error["failures"]) EXPECT_EQ(failure["call_index"], 1) << failure.dump();
}

// A writer that makes a file outside the scratch directory on its first run
// only (first_run_outside_file.py) numbers three more calls in the baseline
// than in any later run, so a case planned at the baseline's call N hits
// another call. Its cases are not judged as the faults their ids name: a
// temp_clean pass would rest on faults that never hit the writes they name
// (the writer leaves its temp when its first write fails).
TEST(FaultReached, CasesNumberedOffTheBaselineAreNotJudged) {
  testing::TempDir dir;
  testing::write_text(dir / "old", "old\n");
  testing::write_text(dir / "new", "new content\n");
  const fs::path out = dir / "out";
  const auto result =
      testing::run_crashcheck({"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(),
                               "--target", "t.txt", "--models", "errno", "-o", out.string(), "--quiet", "--",
                               CRASHCHECK_PYTHON, std::string(CRASHCHECK_WRITERS_DIR) + "/first_run_outside_file.py",
                               "{target}", "{payload}", (dir / "marker").string()});
  const auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
  const auto& clean = report["properties"]["temp_clean"];
  EXPECT_NE(clean["verdict"], "pass") << clean.dump() << "\n" << result.output;
  EXPECT_NE(report["properties"]["error_safe"].dump().find("numbered off the baseline's"), std::string::npos)
      << report["properties"]["error_safe"].dump();
}

}  // namespace
}  // namespace crashcheck::runner
