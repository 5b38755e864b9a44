// report.junit.xml: one <testcase> per property so CI systems (Jenkins,
// GitLab, GitHub test reporters) list them; a failure's message holds its
// first counterexample and the body the first few with replay commands.
#include "crashcheck/report.hpp"
#include "text.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

namespace crashcheck::reports {
namespace {

constexpr std::size_t kCounterexamplesInBody = 5;

std::string esc(std::string_view raw) { return text::markup_escape(raw); }

std::string seconds(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", value < 0 ? 0.0 : value);
  return buffer;
}

// JUnit's timestamp is an ISO-8601 date-time without a zone designator.
std::string timestamp(std::string created) {
  if (created.ends_with('Z')) created.pop_back();
  return created;
}

std::string failure_body(const PropertyResult& result) {
  std::string body;
  for (std::size_t i = 0; i < result.failures.size() && i < kCounterexamplesInBody; ++i) {
    const Failure& f = result.failures[i];
    body += "case " + f.case_id + ": " + text::failure_summary(f) + "\n";
    if (!f.detail.empty()) body += "  " + f.detail + "\n";
    if (!f.replay.empty()) body += "  replay: " + f.replay + "\n";
  }
  const std::uint64_t failing = failing_cases(result);
  const std::uint64_t shown = std::min<std::uint64_t>(result.failures.size(), kCounterexamplesInBody);
  if (failing > shown) {
    body += (failing == std::numeric_limits<std::uint64_t>::max() ? text::count_text(failing)
                                                                  : std::to_string(failing - shown)) +
            " more counterexamples" + (result.failures.size() > shown ? "; those listed are in report.json" : "") +
            "\n";
  }
  return body;
}

// A run that was cut short cannot vouch for a pass: its cases did not all run.
constexpr std::string_view kIncomplete = "incomplete: the run was interrupted before every case of this property ran";

std::string testcase(const std::string& suite, const std::string& name, const PropertyResult& result, bool complete,
                     const std::optional<std::string>& not_checkable) {
  std::string out = "    <testcase name=\"" + esc(name) + "\" classname=\"" + esc(suite) + "\" time=\"0\"";
  // Nothing was judged: an error, so a dashboard turns red rather than grey.
  if (not_checkable)
    return out + ">\n      <error message=\"" + esc("not checkable: " + *not_checkable) +
           "\" type=\"not_checkable\"/>\n    </testcase>\n";
  switch (result.verdict) {
    case Verdict::pass:
      if (!complete)
        return out + ">\n      <error message=\"" + esc(kIncomplete) + "\" type=\"incomplete\"/>\n    </testcase>\n";
      return out + "/>\n";
    case Verdict::not_run:
      return out + ">\n      <skipped message=\"" + esc(result.reason.empty() ? "not run" : result.reason) +
             "\"/>\n    </testcase>\n";
    case Verdict::fail:
      break;
  }
  const Failure& first = result.failures.front();  // from_json guarantees a fail has one
  std::string message = text::failure_summary(first);
  if (!first.replay.empty()) message += "; replay: " + first.replay;
  return out + ">\n      <failure message=\"" + esc(text::shortened(message, 1000)) + "\" type=\"" + esc(name) + "\">" +
         esc(failure_body(result)) + "</failure>\n    </testcase>\n";
}

}  // namespace

std::string render_junit(const Report& report) {
  const std::string suite = "crashcheck." + report.subject.name;
  const auto names = text::property_order(report);
  std::string cases;
  std::size_t failures = 0, errors = 0;
  for (const auto& name : names) {
    PropertyResult result = text::result_of(report, name);
    // A fail without counterexamples can only come from a model built in
    // memory; say so rather than invent one.
    if (result.verdict == Verdict::fail && result.failures.empty()) {
      Failure unknown;
      unknown.detail = "no counterexample recorded";
      result.failures.push_back(unknown);
    }
    failures += result.verdict == Verdict::fail;
    errors += (result.verdict == Verdict::pass && !report.complete) || report.not_checkable;
    cases += testcase(suite, name, result, report.complete, report.not_checkable);
  }
  const std::string counts = " tests=\"" + std::to_string(names.size()) + "\" failures=\"" + std::to_string(failures) +
                             "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" +
                             std::to_string(report.not_checkable ? 0 : text::count_verdict(report, Verdict::not_run)) +
                             "\" time=\"" + seconds(report.duration_s) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"crashcheck\"" + counts + ">\n";
  out += "  <testsuite name=\"" + esc(suite) + "\"" + counts;
  if (!report.created.empty()) out += " timestamp=\"" + esc(timestamp(report.created)) + "\"";
  out += ">\n    <properties>\n";
  out += "      <property name=\"schema\" value=\"" + esc(report.schema) + "\"/>\n";
  out += "      <property name=\"command\" value=\"" + esc(text::command_line(report.subject.command)) + "\"/>\n";
  out += "      <property name=\"complete\" value=\"" + std::string(report.complete ? "true" : "false") + "\"/>\n";
  if (!report.tool_version.empty())
    out += "      <property name=\"crashcheck_version\" value=\"" + esc(report.tool_version) + "\"/>\n";
  out += "    </properties>\n" + cases;
  if (!report.notes.empty()) {
    std::string notes;
    for (const auto& note : report.notes) notes += note + "\n";
    out += "    <system-out>" + esc(notes) + "</system-out>\n";
  }
  return out + "  </testsuite>\n</testsuites>\n";
}

}  // namespace crashcheck::reports
