/* crashcheck-launch SOCKET PROGRAM [ARG...]: starts a subject under the
 * seccomp supervisor.
 *
 * Sets no_new_privs, installs a filter built from syscalls.def that returns
 * SECCOMP_RET_USER_NOTIF for the supervised calls (ALLOW for the rest), sends
 * the listener descriptor to crashcheck over the unix socket SOCKET
 * (SCM_RIGHTS), waits for one byte of acknowledgement — from then on every
 * notification is served — and execs PROGRAM. The filter is inherited by
 * every thread and child of the subject.
 *
 * libseccomp builds the BPF program; it is loaded with seccomp(2) directly so
 * that SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV can be asked for (libseccomp
 * 2.5 has no attribute for it): once crashcheck has received a notification,
 * a signal (Go's preemption SIGURG) must not abort and restart the call
 * while crashcheck performs it.
 *
 * Exit 126 with a message when the supervisor cannot be set up (never runs
 * the subject unsupervised), 127 when PROGRAM cannot be executed. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define CC_EXIT_SETUP 126
#define CC_EXIT_EXEC 127

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("crashcheck-launch: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(CC_EXIT_SETUP);
}

/* Adds one notify rule per syscalls.def entry; mmap only when it maps a file
 * shared and writable (the only mappings whose stores reach a file), a
 * CC_SYSCALL_WHEN row only when its argument has its value. */
static void add_rules(scmp_filter_ctx ctx) {
  int rc = 0;
#define CC_SYSCALL(name, ...) \
  if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SYS_##name, 0);
#define CC_SYSCALL_WHEN(name, op, roles, errnos, arg, value) \
  if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SYS_##name, 1, SCMP_CMP(arg, SCMP_CMP_EQ, value));
#define CC_REFUSE(name, error) \
  if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SYS_##name, 0);
#define CC_NOTE(name, roles) \
  if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SYS_##name, 0);
#define CC_WATCH(name, roles)                                                                                       \
  if (!rc)                                                                                                          \
    rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SYS_##name, 2, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE), \
                          SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_SHARED | MAP_ANONYMOUS, MAP_SHARED));
#include "syscalls.def"
#undef CC_SYSCALL
#undef CC_SYSCALL_WHEN
#undef CC_REFUSE
#undef CC_NOTE
#undef CC_WATCH
  if (rc) fail("seccomp_rule_add: %s", strerror(-rc));
}

/* The filter as a BPF program (heap; the caller keeps it until loaded). */
static struct sock_fprog build_filter(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) fail("seccomp_init failed");
  add_rules(ctx);
  int mem = memfd_create("crashcheck-filter", MFD_CLOEXEC);
  if (mem < 0) fail("memfd_create: %s", strerror(errno));
  int rc = seccomp_export_bpf(ctx, mem);
  if (rc) fail("seccomp_export_bpf: %s", strerror(-rc));
  seccomp_release(ctx);
  off_t size = lseek(mem, 0, SEEK_END);
  struct sock_filter *code = malloc((size_t)size);
  if (size <= 0 || !code || pread(mem, code, (size_t)size, 0) != size) fail("cannot read the exported filter");
  close(mem);
  return (struct sock_fprog){(unsigned short)(size / (off_t)sizeof *code), code};
}

static int connect_supervisor(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof addr.sun_path) fail("socket path too long: %s", path);
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = 0; /* abstract name */
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0)
    fail("cannot connect to %s: %s", path, strerror(errno));
  return s;
}

static void send_listener(int sock, int listener) {
  char byte = 'L';
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &listener, sizeof listener);
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) fail("cannot send the listener: %s", strerror(errno));
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: crashcheck-launch SOCKET PROGRAM [ARG...]\n");
    return CC_EXIT_SETUP;
  }
  int sock = connect_supervisor(argv[1]);
  struct sock_fprog prog = build_filter();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (listener < 0 && errno == EINVAL) /* kernel before 5.19: signals may restart a notified call */
    listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) fail("seccomp filter: %s", strerror(errno));
  /* nothing may make a supervised call before the listener is sent: it would wait for ever */
  send_listener(sock, listener);
  free(prog.filter);
  char ack;
  if (read(sock, &ack, 1) != 1) fail("the supervisor did not acknowledge");
  close(listener);
  close(sock);
  execvp(argv[2], argv + 2);
  fprintf(stderr, "crashcheck-launch: cannot execute %s: %s\n", argv[2], strerror(errno));
  return CC_EXIT_EXEC;
}
