#include "crashcheck/runner/subject_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <climits>
#include <fcntl.h>
#include <linux/close_range.h>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace crashcheck::runner {
namespace {

// What the supervisor sends back through its pipe: first the subject's pid
// (int), then this, once, when everything it started has ended.
constexpr int kKilledListed = 4;  // outliving processes named in the result
constexpr int kCmdline = 160;     // bytes of each one's command line kept
struct WireResult {
  int end;
  int code;
  int outlived;  // a process the subject started was alive when it ended
  int killed;    // how many of those were still alive at the deadline (killed)
  int pids[kKilledListed];
  char cmdlines[kKilledListed][kCmdline];
};

// Everything the forked processes need, prepared before fork() so that the
// children never allocate.
struct Prepared {
  std::string program;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::string cwd, in, out, err;
  long long timeout_ms;
  bool wait_for_descendants;
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
  p.wait_for_descendants = spec.wait_for_descendants;
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

// `go_fd`: the runner writes (or closes) it once it holds a pidfd of this
// process, so it can tell later whether the subject had ended at a pause.
[[noreturn]] void exec_subject(const Prepared& p, int exec_error_fd, int go_fd) {
  ::setpgid(0, 0);
  char go;
  while (::read(go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  ::close(go_fd);
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
    // the subject gets its standard streams and nothing else the runner held open
    (void)::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(p.program.c_str(), p.argv.data(), p.envp.data());
    error = errno;
  }
  write_all(exec_error_fd, &error, sizeof error);
  _exit(127);
}

// --- supervisor: only async-signal-safe calls --------------------------------

// Opens /proc/<pid>/<leaf> (`leaf` at most 12 bytes), or -1.
int open_proc_file(const char* pid_name, const char* leaf) {
  char path[64] = "/proc/";
  size_t len = 6;
  for (const char* c = pid_name; *c && len < 50; ++c) path[len++] = *c;
  path[len++] = '/';
  for (const char* c = leaf; *c && len < 63; ++c) path[len++] = *c;
  path[len] = '\0';
  return ::open(path, O_RDONLY | O_CLOEXEC);
}

// Parent pid from /proc/<pid>/stat: the field after the ")" that ends comm;
// `state` gets the state letter before it ('Z': a zombie).
pid_t parent_of(const char* pid_name, char* state = nullptr) {
  int fd = open_proc_file(pid_name, "stat");
  if (fd < 0) return -1;
  char buffer[512];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* close_paren = std::strrchr(buffer, ')');
  if (!close_paren || close_paren[1] == '\0') return -1;
  const char* p = close_paren + 2;  // state letter
  if (state) *state = *p;
  while (*p && *p != ' ') ++p;  // skip state
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

// The first bytes of /proc/<pid>/cmdline, its NULs as spaces, into `out`.
void read_cmdline(const char* pid_name, char (&out)[kCmdline]) {
  out[0] = '\0';
  int fd = open_proc_file(pid_name, "cmdline");
  if (fd < 0) return;
  ssize_t n = ::read(fd, out, kCmdline - 1);
  ::close(fd);
  if (n < 0) n = 0;
  while (n > 0 && out[n - 1] == '\0') --n;
  for (ssize_t i = 0; i < n; ++i)
    if (out[i] == '\0') out[i] = ' ';
  out[n] = '\0';
}

// SIGKILLs every process whose parent is this supervisor; returns how many.
// /proc/<pid>/task/<tid>/children is not available on every kernel, so scan.
// With `record`, each one killed is counted (and the first few named) in it.
int kill_children(WireResult* record) {
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
      char state = '?';
      if (parent_of(entry->d_name, &state) != self) continue;
      pid_t pid = 0;
      for (const char* c = entry->d_name; *c; ++c) pid = pid * 10 + (*c - '0');
      if (record && state != 'Z' && ::kill(pid, SIGSTOP) == 0) {  // stopped, so its cmdline is read before it goes
        if (record->killed < kKilledListed) {
          record->pids[record->killed] = pid;
          read_cmdline(entry->d_name, record->cmdlines[record->killed]);
        }
        ++record->killed;
      }
      ::kill(pid, SIGKILL);
      ++killed;
    }
  }
  ::close(dir);
  return killed;
}

// Kills the subject's group, then every descendant that ended up as our child,
// until there is no child left to reap. `record` (may be null) names them.
// `subject` 0: the group is not signalled, only descendants.
void kill_everything(pid_t subject, WireResult* record) {
  if (subject > 0) ::kill(-subject, SIGKILL);  // 0: no group to signal (never ours: kill(0) is)
  for (;;) {
    kill_children(record);
    if (::waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) return;
  }
}

// Whether a child of ours is still alive (zombies are reaped on the way;
// `reaped` says if one was). As a subreaper, every live descendant has a
// live ancestor among our children.
bool has_live_child(bool* reaped = nullptr) {
  for (;;) {
    const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid > 0 && reaped) *reaped = true;
    if (pid > 0) continue;
    return pid == 0;
  }
}

// After the subject ended: waits for what it started (traced like it: the
// seccomp filter and LD_PRELOAD are inherited) until the deadline, then
// kills and names what is still alive. A signal to stop ends the wait too.
// `result.outlived` may already be set by supervise_subject.
void wait_for_rest(long long deadline, WireResult& result) {
  bool reaped = false;
  const bool live = has_live_child(&reaped);
  if (reaped || live) result.outlived = 1;  // a zombie reaped now may have ended after the subject
  if (!live) return;
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
  while (has_live_child()) {
    const long long left = deadline - now_ms();
    if (left <= 0) return kill_everything(0, &result);
    timespec wait{static_cast<time_t>(left / 1000), static_cast<long>((left % 1000) * 1000000)};
    const int sig = ::sigtimedwait(&wanted, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {  // the runner stops the run: cancelled, as before
      result = {static_cast<int>(SubjectOutcome::End::cancelled), sig, 1, 0, {}, {}};
      return kill_everything(0, nullptr);
    }
  }
}

WireResult supervise_subject(pid_t subject, long long deadline) {
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
  for (;;) {
    int status = 0;
    // Another child of ours is an orphan: one reaped in the same pass as the
    // subject may have ended after it (outlived it, as far as we can tell);
    // one reaped in an earlier pass ended before the subject did.
    int orphan = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid != subject) {
        orphan = 1;
        continue;
      }
      if (WIFEXITED(status))
        return {static_cast<int>(SubjectOutcome::End::exited), WEXITSTATUS(status), orphan, 0, {}, {}};
      return {static_cast<int>(SubjectOutcome::End::signaled), WTERMSIG(status), orphan, 0, {}, {}};
    }
    const long long left = deadline - now_ms();
    if (left <= 0) return {static_cast<int>(SubjectOutcome::End::timed_out), 0, 0, 0, {}, {}};
    timespec wait{static_cast<time_t>(left / 1000), static_cast<long>((left % 1000) * 1000000)};
    int sig = ::sigtimedwait(&wanted, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
      return {static_cast<int>(SubjectOutcome::End::cancelled), sig, 0, 0, {}, {}};
  }
}

[[noreturn]] void supervise(const Prepared& p, pid_t runner, int result_fd, int go_fd) {
  // Die with the runner thread, after cleaning up (SIGTERM is handled below).
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
  ::sigprocmask(SIG_SETMASK, &wanted, nullptr);
  WireResult result{static_cast<int>(SubjectOutcome::End::cancelled), 0, 0, 0, {}, {}};
  if (::getppid() != runner) {
    const pid_t none = 0;
    write_all(result_fd, &none, sizeof none);
    write_all(result_fd, &result, sizeof result);
    _exit(0);
  }
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) _exit(1);
  const pid_t subject = ::fork();
  if (subject < 0) _exit(1);
  if (subject == 0) {
    ::close(exec_pipe[0]);
    exec_subject(p, exec_pipe[1], go_fd);
  }
  ::close(go_fd);
  ::setpgid(subject, subject);  // also here, so killpg works whoever runs first
  ::close(exec_pipe[1]);
  write_all(result_fd, &subject, sizeof subject);
  int exec_error = 0;
  ssize_t got;
  do got = ::read(exec_pipe[0], &exec_error, sizeof exec_error);
  while (got < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  const long long deadline = now_ms() + p.timeout_ms;
  if (got == static_cast<ssize_t>(sizeof exec_error))
    result = {static_cast<int>(SubjectOutcome::End::spawn_failed), exec_error, 0, 0, {}, {}};
  else
    result = supervise_subject(subject, deadline);
  const bool ended = result.end == static_cast<int>(SubjectOutcome::End::exited) ||
                     result.end == static_cast<int>(SubjectOutcome::End::signaled);
  // wait_for_rest leaves nothing behind; the subject's group id may by then
  // be another process's, so it is not signalled after the wait.
  if (ended && p.wait_for_descendants)
    wait_for_rest(deadline, result);
  else
    kill_everything(subject, nullptr);
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
  int result_pipe[2], go_pipe[2];
  if (::pipe2(result_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  if (::pipe2(go_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    ::close(result_pipe[0]);
    ::close(result_pipe[1]);
    throw std::system_error(error, std::generic_category(), "pipe2");
  }
  // Block every signal across fork so the runner's handlers never run in the
  // child; the supervisor installs its own mask.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t runner = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(result_pipe[0]);
    ::close(go_pipe[1]);
    supervise(p, runner, result_pipe[1], go_pipe[0]);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(result_pipe[1]);
  ::close(go_pipe[0]);
  if (pid < 0) {
    ::close(result_pipe[0]);
    ::close(go_pipe[1]);
    throw std::system_error(fork_errno, std::generic_category(), "fork");
  }
  SubjectProcess process(pid, result_pipe[0]);
  // The subject waits before exec until we hold a pidfd of it: it cannot
  // have ended (and its pid cannot be another process's) before then.
  pid_t subject = 0;
  ssize_t got;
  do got = ::read(result_pipe[0], &subject, sizeof subject);
  while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof subject) && subject > 0) {
    process.subject_ = subject;
    process.subject_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, subject, 0));
  }
  if (subject > 0) write_all(go_pipe[1], "g", 1);  // else nothing reads it (no SIGPIPE)
  ::close(go_pipe[1]);
  return process;
}

