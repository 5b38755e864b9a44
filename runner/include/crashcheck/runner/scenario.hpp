// A scenario: one subject (a writer command), the file it replaces, the old
// and new content, and the verdicts it is expected to get. Loaded from a JSON
// file (format in runner/README.md) or built from `crashcheck check` flags.
#pragma once

#include <crashcheck/faults/backend.hpp>
#include <crashcheck/report.hpp>

#include "crashcheck/runner/new_content.hpp"

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace crashcheck::runner {

// Bad input from the user (scenario file, flag, report): exit status 2. The
// message names the file, the field and the problem.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The fault models a run can choose, in the order campaigns run them: every
// row of reports::kModelTable but the baseline run.
inline constexpr std::array<std::string_view, reports::kModelTable.size() - 1> kModels = [] {
  std::array<std::string_view, reports::kModelTable.size() - 1> names{};
  std::size_t n = 0;
  for (const auto& m : reports::kModelTable)
    if (m.model != reports::Model::baseline) names[n++] = m.name;
  return names;
}();

// How the content a case leaves behind is judged valid (`valid_content`).
struct Validator {
  enum class Kind { none, json, command };
  Kind kind = Kind::none;
  std::vector<std::string> command;  // argv; {target} is the file holding the state

  // "json", "command: [argv as JSON]" or "" — the report's subject.validator.
  std::string describe() const;
  static Validator from_description(std::string_view text, std::string_view where);  // throws InputError
};

struct OldFile {
  std::filesystem::path file;  // absolute
  mode_t mode = 0644;
};

// Directory mode (issue 15): the scratch directory starts as a copy of
// `initial` (modes kept), and `checker` ({dir}: a copy of one state; exit 0 =
// consistent) judges every whole-directory state the fault models produce.
struct DirectoryMode {
  std::filesystem::path initial;     // absolute
  std::vector<std::string> checker;  // argv template
};

struct Scenario {
  std::string name;
  std::string description;
  std::vector<std::string> command;                // argv template, placeholders unexpanded
  std::string target;                              // file name inside the scratch directory
  std::optional<OldFile> old;                      // nullopt: the target does not exist beforehand
  std::filesystem::path payload;                   // absolute; empty: none (the writer builds its own content)
  Compare compare = Compare::bytes;                // "compare": how states are compared with the new content
  std::optional<DirectoryMode> directory_mode;     // set: judge whole directories (then no target, no old)
  std::optional<std::filesystem::path> payload_b;  // concurrent model: instance B's content; nullopt: derived
  Validator validator;
  double timeout_s = 30;
  std::optional<faults::BackendKind> backend;  // "backend": nullopt = the default choice (cases.hpp)
  std::vector<std::string> models;             // subset of kModels; empty = all
  bool exhaustive = false;                     // "exhaustive": no sampling of repeated calls (sampling.hpp)
  std::map<std::string, std::string> expect;   // property -> "pass" | "fail" | "not_run"
  // "expect_by_profile": fs profile -> the verdicts that differ under it (over `expect`).
  std::map<std::string, std::map<std::string, std::string>> expect_by_profile;
  std::vector<std::string> require;  // gate policy: properties that decide (empty: all that ran)
  std::vector<std::string> allow;    // gate policy: properties that may fail
  std::filesystem::path file;        // scenario file, absolute; empty for `check`

  std::filesystem::path directory() const;  // {scenario_dir}
  // What --expect compares under `fs_profile`: `expect`, with that profile's overrides.
  std::map<std::string, std::string> expected(std::string_view fs_profile) const;
};

// Parses and validates a scenario file; paths inside are relative to it.
Scenario load_scenario(const std::filesystem::path& file);  // throws InputError
// The same over text already read; `file` names it and anchors relative paths.
Scenario parse_scenario(std::string_view text, const std::filesystem::path& file);  // throws InputError

// "kill,errno" -> {"kill", "errno"}; `where` names the flag or field for errors.
std::vector<std::string> parse_models(std::string_view csv, std::string_view where);
// "crash_atomic,durable" -> {"crash_atomic", "durable"}, each a name of reports::kProperties.
std::vector<std::string> parse_properties(std::string_view csv, std::string_view where);
// A property both required and allowed to fail is bad input (`where` names it).
void check_policy_lists(const std::vector<std::string>& require, const std::vector<std::string>& allow,
                        std::string_view where);
// "0644" -> 0644.
mode_t parse_mode(std::string_view text, std::string_view where);
std::string format_mode(mode_t mode);  // 0644 -> "0644"
// Seconds as people write them: 30 -> "30 s", 2.5 -> "2.5 s", 0.125 -> "0.125 s".
std::string seconds_text(double seconds);

// Fails with InputError when argv[0] cannot be found or run (named as `where`).
void check_executable(const std::string& program, std::string_view where);

}  // namespace crashcheck::runner
