#include "crashcheck/report.hpp"
#include "sample_reports.hpp"
#include "test_support.hpp"
#include "text.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace crashcheck::reports {
namespace {

using testing::contains;

// The outcome classes drawn in the grid cell of `model` at `call`.
std::string cell_markup(const std::string& html, const std::string& model, int call) {
  const std::string open = "<g class=\"cell\" data-model=\"" + model + "\" data-call=\"" + std::to_string(call) + "\">";
  const auto begin = html.find(open);
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</g>", begin) - begin);
}

TEST(Html, FailingReportHasEveryPropertyRow) {
  const std::string html = render_html(samples::failing_report());
  for (const auto name : kProperties) {
    EXPECT_TRUE(contains(html, "<tr class=\"property\" data-property=\"" + std::string(name) + "\"")) << name;
  }
  EXPECT_TRUE(contains(html, "data-property=\"crash_atomic\" data-verdict=\"fail\""));
  EXPECT_TRUE(contains(html, "data-property=\"durable\" data-verdict=\"not_run\""));
  EXPECT_TRUE(contains(html, "data-property=\"reader_safe\" data-verdict=\"pass\""));
  EXPECT_TRUE(contains(html, "2 of " + std::to_string(kProperties.size()) + " properties fail"));
}

TEST(Html, OneFixLinePerFailingProperty) {
  const std::string html = render_html(samples::failing_report());
  EXPECT_TRUE(contains(html,
                       "<li class=\"fix\" data-property=\"crash_atomic\"><code>crash_atomic</code> — Fix: "
                       "The target is rewritten in place &lt;b&gt;&amp;&lt;/b&gt;."));
  EXPECT_TRUE(contains(html, "<code class=\"snippet\">os.replace(tmp, path)  # `atomic`</code>"));
  EXPECT_TRUE(contains(html, "<code>error_safe</code> — Fix: no known pattern; see the counterexamples.</li>"));
  EXPECT_FALSE(contains(render_html(samples::passing_report()), "id=\"fixes\""));
}

TEST(Html, EachCounterexampleHasStateAndEscapedReplay) {
  const std::string html = render_html(samples::failing_report());
  for (const char* id : {"kill-after-1", "kill-after-2", "kill-after-3", "errno-4-EIO"}) {
    EXPECT_TRUE(contains(html, std::string("crashcheck replay &#39;out/report.json&#39; ") + id +
                                   " &amp;&amp; echo &quot;&lt;done&gt;&quot;</code></pre>"))
        << id;
  }
  EXPECT_TRUE(contains(html, "exists, 4096 bytes, mode 0640, matches torn"));
  EXPECT_TRUE(contains(html, "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;]]&gt;\\x01"));  // excerpt
  EXPECT_TRUE(contains(html, "&lt;tmp&gt; &amp; &quot;friends&quot;"));                    // leftovers
}

// Each call is shown with where the writer made it: the file's name and line,
// the whole path as the tooltip.
TEST(Html, CallSitesShowNextToTheirCalls) {
  const std::string html = render_html(samples::failing_report());
  // the call list
  EXPECT_TRUE(contains(html,
                       "<code>write(fd 3, 4096 bytes)</code> <code class=\"site\" "
                       "title=\"/home/me/src/writer.py:14\">writer.py:14</code></td>"));
  EXPECT_TRUE(contains(html, "<code>close(fd 3)</code></td>"));  // no site known
  // a counterexample
  EXPECT_TRUE(contains(html,
                       "<dt>site</dt><dd><code class=\"site\" title=\"/home/me/src/writer.py:12\">"
                       "/home/me/src/writer.py:12</code></dd>"));
  EXPECT_TRUE(
      contains(html, "title=\"/home/me/src/&lt;i&gt;&amp;&quot;w&#39;.py:3\">&lt;i&gt;&amp;&quot;w&#39;.py:3</code>"));
  // the Fix line
  EXPECT_TRUE(contains(html, "At call 1 <code title=\"/home/me/src/writer.py:12\">writer.py:12 openat("));
}

TEST(Html, SubjectStringsCannotInjectMarkupOrScripts) {
  const std::string html = render_html(samples::failing_report());
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_TRUE(contains(html, "evil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"));
  EXPECT_TRUE(contains(html, "pipeline\\xff\\xfe_health.json"));
  EXPECT_TRUE(contains(html, "bytes \\xc3( from the subject"));
  EXPECT_EQ(text::valid_utf8(html), html);
  // Every '<' starts one of our own tags.
  const std::regex tag("<(/?)([a-zA-Z0-9!]+)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator(); ++it) {
    static const std::set<std::string> kOurs = {
        "!DOCTYPE", "html", "head", "meta", "title", "style",   "body",   "header", "h1",      "h2",
        "h3",       "h4",   "p",    "span", "dl",    "dt",      "dd",     "code",   "section", "div",
        "svg",      "text", "g",    "rect", "ul",    "li",      "strong", "table",  "thead",   "tbody",
        "tr",       "th",   "td",   "a",    "br",    "article", "pre"};
    EXPECT_TRUE(kOurs.count((*it)[2].str())) << (*it)[0].str();
  }
}

TEST(Html, SelfContainedWithoutNetworkOrScripts) {
  const std::string html = render_html(samples::failing_report());
  EXPECT_FALSE(contains(html, "://"));
  EXPECT_FALSE(contains(html, "src="));
  EXPECT_FALSE(contains(html, "<link"));
  EXPECT_FALSE(contains(html, "url("));
  EXPECT_TRUE(contains(html, "Content-Security-Policy\" content=\"default-src 'none'"));
}

TEST(Html, PictureShowsTheTruncationWindow) {
  const std::string html = render_html(samples::failing_report());
  // Kill after the O_TRUNC open and each write tears the file; after close it is new.
  EXPECT_TRUE(contains(cell_markup(html, "kill", 1), "o-old"));
  EXPECT_TRUE(contains(cell_markup(html, "kill", 1), "o-torn"));
  EXPECT_TRUE(contains(cell_markup(html, "kill", 2), "o-torn"));
  EXPECT_TRUE(contains(cell_markup(html, "kill", 3), "o-torn"));
  EXPECT_FALSE(contains(cell_markup(html, "kill", 4), "o-torn"));
  EXPECT_TRUE(contains(cell_markup(html, "kill", 4), "o-new"));
  EXPECT_TRUE(contains(cell_markup(html, "errno", 4), "o-wrong_success"));
  EXPECT_TRUE(cell_markup(html, "errno", 1).empty());  // no case there: an empty square
  // Rows in the fixed model order; each outcome in the legend.
  EXPECT_LT(html.find("data-model=\"kill\""), html.find("data-model=\"errno\""));
  EXPECT_LT(html.find("data-model=\"disk-full\""), html.find("data-model=\"power-loss\""));
  for (const auto outcome : kOutcomes)
    EXPECT_TRUE(contains(html, "<strong>" + std::string(outcome) + "</strong>")) << outcome;
}

TEST(Html, PassingReportHasNoBadCellsOrCounterexamples) {
  const std::string html = render_html(samples::passing_report());
  EXPECT_TRUE(contains(html, "no property fails"));
  EXPECT_TRUE(contains(html, "data-property=\"valid_content\" data-verdict=\"not_run\""));
  for (const char* bad : {"o-torn", "o-missing", "o-other", "o-wrong_success", "id=\"counterexamples\""}) {
    EXPECT_FALSE(contains(html, bad)) << bad;
  }
  EXPECT_TRUE(contains(cell_markup(html, "kill", 6), "o-old"));
  EXPECT_TRUE(contains(cell_markup(html, "kill", 6), "o-new"));
}

TEST(Html, ReportWithoutCellsSaysSo) {
  Report report = samples::passing_report();
  report.cells.clear();
  EXPECT_TRUE(contains(render_html(report), "This report has no per-call outcomes."));
}

}  // namespace
}  // namespace crashcheck::reports