SubjectProcess::SubjectProcess(SubjectProcess&& other) noexcept
    : supervisor_(other.supervisor_),
      result_fd_(other.result_fd_),
      subject_(other.subject_),
      subject_pidfd_(other.subject_pidfd_),
      done_(other.done_),
      outcome_(other.outcome_),
      rest_(std::move(other.rest_)) {
  other.supervisor_ = -1;
  other.result_fd_ = -1;
  other.subject_pidfd_ = -1;
  other.done_ = true;
}

SubjectProcess::~SubjectProcess() {
  if (supervisor_ > 0 && !done_) {
    stop();
    wait();
  }
  if (result_fd_ >= 0) ::close(result_fd_);
  if (subject_pidfd_ >= 0) ::close(subject_pidfd_);
}

namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// PF_EXITING in /proc/<pid>/stat's flags (the 9th field): the process is in
// exit(2) — its status is set and its descriptors may already be closed
// (a child waiting for end of file on a pipe it held is already running),
// though the pidfd reports it only once it is a zombie.
bool exiting(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return false;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string field;
  for (int i = 3; i <= 9 && fields >> field; ++i) {
  }
  constexpr unsigned long kPfExiting = 0x4;
  return (std::strtoul(field.c_str(), nullptr, 10) & kPfExiting) != 0;
}

}  // namespace

