// Text helpers shared by the renderers: everything a subject supplies (paths,
// file bytes, call summaries) passes through one of these before it reaches
// a JSON, Markdown, HTML or XML document.
#pragma once

#include "crashcheck/report.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::reports::text {

// Valid UTF-8 without control characters (tab and newline kept): each byte
// that is not part of a valid UTF-8 sequence, each C0 control and DEL becomes
// the visible text "\xNN". XML 1.0 cannot carry those characters at all, and
// a reader should see that they were there.
std::string displayable(std::string_view raw);

// Valid UTF-8 only (controls kept): what JSON can carry.
std::string valid_utf8(std::string_view raw);

// `displayable`, then cut to at most `limit` bytes (on a character boundary)
// with "…" appended when cut.
std::string shortened(std::string_view raw, std::size_t limit);

// `displayable`, then &, <, >, " and ' as character references: safe in
// HTML/XML text and in double- or single-quoted attributes.
std::string markup_escape(std::string_view raw);

// One line of Markdown text, e.g. a table cell: `displayable`, newlines as
// spaces, Markdown punctuation backslash-escaped, & and < as references.
std::string markdown_inline(std::string_view raw);

// A code span holding `raw` literally (`displayable`, newlines as spaces): no
// backslash escapes and no character references, which a code span would
// show as typed; the delimiter is longer than any run of backticks inside.
std::string markdown_code_span(std::string_view raw);

// A fenced code block holding `raw` literally: the fence is longer than any
// run of backticks inside.
std::string markdown_code_block(std::string_view raw, std::string_view language);

// A call site as reports show it: the file's last component and the line,
// "save.py:42" for "/home/me/save.py:42" (report.json keeps the whole path).
std::string site_label(std::string_view site);
// A call with its site in front, "save.py:42 rename(x.tmp → t)"; the call
// alone when the site is unknown. Not escaped.
std::string call_at_site(std::string_view call, std::string_view site);

// One line describing a counterexample: "kill at call 7 save.py:42
// write(…): SIGKILL before call 7 → target torn, 12 bytes". Not escaped.
std::string failure_summary(const Failure& failure);

// argv joined with spaces, each argument that needs it in single quotes, as
// a shell would take it. Not escaped for any markup.
std::string command_line(const std::vector<std::string>& argv);

// What the states were compared with, in words (raw: the renderer escapes):
// "new.json (312 bytes)" or "no payload: each run's own content", with
// ", compared as JSON values" under --compare json.
std::string new_content_words(const Subject& subject);

// "exists, 12 bytes, mode 0644, matches torn" / "missing". Not escaped.
std::string state_summary(const FileState& state);

// Counts that cannot overflow: sums saturate at the largest uint64_t, and
// count_text prints a saturated count as "more than 10^19", never as a number
// that reads like an exact one.
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept;
std::string count_text(std::uint64_t count);

// How many properties of the report have this verdict.
std::size_t count_verdict(const Report& report, Verdict verdict);

// Property names in display order: kProperties first, then any other names
// the report carries (a newer /1 writer may add some).
std::vector<std::string> property_order(const Report& report);

// The result for `name`; a name the report lacks reads as not_run.
const PropertyResult& result_of(const Report& report, const std::string& name);

// One "Fix:" line: a failing property (or one a diagnosis warns about) and
// the diagnosis that explains it, or none ("no known pattern").
struct FixLine {
  std::string property;
  const Diagnosis* diagnosis = nullptr;
  std::string snippet;  // the fix in the subject's language; empty without a diagnosis
  std::string same_as;  // an earlier property whose line names the same rule: say "as <that>" only
};
std::vector<FixLine> fix_lines(const Report& report);

// What a failing property no diagnosis explains says.
inline constexpr std::string_view kNoKnownPattern = "no known pattern; see the counterexamples";

}  // namespace crashcheck::reports::text
