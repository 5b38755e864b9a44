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
// concurrent_safe came later (issue 17): a report without it reads as not_run.
// The last four came with directory mode (issue 15): a checker command judges
// whole-directory states; durable and temp_clean are shared by both modes.
inline constexpr std::array<std::string_view, 13> kProperties = {
    "crash_atomic",         "powerloss_atomic", "durable",          "error_safe",      "temp_clean",
    "mode_preserved",       "reader_safe",      "valid_content",    "concurrent_safe", "crash_consistent",
    "powerloss_consistent", "error_consistent", "reader_consistent"};

// Which mode judges which property: a single-file scenario (old + payload)
// the first nine of kProperties, directory mode (initial.dir + checker) these.
inline constexpr std::size_t kFileModeProperties = 9;
inline constexpr std::array<std::string_view, 6> kDirectoryProperties = {
    "crash_consistent", "powerloss_consistent", "error_consistent", "durable", "reader_consistent", "temp_clean"};
bool judged_in_file_mode(std::string_view property) noexcept;
bool judged_in_directory_mode(std::string_view property) noexcept;

enum class Verdict { pass, fail, not_run };
std::string_view verdict_name(Verdict v) noexcept;
std::optional<Verdict> parse_verdict(std::string_view name) noexcept;  // "pass"|"fail"|"not_run"

// The fault models, one row each: their names (JSON, scenario files,
// --models), case-id prefixes, the order reports list their cases in, the
// picture's rows and the properties their states are checked for all come
// from this table. An opt-in model runs only when --models or the
// scenario's "models" names it (concurrent: two writers at once double the
// cost, and most single-writer scenarios claim no concurrency safety).
enum class Model : std::uint8_t { kill, errno_fault, disk_full, reader, power_loss, baseline, concurrent };
struct ModelInfo {
  Model model;
  std::string_view name;
  std::string_view case_prefix;            // "kill-" → kill-before-3, kill-after-12; "baseline" is the whole id
  int list_rank;                           // order of the report's cases and cells
  int picture_row;                         // the HTML picture's row, top first; -1: not drawn
  std::array<std::string_view, 6> judges;  // properties its states bear on ("" pads), both modes
  bool opt_in = false;                     // not in the default model set
};
// In the order campaigns run the models; the baseline run comes last here.
inline constexpr std::array<ModelInfo, 7> kModelTable = {{
    {Model::kill, "kill", "kill-", 1, 0, {"crash_atomic", "mode_preserved", "valid_content", "crash_consistent"}},
    {Model::errno_fault,
     "errno",
     "errno-",
     3,
     1,
     {"error_safe", "temp_clean", "mode_preserved", "valid_content", "error_consistent"}},
    {Model::disk_full,
     "disk-full",
     "disk-full-",
     4,
     2,
     {"error_safe", "temp_clean", "mode_preserved", "valid_content", "error_consistent"}},
    {Model::reader, "reader", "reader-", 2, 4, {"reader_safe", "valid_content", "reader_consistent"}},
    {Model::power_loss,
     "power-loss",
     "power-loss-",
     5,
     3,
     {"powerloss_atomic", "durable", "valid_content", "powerloss_consistent"}},
    {Model::concurrent, "concurrent", "concurrent-", 6, -1, {"concurrent_safe"}, true},
    {Model::baseline, "baseline", "baseline", 0, -1, {"mode_preserved", "valid_content"}},
}};
const ModelInfo& model_info(Model model) noexcept;
std::string_view model_name(Model model) noexcept;
std::optional<Model> model_from_name(std::string_view name) noexcept;
bool judges(Model model, std::string_view property) noexcept;

// What a case left at the target (FileState::matches: the first five) and
// how the picture shows a cell (Cell::outcome: all of them), one row each,
// in the order the HTML legend lists them.
enum class Outcome : std::uint8_t { old_content, new_content, error_ok, missing, torn, other, wrong_success, timeout };
struct OutcomeInfo {
  Outcome outcome;
  std::string_view name;
  std::string_view colour;  // good states in blues/greens, bad ones in warm colours
  std::string_view legend;
};
inline constexpr std::array<OutcomeInfo, 8> kOutcomeTable = {{
    {Outcome::old_content, "old", "#6baed6", "exactly the old content"},
    {Outcome::new_content, "new", "#2ca25f", "exactly the new content"},
    {Outcome::error_ok, "error_ok", "#a6dba0", "the writer reported the error; target untouched"},
    {Outcome::missing, "missing", "#8c6bb1", "the target is gone"},
    {Outcome::torn, "torn", "#fd8d3c", "part of the old or new content (torn)"},
    {Outcome::other, "other", "#e31a1c", "neither old nor new content"},
    {Outcome::wrong_success, "wrong_success", "#67000d", "the writer exited 0, but the target is not the new content"},
    {Outcome::timeout, "timeout", "#969696", "the writer did not finish in time"},
}};
std::string_view outcome_name(Outcome outcome) noexcept;
std::optional<Outcome> outcome_from_name(std::string_view name) noexcept;

// Every value Cell::outcome takes, in the order the HTML legend lists them.
inline constexpr std::array<std::string_view, kOutcomeTable.size()> kOutcomes = [] {
  std::array<std::string_view, kOutcomeTable.size()> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = kOutcomeTable[i].name;
  return names;
}();

// What a case left at the target path.
struct FileState {
  bool exists = false;
  std::uint64_t size = 0;
  std::string mode;         // "0644"; empty when it does not exist
  std::string matches;      // outcome_name(): old, new, missing, torn (a prefix of old or new), other
  std::string excerpt;      // up to ~64 printable characters (non-printables escaped)
  std::string excerpt_hex;  // hex of the first bytes

