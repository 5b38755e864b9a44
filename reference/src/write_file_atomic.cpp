// The reference writer's sequence. Every system call goes through attempt(),
// which first asks libfiu whether a test wants that step to fail; the
// temporary file is owned by TempFile, whose destructor removes it, so no
// error path can forget the clean-up.
#include "steps.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <limits>
#include <new>
#include <utility>

#include <fiu.h>

namespace crashcheck {
namespace {

namespace fs = std::filesystem;
using detail::attempt;
using detail::attempt_uninterrupted;
using detail::injected_errno;
using detail::step_failed;
using detail::Target;

constexpr int kMaxSymlinkHops = 40;       // the kernel's own MAXSYMLINKS
constexpr mode_t kPrivateMode = 0600;     // until chmod gives the temp its final mode
constexpr mode_t kDefaultNewMode = 0666;  // open(2) applies the umask

WriteError read_link(const fs::path& link, fs::path& out) {
  std::string buffer(PATH_MAX, '\0');
  const ssize_t n = ::readlink(link.c_str(), buffer.data(), buffer.size());
  if (n < 0) return step_failed(WriteStep::resolve, errno);
  if (static_cast<std::size_t>(n) == buffer.size()) return step_failed(WriteStep::resolve, ENAMETOOLONG);
  buffer.resize(static_cast<std::size_t>(n));
  const fs::path next(buffer);
  out = next.is_absolute() ? next : link.parent_path() / next;
  return {};
}

}  // namespace

WriteError detail::resolve_target(const fs::path& requested, SymlinkPolicy policy, Target& out) {
  if (requested.empty()) return step_failed(WriteStep::resolve, ENOENT);
  if (int injected = injected_errno(WriteStep::resolve)) return step_failed(WriteStep::resolve, injected);
  fs::path path = requested;
  for (int hop = 0; hop <= kMaxSymlinkHops; ++hop) {
    // "dir/" can only name a directory; refuse it before lstat follows it.
    if (!path.has_filename()) return step_failed(WriteStep::resolve, EISDIR);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno != ENOENT) return step_failed(WriteStep::resolve, errno);
      out = Target{path, false, {}};  // a missing directory shows up at open_temp
      return {};
    }
    if (S_ISDIR(st.st_mode)) return step_failed(WriteStep::resolve, EISDIR);
    if (S_ISREG(st.st_mode)) {
      out = Target{path, true, st};
      return {};
    }
    if (!S_ISLNK(st.st_mode)) return {make_error_code(WriteErrc::not_regular_file), WriteStep::resolve, {}};
    if (policy == SymlinkPolicy::refuse) return step_failed(WriteStep::resolve, ELOOP);
    if (auto error = read_link(path, path)) return error;
  }
  return step_failed(WriteStep::resolve, ELOOP);
}

namespace {

// The temporary file: closed and unlinked on destruction unless renamed.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  WriteError create(const Target& target, mode_t mode);
  WriteError write_all(std::string_view bytes);
  WriteError copy_owner_and_mode(const Target& target, const WriteOptions& options);
  WriteError sync();
  WriteError close();
  WriteError rename_over(const Target& target);

 private:
  int fd_ = -1;
  fs::path path_;  // empty once renamed
};

WriteError TempFile::create(const Target& target, mode_t mode) {
  const int error = detail::make_under_temp_name(
      target.path,
      [&](const fs::path& candidate) {
        return attempt_uninterrupted(WriteStep::open_temp, [&] {
          return fd_ = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        });
      },
      path_);
  return error ? step_failed(WriteStep::open_temp, error) : WriteError{};
}

// At most this many bytes per write(2): unlimited unless a test forces short writes.
std::size_t write_limit() noexcept {
  const int limit = fiu_fail(kShortWritePoint);
  return limit > 0 ? static_cast<std::size_t>(limit) : std::numeric_limits<std::size_t>::max();
}

