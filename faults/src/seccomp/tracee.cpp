// Tracee: memory, descriptors and paths of a supervised thread.
#include "tracee.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace crashcheck::faults::seccomp {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
constexpr std::uint64_t page_size = 4096;
}

bool Tracee::read(std::uint64_t addr, void* out, std::size_t size) const {
  if (size == 0) return true;
  iovec local{out, size}, remote{reinterpret_cast<void*>(addr), size};
  return ::process_vm_readv(tid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

bool Tracee::write(std::uint64_t addr, const void* in, std::size_t size) const {
  iovec local{const_cast<void*>(in), size}, remote{reinterpret_cast<void*>(addr), size};
  return ::process_vm_writev(tid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

// Page by page: the string may end just before an unmapped page.
std::optional<std::string> Tracee::read_string(std::uint64_t addr, std::size_t max) const {
  std::string out;
  char chunk[page_size];
  while (out.size() < max) {
    std::size_t n = std::min<std::uint64_t>(page_size - addr % page_size, max - out.size());
    if (addr == 0 || !read(addr, chunk, n)) return std::nullopt;
    const char* nul = static_cast<const char*>(std::memchr(chunk, 0, n));
    out.append(chunk, nul ? static_cast<std::size_t>(nul - chunk) : n);
    if (nul) return out;
    addr += n;
  }
  return std::nullopt;
}

UniqueFd Tracee::grab(int fd) const { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd_, fd, 0))); }

UniqueFd Tracee::base(int dirfd) const {
  if (dirfd != AT_FDCWD) return grab(dirfd);
  std::string cwd = "/proc/" + std::to_string(tid_) + "/cwd";
  return UniqueFd(::open(cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

std::string Tracee::absolute(const std::string& path) const {
  // /dev/fd is a symlink to /proc/self/fd: resolved here it would name the supervisor's
  for (auto [self, under] : {std::pair<std::string_view, std::string_view>{"/proc/self", ""},
                             {"/proc/thread-self", ""},
                             {"/dev/fd", "/fd"}}) {
    if (path.compare(0, self.size(), self) != 0) continue;
    if (path.size() > self.size() && path[self.size()] != '/') continue;
    // a thread's /proc/<tid> is its thread-self; fd, cwd and root are the process's
    return "/proc/" + std::to_string(tid_) + std::string(under) + path.substr(self.size());
  }
  return path;
}

UniqueFd listen_unix(const std::filesystem::path& file, const std::string& prefix, int type, std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  name = file.string();
  if (name.size() >= sizeof addr.sun_path) {  // a long work_dir: an abstract name instead
    static std::atomic<unsigned> serial{0};
    name = "@" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = 0;
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd.get(), 1) != 0)
    return UniqueFd();
  return fd;
}

// One read() and a scan, not a stream: this runs for every created file.
std::optional<TaskStatus> task_status(pid_t tid) {
  std::string path = "/proc/" + std::to_string(tid) + "/status";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[8192];
  ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  text[n] = 0;
  auto field = [&](const char* key) -> const char* {  // the text after "\nKey:\t"
    const char* at = std::strstr(text, key);
    return at ? at + std::strlen(key) : nullptr;
  };
  TaskStatus s;
  if (const char* v = field("\nTgid:")) s.tgid = static_cast<pid_t>(std::strtol(v, nullptr, 10));
  if (const char* v = field("\nPPid:")) s.ppid = static_cast<pid_t>(std::strtol(v, nullptr, 10));
  if (const char* v = field("\nUmask:")) s.umask = static_cast<mode_t>(std::strtoul(v, nullptr, 8));
  for (auto [key, out] : {std::pair{"\nUid:", &s.fsuid}, std::pair{"\nGid:", &s.fsgid}}) {
    const char* v = field(key);  // real, effective, saved, fs
    char* end = nullptr;
    for (int i = 0; v && i < 4; ++i, v = end) *out = static_cast<unsigned>(std::strtoul(v, &end, 10));
  }
  return s.tgid ? std::optional(s) : std::nullopt;
}

}  // namespace crashcheck::faults::seccomp
