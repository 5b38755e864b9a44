/* Definitions shared by the agent (C, loaded into subjects) and the runner
 * library (C++): op classes, the control block layout, the trace file
 * format and the fault-plan text codec. Plain C so the agent needs no
 * libstdc++. */
#ifndef CRASHCHECK_FAULTS_SHARED_H
#define CRASHCHECK_FAULTS_SHARED_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
#include <atomic>
#define CC_ATOMIC(T) std::atomic<T>
extern "C" {
#else
#include <stdatomic.h>
#define CC_ATOMIC(T) _Atomic T
#endif

/* Same order as crashcheck::faults::OpClass. */
enum cc_op_class {
  CC_OP_open,
  CC_OP_write,
  CC_OP_sync,
  CC_OP_sync_all,
  CC_OP_close,
  CC_OP_rename,
  CC_OP_link,
  CC_OP_unlink,
  CC_OP_mkdir,
  CC_OP_truncate,
  CC_OP_chmod,
  CC_OP_chown,
  CC_OP_allocate,
};

/* Helpers for expanding calls.def. CC_WITH_TWIN(twin64, m, fields...) is
 * m(twin name, fields...) when the row's twin64 column names one, and nothing
 * when it is (): a row's *64 twin is generated from the row. */
#define CC_UNPAREN(...) __VA_ARGS__
#define CC_WITH_TWIN(twin64, m, ...) CC_TWIN_EXPAND_(CC_WITH_TWIN_, m, (__VA_ARGS__), CC_UNPAREN twin64)
#define CC_WITH_TWIN_(m, fields, ...) __VA_OPT__(CC_TWIN_CALL_(m, __VA_ARGS__, CC_UNPAREN fields))
/* two names: a macro is not expanded again inside its own expansion */
#define CC_TWIN_EXPAND_(f, ...) f(__VA_ARGS__)
#define CC_TWIN_CALL_(m, ...) m(__VA_ARGS__)

/* Environment the runner sets for the subject. */
#define CC_ENV_SCOPE "CRASHCHECK_SCOPE"
#define CC_ENV_TRACE "CRASHCHECK_TRACE"
#define CC_ENV_CONTROL "CRASHCHECK_CONTROL"
#define CC_ENV_PLAN "CRASHCHECK_PLAN"
#define CC_ENV_PAUSE_TIMEOUT_MS "CRASHCHECK_PAUSE_TIMEOUT_MS"
/* An O_TMPFILE file has no name until a linkat gives it one: both backends
 * name it in the trace as this leaf in the directory it was opened in
 * ("(O_TMPFILE)", "sub/(O_TMPFILE)"), in its open record and in every call on
 * its descriptor until the linkat that names it (whose source it is). No
 * inode number in it: two runs' traces compare by their names. */
#define CC_UNNAMED_LEAF "(O_TMPFILE)"
/* Call sites (faults/README.md, "Call sites"): set only for a run that
 * collects them; the agent appends "<seq>\t<raw site>\n" lines to this file. */
#define CC_ENV_SITES "CRASHCHECK_SITES"
/* A subject announces the site of its next call (the Python hook) by opening
 * CC_SITE_MARKER "<file>:<line>": no such file exists, the call never reaches
 * a file system and is not counted; the thread's next intercepted call takes it. */
#define CC_SITE_MARKER "/\001crashcheck-site\001/"

/* The control block: one small file mmap'd MAP_SHARED by the runner and by
 * every agent of one subject run. All fields are naturally aligned 32/64-bit
 * words so both sides can use lock-free atomics and futexes on them. */
#define CC_CONTROL_MAGIC 0x4b434343u /* "CCCK" */
#define CC_CONTROL_VERSION 1u
struct cc_control {
  uint32_t magic;
  uint32_t version;
  CC_ATOMIC(uint32_t) agents_loaded; /* agents that initialised with this block */
  CC_ATOMIC(uint32_t) calls;         /* last counted-call number handed out */
  CC_ATOMIC(uint64_t) bytes_spent;   /* disk-full plan: bytes written so far */
  CC_ATOMIC(uint32_t) paused_call;   /* pause plan: call a process waits before (0: none) */
  CC_ATOMIC(uint32_t) resumed_call;  /* pause plan: last call the runner let go */
};

/* Trace file: a header, then records appended by one write(2) each.
 * Native byte order (the trace never leaves the machine that made it). */
#define CC_TRACE_MAGIC "CCTRACE\n"
#define CC_TRACE_VERSION 1u
struct cc_trace_header {
  char magic[8];
  uint32_t version;
  uint32_t record_header_size; /* sizeof(struct cc_trace_record) */
};

enum { CC_REC_CREATED = 1, CC_REC_DIRECTORY = 2, CC_REC_INJECTED = 4 };

/* Fixed part of one record; followed by call name, path, path2 and data
 * (lengths below, no terminators). record_size covers everything. */
struct cc_trace_record {
  uint32_t record_size;
  uint32_t seq;
  int32_t pid;
  uint8_t op;
  uint8_t bits; /* CC_REC_* */
  uint16_t call_len;
  int32_t fd;
  int32_t flags;
  uint32_t mode;
  int32_t error;
  uint64_t inode;
  int64_t offset;
  uint64_t length;
  int64_t result;
  uint16_t path_len;
  uint16_t path2_len;
  uint32_t data_len;
};

/* The fault plan (see crashcheck::faults::FaultPlan). */
enum cc_plan_kind {
  CC_PLAN_none,
  CC_PLAN_kill_before,
  CC_PLAN_kill_after,
  CC_PLAN_fail_call,
  CC_PLAN_disk_full,
  CC_PLAN_pause,
  CC_PLAN_kill_within /* seccomp supervisor only: the agent rejects it */
};
struct cc_plan {
  int kind;
  uint32_t call;
  int error;
  uint64_t byte_budget;
};

/* Parses "none", "kill-before:N", "kill-after:N", "fail:N:ENAME", "disk-full:BYTES",
 * "pause", "kill-within:N:BYTES". Returns 0 on success, -1 on bad text. */
int cc_plan_parse(const char *text, size_t len, struct cc_plan *out);
/* Writes the text form (NUL-terminated) into buf; returns its length. */
size_t cc_plan_format(const struct cc_plan *plan, char *buf, size_t size);

/* Disk-full (both backends): how much of a write of `want` bytes at
 * `offset` of the file behind `fd` a full disk lets through when `left`
 * bytes of new space remain. Bytes that overwrite allocated data inside the
 * file need no new space; bytes beyond its end or in a hole do (offset < 0:
 * the write appends, all of it does). The prefix returned is the longest
 * whose new bytes fit; *charged is how many new bytes it holds. */
uint64_t cc_disk_full_fit(int fd, int64_t offset, uint64_t want, uint64_t left, uint64_t *charged);
/* What a write that transferred `done` of the `allowed` bytes reserved that
 * way really spent (the free bytes come first: overwrites before the end). */
uint64_t cc_disk_full_spent(uint64_t allowed, uint64_t charged, uint64_t done);

/* errno <-> symbolic name; unknown: 0 / NULL. Also accepts decimal numbers. */
int cc_errno_from_name(const char *name, size_t len);
const char *cc_errno_name(int error);

#ifdef __cplusplus
}
#endif
#endif