std::optional<bool> SubjectProcess::subject_ended() const {
  if (subject_pidfd_ < 0) return std::nullopt;
  if (readable(subject_pidfd_)) return true;
  // Not a zombie yet, so its pid is still its own while stat is read; a
  // second look at the pidfd covers it ending (and the pid going) meanwhile.
  return exiting(subject_) || readable(subject_pidfd_);
}

bool SubjectProcess::read_result(int timeout_ms) {
  if (done_) return true;
  pollfd fd{result_fd_, POLLIN, 0};
  int ready = ::poll(&fd, 1, timeout_ms);
  if (ready <= 0) return false;
  WireResult wire{static_cast<int>(SubjectOutcome::End::cancelled), 0, 0, 0, {}, {}};
  // One write of less than PIPE_BUF bytes: it arrives whole or not at all.
  static_assert(sizeof(WireResult) < PIPE_BUF);
  ssize_t got;
  do got = ::read(result_fd_, &wire, sizeof wire);
  while (got < 0 && errno == EINTR);
  // No result (the supervisor itself was killed) counts as cancelled.
  outcome_ = got == static_cast<ssize_t>(sizeof wire)
                 ? SubjectOutcome{static_cast<SubjectOutcome::End>(wire.end), wire.code}
                 : SubjectOutcome{SubjectOutcome::End::cancelled, 0};
  if (got == static_cast<ssize_t>(sizeof wire)) {
    rest_.outlived = wire.outlived != 0;
    rest_.killed = wire.killed;
    for (int i = 0; i < wire.killed && i < kKilledListed; ++i) {
      wire.cmdlines[i][kCmdline - 1] = '\0';
      rest_.named.push_back("pid " + std::to_string(wire.pids[i]) + " (" + wire.cmdlines[i] + ")");
    }
  }
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
