// A private directory for one campaign's (or one replay's) cases, below
// --work-root, $TMPDIR or /tmp, and its twin on /dev/shm for the backends'
// files (traces and control blocks belong in memory, not on disk). Both are
// removed with everything in them when the campaign ends, however it ends —
// except when crashcheck itself is killed outright (a CI job's timeout, the
// OOM killer), which no destructor survives. So each work directory holds a
// lock file that its crashcheck (and the supervisors it forks) keep locked
// with flock(2) while they live, and every new WorkDir first removes, below
// its parent, the work directories and their twins whose lock nobody holds.
#pragma once

#include <cstddef>
#include <filesystem>

namespace crashcheck::runner {

class WorkDir {
 public:
  explicit WorkDir(const std::filesystem::path& parent);  // empty parent: $TMPDIR, else /tmp
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // The /dev/shm twin the cases' backend files go below; empty when /dev/shm
  // cannot be written (each case then keeps them in its own harness/).
  const std::filesystem::path& backend_files() const { return backend_files_; }

 private:
  void claim();
  void release();
  std::filesystem::path path_, backend_files_;
  int lock_ = -1;
};

// Removes the work directories below `parent` (and their twins) that a
// crashcheck no longer alive left behind; returns how many.
std::size_t remove_abandoned_work_dirs(const std::filesystem::path& parent);

}  // namespace crashcheck::runner
