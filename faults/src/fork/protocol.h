/* The fork server's protocol, shared by the library preloaded into a template
 * run (fork_server.c) and crashcheck's side (fork_client.cpp).
 *
 * A template run is a subject started like any other, with
 * libcrashcheck_fork.so preloaded. The seccomp supervisor parks it at its
 * first counted call: it signals the thread (CC_FORK_SIGNAL_FROM_RTMAX) and
 * answers the call with ERESTARTNOINTR, so the handler runs and the call is
 * made again when the handler returns. The handler connects to
 * CC_FORK_SOCKET_ENV (a SOCK_SEQPACKET socket), says hello, and serves:
 *   fork: a child enters a mount namespace of its own in which the case's
 *         root is bound over the template's, reopens what it had open there,
 *         says so (the reply), and waits;
 *   go:   the child returns from the handler: its parked call is made again,
 *         now the case's call 1. Its calls still reach the template's
 *         listener (a process may have one only), whose supervisor hands
 *         them to the case's from then on;
 * and, when a child ends, writes its wait status to the case's status pipe. */
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

enum cc_fork_kind { CC_FORK_FORK = 1, CC_FORK_GO = 2 };

/* fork: with one descriptor (SCM_RIGHTS), the write end of the case's status
 * pipe; go: pid only */
struct cc_fork_request {
  int32_t kind;
  int32_t pid;                          /* go: the child */
  char case_root[CC_FORK_PATH_MAX];     /* bound over template_root in the child */
  char template_root[CC_FORK_PATH_MAX]; /* the template's case root, as its paths name it */
};

/* to fork: the child, set up and waiting for go; or no pid, and why */
struct cc_fork_reply {
  int32_t pid;
  int32_t error; /* errno of the failed fork or step */
  int32_t step;  /* the step of cc_fork_step that failed, 0 for the fork itself */
};

/* The one record on a case's status pipe, written by the template when it
 * reaped the child: its status as waitpid's, or the errno of waitid. */
struct cc_fork_status {
  int32_t status;
  int32_t error;
};

enum cc_fork_step {
  CC_FORK_STEP_GROUP = 1,
  CC_FORK_STEP_NAMESPACE,
  CC_FORK_STEP_BIND,
  CC_FORK_STEP_CWD,
  CC_FORK_STEP_REOPEN,
};

#endif
