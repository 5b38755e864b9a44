// update_file_atomic: read-modify-write under an exclusive flock(2) on
// "<name>.lock" beside the target. The lock is on a separate file because
// the target's inode changes at every write: a lock on the target itself
// would be held on a name that no longer exists. The lock file is never
// removed (removing it would let one updater lock the old inode while the
// next locks a new one). flock locks belong to the open file description,
// so the kernel releases them when the holder closes it or dies, SIGKILL
// included; nothing stale survives a crash.
#include "steps.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <new>
#include <utility>

namespace crashcheck {
namespace {

namespace fs = std::filesystem;
using detail::step_failed;

// Holds flock(LOCK_EX) on the lock file while alive.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

  // Creates the lock file if needed, then waits for the lock. Read-only:
  // flock(2) needs no write access, so a read-only lock file still works.
  int acquire(const fs::path& file) {
    return detail::attempt_uninterrupted(WriteStep::lock, [&] {
      if (fd_ < 0) fd_ = ::open(file.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
      return fd_ < 0 ? -1 : ::flock(fd_, LOCK_EX);
    });
  }

 private:
  int fd_ = -1;
};

WriteError resolve_and_lock(const fs::path& requested, const WriteOptions& options, FileLock& lock,
                            detail::Target& target) noexcept {
  try {
    if (auto error = detail::resolve_target(requested, options.symlinks, target)) return error;
    const int error = lock.acquire(lock_path(target.path));
    return error ? step_failed(WriteStep::lock, error) : WriteError{};
  } catch (const std::bad_alloc&) {
    return step_failed(WriteStep::none, ENOMEM);
  }
}

// The current content under the lock: nullopt when there is no file yet.
WriteError read_current(const fs::path& file, bool verified, std::optional<std::string>& out) noexcept try {
  if (int injected = detail::injected_errno(WriteStep::read_current))
    return step_failed(WriteStep::read_current, injected);
  if (verified) {
    VerifiedRead read = read_file_verified(file);
    if (read.error == std::errc::no_such_file_or_directory) return {};
    if (read.error) return {read.error, WriteStep::read_current, {}};
    out = std::move(read.payload);
    return {};
  }
  errno = 0;
  out = read_file(file);
  if (out || errno == ENOENT) return {};
  return step_failed(WriteStep::read_current, errno ? errno : EIO);
} catch (const std::bad_alloc&) {
  return step_failed(WriteStep::read_current, ENOMEM);
}

}  // namespace

fs::path lock_path(const fs::path& file) { return fs::path(file) += kLockSuffix; }

WriteError update_file_atomic(const fs::path& target, const UpdateFunction& fn, const WriteOptions& options) {
  FileLock lock;
  detail::Target resolved;
  if (auto error = resolve_and_lock(target, options, lock, resolved)) return error;
  std::optional<std::string> current;
  if (auto error = read_current(resolved.path, options.checksum, current)) return error;
  const std::string next = fn(current);
  return write_file_atomic(resolved.path, next, options);
}

WriteError write_file_locked(const fs::path& target, std::string_view bytes, const WriteOptions& options) noexcept {
  FileLock lock;
  detail::Target resolved;
  if (auto error = resolve_and_lock(target, options, lock, resolved)) return error;
  return write_file_atomic(resolved.path, bytes, options);
}

}  // namespace crashcheck
