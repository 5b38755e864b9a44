/* libcrashcheck_fork.so: the fork server preloaded into a template run
 * (protocol.h says how it is driven).
 *
 * A subject's start-up (an interpreter loading its modules) is most of what
 * each fault case costs, and is the same in every case up to the first
 * counted call. So the cases of a campaign are forked from one run parked
 * there instead of each starting the subject again: the child is the
 * subject, in the state it had at that call, in a case directory of its own.
 *
 * Everything here runs in a signal handler of a single-threaded process (the
 * supervisor parks only such a one) or in a child just forked from it, at a
 * point where the thread was inside a system call, so no lock of libc is
 * held; still, nothing allocates. Plain C, never sanitizer-instrumented,
 * like the agent. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol.h"

#define CC_MAX_CHILDREN 64

static char fork_socket[108];

struct child {
  int pidfd;
  int status_fd;
  pid_t pid;
};

/* ------------------------------------------------------------- the child -- */

/* A descriptor open on a file under the template's root is reopened on the
 * same name, now the case's file, with its flags and offset: the case must
 * not share an open file description (an offset) with the template. */
static int reopen_one(int fd, const char *root, size_t root_len) {
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = 0;
  if (strncmp(path, root, root_len) != 0 || (path[root_len] != '/' && path[root_len] != 0)) return 0;
  int flags = fcntl(fd, F_GETFL), fd_flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fd_flags < 0) return -1;
  int keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_DSYNC | O_SYNC | O_NOATIME | O_PATH | O_DIRECTORY;
  off_t at = lseek(fd, 0, SEEK_CUR);
  int fresh = open(path, (flags & keep) | O_CLOEXEC);
  if (fresh < 0) return -1;
  if (at > 0 && lseek(fresh, at, SEEK_SET) != at) return -1;
  if (dup3(fresh, fd, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) != fd) return -1;
  close(fresh);
  return 0;
}

static int reopen_under(const char *root) {
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  char buf[4096];
  int rc = 0;
  for (;;) {
    long got = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (got <= 0) break;
    for (long at = 0; at < got;) {
      struct dirent64 *e = (struct dirent64 *)(buf + at);
      at += e->d_reclen;
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      int fd = atoi(e->d_name);
      if (fd != dir && reopen_one(fd, root, strlen(root)) != 0) rc = -1;
    }
  }
  close(dir);
  return rc;
}

/* The child becomes the case: 0, or the step that failed (errno set). */
static int become_case(const struct cc_fork_request *req) {
  char cwd[PATH_MAX];
  if (setpgid(0, 0) != 0) return CC_FORK_STEP_GROUP;
  if (!getcwd(cwd, sizeof cwd)) return CC_FORK_STEP_CWD;
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return CC_FORK_STEP_NAMESPACE;
  if (mount(req->case_root, req->template_root, NULL, MS_BIND | MS_REC, NULL) != 0) return CC_FORK_STEP_BIND;
  if (chdir(cwd) != 0) return CC_FORK_STEP_CWD;
  if (reopen_under(req->template_root) != 0) return CC_FORK_STEP_REOPEN;
  return 0;
}

/* ---------------------------------------------------------- the template -- */

static void report(int fd, const struct cc_fork_status *status) {
  (void)!write(fd, status, sizeof *status);
  close(fd);
}

static int connect_server(void) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(fork_socket);
  memcpy(addr.sun_path, fork_socket, len);
  if (fork_socket[0] == '@') addr.sun_path[0] = 0;
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0)
    return -1;
  struct cc_fork_hello hello = {getpid()};
  return send(s, &hello, sizeof hello, MSG_NOSIGNAL) == sizeof hello ? s : -1;
}

/* One request: its status pipe in *status_fd; 0 on end of input. */
static ssize_t receive(int s, struct cc_fork_request *req, int *status_fd) {
  struct iovec iov = {req, sizeof *req};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  *status_fd = -1;
  if (c && c->cmsg_type == SCM_RIGHTS) memcpy(status_fd, CMSG_DATA(c), sizeof(int));
  return n;
}

/* Kills and reaps every child of ours but `case_pid`: what a case left
 * running became ours when it ended (the template is a subreaper). Whether
 * there was any, dead or alive (a zombie may have ended after the case). */
static int end_orphans(pid_t case_pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
  int found = 0;
  for (int round = 0; round < 64; ++round) { /* a killed orphan's own children come to us next */
    char list[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, list, sizeof list - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) break;
    list[n] = 0;
    int others = 0;
    char *at = list;
    for (;;) {
      char *end;
      pid_t pid = (pid_t)strtol(at, &end, 10);
      if (end == at) break;
      at = end;
      if (pid > 0 && pid != case_pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        others = 1;
      }
    }
    if (!others) break;
    found = 1;
  }
  return found;
}

