// The report's JSON form (schema crashcheck-report/1) and its strict reader:
// every field is required and typed; a problem names the source and the JSON
// pointer of the field, so a hand-edited or truncated report is easy to fix.
#include "crashcheck/report.hpp"
#include "text.hpp"

#include <crashcheck/reference.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace crashcheck::reports {

using nlohmann::json;

std::string_view verdict_name(Verdict v) noexcept {
  switch (v) {
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
    case Verdict::not_run:
      return "not_run";
  }
  return "not_run";
}

std::uint64_t failing_cases(const PropertyResult& result) noexcept {
  return std::max<std::uint64_t>(result.failing, result.failures.size());
}

bool about_content(std::string_view property) noexcept {
  return property != "mode_preserved" && property != "temp_clean";
}

std::optional<std::string> content_unjudged(const Report& report) {
  const bool directory = !report.subject.initial_dir.empty();
  std::optional<std::string> reason;
  for (const std::string_view name : kProperties) {  // in the table's order: crash_atomic's reason first
    const auto found = report.properties.find(std::string(name));
    if (found == report.properties.end() || !about_content(name) ||
        !(directory ? judged_in_directory_mode(name) : judged_in_file_mode(name)))
      continue;
    if (found->second.verdict != Verdict::not_run) return std::nullopt;
    if (!reason && !found->second.reason.empty()) reason = std::string(name) + ": " + found->second.reason;
  }
  return reason ? reason : std::optional<std::string>("no property about the content was run");
}

std::optional<Verdict> parse_verdict(std::string_view name) noexcept {
  for (const Verdict v : {Verdict::pass, Verdict::fail, Verdict::not_run}) {
    if (verdict_name(v) == name) return v;
  }
  return std::nullopt;
}

// ---- writing ---------------------------------------------------------------

namespace {

json strings(const std::vector<std::string>& values) {
  json out = json::array();
  for (const auto& value : values) out.push_back(text::valid_utf8(value));
  return out;
}

json state_json(const FileState& s) {
  return {{"exists", s.exists},
          {"size", s.size},
          {"mode", text::valid_utf8(s.mode)},
          {"matches", text::valid_utf8(s.matches)},
          {"excerpt", text::valid_utf8(s.excerpt)},
          {"excerpt_hex", text::valid_utf8(s.excerpt_hex)}};
}

// "site" is present only where one is known (reports/README.md).
void add_site(json& out, const std::string& site) {
  if (!site.empty()) out["site"] = text::valid_utf8(site);
}

json failure_json(const Failure& f) {
  json out = {{"case_id", text::valid_utf8(f.case_id)},
              {"model", text::valid_utf8(f.model)},
              {"call_index", f.call_index},
              {"call", text::valid_utf8(f.call)},
              {"fault", text::valid_utf8(f.fault)},
              {"target", state_json(f.target)},
              {"leftovers", strings(f.leftovers)},
              {"exit_status", f.exit_status},
              {"detail", text::valid_utf8(f.detail)},
              {"replay", text::valid_utf8(f.replay)}};
  add_site(out, f.site);
  return out;
}

json property_json(const PropertyResult& p) {
  json failures = json::array();
  for (const auto& f : p.failures) failures.push_back(failure_json(f));
  return {{"verdict", std::string(verdict_name(p.verdict))},
          {"cases", p.cases},
          {"failures", std::move(failures)},
          {"reason", text::valid_utf8(p.reason)},
          {"notes", strings(p.notes)},
          {"failing", failing_cases(p)}};
}

json subject_json(const Subject& s) {
  json out = {{"name", text::valid_utf8(s.name)},
              {"command", strings(s.command)},
              {"scenario", text::valid_utf8(s.scenario)},
              {"target", text::valid_utf8(s.target)},
              {"had_old", s.had_old},
              {"old_file", text::valid_utf8(s.old_file)},
              {"old_mode", text::valid_utf8(s.old_mode)},
              {"payload_file", text::valid_utf8(s.payload_file)},
              {"payload_size", s.payload_size},
              {"validator", text::valid_utf8(s.validator)},
              {"timeout_s", s.timeout_s}};
  if (!s.backend.empty()) out["backend"] = text::valid_utf8(s.backend);
  if (!s.payload_b_file.empty()) out["payload_b_file"] = text::valid_utf8(s.payload_b_file);
  out["payload_given"] = s.payload_given;
  out["compare"] = text::valid_utf8(s.compare);
  if (!s.initial_dir.empty()) out["initial_dir"] = text::valid_utf8(s.initial_dir);  // directory mode only
  if (!s.checker.empty()) out["checker"] = strings(s.checker);
  return out;
}

json diagnosis_json(const Diagnosis& d) {
  json fix = json::object();
  for (const auto& [language, snippet] : d.fix) fix[text::valid_utf8(language)] = text::valid_utf8(snippet);
  json out = {{"rule", text::valid_utf8(d.rule)}, {"property", text::valid_utf8(d.property)},
              {"call_index", d.call_index},       {"call", text::valid_utf8(d.call)},
              {"hint", text::valid_utf8(d.hint)}, {"fix", std::move(fix)}};
  add_site(out, d.site);
  return out;
}

}  // namespace

