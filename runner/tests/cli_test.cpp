// The command line as a new user meets it (issue 14): typos named with a
// suggestion, --version, -o checked before anything runs, report arguments
// that may be -o directories, per-verb help, --quiet, --verbose and --json.
// Each test states the exact message a user reads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crashcheck/runner/suggest.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::has;
using testing::run_crashcheck;
using testing::run_crashcheck_split;
using testing::TempDir;

// A seed report from the source tree, copied as DIR/report.json.
fs::path report_directory(const TempDir& dir, const std::string& name) {
  const fs::path out = dir / name;
  fs::create_directories(out);
  fs::copy_file(fs::path(CRASHCHECK_SOURCE_DIR) / "reports/regressions/pipeline_health_fix/report.json",
                out / "report.json");
  return out;
}

TEST(Suggest, EditDistanceCountsSwapsAsOne) {
  EXPECT_EQ(edit_distance("--paylod", "--payload"), 1u);
  EXPECT_EQ(edit_distance("--modles", "--models"), 1u);  // a swap
  EXPECT_EQ(edit_distance("chek", "check"), 1u);
  EXPECT_EQ(edit_distance("", "run"), 3u);
  EXPECT_EQ(closest("--paylod", {"--old", "--payload", "--mode"}), "--payload");
  EXPECT_EQ(closest("--frobnicate", {"--old", "--payload"}), std::nullopt);
}

TEST(Cli, MistypedFlagIsNamedWithASuggestion) {
  TempDir dir;
  const auto r = run_crashcheck({"check", "--paylod", "new.json", "--", "/bin/true"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "crashcheck: unknown flag --paylod for `crashcheck check` (did you mean --payload?)"))
      << r.output;
  const auto models = run_crashcheck({"run", "s.json", "--modles", "kill"});
  EXPECT_EQ(models.status, 2);
  EXPECT_TRUE(has(models.output, "crashcheck: unknown flag --modles for `crashcheck run` (did you mean --models?)"))
      << models.output;
  const auto inline_value = run_crashcheck({"run", "s.json", "--timout=3"});
  EXPECT_TRUE(has(inline_value.output, "unknown flag --timout for `crashcheck run` (did you mean --timeout?)"))
      << inline_value.output;
}

TEST(Cli, MistypedVerbIsNamedWithASuggestion) {
  const auto r = run_crashcheck({"chek", "--payload", "x"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "crashcheck: unknown verb chek for `crashcheck` (did you mean check?)")) << r.output;
  const auto far = run_crashcheck({"frobnicate"});
  EXPECT_EQ(far.status, 2);
  EXPECT_TRUE(has(far.output,
                  "unknown verb frobnicate for `crashcheck` (expected one of: run, check, replay, "
                  "compare, merge, report)"))
      << far.output;
}

