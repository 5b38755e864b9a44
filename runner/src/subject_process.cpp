#include "crashcheck/runner/subject_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace crashcheck::runner {
namespace {

// What the supervisor sends back through its pipe, once.
struct WireResult {
  int end;
  int code;
};

// Everything the forked processes need, prepared before fork() so that the
// children never allocate.
struct Prepared {
  std::string program;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::string cwd, in, out, err;
  long long timeout_ms;
};

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path ? path : "/usr/bin:/bin"};
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

Prepared prepare(const SubjectSpec& spec) {
  Prepared p;
  p.argv_storage = spec.argv;
  p.env_storage = spec.environment;
  p.program = spec.argv.empty() ? std::string() : resolve_program(spec.argv[0]);
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  p.cwd = spec.working_directory.string();
  p.in = spec.stdin_file.empty() ? "/dev/null" : spec.stdin_file.string();
  p.out = spec.stdout_file.empty() ? "/dev/null" : spec.stdout_file.string();
  p.err = spec.stderr_file.empty() ? "/dev/null" : spec.stderr_file.string();
  p.timeout_ms = spec.timeout.count();
  return p;
}

long long now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// --- subject (grandchild): only async-signal-safe calls until execve -------

bool redirect(const char* path, int flags, int target_fd) {
  int fd = ::open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::dup2(fd, target_fd) >= 0;  // dup2 clears FD_CLOEXEC on the copy
  ::close(fd);
  return ok;
}

[[noreturn]] void exec_subject(const Prepared& p, int exec_error_fd) {
  ::setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int error = 0;
  if (!redirect(p.in.c_str(), O_RDONLY, 0) || !redirect(p.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 1) ||
      !redirect(p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 2) || ::chdir(p.cwd.c_str()) != 0) {
    error = errno;
  } else {
    ::execve(p.program.c_str(), p.argv.data(), p.envp.data());
    error = errno;
  }
  write_all(exec_error_fd, &error, sizeof error);
  _exit(127);
}

// --- supervisor: only async-signal-safe calls --------------------------------

// Parent pid from /proc/<pid>/stat: the field after the ")" that ends comm.
pid_t parent_of(const char* pid_name) {
  char path[64] = "/proc/";
  size_t len = 6;
  for (const char* c = pid_name; *c && len < 50; ++c) path[len++] = *c;
  std::memcpy(path + len, "/stat", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buffer[512];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* close_paren = std::strrchr(buffer, ')');
  if (!close_paren || close_paren[1] == '\0') return -1;
  const char* p = close_paren + 2;  // state letter
  while (*p && *p != ' ') ++p;      // skip state
  pid_t ppid = 0;
  for (++p; *p >= '0' && *p <= '9'; ++p) ppid = ppid * 10 + (*p - '0');
  return ppid;
}

// The record getdents64(2) fills (not exported by glibc under this name).
struct LinuxDirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

// SIGKILLs every process whose parent is this supervisor; returns how many.
// /proc/<pid>/task/<tid>/children is not available on every kernel, so scan.
int kill_children() {
  int dir = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  const pid_t self = ::getpid();
  int killed = 0;
  alignas(8) char buffer[8192];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n <= 0) break;
    for (long offset = 0; offset < n;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      offset += entry->d_reclen;
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      if (parent_of(entry->d_name) != self) continue;
      pid_t pid = 0;
      for (const char* c = entry->d_name; *c; ++c) pid = pid * 10 + (*c - '0');
      ::kill(pid, SIGKILL);
      ++killed;
    }
  }
  ::close(dir);
  return killed;
}

// Kills the subject's group, then every descendant that ended up as our child,
// until there is no child left to reap.
void kill_everything(pid_t subject) {
  ::kill(-subject, SIGKILL);
  for (;;) {
    kill_children();
    if (::waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) return;
  }
}

WireResult supervise_subject(pid_t subject, long long timeout_ms) {
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
  const long long deadline = now_ms() + timeout_ms;
  for (;;) {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid != subject) continue;
      if (WIFEXITED(status)) return {static_cast<int>(SubjectOutcome::End::exited), WEXITSTATUS(status)};
      return {static_cast<int>(SubjectOutcome::End::signaled), WTERMSIG(status)};
    }
    const long long left = deadline - now_ms();
    if (left <= 0) return {static_cast<int>(SubjectOutcome::End::timed_out), 0};
    timespec wait{static_cast<time_t>(left / 1000), static_cast<long>((left % 1000) * 1000000)};
    int sig = ::sigtimedwait(&wanted, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
      return {static_cast<int>(SubjectOutcome::End::cancelled), sig};
  }
}

