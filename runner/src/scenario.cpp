#include "crashcheck/runner/scenario.hpp"

#include <crashcheck/powerloss.hpp>
#include <crashcheck/reference.hpp>

#include "crashcheck/runner/scratch_case.hpp"

#include <crashcheck/report.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace crashcheck::runner {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Every error of one file goes through here so messages share one shape:
// "<file>: field "<field>": <problem>".
struct FieldErrors {
  std::string file;
  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    throw InputError(file + ": field \"" + std::string(field) + "\": " + std::string(problem));
  }
  const std::string& string(const json& value, std::string_view field) const {
    if (!value.is_string()) fail(field, "expected a string, got " + value.dump());
    return value.get_ref<const std::string&>();
  }
  const json& object(const json& value, std::string_view field, std::initializer_list<std::string_view> allowed) const {
    if (!value.is_object()) fail(field, "expected an object, got " + value.dump());
    for (const auto& [key, _] : value.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        fail(std::string(field) + "." + key, "unknown field");
    return value;
  }
  std::vector<std::string> strings(const json& value, std::string_view field) const {
    if (!value.is_array() || value.empty()) fail(field, "expected a non-empty array of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < value.size(); ++i)
      out.push_back(string(value[i], std::string(field) + "[" + std::to_string(i) + "]"));
    return out;
  }
  fs::path existing_file(const json& value, std::string_view field, const fs::path& base) const {
    fs::path path = string(value, field);
    if (path.is_relative()) path = base / path;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) fail(field, "no such file: " + path.string());
    return fs::absolute(path).lexically_normal();
  }
};

json parse_json_text(std::string_view text, const fs::path& file) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number no double holds (1e999):
    // both are bad input (found by fuzz_scenario).
    throw InputError(file.string() + ": not valid JSON: " + e.what());
  }
}

bool safe_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

void load_old(Scenario& s, const json& value, const FieldErrors& errors) {
  if (value.is_null()) return;
  errors.object(value, "old", {"file", "mode"});
  if (!value.contains("file")) errors.fail("old.file", "missing (or set \"old\": null)");
  OldFile old{errors.existing_file(value["file"], "old.file", s.directory()), 0644};
  if (value.contains("mode"))
    old.mode = parse_mode(errors.string(value["mode"], "old.mode"), errors.file + ": field \"old.mode\"");
  s.old = old;
}

// Directory mode (runner/README.md): "initial": {"dir": …} instead of "old",
// and the checker that judges each whole-directory state. Either both or neither.
void load_directory_mode(Scenario& s, const json& doc, const FieldErrors& errors) {
  if (!doc.contains("initial") && !doc.contains("checker")) return;
  if (!doc.contains("initial")) errors.fail("initial", "missing: a checker needs \"initial\": {\"dir\": …}");
  if (!doc.contains("checker"))
    errors.fail("checker", "missing: directory mode needs {\"command\": [argv with {dir}]}");
  if (doc.contains("old") && !doc["old"].is_null())
    errors.fail("old", "\"old\" and \"initial.dir\" exclude each other (one file, or a whole directory)");
  if (doc.contains("target")) errors.fail("target", "directory mode judges the whole directory: drop \"target\"");
  errors.object(doc["initial"], "initial", {"dir"});
  if (!doc["initial"].contains("dir")) errors.fail("initial.dir", "missing");
  fs::path dir = errors.string(doc["initial"]["dir"], "initial.dir");
  if (dir.is_relative()) dir = s.directory() / dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) errors.fail("initial.dir", "no such directory: " + dir.string());
  errors.object(doc["checker"], "checker", {"command"});
  if (!doc["checker"].contains("command")) errors.fail("checker.command", "missing");
  s.directory_mode =
      DirectoryMode{fs::absolute(dir).lexically_normal(), errors.strings(doc["checker"]["command"], "checker.command")};
}

void load_validator(Scenario& s, const json& value, const FieldErrors& errors) {
  if (value.is_null()) return;
  if (value.is_string()) {
    if (value != "json") errors.fail("validate", "expected \"json\", {\"command\": [...]} or null");
    s.validator.kind = Validator::Kind::json;
    return;
  }
  errors.object(value, "validate", {"command"});
  if (!value.contains("command")) errors.fail("validate.command", "missing");
  s.validator = {Validator::Kind::command, errors.strings(value["command"], "validate.command")};
}

// {"<property>": "pass" | "fail" | "not_run"} at `field` ("expect", or one profile's overrides).
std::map<std::string, std::string> verdict_map(const json& value, const std::string& field, const FieldErrors& errors) {
  if (!value.is_object()) errors.fail(field, "expected an object of property: verdict");
  std::map<std::string, std::string> out;
  for (const auto& [property, verdict] : value.items()) {
    const std::string where = field + "." + property;
    if (std::find(reports::kProperties.begin(), reports::kProperties.end(), property) == reports::kProperties.end())
      errors.fail(where, "unknown property");
    const std::string& v = errors.string(verdict, where);
    if (v != "pass" && v != "fail" && v != "not_run")
      errors.fail(where, "expected \"pass\", \"fail\" or \"not_run\", got \"" + v + "\"");
    out[property] = v;
  }
  return out;
}

