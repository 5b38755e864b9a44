// Test helpers for the reference writer: scratch directories, file
// inspection, and RAII control of its libfiu failure points.
#pragma once

#include <crashcheck/reference.hpp>

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::test {

namespace fs = std::filesystem;

// WriteOptions differing from the default in one field.
inline WriteOptions with_durability(Durability d) {
  WriteOptions options;
  options.durability = d;
  return options;
}
inline WriteOptions with_new_file_mode(mode_t mode) {
  WriteOptions options;
  options.new_file_mode = mode;
  return options;
}
inline WriteOptions with_backup(WriteOptions options = {}) {
  options.keep_backup = true;
  return options;
}
inline WriteOptions with_checksum(WriteOptions options = {}) {
  options.checksum = true;
  return options;
}
inline WriteOptions refusing_symlinks() {
  WriteOptions options;
  options.symlinks = SymlinkPolicy::refuse;
  return options;
}

// A fresh directory under the test temp dir, removed with its contents.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }

 private:
  fs::path path_;
};

// The file's content, or nullopt when it does not exist.
using crashcheck::read_file;
// Plain (non-atomic) set-up write with an exact mode.
void write_plain(const fs::path& path, std::string_view content, mode_t mode = 0644);
// XORs the byte at `offset` of `path` with `mask`, in place: a corruption
// behind the writer's back.
void flip_byte(const fs::path& path, std::size_t offset, unsigned char mask);
// Names in `dir`, sorted.
std::vector<std::string> entries(const fs::path& dir);
struct stat lstat_of(const fs::path& path);
mode_t mode_of(const fs::path& path);  // permission bits (07777)

// `size` bytes that depend on `seed` only: cheap arbitrary content.
std::string pattern_bytes(std::size_t size, std::uint64_t seed);

// Runs `body` in a forked child as user and group 65534 (nobody); returns its
// exit status, or -1 when it did not exit normally.
int run_as_nobody(const std::function<int()>& body);
inline constexpr uid_t kNobody = 65534;

// Makes one failure point fail with `failnum` while alive.
class InjectedFault {
 public:
  InjectedFault(WriteStep step, int failnum, unsigned flags = 0);
  InjectedFault(std::string point, int failnum, unsigned flags = 0);
  ~InjectedFault();
  InjectedFault(const InjectedFault&) = delete;
  InjectedFault& operator=(const InjectedFault&) = delete;

 private:
  std::string point_;
};

// Records the failure points crossed while alive, in order (e.g. "write").
class StepRecorder {
 public:
  StepRecorder();
  ~StepRecorder();
  StepRecorder(const StepRecorder&) = delete;
  StepRecorder& operator=(const StepRecorder&) = delete;
  const std::vector<std::string>& steps() const;
};

}  // namespace crashcheck::test