TEST(Cli, VersionIsTheProjectVersion) {
  const auto r = run_crashcheck_split({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "crashcheck " CRASHCHECK_VERSION "\n");
}

TEST(Cli, OutputThatIsAFileIsRefusedBeforeAnythingRuns) {
  TempDir dir;
  // The writer leaves a mark outside its scratch directory: had a case run, it would be there.
  const fs::path mark = dir / "ran";
  const auto scenario = testing::shell_scenario(dir, "touch " + mark.string() + "; cp {payload} {target}");
  testing::write_text(dir / "afile", "not a directory\n");
  const auto r = run_crashcheck({"run", scenario.string(), "-o", (dir / "afile").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "crashcheck: -o " + (dir / "afile").string() + ": " + (dir / "afile").string() +
                                " exists and is not a directory"))
      << r.output;
  const auto below = run_crashcheck({"run", scenario.string(), "-o", (dir / "afile" / "sub").string()});
  EXPECT_EQ(below.status, 2);
  EXPECT_TRUE(has(below.output, (dir / "afile").string() + " exists and is not a directory")) << below.output;
  const auto dash = run_crashcheck({"run", scenario.string(), "-o", "-"});
  EXPECT_EQ(dash.status, 2);
  EXPECT_TRUE(has(dash.output,
                  "crashcheck: -o -: reports are four files in a directory; name a directory (--json prints the "
                  "report JSON on standard output)"))
      << dash.output;
  EXPECT_FALSE(fs::exists(mark));
  EXPECT_FALSE(fs::exists("-"));
}

// Found by fuzz_scenario: a number no double holds made nlohmann throw
// out_of_range, which escaped as "harness failure", exit 3.
TEST(Cli, ScenarioNumberTooLargeIsBadInput) {
  TempDir dir;
  testing::write_text(dir / "s.json", "{\"name\": \"x\", \"timeout_s\": 1e999}");
  const auto r = run_crashcheck({"run", (dir / "s.json").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "crashcheck: " + (dir / "s.json").string() +
                                ": not valid JSON: [json.exception.out_of_range.406] number overflow parsing '1e999'"))
      << r.output;
}

TEST(Cli, ReportVerbsTakeAnOutputDirectory) {
  TempDir dir;
  const fs::path a = report_directory(dir, "a"), b = report_directory(dir, "b");
  const auto compared = run_crashcheck({"compare", a.string(), b.string()});
  EXPECT_EQ(compared.status, 0) << compared.output;
  EXPECT_TRUE(has(compared.output, "falls short on no property")) << compared.output;
  const auto rendered = run_crashcheck_split({"report", a.string(), "--format", "md"});
  EXPECT_EQ(rendered.status, 0) << rendered.err;
  EXPECT_TRUE(has(rendered.out, "## crashcheck: pipeline\\_health\\_fix")) << rendered.out;
  const auto merged = run_crashcheck({"merge", a.string(), "-o", (dir / "merged").string()});
  EXPECT_EQ(merged.status, 2);  // read as a report: refused as no shard, naming the file inside
  EXPECT_TRUE(has(merged.output, (a / "report.json").string() + ": not a shard report")) << merged.output;
  fs::create_directories(dir / "empty");
  const auto empty = run_crashcheck({"compare", (dir / "empty").string(), b.string()});
  EXPECT_EQ(empty.status, 2);
  EXPECT_TRUE(has(empty.output, "crashcheck: " + (dir / "empty").string() +
                                    ": a directory without report.json (give a report.json, or the -o directory of "
                                    "one run; with several scenarios that is DIR/<scenario>)"))
      << empty.output;
}

TEST(Cli, EachVerbsHelpListsItsOwnExitStatuses) {
  const auto compare = run_crashcheck_split({"compare", "--help"});
  EXPECT_EQ(compare.status, 0);
  EXPECT_TRUE(has(compare.out, "Exit status: 0 OTHER does no worse than BASELINE on any property")) << compare.out;
  EXPECT_FALSE(has(compare.out, "--expect")) << compare.out;
  const auto report = run_crashcheck_split({"report", "--help"});
  EXPECT_TRUE(has(report.out, "Exit status: 0 written; 2 bad usage")) << report.out;
  EXPECT_FALSE(has(report.out, "--require")) << report.out;
  const auto run = run_crashcheck_split({"run", "--help"});
  EXPECT_TRUE(has(run.out, "with --expect: every scenario got its expected verdicts")) << run.out;
  EXPECT_TRUE(has(run.out, "the baseline may take 3 × --timeout because it pauses at every call")) << run.out;
  EXPECT_TRUE(has(run.out, "--quiet") && has(run.out, "--verbose") && has(run.out, "--json")) << run.out;
}

TEST(Cli, QuietAndVerboseExcludeEachOther) {
  const auto r = run_crashcheck({"run", "s.json", "--quiet", "--verbose"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.output, "--verbose excludes --quiet") || has(r.output, "--quiet excludes --verbose")) << r.output;
}

// One real run per flag: a writer that replaces its target atomically, kill faults only.
const char* kAtomicWriter = "cp {payload} {dir}/t.tmp && mv {dir}/t.tmp {target}";

TEST(Cli, JsonPrintsTheReportAloneOnStdout) {
  TempDir dir;
  const auto scenario = testing::shell_scenario(dir, kAtomicWriter, ", \"models\": [\"kill\"]");
  const auto r = run_crashcheck_split({"run", scenario.string(), "--json", "--verbose", "-o", (dir / "out").string()});
  ASSERT_LE(r.status, 1) << r.err;
  const auto doc = nlohmann::json::parse(r.out);  // stdout is the JSON and nothing else
  EXPECT_EQ(doc["schema"], "crashcheck-report/1");
  EXPECT_EQ(doc["tool_version"], CRASHCHECK_VERSION);
  EXPECT_EQ(doc, nlohmann::json::parse(testing::read_text(dir / "out" / "report.json")));
  EXPECT_TRUE(has(r.err, "shell: models kill, kill mode fast, timeout 10 s per case")) << r.err;
  EXPECT_TRUE(has(r.err, "shell: crash_atomic=")) << r.err;  // the summary moved to stderr
}

// A subject's own flags after "--" are its own, even after --quiet (a flag
// CLI11 gives a type size: the scan took "--" for its value and went on).
TEST(Cli, FlagsAfterTheDoubleDashBelongToTheSubjectAfterQuietToo) {
  TempDir dir;
  const auto r = run_crashcheck({"check", "--target", "t.txt", "--models", "kill", "-o", (dir / "out").string(),
                                 "--quiet", "--", "/bin/sh", "-c", "echo x > {target}", "--in-place"});
  EXPECT_FALSE(has(r.output, "unknown flag")) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "report.json"));
}