// "expect_by_profile": {"ext4-ordered": {"durable": "pass"}}: what differs on
// one file-system profile. An override must name a known profile and change
// something `expect` says, so every entry records a measured difference.
void load_expect_by_profile(Scenario& s, const json& value, const FieldErrors& errors) {
  if (!value.is_object()) errors.fail("expect_by_profile", "expected an object of fs profile: {property: verdict}");
  for (const auto& [profile, overrides] : value.items()) {
    const std::string field = "expect_by_profile." + profile;
    if (!powerloss::parse_profile(profile)) errors.fail(field, "unknown fs profile (known: posix, ext4-ordered)");
    for (const auto& [property, verdict] : verdict_map(overrides, field, errors)) {
      const auto base = s.expect.find(property);
      if (base == s.expect.end())
        errors.fail(field + "." + property, "not in \"expect\": list it there (the verdict on the other profile)");
      if (base->second == verdict)
        errors.fail(field + "." + property, "repeats \"expect\" (\"" + verdict + "\"): drop it");
      s.expect_by_profile[profile][property] = verdict;
    }
  }
}

// "require" / "allow": arrays of property names (the gate policy, runner/README.md).
std::vector<std::string> property_list(const json& doc, const char* field, const FieldErrors& errors) {
  if (!doc.contains(field)) return {};
  std::string csv;
  for (const auto& p : errors.strings(doc[field], field)) {
    if (p.empty() || p.find(',') != std::string::npos) errors.fail(field, "unknown property \"" + p + "\"");
    csv += (csv.empty() ? "" : ",") + p;
  }
  return parse_properties(csv, errors.file + ": field \"" + field + "\"");
}

void load_policy(Scenario& s, const json& doc, const FieldErrors& errors) {
  s.require = property_list(doc, "require", errors);
  s.allow = property_list(doc, "allow", errors);
  check_policy_lists(s.require, s.allow, errors.file + ": field \"allow\"");
}

void load_fields(Scenario& s, const json& doc, const FieldErrors& errors) {
  errors.object(
      doc, "(top level)",
      {"name", "description", "command", "target", "old", "payload", "validate", "timeout_s", "models", "expect",
       "expect_by_profile", "require", "allow", "backend", "exhaustive", "payload_b", "compare", "initial", "checker"});
  load_directory_mode(s, doc, errors);
  // Directory mode has no target; the payload is optional in both modes.
  for (const char* required : {"name", "command", "target"})
    if (!doc.contains(required) && (!s.directory_mode || std::string_view(required) != "target"))
      errors.fail(required, "missing");
  s.name = errors.string(doc["name"], "name");
  if (!safe_name(s.name)) errors.fail("name", "use letters, digits, '.', '_' or '-' (it names the output folder)");
  if (doc.contains("description")) s.description = errors.string(doc["description"], "description");
  s.command = errors.strings(doc["command"], "command");
  if (!s.directory_mode) {
    s.target = errors.string(doc["target"], "target");
    if (!safe_name(s.target)) errors.fail("target", "expected a plain file name, got \"" + s.target + "\"");
    load_old(s, doc.value("old", json()), errors);
  }
  if (doc.contains("payload") && !doc["payload"].is_null()) {  // optional: without it each run's own content is new
    errors.object(doc["payload"], "payload", {"file"});
    if (!doc["payload"].contains("file")) errors.fail("payload.file", "missing");
    s.payload = errors.existing_file(doc["payload"]["file"], "payload.file", s.directory());
  }
  if (doc.contains("compare")) {
    const std::string& name = errors.string(doc["compare"], "compare");
    const auto compare = compare_from_name(name);
    if (!compare) errors.fail("compare", "expected \"bytes\" or \"json\", got \"" + name + "\"");
    s.compare = *compare;
  }
  if (doc.contains("payload_b")) {  // the concurrent model's second instance (runner/README.md)
    errors.object(doc["payload_b"], "payload_b", {"file"});
    if (!doc["payload_b"].contains("file")) errors.fail("payload_b.file", "missing");
    s.payload_b = errors.existing_file(doc["payload_b"]["file"], "payload_b.file", s.directory());
  }
  load_validator(s, doc.value("validate", json()), errors);
  if (doc.contains("timeout_s")) {
    const json& t = doc["timeout_s"];
    if (!t.is_number() || t.get<double>() <= 0 || t.get<double>() > 86400)
      errors.fail("timeout_s", "expected a number of seconds in (0, 86400], got " + t.dump());
    s.timeout_s = t.get<double>();
  }
  if (doc.contains("backend")) {
    const std::string& name = errors.string(doc["backend"], "backend");
    s.backend = faults::backend_from_name(name);
    if (!s.backend) errors.fail("backend", "expected \"seccomp\" or \"preload\", got \"" + name + "\"");
  }
  if (doc.contains("models")) {
    for (const auto& m : errors.strings(doc["models"], "models"))
      if (std::find(kModels.begin(), kModels.end(), m) == kModels.end())
        errors.fail("models", "unknown model \"" + m + "\"");
    s.models = errors.strings(doc["models"], "models");
  }
  if (doc.contains("exhaustive")) {
    if (!doc["exhaustive"].is_boolean())
      errors.fail("exhaustive", "expected true or false, got " + doc["exhaustive"].dump());
    s.exhaustive = doc["exhaustive"].get<bool>();
  }
  if (doc.contains("expect")) s.expect = verdict_map(doc["expect"], "expect", errors);
  if (doc.contains("expect_by_profile")) load_expect_by_profile(s, doc["expect_by_profile"], errors);
  load_policy(s, doc, errors);
}

}  // namespace

