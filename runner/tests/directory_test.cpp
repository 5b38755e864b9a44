// Directory mode (issue 15): the scenario and `check` input it accepts and
// refuses, and the checker's wiring — a checker that always exits 0 passes
// every checker-judged property, one that always exits 1 fails them all, and
// one that hangs is a timeout (fail), never a pass. The writer is the bundled
// manifest writer in its correct form (scenarios/subjects/manifest_writer.py).
#include <gtest/gtest.h>

#include "crashcheck/runner/campaign.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The properties the checker decides (temp_clean is judged from names alone).
const std::vector<std::string> kCheckerJudged = {"crash_consistent", "powerloss_consistent", "error_consistent",
                                                 "durable", "reader_consistent"};

// A scenario file in `dir` around the correct manifest writer, judged by `checker` (JSON argv).
fs::path manifest_scenario(const TempDir& dir, const std::string& checker, const std::string& extra = "") {
  const fs::path bundled = testing::scenarios_dir();
  const std::string text = "{\"name\": \"d\", \"command\": [\"" CRASHCHECK_PYTHON "\", \"" +
                           (bundled / "subjects" / "manifest_writer.py").string() +
                           "\", \"{dir}\", \"{payload}\", \"ordered\"], \"initial\": {\"dir\": \"" +
                           (bundled / "data" / "manifest_initial").string() + "\"}, \"payload\": {\"file\": \"" +
                           (bundled / "data" / "manifest_data.new.bin").string() +
                           "\"}, \"checker\": {\"command\": " + checker + "}" + extra + "}";
  testing::write_text(dir / "s.json", text);
  return dir / "s.json";
}

CampaignResult run(const fs::path& scenario, const std::vector<std::string>& models = {}, double timeout_s = 20) {
  RunOptions options;
  options.models = models;
  options.jobs = 2;
  options.progress = false;
  options.timeout_s = timeout_s;
  return run_campaigns(load_scenario(scenario), options);
}

std::string verdict(const CampaignResult& r, const std::string& property) {
  return std::string(reports::verdict_name(r.report.properties.at(property).verdict));
}

TEST(DirectoryMode, CheckerThatAlwaysExitsZeroPassesEveryCheckerProperty) {
  TempDir dir;
  const auto r = run(manifest_scenario(dir, "[\"/bin/true\"]"));
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  for (const auto& p : kCheckerJudged) {
    EXPECT_EQ(verdict(r, p), "pass") << p << ": " << r.report.properties.at(p).reason;
    EXPECT_GT(r.report.properties.at(p).cases, 0u) << p;
  }
  EXPECT_EQ(verdict(r, "temp_clean"), "pass");
  EXPECT_EQ(verdict(r, "crash_atomic"), "not_run");  // a single-file property
}

TEST(DirectoryMode, CheckerThatAlwaysExitsOneFailsEveryCheckerProperty) {
  TempDir dir;
  const auto r = run(manifest_scenario(dir, "[\"/bin/false\"]"));
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  for (const auto& p : kCheckerJudged) {
    const auto& result = r.report.properties.at(p);
    EXPECT_EQ(verdict(r, p), "fail") << p;
    ASSERT_FALSE(result.failures.empty()) << p;
    EXPECT_TRUE(testing::has(result.failures.front().detail, "ended exit 1")) << result.failures.front().detail;
  }
  EXPECT_EQ(verdict(r, "temp_clean"), "pass");  // names only: the checker does not decide it
}

TEST(DirectoryMode, CheckerSeesCommittedOnlyAfterTheWriterExitedZero) {
  TempDir dir;
  // Fails only the committed check: crash and power-loss states before the
  // end pass, what the writer left after exit 0 fails.
  const auto r = run(manifest_scenario(dir, "[\"/bin/sh\", \"-c\", \"test \\\"$CRASHCHECK_COMMITTED\\\" = 0\"]"),
                     {"kill", "power-loss"});
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  EXPECT_EQ(verdict(r, "powerloss_consistent"), "pass");
  EXPECT_EQ(verdict(r, "durable"), "fail");
  const auto& crash = r.report.properties.at("crash_consistent");
  ASSERT_EQ(crash.failures.size(), 1u);
  EXPECT_EQ(crash.failures.front().case_id, "baseline");
}