json to_json(const Report& report) {
  json properties = json::object();
  for (const auto& [name, result] : report.properties) {
    properties[text::valid_utf8(name)] = property_json(result);
  }
  json model_cases = json::object();
  for (const auto& [model, cases] : report.model_cases) model_cases[text::valid_utf8(model)] = cases;
  json calls = json::array();
  for (const auto& c : report.calls) {
    json call = {{"seq", c.seq}, {"call", text::valid_utf8(c.call)}, {"summary", text::valid_utf8(c.summary)}};
    add_site(call, c.site);
    calls.push_back(std::move(call));
  }
  json cells = json::array();
  for (const auto& c : report.cells) {
    cells.push_back({{"model", text::valid_utf8(c.model)},
                     {"call_index", c.call_index},
                     {"outcome", text::valid_utf8(c.outcome)},
                     {"case_id", text::valid_utf8(c.case_id)}});
  }
  json out = {{"schema", text::valid_utf8(report.schema)},
              {"tool_version", text::valid_utf8(report.tool_version)},
              {"complete", report.complete},
              {"created", text::valid_utf8(report.created)},
              {"duration_s", report.duration_s},
              {"subject", subject_json(report.subject)},
              {"properties", std::move(properties)},
              {"model_cases", std::move(model_cases)},
              {"calls", std::move(calls)},
              {"cells", std::move(cells)},
              {"notes", strings(report.notes)}};
  if (report.not_checkable) out["not_checkable"] = text::valid_utf8(*report.not_checkable);
  out["diagnoses"] = json::array();
  for (const auto& d : report.diagnoses) out["diagnoses"].push_back(diagnosis_json(d));
  if (report.shard)
    out["shard"] = {
        {"index", report.shard->index}, {"count", report.shard->count}, {"plan", text::valid_utf8(report.shard->plan)}};
  return out;
}

std::string render_json(const Report& report) {
  // `replace` only guards against a bug: to_json already made strings valid.
  return to_json(report).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- reading ---------------------------------------------------------------

namespace {

// A JSON value together with where it sits, so every complaint can name the
// file and the field (RFC 6901 pointer).
class Node {
 public:
  Node(const json& value, std::string pointer, std::string_view source)
      : value_(value), pointer_(std::move(pointer)), source_(source) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw ReportError(std::string(source_) + ": " + (pointer_.empty() ? "/" : pointer_) + ": " + problem);
  }

  Node operator[](std::string_view key) const {
    expect(value_.is_object(), "an object");
    const auto found = value_.find(key);
    Node child(found == value_.end() ? value_ : *found, pointer_ + "/" + escape(key), source_);
    if (found == value_.end()) child.fail("missing");
    return child;
  }

  bool has(std::string_view key) const { return value_.is_object() && value_.contains(key); }

  std::vector<Node> items() const {
    expect(value_.is_array(), "an array");
    std::vector<Node> out;
    for (std::size_t i = 0; i < value_.size(); ++i)
      out.emplace_back(value_[i], pointer_ + "/" + std::to_string(i), source_);
    return out;
  }

  std::vector<std::pair<std::string, Node>> members() const {
    expect(value_.is_object(), "an object");
    std::vector<std::pair<std::string, Node>> out;
    for (const auto& [key, value] : value_.items())
      out.emplace_back(key, Node(value, pointer_ + "/" + escape(key), source_));
    return out;
  }

  std::string text() const {
    expect(value_.is_string(), "a string");
    return value_.get<std::string>();
  }
  bool flag() const {
    expect(value_.is_boolean(), "true or false");
    return value_.get<bool>();
  }
  double number() const {
    expect(value_.is_number(), "a number");
    return value_.get<double>();
  }
  std::uint64_t count() const {
    expect(value_.is_number_unsigned(), "a non-negative integer");
    return value_.get<std::uint64_t>();
  }
  std::uint32_t count32() const {
    const std::uint64_t n = count();
    if (n > std::numeric_limits<std::uint32_t>::max()) fail("expected an integer below 2^32, got " + std::to_string(n));
    return static_cast<std::uint32_t>(n);
  }
  int integer() const {
    expect(value_.is_number_integer(), "an integer");
    const auto n = value_.get<std::int64_t>();
    if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) fail("integer out of range");
    return static_cast<int>(n);
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const Node& item : items()) out.push_back(item.text());
    return out;
  }

 private:
  void expect(bool ok, std::string_view expected) const {
    if (!ok) fail("expected " + std::string(expected) + ", got " + value_.type_name());
  }
  static std::string escape(std::string_view key) {
    std::string out;
    for (const char c : key) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
    return out;
  }

  const json& value_;
  std::string pointer_;
  std::string_view source_;
};

