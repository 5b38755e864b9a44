#include "crashcheck/report.hpp"
#include "sample_reports.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace crashcheck::reports {
namespace {

// Parses the file with Python's XML parser and prints what a JUnit consumer
// reads: suite counts and each testcase's status and failure message.
constexpr std::string_view kReadJunit = R"(
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1
suite = suites[0]
cases = {}
for case in suite.findall("testcase"):
    failure, skipped, error = case.find("failure"), case.find("skipped"), case.find("error")
    cases[case.get("name")] = {
        "status": "failure" if failure is not None else "skipped" if skipped is not None else
                  "error" if error is not None else "pass",
        "message": failure.get("message") if failure is not None else skipped.get("message") if skipped is not None
                   else error.get("message") if error is not None else "",
        "body": failure.text if failure is not None else "",
        "classname": case.get("classname"),
    }
counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
top = {k: int(root.get(k)) for k in ("tests", "failures", "errors", "skipped")}
print(json.dumps({"suite": suite.get("name"), "counts": counts, "top": top, "cases": cases}))
)";

nlohmann::json read_junit(const Report& report) {
  const auto file = testing::scratch_dir() / "report.junit.xml";
  testing::write_text(file, render_junit(report));
  int status = 0;
  const std::string out = testing::run_python(std::string(kReadJunit), file, &status);
  EXPECT_EQ(status, 0) << out;
  return status == 0 ? nlohmann::json::parse(out) : nlohmann::json::object();
}

TEST(Junit, FailingReportParsesWithOneCasePerProperty) {
  const auto parsed = read_junit(samples::failing_report());
  ASSERT_TRUE(parsed.contains("cases"));
  EXPECT_EQ(parsed["cases"].size(), kProperties.size());
  EXPECT_EQ(parsed["counts"],
            (nlohmann::json{{"tests", kProperties.size()}, {"failures", 2}, {"errors", 0}, {"skipped", 1}}));
  EXPECT_EQ(parsed["top"], parsed["counts"]);
  EXPECT_EQ(parsed["cases"]["crash_atomic"]["status"], "failure");
  EXPECT_EQ(parsed["cases"]["error_safe"]["status"], "failure");
  EXPECT_EQ(parsed["cases"]["durable"]["status"], "skipped");
  EXPECT_EQ(parsed["cases"]["durable"]["message"], "power-loss model skipped: <no trace>");
  EXPECT_EQ(parsed["cases"]["reader_safe"]["status"], "pass");
}

TEST(Junit, FailureMessageHoldsFirstCounterexampleWithReplay) {
  const auto parsed = read_junit(samples::failing_report());
  ASSERT_TRUE(parsed.contains("cases"));
  const std::string message = parsed["cases"]["crash_atomic"]["message"];
  EXPECT_NE(message.find("kill at call 1"), std::string::npos) << message;
  EXPECT_NE(message.find("replay: crashcheck replay 'out/report.json' kill-after-1 && echo \"<done>\""),
            std::string::npos)
      << message;
  const std::string body = parsed["cases"]["crash_atomic"]["body"];
  EXPECT_NE(body.find("case kill-after-3"), std::string::npos) << body;
}

TEST(Junit, SubjectStringsArriveIntactAsText) {
  const auto parsed = read_junit(samples::failing_report());
  ASSERT_TRUE(parsed.contains("suite"));
  EXPECT_EQ(parsed["suite"], "crashcheck.evil <script>alert(\"x\")</script> & 'co'");
  const std::string message = parsed["cases"]["crash_atomic"]["message"];
  EXPECT_NE(message.find("pipeline\\xff\\xfe_health.json"), std::string::npos) << message;
  EXPECT_FALSE(render_junit(samples::failing_report()).find("<script") != std::string::npos);
}

TEST(Junit, PassingReportHasNoFailures) {
  const auto parsed = read_junit(samples::passing_report());
  ASSERT_TRUE(parsed.contains("counts"));
  EXPECT_EQ(parsed["counts"],
            (nlohmann::json{{"tests", kProperties.size()}, {"failures", 0}, {"errors", 0}, {"skipped", 1}}));
  EXPECT_EQ(parsed["cases"]["valid_content"]["status"], "skipped");
  EXPECT_EQ(parsed["cases"]["crash_atomic"]["status"], "pass");
  EXPECT_EQ(parsed["cases"]["crash_atomic"]["classname"], "crashcheck.reference-writer");
}

// Issue 14: an interrupted run's JUnit showed error_safe passing after 12 of
// ~566 cases. A pass in an incomplete report is an error: not all its cases ran.
TEST(Junit, InterruptedRunIsNeverGreen) {
  Report report = samples::passing_report();
  report.complete = false;
  const auto parsed = read_junit(report);
  ASSERT_TRUE(parsed.contains("counts"));
  EXPECT_EQ(parsed["counts"],
            (nlohmann::json{
                {"tests", kProperties.size()}, {"failures", 0}, {"errors", kProperties.size() - 1}, {"skipped", 1}}));
  EXPECT_EQ(parsed["top"]["errors"], kProperties.size() - 1);  // all but the skipped one
  EXPECT_EQ(parsed["cases"]["error_safe"]["status"], "error");
  EXPECT_EQ(parsed["cases"]["error_safe"]["message"],
            "incomplete: the run was interrupted before every case of this property ran");
  EXPECT_EQ(parsed["cases"]["valid_content"]["status"], "skipped");
}

// Nothing judged is an error on every property, never a grey "skipped".
TEST(Junit, NotCheckableIsAnErrorOnEveryProperty) {
  const Report report = samples::not_checkable_report();
  const auto parsed = read_junit(report);
  ASSERT_TRUE(parsed.contains("counts"));
  const int n = static_cast<int>(kProperties.size());
  EXPECT_EQ(parsed["counts"], (nlohmann::json{{"tests", n}, {"failures", 0}, {"errors", n}, {"skipped", 0}}));
  EXPECT_EQ(parsed["cases"]["durable"]["status"], "error");
  EXPECT_EQ(parsed["cases"]["durable"]["message"], "not checkable: the baseline run (no fault) failed: exit 1");
}

TEST(Junit, CarriesTheToolVersion) {
  Report report = samples::passing_report();
  report.tool_version = "9.8.7";
  EXPECT_NE(render_junit(report).find("<property name=\"crashcheck_version\" value=\"9.8.7\"/>"), std::string::npos);
}

}  // namespace
}  // namespace crashcheck::reports