TEST(Cli, QuietPrintsNothing) {
  TempDir dir;
  const auto scenario = testing::shell_scenario(dir, kAtomicWriter, ", \"models\": [\"kill\"]");
  const auto r = run_crashcheck({"run", scenario.string(), "--quiet", "-o", (dir / "out").string()});
  EXPECT_LE(r.status, 1);
  EXPECT_EQ(r.output, "");
  EXPECT_TRUE(fs::exists(dir / "out" / "report.json"));
}

// Issue 13: a writer that re-serialises is not checkable, and every
// rendering says so and why, with where its output departs from the payload.
TEST(Cli, NotCheckableSaysWhyEverywhere) {
  TempDir dir;
  testing::write_text(dir / "old.json", "{\"a\": 0}");
  testing::write_text(dir / "new.json", "{\"a\": 1}");
  const auto r = run_crashcheck_split({"check", "--old", (dir / "old.json").string(), "--payload",
                                       (dir / "new.json").string(), "-o", (dir / "out").string(), "--", "/bin/sh", "-c",
                                       "printf '{\\n  \"a\": 1\\n}' > {target}"});
  EXPECT_EQ(r.status, 3) << r.err;
  const std::string why =
      "the baseline run exited 0 but the target does not hold the payload (it is other); they first differ at byte "
      "1: the target has \"\\n  \"a\": 1\\n}\" where the payload has \"\"a\": 1}\"; as JSON values they are equal: "
      "--compare json (\"compare\": \"json\") accepts this writer";
  EXPECT_TRUE(has(r.err, "check: not checkable: " + why)) << r.err;
  const auto doc = nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
  EXPECT_EQ(doc["not_checkable"], why);
  EXPECT_TRUE(has(testing::read_text(dir / "out" / "report.md"), " — not checkable: the baseline run exited 0"));
  const std::string junit = testing::read_text(dir / "out" / "report.junit.xml");
  EXPECT_TRUE(has(junit, "errors=\"" + std::to_string(doc["properties"].size()) + "\"")) << junit;
  EXPECT_TRUE(has(junit, "type=\"not_checkable\"")) << junit;
}

}  // namespace
}  // namespace crashcheck::runner
