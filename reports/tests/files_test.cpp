#include "crashcheck/report.hpp"
#include "sample_reports.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <set>

namespace crashcheck::reports {
namespace {

std::set<std::string> names_in(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

TEST(ReportFiles, WritesAllFourRenderingsAndNothingElse) {
  const auto dir = testing::scratch_dir() / "out" / "nested";
  const Report report = samples::failing_report();
  ASSERT_EQ(write_report_files(report, dir), "");
  EXPECT_EQ(names_in(dir), (std::set<std::string>{"report.json", "report.md", "report.html", "report.junit.xml"}));
  EXPECT_EQ(testing::read_text(dir / "report.md"), render_markdown(report));
  EXPECT_EQ(testing::read_text(dir / "report.html"), render_html(report));
  EXPECT_EQ(testing::read_text(dir / "report.junit.xml"), render_junit(report));
  EXPECT_EQ(testing::read_text(dir / "report.json"), render_json(report));
  // The stored report renders the same again (renderers are pure functions of report.json).
  const Report loaded = load_report(dir / "report.json");
  EXPECT_EQ(render_html(loaded), render_html(report));
  EXPECT_EQ(render_markdown(loaded), render_markdown(report));
}

TEST(ReportFiles, RewritingReplacesEachFile) {
  const auto dir = testing::scratch_dir();
  ASSERT_EQ(write_report_files(samples::failing_report(), dir), "");
  ASSERT_EQ(write_report_files(samples::passing_report(), dir), "");
  EXPECT_EQ(load_report(dir / "report.json"), samples::passing_report());
  EXPECT_EQ(names_in(dir).size(), 4u);
}

TEST(ReportFiles, UnwritableDirectoryIsReportedByName) {
  const auto blocker = testing::scratch_dir() / "a-file";
  testing::write_text(blocker, "x");
  const std::string message = write_report_files(samples::passing_report(), blocker / "out");
  EXPECT_EQ(message.rfind((blocker / "out").string() + ": cannot create directory: ", 0), 0u) << message;
}

TEST(ReportFiles, FormatsByName) {
  EXPECT_EQ(parse_format("md"), Format::markdown);
  EXPECT_EQ(parse_format("markdown"), Format::markdown);
  EXPECT_EQ(parse_format("junit"), Format::junit);
  EXPECT_EQ(parse_format("xml"), std::nullopt);
  EXPECT_EQ(file_name(Format::junit), "report.junit.xml");
  EXPECT_EQ(render(samples::passing_report(), Format::html), render_html(samples::passing_report()));
}

}  // namespace
}  // namespace crashcheck::reports