std::filesystem::path Scenario::directory() const { return file.empty() ? fs::current_path() : file.parent_path(); }

std::map<std::string, std::string> Scenario::expected(std::string_view fs_profile) const {
  std::map<std::string, std::string> out = expect;
  if (const auto found = expect_by_profile.find(std::string(fs_profile)); found != expect_by_profile.end())
    for (const auto& [property, verdict] : found->second) out[property] = verdict;
  return out;
}

Scenario load_scenario(const std::filesystem::path& file) {
  const auto text = read_file(file);
  if (!text) throw InputError(file.string() + ": cannot be read");
  return parse_scenario(*text, file);
}

Scenario parse_scenario(std::string_view text, const std::filesystem::path& file) {
  Scenario s;
  std::error_code ec;
  s.file = fs::absolute(file, ec).lexically_normal();
  load_fields(s, parse_json_text(text, file), FieldErrors{file.string()});
  return s;
}

std::string Validator::describe() const {
  switch (kind) {
    case Kind::none:
      return "";
    case Kind::json:
      return "json";
    case Kind::command:
      return "command: " + json(command).dump();
  }
  return "";
}

Validator Validator::from_description(std::string_view text, std::string_view where) {
  if (text.empty()) return {};
  if (text == "json") return {Kind::json, {}};
  constexpr std::string_view prefix = "command: ";
  if (text.substr(0, prefix.size()) == prefix) {
    const json argv = json::parse(text.substr(prefix.size()), nullptr, false);
    if (argv.is_array() && !argv.empty() &&
        std::all_of(argv.begin(), argv.end(), [](const json& a) { return a.is_string(); }))
      return {Kind::command, argv.get<std::vector<std::string>>()};
  }
  throw InputError(std::string(where) + ": unknown validator \"" + std::string(text) + "\"");
}

namespace {

template <std::size_t N>
bool known(const std::array<std::string_view, N>& vocabulary, std::string_view item) {
  return std::find(vocabulary.begin(), vocabulary.end(), item) != vocabulary.end();
}

template <std::size_t N>
std::string listing(const std::array<std::string_view, N>& vocabulary) {
  std::string out;
  for (auto v : vocabulary) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

// "a,b" -> {"a", "b"}, each checked against `vocabulary` (`noun` names its kind).
template <std::size_t N>
std::vector<std::string> parse_names(std::string_view csv, std::string_view where,
                                     const std::array<std::string_view, N>& vocabulary, std::string_view noun) {
  std::vector<std::string> out;
  std::stringstream in{std::string(csv)};
  for (std::string item; std::getline(in, item, ',');) {
    if (!known(vocabulary, item))
      throw InputError(std::string(where) + ": unknown " + std::string(noun) + " \"" + item +
                       "\" (known: " + listing(vocabulary) + ")");
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  if (out.empty()) throw InputError(std::string(where) + ": no " + std::string(noun) + " named");
  return out;
}

}  // namespace

std::vector<std::string> parse_models(std::string_view csv, std::string_view where) {
  return parse_names(csv, where, kModels, "model");
}

std::vector<std::string> parse_properties(std::string_view csv, std::string_view where) {
  return parse_names(csv, where, reports::kProperties, "property");
}

void check_policy_lists(const std::vector<std::string>& require, const std::vector<std::string>& allow,
                        std::string_view where) {
  for (const auto& p : allow)
    if (std::find(require.begin(), require.end(), p) != require.end())
      throw InputError(std::string(where) + ": property \"" + p + "\" is both required and allowed to fail");
}

mode_t parse_mode(std::string_view text, std::string_view where) {
  const bool octal = !text.empty() && text.size() <= 4 &&
                     std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal)
    throw InputError(std::string(where) + ": expected octal permission bits like \"0644\", got \"" + std::string(text) +
                     "\"");
  return static_cast<mode_t>(std::stoul(std::string(text), nullptr, 8));
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  std::string out = text;
  while (out.back() == '0') out.pop_back();  // "30.000" -> "30", "2.500" -> "2.5"
  if (out.back() == '.') out.pop_back();
  return out + " s";
}

std::string format_mode(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

void check_executable(const std::string& program, std::string_view where) {
  auto runnable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    if (runnable(program)) return;
    throw InputError(std::string(where) + ": executable not found or not runnable: " + program);
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path ? path : "/usr/bin:/bin"};
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (runnable(fs::path(dir.empty() ? "." : dir) / program)) return;
  throw InputError(std::string(where) + ": executable \"" + program + "\" not found on PATH");
}

}  // namespace crashcheck::runner
