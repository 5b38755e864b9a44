// Helpers the runner tests share: a temporary directory, small files, and
// running the crashcheck program with its output captured.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace crashcheck::runner::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_text(const std::filesystem::path& file, const std::string& text, unsigned mode = 0644);
std::string read_text(const std::filesystem::path& file);

// The pid written in `file` by a subject, or -1.
int read_pid(const std::filesystem::path& file);
// True when no process has this pid (it was killed and reaped).
bool process_gone(int pid);

// Runs `command` through /bin/sh: its exit status, 128+N when killed by signal N.
int shell(const std::string& command);
// Whether strace can trace here (ptrace may be forbidden): ground truth that needs it skips itself.
bool strace_works();

struct ProgramResult {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr together
};
// Runs build/runner/crashcheck with `args` (no shell).
ProgramResult run_crashcheck(const std::vector<std::string>& args);

struct SplitResult {
  int status = -1;
  std::string out;  // stdout (and stderr too when run merged)
  std::string err;  // stderr, when not merged
};
SplitResult run_crashcheck_split(const std::vector<std::string>& args, bool merged = false);

// A scenario file in `dir` around a shell writer: old.txt (mode 0640) is
// replaced by new.txt as t.txt; `extra` adds fields (", \"models\": [...]").
std::filesystem::path shell_scenario(const TempDir& dir, const std::string& script, const std::string& extra = "");

// True when `text` contains `part` (the tests' "the user reads this" check).
inline bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// `crashcheck check` of writers/planted_writer.c HOW (old and new 3 pages of
// 'o' and 'n') under MODELS and BACKEND; the report.json it wrote.
nlohmann::json check_planted(const std::string& models, const std::string& how, const std::string& backend);

// True for a bundled scenario whose writer puts random bytes in its files
// (SQLite: a random nonce in each rollback-journal and WAL header, and the
// checksums over it), so two runs differ in bytes and in power-loss states:
// tests that compare one run with another skip it.
bool differs_run_to_run(const std::filesystem::path& scenario_file);

// Source-tree paths.
std::filesystem::path scenarios_dir();
// The bundled scenario files (scenarios/*.json), sorted.
std::vector<std::filesystem::path> bundled_scenario_files();

// Waits (polling the condition, never a fixed delay) until `done` holds; false after `limit`.
template <typename Done>
bool wait_until(Done done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Sets an environment variable for one scope (crashcheck started in it
// inherits it), then gives it back its value, or unsets it.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const std::string& value);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
  std::optional<std::string> before_;
};

}  // namespace crashcheck::runner::testing
