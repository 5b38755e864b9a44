// The reference atomic writer: the yardstick every other writer is judged
// against, and the way crashcheck itself writes every file it produces.
//
// Sequence (Durability::full): create a uniquely named temporary file in the
// target's directory (O_CREAT|O_EXCL|O_CLOEXEC), write all bytes (retrying
// short writes and EINTR), give it the old file's mode (and owner where
// permitted), fsync it, rename it over the target, fsync the directory.
// Any failure removes the temporary file and leaves the target untouched.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <sys/types.h>

namespace crashcheck {

// How much of the sequence to run. Weaker levels exist so the harness can
// show what each step buys; only `full` survives a power loss.
enum class Durability {
  full,         // fsync file, rename, fsync directory
  no_dir_sync,  // fsync file, rename (the rename may be lost on power loss)
  no_sync,      // rename only (content may be lost or torn on power loss)
};

// What to do when the target path is a symbolic link.
enum class SymlinkPolicy {
  replace_link_target,  // write through: the file the link points at is replaced, the link stays
  refuse,               // fail with ELOOP, touch nothing
};

struct WriteOptions {
  Durability durability = Durability::full;
  SymlinkPolicy symlinks = SymlinkPolicy::replace_link_target;
  // Permission bits for a target that does not exist yet; by default
  // 0666 & ~umask, like open(2). An existing target always keeps its own.
  std::optional<mode_t> new_file_mode;
};

// The step that failed; each one is also a libfiu failure point named
// "crashcheck/reference/<step>" so tests can fail it in-process.
enum class WriteStep { none, resolve, open_temp, write, chmod, chown, fsync_file, close, rename, fsync_dir };

std::string_view step_name(WriteStep step) noexcept;

struct WriteError {
  std::error_code code;
  WriteStep step = WriteStep::none;

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  // One line: "<step>: <strerror>" — what the CLI prints.
  std::string message() const;
};

// Replaces `target` with exactly `bytes`, or fails leaving it untouched and no
// temporary file behind. Never throws.
WriteError write_file_atomic(const std::filesystem::path& target, std::string_view bytes,
                             const WriteOptions& options = {}) noexcept;

// Serialises `value` (indent < 0: compact) plus a trailing newline and writes
// it with write_file_atomic.
WriteError write_json_atomic(const std::filesystem::path& target, const nlohmann::json& value,
                             int indent = 2, const WriteOptions& options = {}) noexcept;

}  // namespace crashcheck
