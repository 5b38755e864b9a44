// report.md: what a pull-request comment or a CI step summary shows. Short
// on purpose: the property table, then a capped number of counterexamples
// with the command that replays each; everything else is in report.html.
#include "crashcheck/report.hpp"
#include "text.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace crashcheck::reports {
namespace {

constexpr std::size_t kShownPerProperty = 2;
constexpr std::size_t kShownInTotal = 8;
constexpr std::size_t kFieldLimit = 300;
constexpr std::size_t kReplayLimit = 1000;

std::string verdict_cell(const PropertyResult& result) {
  switch (result.verdict) {
    case Verdict::pass:
      return "✅ pass";
    case Verdict::fail:
      return "❌ **fail**";
    case Verdict::not_run:
      break;
  }
  std::string cell = "➖ not run";
  if (!result.reason.empty()) cell += " — " + text::markdown_inline(text::shortened(result.reason, kFieldLimit));
  return cell;
}

// The verdict in a few words. A run that judged nothing says "not checkable"
// and why; an interrupted run is never green: "incomplete" comes first.
std::string verdict_words(const Report& report) {
  if (report.not_checkable)
    return "not checkable: " + text::markdown_inline(text::shortened(*report.not_checkable, kFieldLimit));
  const std::size_t failing = text::count_verdict(report, Verdict::fail);
  const std::string prefix = report.complete ? "" : "incomplete, ";
  if (failing != 0)
    return prefix + std::to_string(failing) + " of " + std::to_string(text::property_order(report).size()) +
           " properties fail";
  if (const auto unjudged = content_unjudged(report))
    return prefix + "nothing judged about the content (" +
           text::markdown_inline(text::shortened(*unjudged, kFieldLimit)) + ")";
  return prefix + (report.complete ? "no property fails" : "no property failed in the cases that ran");
}

std::string headline(const Report& report) {
  std::string out = "## crashcheck: " + text::markdown_inline(text::shortened(report.subject.name, 120)) + " — " +
                    verdict_words(report);
  out += "\n\nCommand: " +
         text::markdown_code_span(text::shortened(text::command_line(report.subject.command), kFieldLimit));
  out += "  \nNew content: " +
         text::markdown_inline(text::shortened(text::new_content_words(report.subject), kFieldLimit));
  if (!report.tool_version.empty()) out += "  \nChecked by crashcheck " + text::markdown_inline(report.tool_version);
  return out + "\n\n";
}

std::string property_table(const Report& report) {
  std::string out = "| property | verdict | cases | failures |\n|---|---|---:|---:|\n";
  for (const auto& name : text::property_order(report)) {
    const PropertyResult& result = text::result_of(report, name);
    out += "| " + text::markdown_inline(name) + " | " + verdict_cell(result) + " | " + std::to_string(result.cases) +
           " | " + text::count_text(failing_cases(result)) + " |\n";
  }
  return out + "\n";
}

std::string counterexample(std::size_t number, const Failure& failure) {
  std::string out = "**" + std::to_string(number) + ".** " +
                    text::markdown_inline(text::shortened(text::failure_summary(failure), kFieldLimit));
  if (!failure.detail.empty()) out += "  \n" + text::markdown_inline(text::shortened(failure.detail, kFieldLimit));
  out += "\n\n";
  if (!failure.replay.empty())
    out += text::markdown_code_block(text::shortened(failure.replay, kReplayLimit), "sh") + "\n";
  return out;
}

// Capped: at most kShownPerProperty per property and kShownInTotal in all;
// the counts are every failing case, listed in report.json or not.
std::string counterexamples(const Report& report) {
  std::string out;
  std::uint64_t shown = 0, total = 0;
  for (const auto& name : text::property_order(report)) {
    const PropertyResult& result = text::result_of(report, name);
    const auto& failures = result.failures;
    const std::uint64_t failing = failing_cases(result);
    total = text::saturating_add(total, failing);
    if (failures.empty() || shown == kShownInTotal) continue;
    out += "#### " + text::markdown_inline(name) + " — " + text::count_text(failing) + " counterexample" +
           (failing == 1 ? "" : "s") + "\n\n";
    for (std::size_t i = 0; i < failures.size() && i < kShownPerProperty && shown < kShownInTotal; ++i, ++shown) {
      out += counterexample(shown + 1, failures[i]);
    }
  }
  if (total == 0) return "";
  if (shown < total) {
    out +=
        "_" +
        (total == std::numeric_limits<std::uint64_t>::max() ? text::count_text(total) : std::to_string(total - shown)) +
        " more counterexamples; those listed are in report.json and report.html._\n\n";
  }
  return "### Counterexamples\n\n" + out;
}

// `raw` as one inline code span: newlines as spaces, fenced by more
// backticks than any run inside.
std::string code_span(std::string_view raw) {
  std::string body = text::displayable(raw);
  std::replace(body.begin(), body.end(), '\n', ' ');
  std::size_t run = 0, longest = 0;
  for (const char c : body) longest = std::max(longest, run = c == '`' ? run + 1 : 0);
  const std::string fence(longest + 1, '`');
  const std::string pad = body.starts_with('`') || body.ends_with('`') ? " " : "";
  return fence + pad + body + pad + fence;
}

// One "Fix:" line per failing property: the diagnosis, or that none applies.
std::string fixes(const Report& report) {
  std::string out;
  for (const auto& line : text::fix_lines(report)) {
    out += "- **" + text::markdown_inline(line.property) + "** — Fix: ";
    if (!line.diagnosis) {
      out += std::string(text::kNoKnownPattern) + ".\n";
      continue;
    }
    const Diagnosis& d = *line.diagnosis;
    if (!line.same_as.empty()) {
      out += "as " + text::markdown_inline(line.same_as) + " (" + text::markdown_inline(d.rule) + ")\n";
      continue;
    }
    out += text::markdown_inline(text::shortened(d.hint, kFieldLimit));
    if (d.call_index != 0)
      out += " At call " + std::to_string(d.call_index) + " " + code_span(text::call_at_site(d.call, d.site)) + ":";
    if (!line.snippet.empty()) out += " " + code_span(line.snippet);
    out += " (" + text::markdown_inline(d.rule) + "; steps: " + text::markdown_inline(kReferenceSteps) + ")\n";
  }
  return out.empty() ? "" : "### Fix\n\n" + out + "\n";
}

std::string run_notes(const Report& report) {
  constexpr std::size_t kNotesShown = 5;
  std::string out;
  if (!report.complete) out += "> ⚠️ **The run was cut short**: verdicts cover only the cases that ran.\n\n";
  if (report.notes.empty()) return out;
  for (std::size_t i = 0; i < report.notes.size() && i < kNotesShown; ++i) {
    out += "- " + text::markdown_inline(text::shortened(report.notes[i], kFieldLimit)) + "\n";
  }
  if (report.notes.size() > kNotesShown)
    out += "- _" + std::to_string(report.notes.size() - kNotesShown) + " more notes in report.json_\n";
  return out + "\n";
}

}  // namespace

std::string render_markdown(const Report& report) {
  return headline(report) + run_notes(report) + property_table(report) + fixes(report) + counterexamples(report);
}

}  // namespace crashcheck::reports
