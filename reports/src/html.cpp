// report.html: one self-contained page (no scripts, no network: a Content
// Security Policy forbids both, so even a bug in escaping cannot run code).
// First a picture of the run — counted calls along x, fault models along y,
// each cell coloured by what the fault there left — then the property table,
// every counterexample with its state and replay command, and the calls.
#include "crashcheck/report.hpp"
#include "text.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <limits>
#include <string>

namespace crashcheck::reports {
namespace {

constexpr std::size_t kCounterexamplesPerProperty = 50;
constexpr std::size_t kCallsListed = 500;

std::string esc(std::string_view raw) { return text::markup_escape(raw); }

// A site's whole path as the element's tooltip; the text shows its label.
std::string site_title(const std::string& site) { return site.empty() ? "" : " title=\"" + esc(site) + "\""; }

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

const OutcomeInfo& outcome_info(std::string_view outcome) {
  static constexpr OutcomeInfo kUnknown{Outcome::other, "unknown", "#000000", "unknown outcome"};
  for (const auto& o : kOutcomeTable)
    if (o.name == outcome) return o;
  return kUnknown;
}

constexpr std::string_view kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.summary{font-size:15px}.bad{color:#b31d28;font-weight:600}.good{color:#1a7f37;font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dl.facts dt{color:#57606a}dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;border:1px solid #d0d7de;border-radius:6px;padding:8px;background:#fafbfc}
svg text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#1b1f24}svg .axis{fill:#57606a}
svg .empty{fill:#eef0f2}svg .cell rect{stroke:#fff;stroke-width:.5}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px;margin:10px 0}
ul.legend li{display:flex;align-items:center;gap:6px}.swatch{display:inline-block;width:14px;height:14px;border-radius:2px;border:1px solid #0002}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.v-pass{background:#dafbe1;color:#1a7f37}.v-fail{background:#ffebe9;color:#b31d28}.v-not_run{background:#eaeef2;color:#57606a}
article.cx{border:1px solid #d0d7de;border-left:4px solid #b31d28;border-radius:6px;padding:8px 12px;margin:10px 0}
article.cx h4{margin:0 0 4px;font-size:14px}pre.replay{background:#1b1f24;color:#f0f3f6;padding:8px 10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.warning{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px}
)";

// The verdict in a few words. A run that judged nothing says "not checkable"
// and why; an interrupted run is never green, whatever its verdicts so far.
std::string verdict_span(const Report& report) {
  if (report.not_checkable) return "<span class=\"bad\">not checkable: " + esc(*report.not_checkable) + "</span>";
  const std::size_t failing = text::count_verdict(report, Verdict::fail);
  const std::string prefix = report.complete ? "" : "<span class=\"bad\">incomplete</span> · ";
  if (failing != 0)
    return prefix + "<span class=\"bad\">" + std::to_string(failing) + " of " +
           std::to_string(text::property_order(report).size()) + " properties fail</span>";
  if (const auto unjudged = content_unjudged(report))
    return prefix + "<span class=\"bad\">nothing judged about the content (" + esc(*unjudged) + ")</span>";
  return prefix + (report.complete ? "<span class=\"good\">no property fails</span>"
                                   : std::string("no property failed in the cases that ran"));
}

std::string page_header(const Report& report) {
  std::uint64_t cases = 0;
  for (const auto& [model, count] : report.model_cases) cases = text::saturating_add(cases, count);
  const Subject& s = report.subject;
  std::string out = "<header>\n<h1>crashcheck report: " + esc(s.name) + "</h1>\n<p class=\"summary\">";
  out += verdict_span(report);
  out += " · " + std::to_string(text::count_verdict(report, Verdict::pass)) + " pass · " +
         std::to_string(text::count_verdict(report, Verdict::not_run)) + " not run · " + text::count_text(cases) +
         " cases in " + number(report.duration_s) + " s</p>\n";
  if (!report.complete)
    out += "<p class=\"warning\"><strong>The run was cut short:</strong> verdicts cover only the cases that ran.</p>\n";
  out += "<dl class=\"facts\">\n";
  const auto fact = [&](std::string_view label, const std::string& value) {
    if (!value.empty()) out += "<dt>" + std::string(label) + "</dt><dd>" + value + "</dd>\n";
  };
  fact("command", "<code>" + esc(text::command_line(s.command)) + "</code>");
  fact("scenario", esc(s.scenario));
  fact("target", "<code>" + esc(s.target) + "</code>");
  fact("old content", s.had_old ? esc(s.old_file) + " (mode " + esc(s.old_mode) + ")"
                                : std::string("none: the target does not exist beforehand"));
  fact("new content", esc(text::new_content_words(s)));
  fact("validator", esc(s.validator));
  fact("timeout", number(s.timeout_s) + " s");
  fact("cases per model", [&] {
    std::string list;
    for (const auto& [model, count] : report.model_cases)
      list += (list.empty() ? "" : ", ") + esc(model) + " " + std::to_string(count);
    return list;
  }());
  fact("created",
       esc(report.created) + (report.tool_version.empty() ? "" : " by crashcheck " + esc(report.tool_version)));
  return out + "</dl>\n</header>\n";
}

// ---- the picture -----------------------------------------------------------

struct Grid {
  std::vector<std::string> models;    // rows, top to bottom
  std::uint32_t first = 1, last = 0;  // columns
  std::map<std::pair<std::string, std::uint32_t>, std::vector<const Cell*>> cells;
  std::map<std::uint32_t, const CallSummary*> calls;
};

Grid build_grid(const Report& report) {
  Grid grid;
  std::set<std::string> seen;
  for (const Cell& cell : report.cells) {
    seen.insert(cell.model);
    grid.cells[{cell.model, cell.call_index}].push_back(&cell);
    grid.first = std::min(grid.first, cell.call_index);
    grid.last = std::max(grid.last, cell.call_index);
  }
  std::vector<const ModelInfo*> rows;
  for (const auto& m : kModelTable)
    if (m.picture_row >= 0) rows.push_back(&m);
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->picture_row < b->picture_row; });
  for (const auto* m : rows) {
    if (seen.erase(std::string(m->name))) grid.models.emplace_back(m->name);
  }
  grid.models.insert(grid.models.end(), seen.begin(), seen.end());
  for (const CallSummary& call : report.calls) {
    grid.calls[call.seq] = &call;
    grid.last = std::max(grid.last, call.seq);
  }
  return grid;
}

std::string call_label(const Grid& grid, std::uint32_t seq) {
  const auto found = grid.calls.find(seq);
  if (found == grid.calls.end()) return "call " + std::to_string(seq);
  return "call " + std::to_string(seq) + " " +
         (found->second->summary.empty() ? found->second->call : found->second->summary);
}

// One square: a stripe per distinct outcome found there (several cases can
// land on one call, e.g. kill before and after it, or several errnos).
std::string grid_cell(const Grid& grid, const std::string& model, std::uint32_t seq, int x, int y, int w, int h) {
  const auto found = grid.cells.find({model, seq});
  if (found == grid.cells.end()) {
    return "<rect class=\"empty\" x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           std::to_string(w) + "\" height=\"" + std::to_string(h) + "\"/>";
  }
  std::map<std::size_t, std::pair<std::string, std::size_t>> outcomes;  // legend order -> (outcome, count)
  for (const Cell* cell : found->second) {
    const auto at = std::find(kOutcomes.begin(), kOutcomes.end(), cell->outcome);
    auto& slot = outcomes[static_cast<std::size_t>(at - kOutcomes.begin())];
    slot.first = cell->outcome;
    ++slot.second;
  }
  std::string tip = model + " at " + call_label(grid, seq) + ":";
  for (const auto& [order, entry] : outcomes) tip += " " + entry.first + " ×" + std::to_string(entry.second);
  std::string out = "<g class=\"cell\" data-model=\"" + esc(model) + "\" data-call=\"" + std::to_string(seq) +
                    "\"><title>" + esc(tip) + "</title>";
  const int stripes = static_cast<int>(outcomes.size());
  int index = 0;
  for (const auto& [order, entry] : outcomes) {
    const int top = y + h * index / stripes, bottom = y + h * (index + 1) / stripes;
    out += "<rect class=\"o-" + esc(entry.first) + "\" x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(top) +
           "\" width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(bottom - top) + "\" fill=\"" +
           std::string(outcome_info(entry.first).colour) + "\"/>";
    ++index;
  }
  return out + "</g>";
}

std::string picture_svg(const Grid& grid) {
  const int columns = static_cast<int>(grid.last - grid.first + 1);
  // Few calls get wide cells so the picture reads at a glance; many get
  // narrow ones so a whole run still fits a screen or two.
  const int w = columns <= 16 ? 44 : columns <= 60 ? 18 : columns <= 200 ? 12 : 6, h = 30;
  const int left = 90, top = 22, right = 70;
  const bool names = w >= 18;  // narrower columns would overlap the names
  const int bottom = names ? 70 : 10;
  const int step = columns <= 40 ? 1 : columns <= 200 ? 5 : 25;
  const int width = left + columns * w + right, height = top + static_cast<int>(grid.models.size()) * h + bottom;
  std::string out = "<svg role=\"img\" aria-label=\"outcome per fault model and call\" width=\"" +
                    std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) + "\">\n";
  for (int c = 0; c < columns; ++c) {
    const std::uint32_t seq = grid.first + static_cast<std::uint32_t>(c);
    const int x = left + c * w;
    if (seq % static_cast<std::uint32_t>(step) == 0 || step == 1) {
      out += "<text class=\"axis\" x=\"" + std::to_string(x + w / 2) + "\" y=\"" + std::to_string(top - 8) +
             "\" text-anchor=\"middle\">" + std::to_string(seq) + "</text>";
    }
    const auto call = grid.calls.find(seq);
    if (names && call != grid.calls.end()) {
      const int y = top + static_cast<int>(grid.models.size()) * h + 6;
      out += "<text x=\"" + std::to_string(x + w / 2 + 4) + "\" y=\"" + std::to_string(y) +
             "\" transform=\"rotate(50 " + std::to_string(x + w / 2 + 4) + " " + std::to_string(y) + ")\">" +
             esc(text::shortened(call->second->call, 14)) + "</text>";
    }
  }
  out += "\n";
  for (std::size_t r = 0; r < grid.models.size(); ++r) {
    const int y = top + static_cast<int>(r) * h;
    out += "<text x=\"" + std::to_string(left - 8) + "\" y=\"" + std::to_string(y + h / 2 + 4) +
           "\" text-anchor=\"end\">" + esc(text::shortened(grid.models[r], 12)) + "</text>";
    for (int c = 0; c < columns; ++c) {
      out += grid_cell(grid, grid.models[r], grid.first + static_cast<std::uint32_t>(c), left + c * w, y, w, h);
    }
    out += "\n";
  }
  return out + "</svg>";
}

std::string legend() {
  std::string out = "<ul class=\"legend\">";
  for (const auto outcome : kOutcomes) {
    const OutcomeInfo& info = outcome_info(outcome);
    out += "<li><span class=\"swatch\" style=\"background:" + std::string(info.colour) + "\"></span><strong>" +
           std::string(outcome) + "</strong> " + std::string(info.legend) + "</li>";
  }
  return out + "<li><span class=\"swatch\" style=\"background:#eef0f2\"></span>no case at this call</li></ul>\n";
}

std::string picture(const Report& report) {
  std::string out =
      "<section id=\"picture\">\n<h2>What a crash or fault at each call left behind</h2>\n"
      "<p>Columns are the subject's counted file-system calls in order; rows are fault models. A cell is split when "
      "several cases at that call left different states; hover for details.</p>\n";
  if (report.cells.empty()) return out + "<p>This report has no per-call outcomes.</p>\n</section>\n";
  return out + "<div class=\"scroll\">" + picture_svg(build_grid(report)) + "</div>\n" + legend() + "</section>\n";
}

// ---- tables and counterexamples --------------------------------------------

std::string verdict_badge(Verdict verdict) {
  const std::string name(verdict_name(verdict));
  return "<span class=\"verdict v-" + name + "\">" + (verdict == Verdict::not_run ? std::string("not run") : name) +
         "</span>";
}

std::string property_table(const Report& report) {
  std::string out =
      "<section id=\"properties\">\n<h2>Properties</h2>\n<table id=\"property-table\">\n"
      "<thead><tr><th>property</th><th>verdict</th><th>cases</th><th>failures</th><th>notes</th></tr></"
      "thead>\n<tbody>\n";
  const auto names = text::property_order(report);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const PropertyResult& result = text::result_of(report, names[i]);
    std::string notes = result.reason.empty() ? "" : esc(result.reason);
    for (const auto& note : result.notes) notes += (notes.empty() ? "" : "<br>") + esc(note);
    const std::string name =
        result.failures.empty() ? esc(names[i]) : "<a href=\"#cx-" + std::to_string(i) + "\">" + esc(names[i]) + "</a>";
    out += "<tr class=\"property\" data-property=\"" + esc(names[i]) + "\" data-verdict=\"" +
           std::string(verdict_name(result.verdict)) + "\"><td><code>" + name + "</code></td><td>" +
           verdict_badge(result.verdict) + "</td><td class=\"num\">" + std::to_string(result.cases) +
           "</td><td class=\"num\">" + text::count_text(failing_cases(result)) + "</td><td>" + notes + "</td></tr>\n";
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

std::string counterexample(const Failure& f) {
  std::string out = "<article class=\"cx\">\n<h4>case <code>" + esc(f.case_id) + "</code> — " + esc(f.model) +
                    (f.call_index ? " at call " + std::to_string(f.call_index) : std::string()) + "</h4>\n";
  if (!f.detail.empty()) out += "<p>" + esc(f.detail) + "</p>\n";
  out += "<dl class=\"facts\">\n";
  const auto fact = [&](std::string_view label, const std::string& value) {
    if (!value.empty()) out += "<dt>" + std::string(label) + "</dt><dd>" + value + "</dd>\n";
  };
  fact("fault", esc(f.fault));
  fact("call", "<code>" + esc(f.call) + "</code>");
  if (!f.site.empty()) fact("site", "<code class=\"site\"" + site_title(f.site) + ">" + esc(f.site) + "</code>");
  fact("exit status", std::to_string(f.exit_status) +
                          (f.exit_status < 0 ? " (killed by signal " + std::to_string(-f.exit_status) + ")" : ""));
  fact("target", esc(text::state_summary(f.target)));
  if (!f.target.excerpt.empty()) fact("content", "<code>" + esc(f.target.excerpt) + "</code>");
  if (!f.target.excerpt_hex.empty()) fact("first bytes (hex)", "<code>" + esc(f.target.excerpt_hex) + "</code>");
  std::string leftovers;
  for (const auto& name : f.leftovers)
    leftovers += (leftovers.empty() ? "" : ", ") + ("<code>" + esc(name) + "</code>");
  fact("left in the directory", leftovers);
  out += "</dl>\n";
  if (!f.replay.empty()) out += "<p>Replay:</p>\n<pre class=\"replay\"><code>" + esc(f.replay) + "</code></pre>\n";
  return out + "</article>\n";
}

std::string counterexamples(const Report& report) {
  std::string out;
  const auto names = text::property_order(report);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const PropertyResult& result = text::result_of(report, names[i]);
    const auto& failures = result.failures;
    if (failures.empty()) continue;
    const std::uint64_t failing = failing_cases(result);
    out += "<h3 id=\"cx-" + std::to_string(i) + "\"><code>" + esc(names[i]) + "</code> — " + text::count_text(failing) +
           " counterexample" + (failing == 1 ? "" : "s") + "</h3>\n";
    for (std::size_t k = 0; k < failures.size() && k < kCounterexamplesPerProperty; ++k)
      out += counterexample(failures[k]);
    const std::uint64_t shown = std::min<std::uint64_t>(failures.size(), kCounterexamplesPerProperty);
    if (failing > shown) {
      out += "<p>" +
             (failing == std::numeric_limits<std::uint64_t>::max() ? text::count_text(failing)
                                                                   : std::to_string(failing - shown)) +
             " more counterexamples" + (failures.size() > shown ? "; those listed are in report.json" : "") + ".</p>\n";
    }
  }
  if (out.empty()) return "";
  return "<section id=\"counterexamples\">\n<h2>Counterexamples</h2>\n" + out + "</section>\n";
}

// One "Fix:" line per failing property: the diagnosis, or that none applies.
std::string fixes(const Report& report) {
  std::string out;
  for (const auto& line : text::fix_lines(report)) {
    out += "<li class=\"fix\" data-property=\"" + esc(line.property) + "\"><code>" + esc(line.property) +
           "</code> — Fix: ";
    if (!line.diagnosis) {
      out += esc(text::kNoKnownPattern) + ".</li>\n";
      continue;
    }
    const Diagnosis& d = *line.diagnosis;
    if (!line.same_as.empty()) {
      out += "as <code>" + esc(line.same_as) + "</code> (<code>" + esc(d.rule) + "</code>)</li>\n";
      continue;
    }
    out += esc(d.hint);
    if (d.call_index != 0)
      out += " At call " + std::to_string(d.call_index) + " <code" + site_title(d.site) + ">" +
             esc(text::call_at_site(d.call, d.site)) + "</code>:";
    if (!line.snippet.empty()) out += " <code class=\"snippet\">" + esc(line.snippet) + "</code>";
    out += " (<code>" + esc(d.rule) + "</code>; steps: " + esc(kReferenceSteps) + ")</li>\n";
  }
  return out.empty() ? "" : "<section id=\"fixes\">\n<h2>Fix</h2>\n<ul>\n" + out + "</ul>\n</section>\n";
}

std::string calls_and_notes(const Report& report) {
  std::string out;
  if (!report.calls.empty()) {
    out +=
        "<section id=\"calls\">\n<h2>Counted calls (fault-free "
        "run)</h2>\n<table>\n<thead><tr><th>#</th><th>call</th><th>what</th></tr></thead>\n<tbody>\n";
    for (std::size_t i = 0; i < report.calls.size() && i < kCallsListed; ++i) {
      const CallSummary& c = report.calls[i];
      out += "<tr><td class=\"num\">" + std::to_string(c.seq) + "</td><td><code>" + esc(c.call) +
             "</code></td><td><code>" + esc(c.summary) + "</code>" +
             (c.site.empty()
                  ? ""
                  : " <code class=\"site\"" + site_title(c.site) + ">" + esc(text::site_label(c.site)) + "</code>") +
             "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
    if (report.calls.size() > kCallsListed)
      out += "<p>" + std::to_string(report.calls.size() - kCallsListed) + " more in report.json.</p>\n";
    out += "</section>\n";
  }
  if (!report.notes.empty()) {
    out += "<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n";
    for (const auto& note : report.notes) out += "<li>" + esc(note) + "</li>\n";
    out += "</ul>\n</section>\n";
  }
  return out;
}

}  // namespace

std::string render_html(const Report& report) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>crashcheck: " +
         esc(report.subject.name) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n" +
         page_header(report) + picture(report) + property_table(report) + fixes(report) + counterexamples(report) +
         calls_and_notes(report) + "</body>\n</html>\n";
}

}  // namespace crashcheck::reports