  bool is(Outcome outcome) const { return matches == outcome_name(outcome); }
  bool operator==(const FileState&) const = default;
};

struct Failure {
  std::string case_id;  // stable id; `crashcheck replay REPORT CASE-ID` re-runs it
  std::string model;    // model_name() of a Model
  std::uint32_t call_index = 0;
  std::string call;   // e.g. "write(fd 3 → pipeline_health.json, 4096 bytes)"
  std::string fault;  // e.g. "SIGKILL before call 7", "write fails with ENOSPC"
  FileState target;
  std::vector<std::string> leftovers;  // other files in the scratch directory afterwards
  int exit_status = 0;                 // the writer's exit status (-N: killed by signal N)
  std::string detail;                  // one sentence: why this breaks the property
  std::string replay;                  // exact shell command
  std::string site = {};               // where the writer made the call, "save.py:42"; empty when unknown

  bool operator==(const Failure&) const = default;
};

struct PropertyResult {
  Verdict verdict = Verdict::not_run;
  std::uint64_t cases = 0;         // cases that checked this property
  std::vector<Failure> failures;   // every failure's counterexample, first ones first
  std::string reason;              // why not_run, when it is
  std::vector<std::string> notes;  // e.g. temp files left after SIGKILL
  // Failing cases in all, listed or not: a model may list only the first
  // few counterexamples (power loss lists at most 16). 0 = as many as listed.
  std::uint64_t failing = 0;

  bool operator==(const PropertyResult&) const = default;
};

// How many cases failed the property: `failing`, and never fewer than listed.
std::uint64_t failing_cases(const PropertyResult& result) noexcept;

struct Report;
// Whether a property speaks of the content a crash leaves (all but
// mode_preserved and temp_clean, which judge side matters).
bool about_content(std::string_view property) noexcept;
// When no property about the content has a verdict (the backend or the trace
// self-check withheld them all), the first such property's reason, for the
// headline and the gate; nullopt when one was judged. A passing side
// property must not make such a run read as "no property fails".
std::optional<std::string> content_unjudged(const Report& report);

// One cell of the report's picture: a fault model at one counted call.
struct Cell {
  std::string model;
  std::uint32_t call_index = 0;
  std::string outcome;  // outcome_name() of an Outcome
  std::string case_id;

  bool operator==(const Cell&) const = default;
};

struct CallSummary {
  std::uint32_t seq = 0;
  std::string call;       // libc symbol
  std::string summary;    // human form with path and sizes
  std::string site = {};  // where the writer made it, "/path/save.py:42" (runner/README.md, "Call sites"); "" unknown

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
  std::string payload_b_file =
      {};  // concurrent model: the second instance's content; empty: derived (runner/README.md)
  // Whether a payload was given; without one each run's own content is new
  // (runner/README.md, "Without a payload"). Older reports: true.
  bool payload_given = true;
  std::string compare = "bytes";          // how states were compared with the new content: "bytes" or "json"
  std::string initial_dir = {};           // directory mode: the initial directory, absolute; empty: single-file
  std::vector<std::string> checker = {};  // directory mode: the checker's argv template ({dir})

  bool operator==(const Subject&) const = default;
};

// What a failing property most likely misses, found by the diagnosis rules
// (runner/diagnosis/): the rule, the call to fix, a hint and a snippet per
// language ("python", "node", "c", "cpp", "go", "sh").
struct Diagnosis {
  std::string rule;      // e.g. "fsync_dir_after_rename"
  std::string property;  // the property it explains
  std::uint32_t call_index = 0;
  std::string call;  // that call's summary in the baseline
  std::string hint;
  std::map<std::string, std::string> fix;  // language -> snippet
  std::string site = {};                   // that call's site, as in CallSummary; empty when unknown

  bool operator==(const Diagnosis&) const = default;
};

// The language a fix snippet is shown in for this command: "python", "node",
// "go", "sh", else "c" (a native program).
std::string fix_language(const std::vector<std::string>& command);

// Where the reference writer's step sequence is described.
inline constexpr std::string_view kReferenceSteps = "reference/README.md#api (Sequence)";

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
  std::vector<std::string> notes;            // run-level remarks (coverage, sampling, skipped models)
  std::optional<Shard> shard;                // only in a shard's report; absent from JSON otherwise
  std::vector<Diagnosis> diagnoses;          // why failing properties fail; absent from older reports
  std::optional<std::string> not_checkable;  // why nothing could be judged ("the baseline run …"); absent otherwise

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
Report parse_report(std::string_view bytes, std::string_view source);   // the same over bytes in memory

// One argument as a POSIX shell takes it literally: unchanged when it is
// made only of letters, digits and _-+=.,/:@%{} (and braces do not hold a
// ',' or '..' a shell would expand), else in single quotes. Every command
// the tool prints (replay commands, the subject's command) goes through it.
std::string shell_quote(std::string_view arg);

std::string render_markdown(const Report& report);
std::string render_html(const Report& report);
std::string render_junit(const Report& report);
std::string render_json(const Report& report);  // to_json, indented, trailing newline

// The "Fix:" lines for a terminal, plain text: "durable — Fix: <hint> At call
// 7 rename(…): <snippet> (rule; steps: …)", one per failing property.
std::vector<std::string> fix_summary(const Report& report);

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
  std::uint64_t baseline_failures = 0;  // failing cases each side found (failing_cases)
  std::uint64_t other_failures = 0;
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
