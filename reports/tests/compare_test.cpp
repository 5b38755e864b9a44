#include "crashcheck/report.hpp"
#include "sample_reports.hpp"

#include <gtest/gtest.h>

namespace crashcheck::reports {
namespace {

const PropertyChange& change(const Comparison& c, std::string_view name) {
  for (const auto& change : c.changes) {
    if (change.property == name) return change;
  }
  throw std::logic_error("no such property");
}

TEST(Compare, OtherFallsShortOfBaseline) {
  const Comparison c = compare(samples::passing_report(), samples::failing_report());
  ASSERT_EQ(c.changes.size(), kProperties.size());
  EXPECT_EQ(c.changes.front().property, "crash_atomic");  // kProperties order
  EXPECT_TRUE(c.worse());
  EXPECT_TRUE(change(c, "crash_atomic").worse);
  EXPECT_EQ(change(c, "crash_atomic").other_failures, 3u);
  EXPECT_TRUE(change(c, "error_safe").worse);
  EXPECT_TRUE(change(c, "durable").worse);         // pass -> not_run: no longer shown to hold
  EXPECT_TRUE(change(c, "valid_content").better);  // not_run -> pass
  EXPECT_FALSE(change(c, "reader_safe").worse || change(c, "reader_safe").better);

  const std::string text = render_comparison(c, "ref.json", "py.json");
  EXPECT_NE(text.find("falls short on:\n  crash_atomic: pass -> fail (3 counterexamples)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  durable: pass -> not_run\n"), std::string::npos) << text;
  EXPECT_NE(text.find("does better on:\n  valid_content: not_run -> pass\n"), std::string::npos) << text;
}

TEST(Compare, OtherDoesBetter) {
  Report fixed = samples::passing_report();
  fixed.properties["valid_content"].verdict = Verdict::pass;
  const Comparison c = compare(samples::failing_report(), fixed);
  EXPECT_FALSE(c.worse());
  EXPECT_TRUE(c.better());
  EXPECT_TRUE(change(c, "crash_atomic").better);
  EXPECT_TRUE(change(c, "durable").better);  // not_run -> pass
  EXPECT_FALSE(change(c, "valid_content").better || change(c, "valid_content").worse);
  const std::string text = render_comparison(c, "a", "b");
  EXPECT_NE(text.find("does better on:\n  crash_atomic: fail (3 counterexamples) -> pass\n"), std::string::npos)
      << text;
}

TEST(Compare, EqualReportsChangeNothing) {
  const Comparison c = compare(samples::failing_report(), samples::failing_report());
  EXPECT_FALSE(c.worse());
  EXPECT_FALSE(c.better());
  const std::string text = render_comparison(c, "a", "b");
  EXPECT_NE(text.find("falls short on no property\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("does better"), std::string::npos) << text;
}

TEST(Compare, NamesAreShownSafely) {
  const std::string text =
      render_comparison(compare(samples::passing_report(), samples::passing_report()), "a\xff", "b\x1b[31m");
  EXPECT_NE(text.find("comparing b\\x1b[31m against baseline a\\xff\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace crashcheck::reports
