// The crash-consistency report: the model the runner fills, its JSON form
// (schema "crashcheck-report/1", reports/README.md), the renderers people and CI
// systems read, and `compare`. Renderers are pure functions of the model.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::reports {

inline constexpr std::string_view kSchema = "crashcheck-report/1";

// The fixed vocabulary (docs/ARCHITECTURE.md). Never rename one once shipped.
inline constexpr std::array<std::string_view, 8> kProperties = {"crash_atomic", "powerloss_atomic", "durable",
                                                                "error_safe",   "temp_clean",       "mode_preserved",
                                                                "reader_safe",  "valid_content"};

enum class Verdict { pass, fail, not_run };
std::string_view verdict_name(Verdict v) noexcept;
std::optional<Verdict> parse_verdict(std::string_view name) noexcept;  // "pass"|"fail"|"not_run"

// Every value Cell::outcome takes, in the order the HTML legend lists them.
inline constexpr std::array<std::string_view, 8> kOutcomes = {"old",  "new",   "error_ok",      "missing",
                                                              "torn", "other", "wrong_success", "timeout"};

// What a case left at the target path.
struct FileState {
  bool exists = false;
  std::uint64_t size = 0;
  std::string mode;         // "0644"; empty when it does not exist
  std::string matches;      // "old", "new", "missing", "torn" (a prefix of old or new), "other"
  std::string excerpt;      // up to ~64 printable characters (non-printables escaped)
  std::string excerpt_hex;  // hex of the first bytes

  bool operator==(const FileState&) const = default;
};

struct Failure {
  std::string case_id;  // stable id; `crashcheck replay REPORT CASE-ID` re-runs it
  std::string model;    // "kill", "errno", "disk-full", "reader", "power-loss", "baseline"
  std::uint32_t call_index = 0;
  std::string call;   // e.g. "write(fd 3 → pipeline_health.json, 4096 bytes)"
  std::string fault;  // e.g. "SIGKILL before call 7", "write fails with ENOSPC"
  FileState target;
  std::vector<std::string> leftovers;  // other files in the scratch directory afterwards
  int exit_status = 0;                 // the writer's exit status (-N: killed by signal N)
  std::string detail;                  // one sentence: why this breaks the property
  std::string replay;                  // exact shell command

  bool operator==(const Failure&) const = default;
};

struct PropertyResult {
  Verdict verdict = Verdict::not_run;
  std::uint64_t cases = 0;         // cases that checked this property
  std::vector<Failure> failures;   // every failure's counterexample, first ones first
  std::string reason;              // why not_run, when it is
  std::vector<std::string> notes;  // e.g. temp files left after SIGKILL

  bool operator==(const PropertyResult&) const = default;
};

// One cell of the report's picture: a fault model at one counted call.
struct Cell {
  std::string model;
  std::uint32_t call_index = 0;
  std::string outcome;  // "old", "new", "torn", "missing", "other", "wrong_success", "error_ok", "timeout"
  std::string case_id;

  bool operator==(const Cell&) const = default;
};

struct CallSummary {
  std::uint32_t seq = 0;
  std::string call;     // libc symbol
  std::string summary;  // human form with path and sizes

  bool operator==(const CallSummary&) const = default;
};

struct Subject {
  std::string name;
  std::vector<std::string> command;  // argv template, placeholders unexpanded
  std::string scenario;              // scenario file, absolute; empty for `check`
  std::string target;                // target file name inside the scratch directory
  bool had_old = false;
  std::string old_file;      // absolute path of the old content, empty when none
  std::string old_mode;      // "0644"
  std::string payload_file;  // absolute path of the new content
  std::uint64_t payload_size = 0;
  std::string validator;  // "json", "command: …", or empty
  double timeout_s = 0;
  std::string backend;  // interception backend that observed the runs: "seccomp", "preload"; empty: not recorded

  bool operator==(const Subject&) const = default;
};

// One slice of a sharded run (`crashcheck run --shard K/N`): the cases it ran
// are the plan's K-th of N; `crashcheck merge` joins all N into one report.
struct Shard {
  std::uint32_t index = 1;  // K, 1-based
  std::uint32_t count = 1;  // N
  std::string plan;         // fingerprint of every case id planned, equal in all shards of a run

  bool operator==(const Shard&) const = default;
};

struct Report {
  std::string schema{kSchema};
  std::string tool_version;
  bool complete = true;  // false when interrupted (Ctrl-C) or cut short
  std::string created;   // ISO-8601 UTC
  double duration_s = 0;
  Subject subject;
  std::map<std::string, PropertyResult> properties;  // every name in kProperties
  std::map<std::string, std::uint64_t> model_cases;  // cases run per fault model
  std::vector<CallSummary> calls;                    // the baseline's counted calls
  std::vector<Cell> cells;
  std::vector<std::string> notes;  // run-level remarks (coverage, sampling, skipped models)
  std::optional<Shard> shard;      // only in a shard's report; absent from JSON otherwise

  bool operator==(const Report&) const = default;
};

// Malformed or unsupported report: the message names the source and problem.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Strings that are not valid UTF-8 (paths and bytes from a subject) are
// stored with each offending byte written as the text "\xNN", so the JSON
// always serialises; valid UTF-8 round-trips exactly.
nlohmann::json to_json(const Report& report);
Report from_json(const nlohmann::json& json, std::string_view source);  // throws ReportError
Report load_report(const std::filesystem::path& file);                  // throws ReportError

// One argument as a POSIX shell takes it literally: unchanged when it is
// made only of letters, digits and _-+=.,/:@%{} (and braces do not hold a
// ',' or '..' a shell would expand), else in single quotes. Every command
// the tool prints (replay commands, the subject's command) goes through it.
std::string shell_quote(std::string_view arg);

std::string render_markdown(const Report& report);
std::string render_html(const Report& report);
std::string render_junit(const Report& report);
std::string render_json(const Report& report);  // to_json, indented, trailing newline

// The formats `crashcheck report REPORT.json --format F` can print, and the
// file name each has in an output directory.
enum class Format { json, markdown, html, junit };
std::optional<Format> parse_format(std::string_view name) noexcept;  // json|md|markdown|html|junit
std::string_view file_name(Format format) noexcept;                  // "report.md", …
std::string render(const Report& report, Format format);

// Writes report.json, report.md, report.html and report.junit.xml into `dir`
// (created if missing), each atomically with the reference writer. Returns an
// empty string on success, else a one-line message.
std::string write_report_files(const Report& report, const std::filesystem::path& dir);

// Property by property, where `other` falls short of `baseline` or does better.
struct PropertyChange {
  std::string property;
  Verdict baseline = Verdict::not_run;
  Verdict other = Verdict::not_run;
  bool worse = false;  // pass -> fail, or fewer properties passing
  bool better = false;
  std::size_t baseline_failures = 0;  // counterexamples each side found
  std::size_t other_failures = 0;
};
struct Comparison {
  std::vector<PropertyChange> changes;  // every property, in kProperties order
  bool worse() const;
  bool better() const;
};
Comparison compare(const Report& baseline, const Report& other);
std::string render_comparison(const Comparison& comparison, std::string_view baseline_name,
                              std::string_view other_name);

}  // namespace crashcheck::reports
