// Helpers shared by the report tests: a scratch directory per test, and
// running a small Python check over a file.
#pragma once

#include <crashcheck/reference.hpp>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace crashcheck::reports::testing {

inline bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// One directory per test process, removed when the process exits (ctest
// runs each test in a process of its own), so the suite leaves nothing in
// /tmp; the CTest fixture tmp_clean checks that.
struct ScratchRoot {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("crashcheck-reports-" + std::to_string(::getpid()));
  ~ScratchRoot() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

inline std::filesystem::path scratch_dir() {
  static ScratchRoot root;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = root.path / (std::string(info->test_suite_name()) + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

inline std::string read_text(const std::filesystem::path& file) { return read_file(file).value_or(""); }

// Runs `python3 -c script file` and returns its stdout; exit status in *status.
inline std::string run_python(const std::string& script, const std::filesystem::path& file, int* status) {
  const auto script_file = file.parent_path() / "check.py";
  write_text(script_file, script);
  const std::string command = std::string(CRASHCHECK_PYTHON) + " " + script_file.string() + " " + file.string();
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  for (std::size_t n; pipe && (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  *status = pipe ? ::pclose(pipe) : -1;
  return out;
}

}  // namespace crashcheck::reports::testing
