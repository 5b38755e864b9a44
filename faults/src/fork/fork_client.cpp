// crashcheck's side of the fork server: see fork_client.hpp and protocol.h.
#include "fork_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "protocol.h"

namespace crashcheck::faults {
namespace fs = std::filesystem;

namespace {

fs::path exe_dir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path();
}

std::string join_errno(const std::string& what, int error) { return what + ": " + std::strerror(error); }

const char* step_name(int step) {
  switch (step) {
    case CC_FORK_STEP_GROUP:
      return "a process group of its own";
    case CC_FORK_STEP_NAMESPACE:
      return "a mount namespace of its own (forked cases need CAP_SYS_ADMIN)";
    case CC_FORK_STEP_BIND:
      return "binding the case's directory over the template's";
    case CC_FORK_STEP_CWD:
      return "its working directory";
    case CC_FORK_STEP_REOPEN:
      return "reopening its files in the case's directory";
  }
  return "an unknown step";
}

}  // namespace

// ------------------------------------------------------------ ForkedSubject --

ForkedSubject::ForkedSubject(ForkedSubject&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_fd_(std::exchange(other.status_fd_, -1)) {}

ForkedSubject& ForkedSubject::operator=(ForkedSubject&& other) noexcept {
  if (this != &other) {
    if (status_fd_ >= 0) ::close(status_fd_);
    pid_ = std::exchange(other.pid_, -1);
    status_fd_ = std::exchange(other.status_fd_, -1);
  }
  return *this;
}

ForkedSubject::~ForkedSubject() {
  if (status_fd_ >= 0) ::close(status_fd_);
}

ForkedSubject::End ForkedSubject::read_end() const {
  cc_fork_status status{};
  ssize_t got;
  do got = ::read(status_fd_, &status, sizeof status);
  while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof status)) return {std::nullopt, "the template run ended before the case did"};
  if (status.setup_failed)
    return {std::nullopt,
            join_errno(std::string("the forked case could not set up ") + step_name(status.step), status.error)};
  if (status.error) return {std::nullopt, join_errno("the template could not reap the case", status.error)};
  // a case run from the start waits for what its subject started (runner/README.md): a fork does not stand for it
  if (status.outlived) return {std::nullopt, "its subject left processes running when it ended"};
  return {status.status, {}};
}

// ------------------------------------------------------- Observer defaults --

std::optional<std::string> Observer::await_template(std::chrono::milliseconds) {
  return "this backend cannot fork cases";
}

ForkedSubject Observer::fork_subject(const fs::path&, const fs::path&, Observer&, std::string& why) {
  why = "this backend cannot fork cases";
  return {};
}

// --------------------------------------------------------------- ForkClient --

fs::path default_fork_library() {
  if (const char* env = std::getenv("CRASHCHECK_FORK_LIBRARY")) return env;
#ifdef CRASHCHECK_FORK_BUILD_PATH
  if (::access(CRASHCHECK_FORK_BUILD_PATH, R_OK) == 0) return CRASHCHECK_FORK_BUILD_PATH;
#endif
  fs::path installed = exe_dir() / ".." / "lib" / "crashcheck" / "libcrashcheck_fork.so";
  return ::access(installed.c_str(), R_OK) == 0 ? installed : fs::path();
}

bool ForkClient::listen(const fs::path& work_dir, std::map<std::string, std::string>& environment) {
  const fs::path library = default_fork_library();
  if (library.empty()) return false;
  std::string path;
  listen_ = seccomp::listen_unix(work_dir / "fork.sock", "crashcheck-fork", SOCK_SEQPACKET, path);
  if (!listen_.valid()) return false;
  auto preload = environment.find("LD_PRELOAD");
  environment[CC_FORK_PRELOAD_ENV] = preload == environment.end() ? "-" : preload->second;
  environment["LD_PRELOAD"] =
      library.string() + (preload == environment.end() ? "" : " " + environment[CC_FORK_PRELOAD_ENV]);
  environment[CC_FORK_SOCKET_ENV] = path;
  return true;
}

bool ForkClient::accept(std::chrono::milliseconds timeout) {
  pollfd p{listen_.get(), POLLIN, 0};
  if (!listen_.valid() || ::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  conn_ = seccomp::UniqueFd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  cc_fork_hello hello{};
  return conn_.valid() && ::recv(conn_.get(), &hello, sizeof hello, 0) == static_cast<ssize_t>(sizeof hello);
}

ForkedSubject ForkClient::fork(const fs::path& case_root, const fs::path& template_root, std::string& why) {
  cc_fork_request req{};
  const std::string from = case_root.string(), over = template_root.string();
  if (from.size() >= sizeof req.case_root || over.size() >= sizeof req.template_root) {
    why = "a path too long for the fork server";
    return {};
  }
  std::memcpy(req.case_root, from.c_str(), from.size() + 1);
  std::memcpy(req.template_root, over.c_str(), over.size() + 1);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    why = join_errno("pipe", errno);
    return {};
  }
  seccomp::UniqueFd status(pipe_fds[0]), end(pipe_fds[1]);
  iovec iov{&req, sizeof req};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int sent_fd = end.get();
  std::memcpy(CMSG_DATA(c), &sent_fd, sizeof sent_fd);
  cc_fork_reply reply{};
  std::lock_guard lock(mutex_);
  if (!conn_.valid() || ::sendmsg(conn_.get(), &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof req) ||
      ::recv(conn_.get(), &reply, sizeof reply, 0) != static_cast<ssize_t>(sizeof reply)) {
    why = "the template run's fork server is gone";
    return {};
  }
  if (reply.pid <= 0) {
    why = join_errno("the template could not fork", reply.error);
    return {};
  }
  return ForkedSubject(reply.pid, status.release());
}

void ForkClient::close() {
  std::lock_guard lock(mutex_);
  conn_ = seccomp::UniqueFd();
  listen_ = seccomp::UniqueFd();
}

}  // namespace crashcheck::faults