TEST(DirectoryMode, HangingCheckerIsATimeoutNeverAPass) {
  TempDir dir;
  // Hangs on the committed states only, so the run stays short.
  const auto r =
      run(manifest_scenario(dir, "[\"/bin/sh\", \"-c\", \"test \\\"$CRASHCHECK_COMMITTED\\\" = 0 || sleep 1000\"]"),
          {"power-loss"}, 1);
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  EXPECT_EQ(verdict(r, "powerloss_consistent"), "pass");
  const auto& durable = r.report.properties.at("durable");
  EXPECT_EQ(verdict(r, "durable"), "fail");
  ASSERT_FALSE(durable.failures.empty());
  EXPECT_TRUE(testing::has(durable.failures.front().detail, "(timeout)")) << durable.failures.front().detail;
}

TEST(DirectoryMode, BadInputExitsTwoNamingTheFieldOrFlag) {
  TempDir dir;
  const fs::path initial = testing::scenarios_dir() / "data" / "manifest_initial";
  auto expect_refused = [&](const std::string& text, const std::string& says) {
    testing::write_text(dir / "bad.json", text);
    const auto result = testing::run_crashcheck({"run", (dir / "bad.json").string(), "-o", (dir / "out").string()});
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_TRUE(testing::has(result.output, says)) << result.output;
    EXPECT_FALSE(fs::exists(dir / "out"));
  };
  const std::string head = "{\"name\": \"d\", \"command\": [\"/bin/true\"], ";
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() + "\"}}", "bad.json: field \"checker\"");
  expect_refused(head + "\"checker\": {\"command\": [\"/bin/true\"]}}", "bad.json: field \"initial\"");
  expect_refused(head + "\"initial\": {\"dir\": \"/no/such/dir\"}, \"checker\": {\"command\": [\"/bin/true\"]}}",
                 "bad.json: field \"initial.dir\": no such directory");
  testing::write_text(dir / "old.txt", "x");
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() +
                     "\"}, \"old\": {\"file\": \"old.txt\"}, \"checker\": {\"command\": [\"/bin/true\"]}}",
                 "bad.json: field \"old\": \"old\" and \"initial.dir\" exclude each other");
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() +
                     "\"}, \"checker\": {\"command\": [\"/no/such/checker\"]}}",
                 "bad.json: field \"checker.command\"");
  const auto no_checker = testing::run_crashcheck({"check", "--initial", initial.string(), "--", "/bin/true"});
  EXPECT_EQ(no_checker.status, 2);
  EXPECT_TRUE(testing::has(no_checker.output, "--initial: needs --checker")) << no_checker.output;
  const auto both = testing::run_crashcheck(
      {"check", "--initial", initial.string(), "--checker", "true", "--old", (dir / "old.txt").string(), "--", "true"});
  EXPECT_EQ(both.status, 2);
  EXPECT_TRUE(testing::has(both.output, "--old: excludes --initial")) << both.output;
}

TEST(DirectoryMode, CheckRunsTheSameCampaignFromFlags) {
  TempDir dir;
  const fs::path bundled = testing::scenarios_dir();
  const auto result = testing::run_crashcheck(
      {"check", "--initial", (bundled / "data" / "manifest_initial").string(), "--payload",
       (bundled / "data" / "manifest_data.new.bin").string(), "--checker",
       std::string(CRASHCHECK_PYTHON) + " " + (bundled / "subjects" / "manifest_checker.py").string() +
           " {dir} data-2.bin",
       "--models", "power-loss", "-j", "2", "-o", (dir / "out").string(), "--", CRASHCHECK_PYTHON,
       (bundled / "subjects" / "manifest_writer.py").string(), "{dir}", "{payload}", "unordered"});
  EXPECT_EQ(result.status, 1) << result.output;  // the planted defect
  EXPECT_TRUE(testing::has(result.output, "powerloss_consistent=fail")) << result.output;
  const std::string markdown = testing::read_text(dir / "out" / "report.md");
  EXPECT_TRUE(testing::has(markdown, "the directory holds MANIFEST, data\\-1\\.bin, data\\-2\\.bin")) << markdown;
  const auto replay = testing::run_crashcheck({"replay", (dir / "out" / "report.json").string(), "power-loss-1a"});
  EXPECT_EQ(replay.status, 2) << replay.output;  // not re-run yet: refused, never a wrong re-run
  EXPECT_TRUE(testing::has(replay.output, "a directory-mode report")) << replay.output;
}

}  // namespace
}  // namespace crashcheck::runner