FileState read_state(const Node& n) {
  return {n["exists"].flag(),  n["size"].count(),   n["mode"].text(),
          n["matches"].text(), n["excerpt"].text(), n["excerpt_hex"].text()};
}

// Added after the first /1 reports, and only where known.
std::string read_site(const Node& n) { return n.has("site") ? n["site"].text() : std::string(); }

Failure read_failure(const Node& n) {
  return {n["case_id"].text(),
          n["model"].text(),
          n["call_index"].count32(),
          n["call"].text(),
          n["fault"].text(),
          read_state(n["target"]),
          n["leftovers"].texts(),
          n["exit_status"].integer(),
          n["detail"].text(),
          n["replay"].text(),
          read_site(n)};
}

PropertyResult read_property(const Node& n) {
  PropertyResult p;
  const Node verdict = n["verdict"];
  const auto parsed = parse_verdict(verdict.text());
  if (!parsed) verdict.fail("unknown verdict '" + verdict.text() + "' (expected pass, fail or not_run)");
  p.verdict = *parsed;
  p.cases = n["cases"].count();
  for (const Node& f : n["failures"].items()) p.failures.push_back(read_failure(f));
  p.reason = n["reason"].text();
  p.notes = n["notes"].texts();
  // "failing" came after the first /1 reports: absent, it is the listed
  // count, which the model keeps as 0.
  if (n.has("failing")) {
    const std::uint64_t failing = n["failing"].count();
    if (failing < p.failures.size())
      n["failing"].fail("fewer failing cases (" + std::to_string(failing) + ") than counterexamples listed (" +
                        std::to_string(p.failures.size()) + ")");
    p.failing = failing == p.failures.size() ? 0 : failing;
  }
  // Every fail carries its counterexamples, and only a fail does.
  if (p.verdict == Verdict::fail && p.failures.empty())
    n["failures"].fail("verdict is fail but there is no counterexample");
  if (p.verdict != Verdict::fail && !p.failures.empty())
    n["failures"].fail("counterexamples on a property whose verdict is not fail");
  return p;
}

Subject read_subject(const Node& n, const json& raw) {
  Subject s{n["name"].text(),
            n["command"].texts(),
            n["scenario"].text(),
            n["target"].text(),
            n["had_old"].flag(),
            n["old_file"].text(),
            n["old_mode"].text(),
            n["payload_file"].text(),
            n["payload_size"].count(),
            n["validator"].text(),
            n["timeout_s"].number(),
            "",
            "",
            true,
            "bytes",
            "",
            {}};
  if (raw.is_object() && raw.contains("initial_dir")) s.initial_dir = n["initial_dir"].text();  // directory mode
  if (raw.is_object() && raw.contains("checker")) s.checker = n["checker"].texts();
  if (raw.is_object() && raw.contains("backend")) s.backend = n["backend"].text();  // optional: older reports lack it
  if (raw.is_object() && raw.contains("payload_b_file")) s.payload_b_file = n["payload_b_file"].text();  // optional
  if (raw.is_object() && raw.contains("payload_given")) s.payload_given = n["payload_given"].flag();     // optional
  if (raw.is_object() && raw.contains("compare")) s.compare = n["compare"].text();                       // optional
  return s;
}

