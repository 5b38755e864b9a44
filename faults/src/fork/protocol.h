/* The fork server's protocol, shared by the library preloaded into a template
 * run (fork_server.c) and crashcheck's side (fork_client.cpp).
 *
 * A template run is a subject started like any other, with
 * libcrashcheck_fork.so preloaded. The seccomp supervisor parks it at its
 * first counted call: it signals the thread (CC_FORK_SIGNAL_FROM_RTMAX) and
 * answers the call with ERESTARTNOINTR, so the handler runs and the call is
 * made again when the handler returns. The handler connects to
 * CC_FORK_SOCKET_ENV (a SOCK_SEQPACKET socket), says hello, and forks one
 * child per request (the reply: its pid). The child enters a mount namespace
 * of its own in which the case's root is bound over the template's, reopens
 * what it had open there, and returns from the handler: its parked call is
 * made again, now the case's call 1. Its calls still reach the template's
 * listener (a process may have one only), whose supervisor hands them to the
 * case's supervisor (the one it was told of before the request). When a child
 * ends, the template writes its wait status to the case's status pipe. */
#ifndef CRASHCHECK_FORK_PROTOCOL_H
#define CRASHCHECK_FORK_PROTOCOL_H

#include <stdint.h>

#define CC_FORK_SOCKET_ENV "CRASHCHECK_FORK_SOCKET"
/* LD_PRELOAD as it was before the library was added ("-": unset); restored
 * by the library's constructor, so the subject sees its own environment */
#define CC_FORK_PRELOAD_ENV "CRASHCHECK_FORK_LD_PRELOAD"
/* the signal the supervisor parks the template with: SIGRTMAX - 3 */
#define CC_FORK_SIGNAL_FROM_RTMAX 3
/* the kernel's ERESTARTNOINTR (include/linux/errno.h, not exported): the
 * answer that makes the call start again after the signal's handler */
#define CC_ERESTARTNOINTR 513

#define CC_FORK_PATH_MAX 1024

struct cc_fork_hello {
  int32_t pid;
};

/* with one descriptor (SCM_RIGHTS): the write end of the case's status pipe */
struct cc_fork_request {
  char case_root[CC_FORK_PATH_MAX];     /* bound over template_root in the child */
  char template_root[CC_FORK_PATH_MAX]; /* the template's case root, as its paths name it */
};

struct cc_fork_reply {
  int32_t pid;   /* the child, or 0 */
  int32_t error; /* errno of a failed fork */
};

/* A record on a case's status pipe: by the child when it could not become
 * the case (setup_failed; error: the errno, step: which), else by the
 * template when it reaped the child (status: as waitpid's; error: waitid's;
 * outlived: processes it started were left when it ended, and were killed).
 * The first one says how the case ended. */
struct cc_fork_status {
  int32_t setup_failed;
  int32_t status;
  int32_t error;
  int32_t step;
  int32_t outlived;
};

enum cc_fork_step {
  CC_FORK_STEP_GROUP = 1,
  CC_FORK_STEP_NAMESPACE,
  CC_FORK_STEP_BIND,
  CC_FORK_STEP_CWD,
  CC_FORK_STEP_REOPEN,
};

#endif
