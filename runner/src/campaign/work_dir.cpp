// WorkDir: mkdtemp below the chosen parent; remove_all on destruction.
#include "work_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>

namespace crashcheck::runner {
namespace fs = std::filesystem;

WorkDir::WorkDir(const fs::path& parent) {
  fs::path base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = (base / "crashcheck-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw std::system_error(errno, std::generic_category(), "mkdtemp in " + base.string());
  path_ = pattern;
}

WorkDir::~WorkDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace crashcheck::runner
