// A private directory for one campaign's (or one replay's) cases, below
// --work-root, $TMPDIR or /tmp, removed with everything in it when the
// campaign ends, however it ends.
#pragma once

#include <filesystem>

namespace crashcheck::runner {

class WorkDir {
 public:
  explicit WorkDir(const std::filesystem::path& parent);  // empty parent: $TMPDIR, else /tmp
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace crashcheck::runner
