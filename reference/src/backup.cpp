// keep_backup: the target's current inode gets a second name, "<name>.bak",
// before the rename gives the target a new inode, so the last version stays
// readable whatever happens to the new one. The backup is replaced
// atomically (link to a temp name, rename that over "<name>.bak"); where
// link(2) is refused (EXDEV across a bind mount, EPERM on file systems
// without hard links or under fs.protected_hardlinks) the content is copied
// with write_file_atomic instead. The directory fsync that makes the
// target's rename durable makes the backup's durable too: same directory.
#include "steps.hpp"

#include <unistd.h>

#include <utility>

namespace crashcheck {
namespace {

namespace fs = std::filesystem;
using detail::step_failed;

// A link to the target under a temp name: unlinked on destruction unless renamed.
class BackupLink {
 public:
  BackupLink() = default;
  BackupLink(const BackupLink&) = delete;
  BackupLink& operator=(const BackupLink&) = delete;
  ~BackupLink() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  int link(const fs::path& target, const fs::path& backup) {
    return detail::make_under_temp_name(
        backup,
        [&](const fs::path& candidate) {
          return detail::attempt(WriteStep::backup_link, [&] { return ::link(target.c_str(), candidate.c_str()); });
        },
        path_);
  }

  WriteError rename_over(const fs::path& backup) {
    const int error =
        detail::attempt(WriteStep::backup_rename, [&] { return ::rename(path_.c_str(), backup.c_str()); });
    if (error) return step_failed(WriteStep::backup_rename, error);
    path_.clear();
    return {};
  }

 private:
  fs::path path_;  // empty once renamed
};

// The fallback: the backup becomes a copy, itself written atomically and
// fsynced (its directory entry is synced with the target's rename).
WriteError copy_to_backup(const detail::Target& target, const fs::path& backup, const WriteOptions& options) {
  if (int injected = detail::injected_errno(WriteStep::backup_copy))
    return step_failed(WriteStep::backup_copy, injected);
  errno = 0;
  const std::optional<std::string> content = read_file(target.path);
  if (!content) return step_failed(WriteStep::backup_copy, errno ? errno : EIO);
  WriteOptions copy;
  copy.durability = options.durability == Durability::no_sync ? Durability::no_sync : Durability::no_dir_sync;
  copy.new_file_mode = target.st.st_mode & 07777;
  WriteError error = write_file_atomic(backup, *content, copy);
  if (error) error.step = WriteStep::backup_copy;
  return error;
}

}  // namespace

fs::path backup_path(const fs::path& file) { return fs::path(file) += kBackupSuffix; }

std::string_view source_name(ReadSource source) noexcept {
  switch (source) {
    case ReadSource::target:
      return "target";
    case ReadSource::backup:
      return "backup";
    case ReadSource::none:
      break;
  }
  return "none";
}

WriteError detail::keep_backup(const Target& target, const WriteOptions& options) {
  if (!target.exists) return {};
  // A checksummed target that no longer verifies is not the last good
  // version: keep the backup that is.
  if (options.checksum && read_file_verified(target.path).error) return {};
  const fs::path backup = backup_path(target.path);
  BackupLink link;
  const int error = link.link(target.path, backup);
  if (error == EXDEV || error == EPERM) return copy_to_backup(target, backup, options);
  if (error) return step_failed(WriteStep::backup_link, error);
  return link.rename_over(backup);
}

FallbackRead read_file_with_fallback(const fs::path& path, const std::function<bool(std::string_view)>& valid) {
  detail::Target target;
  const fs::path file = detail::resolve_target(path, SymlinkPolicy::replace_link_target, target) ? path : target.path;
  for (const auto& [source, candidate] :
       {std::pair{ReadSource::target, file}, {ReadSource::backup, backup_path(file)}}) {
    std::optional<std::string> content = read_file(candidate);
    if (content && valid(*content)) return {std::move(content), source};
  }
  return {};
}

}  // namespace crashcheck
