// Internal: the one table of write steps and their libfiu failure points.
#pragma once

#include <crashcheck/reference.hpp>

#include <sys/stat.h>

#include <cerrno>

namespace crashcheck::detail {

// libfiu wants a C string; kept beside the step's name so both come from one table.
const char* failure_point_cstr(WriteStep step) noexcept;

// The errno a test asked `step` to fail with (libfiu's failnum), 0 normally.
int injected_errno(WriteStep step) noexcept;

// A fresh temp file name for `target_name`: temp_name_prefix, 16 random hex
// digits, kTempNameSuffix.
std::string random_temp_name(std::string_view target_name);

inline WriteError step_failed(WriteStep step, int error) noexcept {
  return WriteError{std::error_code(error, std::generic_category()), step, {}};
}

// The errno of one step's system call: a test's injected failure (the call
// is then not made) or the call's own failure; 0 on success.
template <class Call>
int attempt(WriteStep step, Call&& call) {
  if (int injected = injected_errno(step)) return injected;
  return call() < 0 ? errno : 0;
}

// As attempt(), retrying while the call is interrupted (EINTR means nothing happened).
template <class Call>
int attempt_uninterrupted(WriteStep step, Call&& call) {
  int error;
  do error = attempt(step, call);
  while (error == EINTR);
  return error;
}

// The file a write to `requested` replaces, after symbolic links.
struct Target {
  std::filesystem::path path;  // after following symbolic links
  bool exists = false;
  struct stat st {};
};

// Follows symbolic links (or refuses them) and checks that what is left is a
// regular file or nothing at all. Crosses the resolve failure point.
WriteError resolve_target(const std::filesystem::path& requested, SymlinkPolicy policy, Target& out);

// keep_backup: makes "<name>.bak" hold the target's current content,
// replacing the old backup atomically; nothing to do for a new target.
WriteError keep_backup(const Target& target, const WriteOptions& options);

// Creates something under a fresh temp name for `file` (in its directory)
// with make(candidate), which returns the errno of its step (EEXIST: the name
// is taken, another is tried). On success `made` names what was created.
int make_under_temp_name(const std::filesystem::path& file,
                         const std::function<int(const std::filesystem::path&)>& make, std::filesystem::path& made);

}  // namespace crashcheck::detail