static void reap(struct child *kid) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  struct cc_fork_status status = {0, 0, 0, 0, 0};
  if (waitid(P_PIDFD, (id_t)kid->pidfd, &info, WEXITED | WNOWAIT) == 0)
    status.status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;
  else
    status.error = errno;
  kill(-kid->pid, SIGKILL); /* the zombie keeps its pid, so the group is still the case's */
  status.outlived = end_orphans(kid->pid);
  waitid(P_PIDFD, (id_t)kid->pidfd, &info, WEXITED);
  report(kid->status_fd, &status);
  close(kid->pidfd);
}

/* fork: 0 in the child once it is its case; else 1, with the child in
 * kids[count] when the reply has a pid. The child makes no supervised call
 * before its mount namespace is set up: its first one tells the supervisor
 * which namespace it works in. */
static int fork_one(const struct cc_fork_request *req, int status_fd, int s, struct child *kids, int count,
                    struct cc_fork_reply *reply) {
  pid_t pid = fork();
  if (pid == 0) {
    int step = become_case(req), error = errno;
    close(s);
    for (int i = 0; i < count; ++i) close(kids[i].pidfd), close(kids[i].status_fd);
    if (step) {
      struct cc_fork_status failed = {1, 0, error, step, 0};
      report(status_fd, &failed);
      _exit(125);
    }
    close(status_fd);
    return 0;
  }
  int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  if (pidfd >= 0) {
    kids[count] = (struct child){pidfd, status_fd, pid};
    reply->pid = pid;
    return 1;
  }
  reply->error = errno;
  if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
  close(status_fd);
  return 1;
}

/* Serves requests until crashcheck closes the socket. Returns 1 in the
 * template when done, 0 in a child that became its case. */
static int serve(void) {
  prctl(PR_SET_CHILD_SUBREAPER, 1); /* what a case leaves running comes to us: end_orphans */
  int s = connect_server();
  if (s < 0) return 1;
  struct child kids[CC_MAX_CHILDREN];
  int count = 0;
  for (;;) {
    struct pollfd fds[CC_MAX_CHILDREN + 1];
    fds[0] = (struct pollfd){s, POLLIN, 0};
    for (int i = 0; i < count; ++i) fds[i + 1] = (struct pollfd){kids[i].pidfd, POLLIN, 0};
    if (poll(fds, (nfds_t)count + 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = count - 1; i >= 0; --i)
      if (fds[i + 1].revents) {
        reap(&kids[i]);
        kids[i] = kids[--count];
      }
    if (!fds[0].revents) continue;
    struct cc_fork_request req;
    int status_fd;
    if (receive(s, &req, &status_fd) <= 0) break;
    req.case_root[sizeof req.case_root - 1] = req.template_root[sizeof req.template_root - 1] = 0;
    struct cc_fork_reply reply = {0, 0};
    if (status_fd < 0 || count == CC_MAX_CHILDREN) {
      reply.error = EMFILE;
      if (status_fd >= 0) close(status_fd);
    } else if (fork_one(&req, status_fd, s, kids, count, &reply) == 0) {
      return 0; /* the child, going on as its case */
    } else if (reply.pid > 0) {
      ++count;
    }
    send(s, &reply, sizeof reply, MSG_NOSIGNAL);
  }
  for (int i = 0; i < count; ++i) kill(-kids[i].pid, SIGKILL), reap(&kids[i]);
  return 1;
}

static void on_park(int signal) {
  (void)signal;
  int saved = errno;
  if (serve() != 0) _exit(0); /* the template ends here: it never makes the call it parked at */
  errno = saved;              /* a case: the parked call starts again, now supervised as its own */
}

/* Restores the environment the subject was given, so it sees nothing of us. */
static void restore_environment(void) {
  const char *before = getenv(CC_FORK_PRELOAD_ENV);
  if (before && strcmp(before, "-") == 0)
    unsetenv("LD_PRELOAD");
  else if (before)
    setenv("LD_PRELOAD", before, 1);
  unsetenv(CC_FORK_PRELOAD_ENV);
  unsetenv(CC_FORK_SOCKET_ENV);
}

/* The launcher, which execs the subject, loads the library first: the
 * environment must reach the subject untouched. */
static int in_launcher(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = 0;
  const char *base = strrchr(exe, '/');
  return strcmp(base ? base + 1 : exe, "crashcheck-launch") == 0;
}

__attribute__((constructor)) static void cc_fork_server_init(void) {
  const char *path = getenv(CC_FORK_SOCKET_ENV);
  if (!path || strlen(path) >= sizeof fork_socket || in_launcher()) return;
  memcpy(fork_socket, path, strlen(path) + 1);
  restore_environment();
  struct sigaction park;
  memset(&park, 0, sizeof park);
  park.sa_handler = on_park;
  sigemptyset(&park.sa_mask);
  sigaction(SIGRTMAX - CC_FORK_SIGNAL_FROM_RTMAX, &park, NULL);
}
