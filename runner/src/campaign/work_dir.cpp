// WorkDir: mkdtemp below the chosen parent and on /dev/shm, a locked lock
// file naming both, remove_all on destruction; and the sweep of the work
// directories whose crashcheck was killed (work_dir.hpp says why).
#include "work_dir.hpp"

#include "crashcheck/runner/scratch_case.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace crashcheck::runner {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLockName = ".crashcheck-lock";
constexpr const char* kPrefix = "crashcheck-";
constexpr const char* kTwinPattern = "/dev/shm/crashcheck-work-XXXXXX";
// What a lock file holds once its owner has locked it: this mark and the
// twin's path. Without the mark its owner is still setting it up.
constexpr std::string_view kMark = "crashcheck work directory\n";

fs::path default_parent(const fs::path& parent) {
  if (!parent.empty()) return parent;
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

std::string read_all(int fd) {
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

// The twin a lock file names, if it is one of ours; nullopt when the owner
// has not finished writing it.
std::optional<fs::path> named_twin(const std::string& lock_text) {
  if (lock_text.compare(0, kMark.size(), kMark) != 0) return std::nullopt;
  std::string twin = lock_text.substr(kMark.size());
  if (!twin.empty() && twin.back() == '\n') twin.pop_back();
  const std::string prefix(kTwinPattern, std::string_view(kTwinPattern).size() - 6);
  const bool ours = twin.size() == prefix.size() + 6 && twin.compare(0, prefix.size(), prefix) == 0 &&
                    twin.find('/', prefix.size()) == std::string::npos;
  return ours ? fs::path(twin) : fs::path();
}

// Whether `dir` was abandoned: its lock file is ours, complete, and unlocked.
// On true, `twin` is the /dev/shm twin it names (empty: none).
bool abandoned(const fs::path& dir, fs::path& twin) {
  const int fd = ::open((dir / kLockName).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool gone = ::fstat(fd, &st) == 0 && st.st_uid == ::geteuid() && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  if (gone) {
    const auto named = named_twin(read_all(fd));
    gone = named.has_value();
    if (gone) twin = *named;
  }
  ::close(fd);  // a crashcheck starting now finds the lock file gone with its directory, or free
  return gone;
}

}  // namespace

std::size_t remove_abandoned_work_dirs(const fs::path& parent) {
  std::size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    fs::path twin;
    if (it->path().filename().string().rfind(kPrefix, 0) != 0 || !it->is_directory(ec) || it->is_symlink(ec) ||
        !abandoned(it->path(), twin))
      continue;
    if (!twin.empty()) remove_tree(twin);
    remove_tree(it->path());
    ++removed;
  }
  return removed;
}

WorkDir::WorkDir(const fs::path& parent) {
  const fs::path base = default_parent(parent);
  remove_abandoned_work_dirs(base);
  std::string pattern = (base / (std::string(kPrefix) + "XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw std::system_error(errno, std::generic_category(), "mkdtemp in " + base.string());
  path_ = pattern;
  try {
    claim();
  } catch (...) {
    release();  // a constructor that throws runs no destructor
    throw;
  }
}

// Locks the lock file first, then names the twin in it: a sweeper that finds
// the file unlocked but without its mark leaves the directory alone.
void WorkDir::claim() {
  lock_ = ::open((path_ / kLockName).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (lock_ < 0 || ::flock(lock_, LOCK_EX) != 0)
    throw std::system_error(errno, std::generic_category(), "lock file in " + path_.string());
  std::string twin = kTwinPattern;
  if (::mkdtemp(twin.data())) backend_files_ = twin;
  const std::string text = std::string(kMark) + backend_files_.string() + "\n";
  if (::write(lock_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw std::system_error(errno, std::generic_category(), "lock file in " + path_.string());
}

WorkDir::~WorkDir() { release(); }

// Removes both directories, then lets the lock go.
void WorkDir::release() {
  if (!backend_files_.empty()) remove_tree(backend_files_);
  remove_tree(path_);
  if (lock_ >= 0) ::close(lock_);
  lock_ = -1;
}

}  // namespace crashcheck::runner