[[noreturn]] void supervise(const Prepared& p, pid_t runner, int result_fd) {
  // Die with the runner thread, after cleaning up (SIGTERM is handled below).
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
  ::sigprocmask(SIG_SETMASK, &wanted, nullptr);
  WireResult result{static_cast<int>(SubjectOutcome::End::cancelled), 0};
  if (::getppid() != runner) {
    write_all(result_fd, &result, sizeof result);
    _exit(0);
  }
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) _exit(1);
  const pid_t subject = ::fork();
  if (subject < 0) _exit(1);
  if (subject == 0) {
    ::close(exec_pipe[0]);
    exec_subject(p, exec_pipe[1]);
  }
  ::setpgid(subject, subject);  // also here, so killpg works whoever runs first
  ::close(exec_pipe[1]);
  int exec_error = 0;
  ssize_t got;
  do got = ::read(exec_pipe[0], &exec_error, sizeof exec_error);
  while (got < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error))
    result = {static_cast<int>(SubjectOutcome::End::spawn_failed), exec_error};
  else
    result = supervise_subject(subject, p.timeout_ms);
  kill_everything(subject);
  write_all(result_fd, &result, sizeof result);
  _exit(0);
}

const char* signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? abbrev : "?";
}

}  // namespace

std::atomic<bool>& cancel_requested() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

int SubjectOutcome::status() const {
  switch (end) {
    case End::exited:
      return code;
    case End::signaled:
      return -code;
    default:
      return -SIGKILL;  // the supervisor killed it
  }
}

std::string SubjectOutcome::describe() const {
  switch (end) {
    case End::exited:
      return "exit " + std::to_string(code);
    case End::signaled:
      return std::string("killed by SIG") + signal_name(code);
    case End::timed_out:
      return "timed out";
    case End::cancelled:
      return "stopped (interrupted)";
    case End::spawn_failed:
      return std::string("could not start: ") + std::strerror(code);
  }
  return "?";
}

SubjectProcess SubjectProcess::start(const SubjectSpec& spec) {
  const Prepared p = prepare(spec);
  int result_pipe[2];
  if (::pipe2(result_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  // Block every signal across fork so the runner's handlers never run in the
  // child; the supervisor installs its own mask.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t runner = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(result_pipe[0]);
    supervise(p, runner, result_pipe[1]);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(result_pipe[1]);
  if (pid < 0) {
    ::close(result_pipe[0]);
    throw std::system_error(fork_errno, std::generic_category(), "fork");
  }
  return SubjectProcess(pid, result_pipe[0]);
}

SubjectProcess::SubjectProcess(SubjectProcess&& other) noexcept
    : supervisor_(other.supervisor_), result_fd_(other.result_fd_), done_(other.done_), outcome_(other.outcome_) {
  other.supervisor_ = -1;
  other.result_fd_ = -1;
  other.done_ = true;
}

SubjectProcess::~SubjectProcess() {
  if (supervisor_ > 0 && !done_) {
    stop();
    wait();
  }
  if (result_fd_ >= 0) ::close(result_fd_);
}

bool SubjectProcess::read_result(int timeout_ms) {
  if (done_) return true;
  pollfd fd{result_fd_, POLLIN, 0};
  int ready = ::poll(&fd, 1, timeout_ms);
  if (ready <= 0) return false;
  WireResult wire{static_cast<int>(SubjectOutcome::End::cancelled), 0};
  ssize_t got;
  do got = ::read(result_fd_, &wire, sizeof wire);
  while (got < 0 && errno == EINTR);
  // No result (the supervisor itself was killed) counts as cancelled.
  outcome_ = got == static_cast<ssize_t>(sizeof wire)
                 ? SubjectOutcome{static_cast<SubjectOutcome::End>(wire.end), wire.code}
                 : SubjectOutcome{SubjectOutcome::End::cancelled, 0};
  while (::waitpid(supervisor_, nullptr, 0) < 0 && errno == EINTR) {
  }
  done_ = true;
  return true;
}

bool SubjectProcess::finished() { return read_result(0); }

SubjectOutcome SubjectProcess::wait() {
  bool stopping = false;
  while (!read_result(50)) {
    if (!stopping && cancel_requested().load()) {
      stop();
      stopping = true;
    }
  }
  return outcome_;
}

void SubjectProcess::stop() {
  if (supervisor_ > 0 && !done_) ::kill(supervisor_, SIGTERM);
}

SubjectOutcome run_subject(const SubjectSpec& spec) { return SubjectProcess::start(spec).wait(); }

}  // namespace crashcheck::runner
