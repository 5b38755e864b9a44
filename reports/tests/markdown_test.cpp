#include "crashcheck/report.hpp"
#include "sample_reports.hpp"
#include "test_support.hpp"
#include "text.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

namespace crashcheck::reports {
namespace {

using testing::contains;

TEST(Markdown, FailingReportShowsTableAndReplayCommands) {
  const std::string md = render_markdown(samples::failing_report());
  EXPECT_TRUE(contains(md, "2 of " + std::to_string(kProperties.size()) + " properties fail"));
  EXPECT_TRUE(contains(md, "| property | verdict | cases | failures |"));
  EXPECT_TRUE(contains(md, "| crash\\_atomic | ❌ **fail** | 40 | 3 |\n"));
  EXPECT_TRUE(contains(md, "| error\\_safe | ❌ **fail** | 40 | 1 |\n"));
  EXPECT_TRUE(contains(md, "| durable | ➖ not run — power\\-loss model skipped: \\<no trace\\> | 0 | 0 |\n"));
  EXPECT_TRUE(contains(md, "| reader\\_safe | ✅ pass | 40 | 0 |\n"));
  // Replay commands literally, in shell code blocks.
  EXPECT_TRUE(contains(md, "```sh\ncrashcheck replay 'out/report.json' kill-after-1 && echo \"<done>\"\n```\n"));
  EXPECT_TRUE(contains(md, "kill-after-2"));
  EXPECT_TRUE(contains(md, "errno-4-EIO"));
}

TEST(Markdown, OneFixLinePerFailingProperty) {
  const std::string md = render_markdown(samples::failing_report());
  // The Python snippet (the subject is python3), as a code span wider than its backticks.
  // Markup the subject supplies is escaped with backslashes, never HTML entities.
  EXPECT_TRUE(
      contains(md, "- **crash\\_atomic** — Fix: The target is rewritten in place \\<b\\>\\&\\</b\\>\\. At call 1 "));
  EXPECT_TRUE(contains(md, ": `` os.replace(tmp, path)  # `atomic` `` (write\\_temp\\_then\\_rename; steps: "));
  EXPECT_TRUE(contains(md, "- **error\\_safe** — Fix: no known pattern; see the counterexamples.\n"));
  EXPECT_FALSE(contains(md, "**durable** — Fix"));
  EXPECT_FALSE(contains(render_markdown(samples::passing_report()), "Fix:"));
}

// Each call is shown with where the writer made it: the file's name and line.
TEST(Markdown, CallSitesShowNextToTheirCalls) {
  const std::string md = render_markdown(samples::failing_report());
  EXPECT_TRUE(contains(md, "kill at call 1 writer\\.py:12 write(fd 3 → pipeline")) << md;
  EXPECT_TRUE(contains(md, "kill at call 2 writer\\.py:14 write(fd 3 → pipeline"));
  EXPECT_TRUE(contains(md, "errno at call 4 write(fd 3 → pipeline"));  // no site known for call 4
  EXPECT_TRUE(contains(md, "At call 1 `writer.py:12 openat("));        // the Fix line
  EXPECT_FALSE(contains(md, "/home/me/src/"));                         // the label, not the whole path
}

TEST(Markdown, SubjectStringsCannotInjectMarkup) {
  const std::string md = render_markdown(samples::failing_report());
  // Every '<' of subject text is backslash-escaped: CommonMark shows it as text, never a tag.
  for (auto at = md.find("<script"); at != std::string::npos; at = md.find("<script", at + 1))
    EXPECT_TRUE(at > 0 && md[at - 1] == '\\') << md.substr(at > 20 ? at - 20 : 0, 40);
  EXPECT_TRUE(contains(md, "evil \\<script\\>alert(\"x\")\\</script\\> \\& 'co'"));
  EXPECT_FALSE(contains(md, "&lt;"));  // no character references: the raw text reads as it renders
  EXPECT_FALSE(contains(md, "&amp;"));
  EXPECT_TRUE(contains(md, "pipeline\\\\xff\\\\xfe\\_health\\.json"));  // non-UTF-8 bytes shown as \xNN
  EXPECT_EQ(text::valid_utf8(md), md);
}

TEST(Markdown, PassingReportHasNoCounterexampleSection) {
  const std::string md = render_markdown(samples::passing_report());
  EXPECT_TRUE(contains(md, "no property fails"));
  EXPECT_TRUE(contains(md, "| valid\\_content | ➖ not run — no validator configured | 0 | 0 |"));
  EXPECT_FALSE(contains(md, "Counterexamples"));
}

TEST(Markdown, StaysShortForAPullRequestComment) {
  Report report = samples::failing_report();
  const std::string long_text(5000, 'x');
  for (const auto name : kProperties) {
    auto& result = report.properties[std::string(name)];
    result.verdict = Verdict::fail;
    for (int i = 0; i < 500; ++i) {
      Failure f;
      f.case_id = "case-" + std::to_string(i);
      f.model = "kill";
      f.detail = long_text;
      f.replay = "crashcheck replay r.json case-" + std::to_string(i) + " " + long_text;
      result.failures.push_back(f);
    }
  }
  const std::string md = render_markdown(report);
  EXPECT_LT(md.size(), 20000u);
  EXPECT_TRUE(contains(md, "**8.**"));
  EXPECT_FALSE(contains(md, "**9.**"));
  EXPECT_TRUE(contains(md, std::to_string(kProperties.size() * 500 - 4) +
                               " more counterexamples; those listed are in report.json and report.html"));
}

TEST(Markdown, CutShortRunIsFlagged) {
  Report report = samples::passing_report();
  report.complete = false;
  const std::string md = render_markdown(report);
  EXPECT_TRUE(contains(md, "The run was cut short"));
  EXPECT_TRUE(contains(md, " — incomplete, no property failed in the cases that ran\n")) << md;
  EXPECT_FALSE(contains(md, "no property fails"));
}

TEST(Markdown, NotCheckableSaysSoAndWhyInTheHeadline) {
  const Report report = samples::not_checkable_report();
  const std::string md = render_markdown(report);
  EXPECT_TRUE(contains(md, " — not checkable: the baseline run (no fault) failed: exit 1\n")) << md;
  EXPECT_FALSE(contains(md, "no property fail")) << md;
}

// Issue 14: the table said 2 failures while a note said 8 failing states.
TEST(Markdown, FailureCountsAreEveryFailingCase) {
  Report report = samples::failing_report();
  report.properties.at("crash_atomic").failing = 8;  // 3 listed, 2 shown; error_safe: 1, shown
  const std::string md = render_markdown(report);
  EXPECT_TRUE(contains(md, "| crash\\_atomic | ❌ **fail** | 40 | 8 |\n")) << md;
  EXPECT_TRUE(contains(md, "#### crash\\_atomic — 8 counterexamples\n")) << md;
  EXPECT_TRUE(contains(md, "_6 more counterexamples; those listed are in report.json and report.html._")) << md;
}

TEST(Markdown, SaturatedCountSaysMoreThan) {
  Report report = samples::failing_report();
  report.properties.at("crash_atomic").failing = std::numeric_limits<std::uint64_t>::max();
  const std::string md = render_markdown(report);
  EXPECT_TRUE(contains(md, "| crash\\_atomic | ❌ **fail** | 40 | more than 10^19 |\n")) << md;
  EXPECT_FALSE(contains(md, "18446744073709551")) << md;
}

// The command is a code span: copied from the raw text it runs as shown.
TEST(Markdown, CommandIsACodeSpanWithoutEscapes) {
  Report report = samples::passing_report();
  report.subject.command = {"/usr/bin/python3", "save.py", "{target}", "a&&b"};
  report.tool_version = "0.1.0";
  const std::string md = render_markdown(report);
  EXPECT_TRUE(contains(md, "Command: `/usr/bin/python3 save.py {target} 'a&&b'`")) << md;
  EXPECT_TRUE(contains(md, "Checked by crashcheck 0\\.1\\.0")) << md;
}

// The golden files (tests/golden/*.md) are report.md as a reviewer reads
// it: a change to the renderer shows up as a diff of them.
// CRASHCHECK_UPDATE_GOLDEN=1 rewrites them; review that diff before committing.
void expect_golden(const std::string& name, const std::string& rendered) {
  const std::filesystem::path file = std::filesystem::path(CRASHCHECK_GOLDEN_DIR) / name;
  if (std::getenv("CRASHCHECK_UPDATE_GOLDEN")) {
    ASSERT_FALSE(write_file_atomic(file, rendered).code) << file;
    return;
  }
  const auto golden = read_file(file);
  ASSERT_TRUE(golden) << file << " cannot be read; CRASHCHECK_UPDATE_GOLDEN=1 writes it";
  EXPECT_EQ(rendered, *golden) << "report.md differs from " << file << "; CRASHCHECK_UPDATE_GOLDEN=1 rewrites it";
}

// The failing sample has a diagnosis (the Fix lines) and call sites on its calls.
TEST(MarkdownGolden, EachSampleRendersAsItsGoldenFile) {
  const Report failing = samples::failing_report();
  ASSERT_FALSE(failing.diagnoses.empty());
  expect_golden("failing.md", render_markdown(failing));
  expect_golden("passing.md", render_markdown(samples::passing_report()));
  expect_golden("not_checkable.md", render_markdown(samples::not_checkable_report()));
  Report own_content = samples::passing_report();
  own_content.subject.payload_given = false;
  own_content.subject.compare = "json";
  expect_golden("no_payload_json.md", render_markdown(own_content));
}

}  // namespace
}  // namespace crashcheck::reports
