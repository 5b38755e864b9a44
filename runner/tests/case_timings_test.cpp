// Case timings (crashcheck/runner/case_timings.hpp), the yardstick of the
// per-case overhead benchmark (bench/case_overhead.py): every fault case a
// campaign runs is counted once, in the mode it ran in, with a subject time
// inside its whole time; `crashcheck check` writes the totals to the file
// CRASHCHECK_CASE_TIMINGS names and nothing without it; and a file it cannot
// write costs a line on stderr, never the run's verdict.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/case_timings.hpp"
#include "crashcheck/runner/scenario.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using reports::Model;

// The cases run_planned runs: exact kills, errno and disk-full, not the baseline.
std::size_t fault_cases(const CampaignResult& result) {
  std::size_t n = 0;
  for (const auto& o : result.observations)
    if ((o.model == Model::kill || o.model == Model::errno_fault || o.model == Model::disk_full) &&
        o.case_id != "baseline")
      ++n;
  return n;
}

TEST(CaseTimings, CountsEveryFaultCaseOnceWithItsSubjectInsideItsWholeTime) {
  testing::TempDir work;
  const Scenario scenario = load_scenario(testing::scenarios_dir() / "pipeline_health_fix.json");
  RunOptions options;
  options.models = {"kill", "errno", "disk-full"};
  options.kill_mode = KillMode::exact;
  options.jobs = 2;
  options.progress = false;
  options.work_root = work.path();
  options.case_timings = std::make_shared<CaseTimings>(work / "timings.json");
  const CampaignResult result = run_campaigns(scenario, options);
  ASSERT_FALSE(result.not_checkable) << *result.not_checkable;
  const auto totals = nlohmann::json::parse(options.case_timings->json());
  const auto& anew = totals["from_start"];
  EXPECT_EQ(anew["cases"], fault_cases(result)) << totals.dump();
  EXPECT_GT(anew["cases"].get<std::size_t>(), 10u) << totals.dump();
  EXPECT_EQ(totals["forked"]["cases"], 0) << totals.dump();
  EXPECT_GT(anew["subject_s"].get<double>(), 0.0) << totals.dump();
  EXPECT_GT(anew["whole_s"].get<double>(), anew["subject_s"].get<double>()) << totals.dump();
}

testing::ProgramResult check_reference(const fs::path& dir) {
  testing::write_text(dir / "old", "old\n");
  testing::write_text(dir / "new", "new content\n");
  return testing::run_crashcheck({"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(),
                                  "--models", "errno", "-o", (dir / "out").string(), "--quiet", "--",
                                  "{crashcheck_write}", "{target}", "--payload", "{payload}"});
}

TEST(CaseTimings, CheckWritesTheTotalsWhereTheEnvironmentSaysAndNowhereElse) {
  testing::TempDir dir;
  {
    testing::ScopedEnvironment timings("CRASHCHECK_CASE_TIMINGS", (dir / "timings.json").string());
    const auto run = check_reference(dir.path());
    ASSERT_EQ(run.status, 0) << run.output;
  }
  const auto totals = nlohmann::json::parse(testing::read_text(dir / "timings.json"));
  EXPECT_GT(totals["from_start"]["cases"].get<std::size_t>(), 0u) << totals.dump();
  fs::remove(dir / "timings.json");
  const auto again = check_reference(dir.path());
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_FALSE(fs::exists(dir / "timings.json"));
}

TEST(CaseTimings, AFileItCannotWriteIsALineOnStderrNotTheVerdict) {
  testing::TempDir dir;
  testing::ScopedEnvironment timings("CRASHCHECK_CASE_TIMINGS", (dir / "no such dir" / "timings.json").string());
  const auto run = check_reference(dir.path());
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("CRASHCHECK_CASE_TIMINGS: " + (dir / "no such dir" / "timings.json").string()),
            std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace crashcheck::runner
