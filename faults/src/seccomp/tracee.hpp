// Reaching into a supervised process from the supervisor: its memory
// (process_vm_readv/writev), its descriptors (pidfd_getfd), its cwd and
// credentials (/proc/<tid>/…). Private to src/seccomp/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

namespace crashcheck::faults::seccomp {

// An owned descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// One thread of the subject, stopped in a notified system call.
class Tracee {
 public:
  Tracee(pid_t tid, int pidfd) : tid_(tid), pidfd_(pidfd) {}
  pid_t tid() const { return tid_; }

  bool read(std::uint64_t addr, void* out, std::size_t size) const;
  bool write(std::uint64_t addr, const void* in, std::size_t size) const;
  // A NUL-terminated string of at most max bytes; nullopt when unreadable or longer.
  std::optional<std::string> read_string(std::uint64_t addr, std::size_t max = 4096) const;
  // The subject's descriptor fd, duplicated into this process (same open file description).
  UniqueFd grab(int fd) const;
  // The directory relative paths start from: dirfd's, or the cwd for AT_FDCWD.
  UniqueFd base(int dirfd) const;
  // /proc/self and /proc/thread-self in a path the subject gave, as this process must spell them.
  std::string absolute(const std::string& path) const;

 private:
  pid_t tid_;
  int pidfd_;
};

// Tgid, umask and fs uid/gid of a task, from /proc/<tid>/status.
struct TaskStatus {
  pid_t tgid = 0;
  pid_t ppid = 0;
  mode_t umask = 022;
  uid_t fsuid = 0;
  gid_t fsgid = 0;
};
std::optional<TaskStatus> task_status(pid_t tid);

// A unix socket of `type` listening at `file`, or, when its path is too long
// for sun_path, at an abstract name "@<prefix>-<pid>-<serial>". `name` is set
// to where it listens (as the launcher and the fork server spell it);
// invalid, with errno, when it cannot be made.
UniqueFd listen_unix(const std::filesystem::path& file, const std::string& prefix, int type, std::string& name);

// Call sites (call_site.cpp): the sites-file line of counted call `seq` of a
// thread stopped in a notified call at `pc`, the first return address into
// the writer's own code; "" when none is found.
std::string native_site_line(const Tracee& t, std::uint32_t seq, std::uint64_t pc);

}  // namespace crashcheck::faults::seccomp