WriteError TempFile::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t chunk = std::min(bytes.size(), write_limit());
    ssize_t written = 0;
    const int error =
        attempt_uninterrupted(WriteStep::write, [&] { return written = ::write(fd_, bytes.data(), chunk); });
    if (error) return step_failed(WriteStep::write, error);
    // write(2) of a non-zero count returns 0 only on a broken device; do not spin.
    if (written == 0) return step_failed(WriteStep::write, EIO);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// chown before chmod: fchown clears set-user/group-ID bits.
WriteError TempFile::copy_owner_and_mode(const Target& target, const WriteOptions& options) {
  if (target.exists) {
    const int error = attempt(WriteStep::chown, [&] { return ::fchown(fd_, target.st.st_uid, target.st.st_gid); });
    // EPERM: an unprivileged caller may not give the file away; it stays ours (documented policy).
    if (error && error != EPERM) return step_failed(WriteStep::chown, error);
  }
  std::optional<mode_t> mode = target.exists ? std::optional<mode_t>(target.st.st_mode) : options.new_file_mode;
  if (!mode) return {};  // new file, default mode: open(2) already applied 0666 & ~umask
  const int error = attempt(WriteStep::chmod, [&] { return ::fchmod(fd_, *mode & 07777); });
  return error ? step_failed(WriteStep::chmod, error) : WriteError{};
}

WriteError TempFile::sync() {
  const int error = attempt_uninterrupted(WriteStep::fsync_file, [&] { return ::fsync(fd_); });
  return error ? step_failed(WriteStep::fsync_file, error) : WriteError{};
}

// Not retried on EINTR: Linux frees the descriptor whatever close(2) returns.
WriteError TempFile::close() {
  const int error = attempt(WriteStep::close, [&] { return ::close(std::exchange(fd_, -1)); });
  return error ? step_failed(WriteStep::close, error) : WriteError{};
}

WriteError TempFile::rename_over(const Target& target) {
  const int error = attempt(WriteStep::rename, [&] { return ::rename(path_.c_str(), target.path.c_str()); });
  if (error) return step_failed(WriteStep::rename, error);
  path_.clear();  // it is the target now
  return {};
}

// Makes the rename durable. The directory is opened read-only: fsync(2)
// needs only a descriptor, and a directory cannot be opened for writing.
int sync_directory(const fs::path& file) {
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int error = attempt_uninterrupted(WriteStep::fsync_dir, [&] { return ::fsync(fd); });
  ::close(fd);
  return error;
}

mode_t open_mode(const Target& target, const WriteOptions& options) {
  return target.exists || options.new_file_mode ? kPrivateMode : kDefaultNewMode;
}

WriteError replace(const fs::path& requested, std::string_view bytes, const WriteOptions& options) {
  Target target;
  if (auto error = detail::resolve_target(requested, options.symlinks, target)) return error;
  TempFile temp;
  if (auto error = temp.create(target, open_mode(target, options))) return error;
  if (auto error = temp.write_all(bytes)) return error;
  if (auto error = temp.copy_owner_and_mode(target, options)) return error;
  if (options.durability != Durability::no_sync)
    if (auto error = temp.sync()) return error;
  if (auto error = temp.close()) return error;
  if (options.keep_backup)
    if (auto error = detail::keep_backup(target, options)) return error;
  if (auto error = temp.rename_over(target)) return error;
  if (options.durability == Durability::full)
    if (int error = sync_directory(target.path))
      return WriteError{{}, WriteStep::fsync_dir, std::error_code(error, std::generic_category())};
  return {};
}

}  // namespace

WriteError write_file_atomic(const std::filesystem::path& target, std::string_view bytes,
                             const WriteOptions& options) noexcept {
  try {
    return options.checksum ? replace(target, encode_envelope(bytes), options) : replace(target, bytes, options);
  } catch (const std::bad_alloc&) {  // paths and names allocate; nothing else throws
    return step_failed(WriteStep::none, ENOMEM);
  }
}

}  // namespace crashcheck