Cell read_cell(const Node& n) {
  Cell c{n["model"].text(), n["call_index"].count32(), n["outcome"].text(), n["case_id"].text()};
  if (std::find(kOutcomes.begin(), kOutcomes.end(), c.outcome) == kOutcomes.end()) {
    n["outcome"].fail("unknown outcome '" + c.outcome + "'");
  }
  return c;
}

Shard read_shard(const Node& n) {
  Shard s{n["index"].count32(), n["count"].count32(), n["plan"].text()};
  if (s.count == 0 || s.index == 0 || s.index > s.count)
    n.fail("expected 1 <= index <= count, got " + std::to_string(s.index) + "/" + std::to_string(s.count));
  return s;
}

Diagnosis read_diagnosis(const Node& n) {
  Diagnosis d{n["rule"].text(), n["property"].text(), n["call_index"].count32(), n["call"].text(), n["hint"].text(), {},
              read_site(n)};
  for (const auto& [language, snippet] : n["fix"].members()) d.fix[language] = snippet.text();
  return d;
}

}  // namespace

Report from_json(const json& document, std::string_view source) {
  const Node root(document, "", source);
  Report report;
  report.schema = root["schema"].text();
  if (report.schema != kSchema) {
    throw ReportError(std::string(source) + ": unsupported schema '" + report.schema + "' (expected " +
                      std::string(kSchema) + ")");
  }
  report.tool_version = root["tool_version"].text();
  report.complete = root["complete"].flag();
  report.created = root["created"].text();
  report.duration_s = root["duration_s"].number();
  report.subject = read_subject(root["subject"], document.is_object() ? document.value("subject", json()) : json());
  const Node properties = root["properties"];
  for (const auto& [name, node] : properties.members()) report.properties[name] = read_property(node);
  for (std::size_t i = 0; i < kProperties.size(); ++i) {
    // Each must be there, but concurrent_safe and directory mode's names came
    // after the first /1 reports.
    const std::string name(kProperties[i]);
    const bool later = name == "concurrent_safe" || i >= kFileModeProperties;
    if (later && !report.properties.count(name)) {
      report.properties[name].reason = name == "concurrent_safe"
                                           ? "not judged: the report predates the concurrent model"
                                           : "not judged: the report predates directory mode";
      continue;
    }
    properties[name];
  }
  for (const auto& [model, node] : root["model_cases"].members()) report.model_cases[model] = node.count();
  for (const Node& c : root["calls"].items())
    report.calls.push_back({c["seq"].count32(), c["call"].text(), c["summary"].text(), read_site(c)});
  for (const Node& c : root["cells"].items()) report.cells.push_back(read_cell(c));
  report.notes = root["notes"].texts();
  if (document.is_object() && document.contains("shard")) report.shard = read_shard(root["shard"]);
  if (root.has("not_checkable")) report.not_checkable = root["not_checkable"].text();
  // Added after the first /1 reports: older ones have no diagnoses.
  if (document.is_object() && document.contains("diagnoses"))
    for (const Node& d : root["diagnoses"].items()) report.diagnoses.push_back(read_diagnosis(d));
  return report;
}

Report load_report(const std::filesystem::path& file) {
  const std::optional<std::string> bytes = read_file(file);
  if (!bytes) throw ReportError(file.string() + ": cannot open: " + std::strerror(errno));
  return parse_report(*bytes, file.string());
}

Report parse_report(std::string_view bytes, std::string_view source_name) {
  const std::string source(source_name);
  json document;
  try {
    document = json::parse(bytes);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number no double holds (1e999).
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep line/column.
    if (const auto tag_end = what.find("] "); what.starts_with("[json.exception") && tag_end != std::string::npos) {
      what.erase(0, tag_end + 2);
    }
    throw ReportError(source + ": not valid JSON: " + what);
  }
  return from_json(document, source);
}

}  // namespace crashcheck::reports
