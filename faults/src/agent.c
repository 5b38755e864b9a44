/* libcrashcheck_agent.so: LD_PRELOADed into a subject by the runner.
 *
 * Every wrapper below comes from calls.def. A call is "counted" when it acts
 * on a path or a tracked descriptor inside the scope directory; counted calls
 * get a global number from the shared control block, may be faulted (kill,
 * errno, disk-full, pause) through libfiu points, and are appended to the
 * trace after they return. Everything else goes straight to libc.
 *
 * Rules kept everywhere here: no allocation on the pass-through path, errno
 * preserved, our own bookkeeping never re-enters a wrapper (cc_busy), and
 * libc is reached through dlsym(RTLD_NEXT) pointers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fiu-control.h>
#include <fiu.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shared.h"

#define CC_EXPORT __attribute__((visibility("default")))
#define CC_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---------------------------------------------------------------- table -- */

/* The *64 twins share their row's signature (calls.def): off_t is off64_t. */
_Static_assert(sizeof(off_t) == 8 && sizeof(long) == 8, "the agent is built for LP64 targets only");

/* Every entry point of calls.def, each row's twin right after it, as
 * CC_ENTRY(name, row, op, ret, params); each use below defines CC_ENTRY. */
#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  CC_ENTRY(name, name, op, ret, params) CC_WITH_TWIN(twin64, CC_ENTRY, name, op, ret, params)
#define CC_ERRNUM_CALL CC_CALL
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) CC_CALL(name, op, ret, params, , , errnos, sys, twin64)

enum cc_call_id {
#define CC_ENTRY(name, ...) CC_ID_##name,
#include "calls.def"
#undef CC_ENTRY
  CC_ID_COUNT
};

struct cc_call_desc {
  const char *name;
  const char *point; /* libfiu failure point, "crashcheck/io/<name>" */
  int op;
};
static const struct cc_call_desc cc_calls[CC_ID_COUNT] = {
#define CC_ENTRY(name, row, op, ...) {#name, "crashcheck/io/" #name, CC_OP_##op},
#include "calls.def"
#undef CC_ENTRY
};

/* Pointer types of the real functions. */
#define CC_ENTRY(name, row, op, ret, params) typedef ret cc_fn_##name params;
#include "calls.def"
#undef CC_ENTRY
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND

/* Uncounted calls we still wrap to keep the fd table right. */
typedef int cc_fn_dup(int);
typedef int cc_fn_dup2(int, int);
typedef int cc_fn_dup3(int, int, int);
typedef int cc_fn_fcntl(int, int, ...);
typedef FILE *cc_fn_fdopen(int, const char *);
typedef long cc_fn_syscall(long, ...);
typedef int cc_fn_close_range(unsigned, unsigned, int);
enum {
  CC_XID_dup = CC_ID_COUNT,
  CC_XID_dup2,
  CC_XID_dup3,
  CC_XID_fcntl,
  CC_XID_fcntl64,
  CC_XID_fdopen,
  CC_XID_syscall,
  CC_XID_close_range,
  CC_XID_COUNT
};
static const char *const cc_extra_names[] = {"dup",     "dup2",   "dup3",    "fcntl",
                                             "fcntl64", "fdopen", "syscall", "close_range"};

static void *cc_real_ptrs[CC_XID_COUNT];

/* Resolved on first use: wrappers can run before our constructor. */
static void *cc_real(int id) {
  void *p = __atomic_load_n(&cc_real_ptrs[id], __ATOMIC_ACQUIRE);
  if (!p) {
    const char *name = id < CC_ID_COUNT ? cc_calls[id].name : cc_extra_names[id - CC_ID_COUNT];
    p = dlsym(RTLD_NEXT, name);
    if (!p) abort(); /* libc without this entry: nothing sane to do */
    __atomic_store_n(&cc_real_ptrs[id], p, __ATOMIC_RELEASE);
  }
  return p;
}
#define CC_REAL(name) ((cc_fn_##name *)cc_real(CC_ID_##name))
/* The real function of call `id`, which has the signature of `name` (a row and its twin). */
#define CC_REAL_AS(name, id) ((cc_fn_##name *)cc_real(id))
#define CC_XREAL(name) ((cc_fn_##name *)cc_real(CC_XID_##name))

/* ---------------------------------------------------------------- state -- */

#define CC_MAX_FD 4096 /* descriptors above this are never tracked (documented) */
#define CC_REL_MAX 1024

struct cc_fd_slot {
  int tracked;
  int is_dir;
  dev_t dev;
  ino_t ino;
  char rel[CC_REL_MAX];
};

static struct {
  int ready;            /* 0 none, 1 initialising, 2 active, 3 inert */
  char scope[PATH_MAX]; /* as given, lexically normalised */
  size_t scope_len;
  char scope_real[PATH_MAX]; /* realpath of it (getcwd reports real paths) */
  size_t scope_real_len;
  struct cc_control *control;
  struct cc_plan plan;
  int trace_fd;
  dev_t trace_dev;
  ino_t trace_ino;
  char trace_path[PATH_MAX];
  int pause_timeout_ms;
  int runner_gone; /* pause plan: a wait timed out, stop pausing */
  int fd_lock;     /* spinlock for slots */
  int sites;       /* call sites: this run collects them (CC_ENV_SITES) */
  char sites_path[PATH_MAX];
  struct cc_fd_slot fds[CC_MAX_FD];
} cc;

static CC_TLS int cc_busy;         /* inside the agent: wrappers pass through */
static CC_TLS uint32_t cc_current; /* counted call being decided (libfiu callbacks) */

/* Call sites (faults/README.md, "Call sites"). cc_caller: where the subject
 * called the outermost wrapper of this thread (a raw syscall() routed to a
 * wrapper keeps syscall's caller). cc_announced: the site the subject
 * announced for its next call (CC_SITE_MARKER), taken by that call. */
static CC_TLS void *cc_caller;
static CC_TLS char cc_announced[CC_REL_MAX];
static CC_TLS int cc_has_announced;
static void *cc_enter(void *ra) {
  void *outer = cc_caller;
  if (!outer) cc_caller = ra;
  return outer;
}
static void cc_leave(void **outer) { cc_caller = *outer; }
/* First statement of every exported wrapper. */
#define CC_NOTE_CALLER() \
  __attribute__((cleanup(cc_leave))) void *cc_outer_caller_ = cc_enter(__builtin_return_address(0))

static void cc_lock(void) {
  while (__atomic_exchange_n(&cc.fd_lock, 1, __ATOMIC_ACQUIRE)) sched_yield();
}
static void cc_unlock(void) { __atomic_store_n(&cc.fd_lock, 0, __ATOMIC_RELEASE); }

static int cc_init(void);

/* True when wrappers should look at this call at all. */
static inline int cc_enabled(void) {
  if (cc_busy) return 0;
  int r = __atomic_load_n(&cc.ready, __ATOMIC_ACQUIRE);
  if (r == 0) r = cc_init();
  return r == 2;
}

/* ---------------------------------------------------------------- paths -- */

/* Lexically normalises `in` (absolute) into out: collapses //, ., and .. */
static int cc_normalize(const char *in, char *out, size_t size) {
  size_t n = 0;
  const char *p = in;
  out[n++] = '/';
  while (*p) {
    while (*p == '/') ++p;
    if (!*p) break;
    const char *s = p;
    while (*p && *p != '/') ++p;
    size_t len = (size_t)(p - s);
    if (len == 1 && s[0] == '.') continue;
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      while (n > 1 && out[n - 1] != '/') --n;
      if (n > 1) --n;
      continue;
    }
    if (n + len + 2 > size) return -1;
    if (n > 1) out[n++] = '/';
    memcpy(out + n, s, len);
    n += len;
  }
  out[n] = 0;
  return 0;
}

/* Absolute form of dirfd/path without touching the file (it may not exist). */
static int cc_absolute(int dirfd, const char *path, char *out, size_t size) {
  char joined[PATH_MAX * 2];
  if (!path) return -1;
  if (path[0] == '/') return cc_normalize(path, out, size);
  size_t base_len;
  if (dirfd == AT_FDCWD) {
    if (!getcwd(joined, PATH_MAX)) return -1;
  } else if (dirfd >= 0 && dirfd < CC_MAX_FD && cc.fds[dirfd].tracked) {
    /* a scoped directory fd: its path is scope + rel */
    int n = snprintf(joined, PATH_MAX, "%s/%s", cc.scope, cc.fds[dirfd].rel);
    if (n < 0 || n >= PATH_MAX) return -1;
  } else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, joined, PATH_MAX - 1);
    if (n <= 0 || joined[0] != '/') return -1;
    joined[n] = 0;
  }
  base_len = strlen(joined);
  size_t plen = strlen(path);
  if (base_len + plen + 2 > sizeof joined) return -1;
  joined[base_len] = '/';
  memcpy(joined + base_len + 1, path, plen + 1);
  return cc_normalize(joined, out, size);
}

/* If abs lies in the scope, writes its scope-relative form ("." for the
 * scope itself) into rel and returns 1. */
static int cc_relative(const char *abs, char *rel, size_t size) {
  const char *roots[2] = {cc.scope, cc.scope_real};
  size_t lens[2] = {cc.scope_len, cc.scope_real_len};
  for (int i = 0; i < 2; ++i) {
    size_t n = lens[i];
    if (n == 0 || strncmp(abs, roots[i], n) != 0) continue;
    const char *rest = abs + n;
    if (n == 1)
      rest = abs + 1; /* scope "/" */
    else if (*rest == '/')
      ++rest;
    else if (*rest != 0)
      continue;
    snprintf(rel, size, "%s", *rest ? rest : ".");
    return 1;
  }
  return 0;
}

/* strlcpy: paths longer than a slot are cut, never overflow */
static void cc_copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* Names dirfd/path for the trace: scope-relative when inside (returns 1),
 * else absolute (returns 0). */
static int cc_name(int dirfd, const char *path, char rel[CC_REL_MAX]) {
  char abs[PATH_MAX];
  rel[0] = 0;
  if (cc_absolute(dirfd, path, abs, sizeof abs) != 0) return 0;
  if (cc_relative(abs, rel, CC_REL_MAX)) return 1;
  cc_copy(rel, CC_REL_MAX, abs);
  return 0;
}

/* ---------------------------------------------------------------- fd table -- */

static void cc_track(int fd, const char *rel, const struct stat *st) {
  if (fd < 0 || fd >= CC_MAX_FD) return;
  cc_lock();
  struct cc_fd_slot *s = &cc.fds[fd];
  snprintf(s->rel, sizeof s->rel, "%s", rel);
  s->dev = st->st_dev;
  s->ino = st->st_ino;
  s->is_dir = S_ISDIR(st->st_mode);
  s->tracked = 1;
  cc_unlock();
}

static void cc_untrack(int fd) {
  if (fd >= 0 && fd < CC_MAX_FD) __atomic_store_n(&cc.fds[fd].tracked, 0, __ATOMIC_RELEASE);
}

static void cc_copy_slot(int from, int to) {
  if (to < 0 || to >= CC_MAX_FD) return;
  if (from < 0 || from >= CC_MAX_FD || !cc.fds[from].tracked) {
    cc_untrack(to);
    return;
  }
  cc_lock();
  cc.fds[to] = cc.fds[from];
  cc_unlock();
}

static inline int cc_fd_tracked(int fd) {
  return fd >= 0 && fd < CC_MAX_FD && __atomic_load_n(&cc.fds[fd].tracked, __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------- the op -- */

enum { CC_OFF_NONE, CC_OFF_EXPLICIT, CC_OFF_CURRENT, CC_OFF_STREAM };
#define CC_STACK_IOV 64

/* One wrapped call on its way through the agent. */
struct cc_op {
  int id;
  int active;  /* counted */
  int inject;  /* errno to fail with, without calling libc */
  int release; /* close: Linux frees the descriptor even when close fails, so do it */
  uint32_t seq;
  int fd;
  int dirfd, dirfd2;
  const char *path, *path2;
  char *tmpl; /* mkstemp family: path known only afterwards */
  FILE *stream;
  int flags;
  unsigned mode;
  int offset_mode;
  int64_t offset;
  uint64_t length;
  const void *buf;
  const struct iovec *iov;
  int iovcnt;
  /* disk-full: what the real call may transfer, and the new space it reserved */
  uint64_t allowed, charged;
  const struct iovec *call_iov;
  int call_iovcnt;
  struct iovec iov_space[CC_STACK_IOV];
  struct iovec *iov_heap;
  /* result side */
  int existed;
  int64_t result;
  int error;
  struct stat st;
  int have_st;
  char rel[CC_REL_MAX], rel2[CC_REL_MAX];
  int source_fd;         /* link: the tracked descriptor its source names (/proc/self/fd/N, AT_EMPTY_PATH), else -1 */
  void *caller;          /* call sites: the subject's return address */
  const char *announced; /* call sites: the site the subject announced, or NULL */
};

static void cc_op_init(struct cc_op *o, int id) {
  o->id = id;
  o->active = 0;
  o->inject = 0;
  o->release = 0;
  o->allowed = o->charged = 0;
  o->fd = -1;
  o->dirfd = o->dirfd2 = AT_FDCWD;
  o->path = o->path2 = NULL;
  o->tmpl = NULL;
  o->stream = NULL;
  o->flags = 0;
  o->mode = 0;
  o->offset_mode = CC_OFF_NONE;
  o->offset = -1;
  o->length = 0;
  o->buf = NULL;
  o->iov = NULL;
  o->iovcnt = 0;
  o->iov_heap = NULL;
  o->have_st = 0;
  o->existed = 0;
  o->source_fd = -1;
  o->caller = cc_caller;
  o->announced = NULL;
}

/* The `fill` vocabulary of calls.def. */
#define CC_FD(x) (o->fd = (x))
#define CC_PATH(p) (o->dirfd = AT_FDCWD, o->path = (p))
#define CC_ATPATH(d, p) (o->dirfd = (d), o->path = (p))
#define CC_PATH2(p) (o->dirfd2 = AT_FDCWD, o->path2 = (p))
#define CC_ATPATH2(d, p) (o->dirfd2 = (d), o->path2 = (p))
#define CC_FLAGS(x) (o->flags = (int)(x))
#define CC_MODE(x) (o->mode = (unsigned)(x))
#define CC_LEN(x) (o->length = (uint64_t)(x))
#define CC_OFFSET(x) (o->offset_mode = CC_OFF_EXPLICIT, o->offset = (int64_t)(x))
#define CC_OFFSET_OR_CURRENT(x) ((x) == -1 ? (void)(o->offset_mode = CC_OFF_CURRENT) : (void)CC_OFFSET(x))
#define CC_AT_CURRENT (o->offset_mode = CC_OFF_CURRENT)
#define CC_DATA(b, n) (o->buf = (b), o->length = (uint64_t)(n))
#define CC_IOVEC(v, c) (o->iov = (v), o->iovcnt = (c), o->length = cc_iov_total(v, c))
#define CC_TEMPLATE(t, f) (o->tmpl = (t), o->path = (t), o->flags = O_RDWR | O_CREAT | O_EXCL | (f), o->mode = 0600)
/* What the real write gets: the original unless disk-full shortened it. */
#define CC_N(n) (o->active ? (size_t)o->allowed : (n))
#define CC_IOV(v) (o->active ? o->call_iov : (v))
#define CC_IOVCNT(c) (o->active ? o->call_iovcnt : (c))

static uint64_t cc_iov_total(const struct iovec *v, int c) {
  uint64_t t = 0;
  for (int i = 0; v && i < c; ++i) t += v[i].iov_len;
  return t;
}

/* O_TMPFILE: the file made has no name in the directory rel names; the
 * trace calls it CC_UNNAMED_LEAF there until a linkat names it. */
static int cc_is_tmpfile(int flags) { return (flags & O_TMPFILE) == O_TMPFILE; }

static void cc_unnamed(char rel[CC_REL_MAX]) {
  static const char leaf[] = CC_UNNAMED_LEAF;
  size_t n = strcmp(rel, ".") == 0 ? 0 : strlen(rel);
  if (n > 0) rel[n++] = '/';
  if (n + sizeof leaf > CC_REL_MAX) n = CC_REL_MAX - sizeof leaf; /* cut, as every slot path is */
  memcpy(rel + n, leaf, sizeof leaf);
}

static int cc_is_unnamed(const char *rel) {
  size_t n = strlen(rel), leaf = sizeof CC_UNNAMED_LEAF - 1;
  return n >= leaf && strcmp(rel + n - leaf, CC_UNNAMED_LEAF) == 0 && (n == leaf || rel[n - leaf - 1] == '/');
}

/* The descriptor a link's source names: linkat(fd, "", ..., AT_EMPTY_PATH),
 * or /proc/self/fd/N (thread-self, our own pid) followed with
 * AT_SYMLINK_FOLLOW, the two ways to give an O_TMPFILE file a name. -1 when
 * it names none. */
static int cc_link_source_fd(const struct cc_op *o) {
  if (!o->path) return -1;
  if ((o->flags & AT_EMPTY_PATH) && o->path[0] == 0) return o->dirfd;
  if (!(o->flags & AT_SYMLINK_FOLLOW)) return -1;
  char own[32];
  snprintf(own, sizeof own, "/proc/%d/fd/", (int)getpid());
  const char *prefixes[3] = {"/proc/self/fd/", "/proc/thread-self/fd/", own};
  for (int i = 0; i < 3; ++i) {
    size_t n = strlen(prefixes[i]);
    if (strncmp(o->path, prefixes[i], n) != 0) continue;
    char *end;
    long fd = strtol(o->path + n, &end, 10);
    return end != o->path + n && *end == 0 && fd >= 0 && fd < CC_MAX_FD ? (int)fd : -1;
  }
  return -1;
}

/* Decides whether the call touches the scope; fills rel/rel2. */
static int cc_in_scope(struct cc_op *o) {
  int in = 0;
  if (o->fd >= 0) {
    if (!cc_fd_tracked(o->fd)) return 0;
    struct stat st;
    struct cc_fd_slot *s = &cc.fds[o->fd];
    /* the fd may have been closed behind our back (raw syscall) and reused */
    if (fstat(o->fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
      cc_untrack(o->fd);
      return 0;
    }
    cc_lock();
    memcpy(o->rel, s->rel, sizeof o->rel);
    cc_unlock();
    o->st = st;
    o->have_st = 1;
    return 1;
  }
  o->rel[0] = o->rel2[0] = 0;
  if (cc_calls[o->id].op == CC_OP_link) o->source_fd = cc_link_source_fd(o);
  if (cc_fd_tracked(o->source_fd)) { /* the descriptor's file, by its trace name */
    cc_lock();
    memcpy(o->rel, cc.fds[o->source_fd].rel, sizeof o->rel);
    cc_unlock();
    in = 1;
  } else if (o->path) {
    in |= cc_name(o->dirfd, o->path, o->rel);
  }
  if (o->path2) in |= cc_name(o->dirfd2, o->path2, o->rel2);
  return in;
}

static long cc_futex(CC_ATOMIC(uint32_t) * addr, int op, uint32_t val, const struct timespec *ts) {
  return CC_XREAL(syscall)(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* Pause plan: publish the call number and wait for the runner's go. Gives up
 * (and stops pausing) after the timeout so a dead runner cannot hang us. */
static void cc_pause(uint32_t seq) {
  struct cc_control *c = cc.control;
  if (!c || __atomic_load_n(&cc.runner_gone, __ATOMIC_RELAXED)) return;
  struct timespec ts = {cc.pause_timeout_ms / 1000, (long)(cc.pause_timeout_ms % 1000) * 1000000};
  uint32_t expected = 0;
  while (!atomic_compare_exchange_strong(&c->paused_call, &expected, seq)) {
    if (cc_futex(&c->paused_call, FUTEX_WAIT, expected, &ts) < 0 && errno == ETIMEDOUT) goto gone;
    expected = 0;
  }
  cc_futex(&c->paused_call, FUTEX_WAKE, INT_MAX, NULL); /* the runner waits on it */
  for (;;) {
    uint32_t r = atomic_load(&c->resumed_call);
    if (r == seq) break;
    if (cc_futex(&c->resumed_call, FUTEX_WAIT, r, &ts) < 0 && errno == ETIMEDOUT) goto gone;
  }
  atomic_store(&c->paused_call, 0);
  cc_futex(&c->paused_call, FUTEX_WAKE, INT_MAX, NULL);
  return;
gone:
  __atomic_store_n(&cc.runner_gone, 1, __ATOMIC_RELAXED);
  expected = seq;
  atomic_compare_exchange_strong(&c->paused_call, &expected, 0);
}

static void cc_kill_self(void) {
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

/* Where a write is about to land, for the disk-full rule: -1 when it
 * appends (all of it needs new space) or its place is not known. */
/* Whether the write's flags land it at the file's end: RWF_APPEND, or an
 * O_APPEND descriptor unless RWF_NOAPPEND (pwrite(2), BUGS). */
static int cc_lands_at_end(const struct cc_op *o) {
#ifdef RWF_APPEND
  if (o->flags & RWF_APPEND) return 1;
#endif
#ifdef RWF_NOAPPEND
  if (o->flags & RWF_NOAPPEND) return 0;
#endif
  int flags = CC_XREAL(fcntl)(o->fd, F_GETFL);
  return flags >= 0 && (flags & O_APPEND) != 0;
}

static int64_t cc_landing(const struct cc_op *o) {
  if (cc_lands_at_end(o)) return -1;
  if (o->offset_mode == CC_OFF_EXPLICIT) return o->offset;
  return o->offset_mode == CC_OFF_CURRENT ? (int64_t)lseek(o->fd, 0, SEEK_CUR) : -1;
}

/* Disk-full: reserve what this write may transfer; 0 bytes left → ENOSPC.
 * Only bytes needing new space count (cc_disk_full_fit). */
static void cc_reserve(struct cc_op *o) {
  o->allowed = o->length;
  o->charged = 0;
  o->call_iov = o->iov;
  o->call_iovcnt = o->iovcnt;
  if (cc.plan.kind != CC_PLAN_disk_full || !cc.control || o->length == 0) return;
  const int64_t at = cc_landing(o);
  uint64_t spent = atomic_load(&cc.control->bytes_spent), take, charged;
  do {
    uint64_t left = spent >= cc.plan.byte_budget ? 0 : cc.plan.byte_budget - spent;
    take = cc_disk_full_fit(o->fd, at, o->length, left, &charged);
  } while (!atomic_compare_exchange_weak(&cc.control->bytes_spent, &spent, spent + charged));
  o->allowed = take;
  o->charged = charged;
  if (take == 0) {
    o->inject = ENOSPC;
    return;
  }
  if (!o->iov || take == o->length) return;
  /* shorten the iovec list to exactly `take` bytes */
  int n = 0;
  uint64_t sum = 0;
  while (sum < take) sum += o->iov[n++].iov_len;
  struct iovec *v = o->iov_space;
  if (n > CC_STACK_IOV && !(v = o->iov_heap = malloc(sizeof *v * (size_t)n))) {
    o->inject = ENOMEM;
    return;
  }
  memcpy(v, o->iov, sizeof *v * (size_t)n);
  v[n - 1].iov_len -= (size_t)(sum - take);
  o->call_iov = v;
  o->call_iovcnt = n;
}

/* Before the real call. Returns 0 to pass straight through. Either way errno
 * is as the caller left it: the scope check's fstat/getcwd may fail. */
static int cc_begin(struct cc_op *o) {
  if (!cc_enabled()) return 0;
  if (cc_has_announced) { /* announced for this call, counted or not */
    o->announced = cc_announced;
    cc_has_announced = 0;
  }
  int saved = errno;
  cc_busy = 1;
  if (!cc_in_scope(o)) {
    cc_busy = 0;
    errno = saved;
    return 0;
  }
  o->active = 1;
  if (cc_calls[o->id].op == CC_OP_open && (o->flags & O_CREAT) && !(o->flags & O_EXCL) && o->path) {
    struct stat st;
    o->existed = fstatat(o->dirfd, o->path, &st, 0) == 0;
  }
  if (cc_calls[o->id].op == CC_OP_rename || cc_calls[o->id].op == CC_OP_unlink) {
    /* the inode acted on is gone from this name afterwards */
    o->have_st = fstatat(o->dirfd, o->path, &o->st, AT_SYMLINK_NOFOLLOW) == 0;
  }
  o->seq = cc.control ? atomic_fetch_add(&cc.control->calls, 1) + 1 : 0;
  cc_current = o->seq;
  if (cc.plan.kind == CC_PLAN_pause) cc_pause(o->seq);
  if (fiu_fail("crashcheck/kill/before")) cc_kill_self();
  if (fiu_fail(cc_calls[o->id].point)) {
    intptr_t e = (intptr_t)fiu_failinfo();
    o->inject = e > 0 && e < 4096 ? (int)e : EIO;
  }
  if (!o->inject && cc_calls[o->id].op == CC_OP_write) cc_reserve(o);
  o->release = o->inject && cc_calls[o->id].op == CC_OP_close;
  cc_busy = 0;
  errno = saved;
  return 1;
}

/* Linux lands a pwrite on an O_APPEND descriptor, and a pwritev2 with
 * RWF_APPEND, at the file's end whatever its offset argument (pwrite(2),
 * BUGS; RWF_NOAPPEND undoes O_APPEND for one call). A write at the current
 * position that wrote something is placed by lseek alone. */
static int cc_appends(const struct cc_op *o) {
  if (o->offset_mode == CC_OFF_CURRENT && o->result > 0) return 0;
  if (o->offset_mode != CC_OFF_CURRENT && o->offset_mode != CC_OFF_EXPLICIT) return 0;
  return cc_lands_at_end(o);
}

/* Where a write landed, as an absolute offset. One that appended ends at
 * the file's end; one that wrote nothing there was to land at the end, not
 * at its position (0 until its first write): a retry makes up for it there. */
static void cc_resolve_offset(struct cc_op *o) {
  struct stat st;
  if (cc_appends(o) && fstat(o->fd, &st) == 0) {
    o->offset = st.st_size - (o->result > 0 ? o->result : 0);
  } else if (o->offset_mode == CC_OFF_CURRENT) {
    off_t now = lseek(o->fd, 0, SEEK_CUR);
    o->offset = now < 0 ? -1 : now - (o->result > 0 ? o->result : 0);
  } else if (o->offset_mode == CC_OFF_STREAM) {
    long now = ftell(o->stream);
    o->offset = now < 0 ? -1 : now - (o->result > 0 ? o->result : 0);
  }
}

/* A linkat gave an O_TMPFILE file its first name: every descriptor of it
 * still calling it unnamed says that name from now on (the seccomp backend's
 * node takes it too). */
static void cc_name_unnamed(const struct cc_op *o) {
  cc_lock();
  for (int fd = 0; fd < CC_MAX_FD; ++fd) {
    struct cc_fd_slot *s = &cc.fds[fd];
    if (s->tracked && s->dev == o->st.st_dev && s->ino == o->st.st_ino && cc_is_unnamed(s->rel))
      cc_copy(s->rel, sizeof s->rel, o->rel2);
  }
  cc_unlock();
}

/* Fills inode / created / is_directory and updates the fd table. */
static void cc_observe(struct cc_op *o) {
  int op = cc_calls[o->id].op;
  int ok = o->error == 0;
  if (op == CC_OP_open && ok) {
    int fd = (int)o->result;
    if (o->tmpl) cc_name(o->dirfd, o->tmpl, o->rel); /* now filled in */
    o->have_st = fstat(fd, &o->st) == 0;
    if (o->have_st) cc_track(fd, o->rel, &o->st);
    o->fd = fd;
    o->existed = cc_is_tmpfile(o->flags) ? 0 : (o->flags & O_CREAT) ? ((o->flags & O_EXCL) ? 0 : o->existed) : 1;
  } else if (op == CC_OP_close) {
    cc_untrack(o->fd);
  } else if (ok && o->fd < 0 && op != CC_OP_rename && op != CC_OP_unlink && o->path) {
    const char *p = (op == CC_OP_link) ? o->path2 : o->path;
    int d = (op == CC_OP_link) ? o->dirfd2 : o->dirfd;
    o->have_st = fstatat(d, p, &o->st, AT_SYMLINK_NOFOLLOW) == 0;
    if (op == CC_OP_link && o->have_st && cc_is_unnamed(o->rel)) cc_name_unnamed(o);
  }
  if (op == CC_OP_write) cc_resolve_offset(o);
}

static void cc_trace_open(void);

/* Appends the record with one writev(2) on the O_APPEND trace fd. */
static void cc_record(struct cc_op *o) {
  if (cc.trace_fd < 0) return;
  struct stat st;
  if (fstat(cc.trace_fd, &st) != 0 || st.st_dev != cc.trace_dev || st.st_ino != cc.trace_ino)
    cc_trace_open(); /* the subject closed or replaced our descriptor */
  if (cc.trace_fd < 0) return;
  int op = cc_calls[o->id].op;
  int has_data = op == CC_OP_write && o->result > 0 && (o->buf || o->iov);
  uint64_t data_len = has_data ? (uint64_t)o->result : 0;
  struct cc_trace_record r;
  memset(&r, 0, sizeof r);
  const char *call = cc_calls[o->id].name;
  r.call_len = (uint16_t)strlen(call);
  r.path_len = (uint16_t)strlen(o->rel);
  r.path2_len = o->path2 ? (uint16_t)strlen(o->rel2) : 0;
  r.data_len = (uint32_t)data_len;
  r.record_size = (uint32_t)(sizeof r + r.call_len + r.path_len + r.path2_len + data_len);
  r.seq = o->seq;
  r.pid = (int32_t)getpid();
  r.op = (uint8_t)op;
  int created = o->error == 0 && ((op == CC_OP_open && !o->existed) || op == CC_OP_mkdir || op == CC_OP_link);
  r.bits = (uint8_t)((created ? CC_REC_CREATED : 0) | (o->have_st && S_ISDIR(o->st.st_mode) ? CC_REC_DIRECTORY : 0) |
                     (o->inject ? CC_REC_INJECTED : 0));
  r.fd = o->fd;
  r.flags = o->flags;
  r.mode = o->mode;
  r.error = o->error;
  r.inode = o->have_st ? (uint64_t)o->st.st_ino : 0;
  r.offset = o->offset;
  r.length = o->length;
  r.result = o->result;

  struct iovec v[IOV_MAX];
  int n = 0;
  v[n++] = (struct iovec){&r, sizeof r};
  v[n++] = (struct iovec){(void *)call, r.call_len};
  v[n++] = (struct iovec){o->rel, r.path_len};
  v[n++] = (struct iovec){o->rel2, r.path2_len};
  char *copy = NULL;
  if (o->buf) {
    v[n++] = (struct iovec){(void *)o->buf, data_len};
  } else if (o->iov && data_len) {
    uint64_t left = data_len;
    for (int i = 0; i < o->iovcnt && left; ++i) {
      if (n == IOV_MAX) {
        n = -1;
        break;
      }
      size_t take = o->iov[i].iov_len < left ? o->iov[i].iov_len : (size_t)left;
      v[n++] = (struct iovec){o->iov[i].iov_base, take};
      left -= take;
    }
    if (n < 0) { /* too many pieces for one writev: gather them */
      copy = malloc(data_len);
      if (!copy) return;
      uint64_t at = 0;
      for (int i = 0; i < o->iovcnt && at < data_len; ++i) {
        size_t take = o->iov[i].iov_len < data_len - at ? o->iov[i].iov_len : (size_t)(data_len - at);
        memcpy(copy + at, o->iov[i].iov_base, take);
        at += take;
      }
      n = 4;
      v[n++] = (struct iovec){copy, data_len};
    }
  }
  CC_REAL(writev)(cc.trace_fd, v, n);
  free(copy);
}

/* The running program, for a return address in the main executable (its link map has no name). */
static const char *cc_exe_path(void) {
  static char exe[PATH_MAX];
  if (!exe[0]) {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
  }
  return exe;
}

/* Call sites: one line of the sites file (faults/src/sites/sites.hpp) for a
 * counted call, the announced site or the caller's address in its module. */
static void cc_record_site(const struct cc_op *o) {
  if (!cc.sites || !o->seq) return;
  char line[CC_REL_MAX + PATH_MAX + 64];
  int n;
  if (o->announced) {
    n = snprintf(line, sizeof line, "%u\tsrc\t%s\n", (unsigned)o->seq, o->announced);
  } else {
    Dl_info info;
    struct link_map *map = NULL;
    if (!o->caller || !dladdr1(o->caller, &info, (void **)&map, RTLD_DL_LINKMAP) || !map) return;
    const char *module = map->l_name && map->l_name[0] ? map->l_name : cc_exe_path();
    n = snprintf(line, sizeof line, "%u\telf\t%s\t%lx\n", (unsigned)o->seq, module,
                 (unsigned long)((uintptr_t)o->caller - map->l_addr));
  }
  if (n <= 0 || (size_t)n >= sizeof line) return;
  int fd = CC_REAL(open)(cc.sites_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  CC_REAL(write)(fd, line, (size_t)n); /* one write each: processes append whole lines */
  CC_REAL(close)(fd);
}

/* Disk-full: a write that transferred less than it reserved (failed, or short
 * for its own reasons) gives the rest of its reservation back. */
static void cc_settle_budget(struct cc_op *o) {
  if (cc.plan.kind != CC_PLAN_disk_full || !cc.control || cc_calls[o->id].op != CC_OP_write || o->inject) return;
  uint64_t used = cc_disk_full_spent(o->allowed, o->charged, o->result > 0 ? (uint64_t)o->result : 0);
  if (used < o->charged) atomic_fetch_sub(&cc.control->bytes_spent, o->charged - used);
}

/* After the real call (or the injected failure). Leaves errno as it found
 * it: the bookkeeping (lseek, ftell, fstat, the trace write) is not the call. */
static void cc_end(struct cc_op *o, int64_t result, int error) {
  int saved = errno;
  cc_busy = 1;
  o->result = result;
  o->error = error;
  cc_settle_budget(o);
  cc_observe(o);
  cc_record(o);
  cc_record_site(o);
  free(o->iov_heap);
  cc_current = o->seq;
  if (fiu_fail("crashcheck/kill/after")) cc_kill_self();
  cc_busy = 0;
  errno = saved;
}

/* Ends a counted call that reports failure through errno: errno is the call's
 * (or the injected) error when it failed, else what the real call left. */
static void cc_end_errno(struct cc_op *o, int64_t result, int error) {
  cc_end(o, result, error);
  if (error) errno = error;
}

/* ------------------------------------------------------ generated wrappers -- */

/* Runs the real call unless the plan injected a failure; records; keeps errno. */
#define CC_RUN(ret, real_call, failed)   \
  ({                                     \
    ret r_;                              \
    int e_ = 0;                          \
    if (o->inject) {                     \
      if (o->release) (void)(real_call); \
      r_ = (ret)-1;                      \
      e_ = o->inject;                    \
    } else {                             \
      r_ = real_call;                    \
      if (failed) e_ = errno;            \
    }                                    \
    cc_end_errno(o, (int64_t)r_, e_);    \
    r_;                                  \
  })

/* Declares the wrapper under the libc name and passes uncounted calls on. */
#define CC_WRAPPER_HEAD(name, ret, params, args, fill) \
  CC_EXPORT ret cc_w_##name params __asm__(#name);     \
  ret cc_w_##name params {                             \
    CC_NOTE_CALLER();                                  \
    struct cc_op os_, *o = &os_;                       \
    cc_op_init(o, CC_ID_##name);                       \
    fill;                                              \
    if (!cc_begin(o)) return CC_REAL(name) args;

#define CC_ERRNO_WRAPPER(name, ret, params, args, fill)  \
  CC_WRAPPER_HEAD(name, ret, params, args, fill)         \
  return CC_RUN(ret, CC_REAL(name) args, r_ == (ret)-1); \
  }
/* posix_fallocate reports failure as its return value, not through errno. */
#define CC_ERRNUM_WRAPPER(name, ret, params, args, fill) \
  CC_WRAPPER_HEAD(name, ret, params, args, fill)         \
  ret r = o->inject ? o->inject : CC_REAL(name) args;    \
  cc_end(o, r, r);                                       \
  return r;                                              \
  }
/* Hand-written wrappers are only declared here (the syscall routing calls
 * them); their bodies are CC_HAND_BODY_<row> below. */
#define CC_HAND_DECL(name, ret, params) CC_EXPORT ret cc_w_##name params __asm__(#name);

#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  CC_ERRNO_WRAPPER(name, ret, params, args, fill)                       \
  CC_WITH_TWIN(twin64, CC_ERRNO_WRAPPER, ret, params, args, fill)
#define CC_ERRNUM_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  CC_ERRNUM_WRAPPER(name, ret, params, args, fill)                             \
  CC_WITH_TWIN(twin64, CC_ERRNUM_WRAPPER, ret, params, args, fill)
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) \
  CC_HAND_DECL(name, ret, params) CC_WITH_TWIN(twin64, CC_HAND_DECL, ret, params)
#include "calls.def"
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND
#undef CC_WRAPPER_HEAD
#undef CC_ERRNO_WRAPPER
#undef CC_ERRNUM_WRAPPER
#undef CC_HAND_DECL

/* ------------------------------------------------------------------ opens -- */

#define CC_NO_DIRFD INT_MIN /* open and its twin: no dirfd argument */

static int cc_open_real(int id, int dirfd, const char *path, int flags, mode_t mode) {
  if (dirfd == CC_NO_DIRFD) return CC_REAL_AS(open, id)(path, flags, mode);
  return CC_REAL_AS(openat, id)(dirfd, path, flags, mode);
}

static int cc_open(int id, int dirfd, const char *path, int flags, mode_t mode) {
  if (path && cc_enabled() && cc.sites && strncmp(path, CC_SITE_MARKER, sizeof CC_SITE_MARKER - 1) == 0) {
    cc_copy(cc_announced, sizeof cc_announced, path + sizeof CC_SITE_MARKER - 1);
    cc_has_announced = 1;
    errno = ENOENT; /* as the path would: there is no such file */
    return -1;
  }
  struct cc_op os_, *o = &os_;
  cc_op_init(o, id);
  CC_ATPATH(dirfd == CC_NO_DIRFD ? AT_FDCWD : dirfd, path);
  CC_FLAGS(flags);
  CC_MODE(mode);
  if (!cc_begin(o)) return cc_open_real(id, dirfd, path, flags, mode);
  if (cc_is_tmpfile(flags)) cc_unnamed(o->rel);
  return CC_RUN(int, cc_open_real(id, dirfd, path, flags, mode), r_ < 0);
}

/* Fetches the one optional argument of a variadic libc call. */
#define CC_VA_FETCH(var, type, last) \
  do {                               \
    va_list ap_;                     \
    va_start(ap_, last);             \
    var = va_arg(ap_, type);         \
    va_end(ap_);                     \
  } while (0)
/* open's mode argument exists only with O_CREAT or O_TMPFILE (which includes O_DIRECTORY's bit). */
#define CC_OPEN_MODE(flags, last) \
  mode_t mode = 0;                \
  if (((flags)&O_CREAT) || ((flags)&__O_TMPFILE) == __O_TMPFILE) CC_VA_FETCH(mode, mode_t, last)

#define CC_HAND_BODY_open(id) \
  CC_OPEN_MODE(flags, flags); \
  return cc_open(id, CC_NO_DIRFD, path, flags, mode);
#define CC_HAND_BODY_openat(id) \
  CC_OPEN_MODE(flags, flags);   \
  return cc_open(id, dirfd, path, flags, mode);

/* --------------------------------------------------------- in-kernel copies -- */
/* The bytes never pass through the subject's memory: after the call they are
 * read back from the source at the offset the copy started from. */

static ssize_t cc_copy_real(int id, int in, off_t *in_off, int out, off_t *out_off, size_t n, unsigned fl) {
  if (id == CC_ID_copy_file_range) return CC_REAL(copy_file_range)(in, in_off, out, out_off, n, fl);
  return CC_REAL_AS(sendfile, id)(out, in, in_off, n); /* sendfile or its twin */
}

static ssize_t cc_copy_range(int id, int in, off_t *in_off, int out, off_t *out_off, size_t n, unsigned fl) {
  struct cc_op os_, *o = &os_;
  cc_op_init(o, id);
  CC_FD(out);
  CC_LEN(n);
  if (out_off)
    CC_OFFSET(*out_off);
  else
    CC_AT_CURRENT;
  if (!cc_begin(o)) return cc_copy_real(id, in, in_off, out, out_off, n, fl);
  int saved = errno; /* lseek fails on a pipe */
  off_t from = in_off ? *in_off : lseek(in, 0, SEEK_CUR);
  errno = saved;
  ssize_t r = -1;
  int e = o->inject;
  if (!e) {
    r = cc_copy_real(id, in, in_off, out, out_off, (size_t)o->allowed, fl);
    e = r < 0 ? errno : 0;
  }
  saved = errno; /* as the copy left it; the read-back below is ours */
  char *data = NULL;
  if (r > 0 && (data = malloc((size_t)r)) && pread(in, data, (size_t)r, from) == r) o->buf = data;
  errno = saved;
  cc_end_errno(o, r, e);
  free(data);
  return r;
}

#define CC_HAND_BODY_copy_file_range(id) return cc_copy_range(id, in, in_off, out, out_off, n, fl);
#define CC_HAND_BODY_sendfile(id) return cc_copy_range(id, in, in_off, out, NULL, n, 0);

/* ------------------------------------------------------------------ stdio -- */
/* Model: a stream on a scoped file is made unbuffered when we see it opened,
 * so glibc's internal write happens inside the output call; each output call
 * is traced as one write of the formatted bytes at ftell(). */

static int cc_stream_flags(const char *mode) {
  int f = 0;
  switch (mode[0]) {
    case 'r':
      f = O_RDONLY;
      break;
    case 'w':
      f = O_WRONLY | O_CREAT | O_TRUNC;
      break;
    case 'a':
      f = O_WRONLY | O_CREAT | O_APPEND;
      break;
  }
  for (const char *m = mode + 1; *m && *m != ','; ++m) {
    if (*m == '+') f = (f & ~O_ACCMODE) | O_RDWR;
    if (*m == 'x') f |= O_EXCL;
    if (*m == 'e') f |= O_CLOEXEC;
  }
  return f;
}

/* A stream's descriptor, -1 if it has none. Not fileno(): it sets errno (EBADF)
 * for streams without one (fmemopen), and a pass-through must not. */
static int cc_stream_fd(FILE *f) { return f ? f->_fileno : -1; }

/* True when output to f is counted: a stream on a scoped descriptor. */
static int cc_stream_tracked(FILE *f) { return f && cc_enabled() && cc_fd_tracked(cc_stream_fd(f)); }

/* fopen, freopen or a twin: `reopen` says which signature */
static FILE *cc_fopen_real(int id, const char *path, const char *mode, FILE *f, int reopen) {
  return reopen ? CC_REAL_AS(freopen, id)(path, mode, f) : CC_REAL_AS(fopen, id)(path, mode);
}

static FILE *cc_fopen(int id, const char *path, const char *mode, FILE *old, int reopen) {
  struct cc_op os_, *o = &os_;
  if (old && path) cc_untrack(cc_stream_fd(old)); /* freopen closes it */
  cc_op_init(o, id);
  CC_PATH(path);
  CC_FLAGS(mode ? cc_stream_flags(mode) : 0);
  CC_MODE(0666);
  if (!path || !mode || !cc_begin(o)) return cc_fopen_real(id, path, mode, old, reopen);
  FILE *f = NULL;
  int e = o->inject;
  if (!e) {
    f = cc_fopen_real(id, path, mode, old, reopen);
    e = f ? 0 : errno;
  }
  int saved = errno; /* as the open left it */
  if (f) setvbuf(f, NULL, _IONBF, 0);
  errno = saved;
  cc_end_errno(o, f ? cc_stream_fd(f) : -1, e);
  return f;
}

#define CC_HAND_BODY_fopen(id) return cc_fopen(id, path, mode, NULL, 0);
#define CC_HAND_BODY_freopen(id) return cc_fopen(id, path, mode, f, 1);

/* True (and o counted) when f is a scoped stream. */
static int cc_stream_begin(struct cc_op *o, int id, FILE *f, const void *buf, size_t len) {
  cc_op_init(o, id);
  if (!cc_stream_tracked(f)) return 0;
  CC_FD(cc_stream_fd(f));
  CC_DATA(buf, len);
  o->stream = f;
  o->offset_mode = CC_OFF_STREAM;
  return cc_begin(o);
}

/* Writes o's bytes through the real fwrite, honouring inject and disk-full.
 * Returns the bytes written; sets errno and the stream error flag on failure. */
static size_t cc_stream_emit(struct cc_op *o) {
  size_t done = 0;
  int e = o->inject;
  if (!e) {
    done = CC_REAL(fwrite)(o->buf, 1, (size_t)o->allowed, o->stream);
    if (done < o->allowed)
      e = errno ? errno : EIO;
    else if (o->allowed < o->length)
      e = ENOSPC; /* disk-full crossing write */
  }
  if (e) o->stream->_flags |= _IO_ERR_SEEN;
  cc_end_errno(o, e && done == 0 ? -1 : (int64_t)done, e);
  return done;
}

/* Formats into a stack buffer, or the heap for long output. */
static char *cc_format(char *small, size_t size, size_t *len, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(small, size, fmt, copy);
  va_end(copy);
  if (n < 0) return NULL;
  *len = (size_t)n;
  if ((size_t)n < size) return small;
  char *big = malloc((size_t)n + 1);
  if (big) vsnprintf(big, (size_t)n + 1, fmt, ap);
  return big;
}

/* chk_flag >= 0: a _chk entry, passed through to glibc's checking version. */
static int cc_vfprintf(int id, FILE *f, int chk_flag, const char *fmt, va_list ap) {
  struct cc_op os_, *o = &os_;
  if (!cc_stream_tracked(f))
    return chk_flag >= 0 ? CC_REAL(__vfprintf_chk)(f, chk_flag, fmt, ap) : CC_REAL(vfprintf)(f, fmt, ap);
  char small[1024];
  size_t len = 0;
  char *text = cc_format(small, sizeof small, &len, fmt, ap);
  if (!text) return -1;
  int r = -1;
  if (cc_stream_begin(o, id, f, text, len))
    r = cc_stream_emit(o) == len ? (int)len : -1;
  else
    r = (int)CC_REAL(fwrite)(text, 1, len, f) == (int)len ? (int)len : -1;
  if (text != small) free(text);
  return r;
}

#define CC_HAND_BODY_vfprintf(id) return cc_vfprintf(id, f, -1, fmt, ap);
#define CC_HAND_BODY___vfprintf_chk(id) return cc_vfprintf(id, f, flag, fmt, ap);
#define CC_HAND_BODY_vprintf(id) return cc_vfprintf(id, stdout, -1, fmt, ap);
#define CC_VARIADIC_PRINT(id, f, flag, fmt)  \
  va_list ap;                                \
  va_start(ap, fmt);                         \
  int r = cc_vfprintf(id, f, flag, fmt, ap); \
  va_end(ap);                                \
  return r;
#define CC_HAND_BODY_fprintf(id) CC_VARIADIC_PRINT(id, f, -1, fmt)
#define CC_HAND_BODY___fprintf_chk(id) CC_VARIADIC_PRINT(id, f, flag, fmt)
#define CC_HAND_BODY_printf(id) CC_VARIADIC_PRINT(id, stdout, -1, fmt)
#define CC_HAND_BODY___printf_chk(id) CC_VARIADIC_PRINT(id, stdout, flag, fmt)

static size_t cc_fwrite(int id, const void *p, size_t size, size_t n, FILE *f) {
  struct cc_op os_, *o = &os_;
  size_t bytes = size * n;
  if (size == 0 || n == 0 || bytes / n != size || !cc_stream_begin(o, id, f, p, bytes))
    return CC_REAL_AS(fwrite, id)(p, size, n, f); /* fwrite or fwrite_unlocked */
  return cc_stream_emit(o) / size;
}
#define CC_HAND_BODY_fwrite(id) return cc_fwrite(id, p, s, n, f);
#define CC_HAND_BODY_fwrite_unlocked CC_HAND_BODY_fwrite

static int cc_fputs(int id, const char *s, FILE *f) {
  struct cc_op os_, *o = &os_;
  size_t len = strlen(s);
  if (!cc_stream_begin(o, id, f, s, len)) return CC_REAL_AS(fputs, id)(s, f); /* fputs or fputs_unlocked */
  return cc_stream_emit(o) == len ? 1 : EOF;
}
#define CC_HAND_BODY_fputs(id) return cc_fputs(id, s, f);
#define CC_HAND_BODY_fputs_unlocked CC_HAND_BODY_fputs

static int cc_puts(int id, const char *s) {
  if (!cc_stream_tracked(stdout)) return CC_REAL(puts)(s);
  size_t len = strlen(s);
  char small[1024];
  char *line = len + 1 <= sizeof small ? small : malloc(len + 1);
  if (!line) return EOF;
  memcpy(line, s, len);
  line[len] = '\n';
  struct cc_op os_, *o = &os_;
  int r = cc_stream_begin(o, id, stdout, line, len + 1) ? (cc_stream_emit(o) == len + 1 ? 1 : EOF) : CC_REAL(puts)(s);
  if (line != small) free(line);
  return r;
}
#define CC_HAND_BODY_puts(id) return cc_puts(id, s);

static int cc_putc(int id, int c, FILE *f) {
  struct cc_op os_, *o = &os_;
  unsigned char ch = (unsigned char)c;
  if (!cc_stream_begin(o, id, f, &ch, 1)) {
    if (id == CC_ID_putchar) return CC_REAL(putchar)(c);
    if (id == CC_ID___overflow) return CC_REAL(__overflow)(f, c);
    return CC_REAL_AS(fputc, id)(c, f); /* fputc, putc and their _unlocked forms */
  }
  return cc_stream_emit(o) == 1 ? ch : EOF;
}
#define CC_HAND_BODY_fputc(id) return cc_putc(id, c, f);
#define CC_HAND_BODY_fputc_unlocked CC_HAND_BODY_fputc
#define CC_HAND_BODY_putc CC_HAND_BODY_fputc
#define CC_HAND_BODY_putc_unlocked CC_HAND_BODY_fputc
#define CC_HAND_BODY_putchar(id) return cc_putc(id, c, stdout);
/* Inline putc_unlocked expansions in user code call the exported __overflow;
 * EOF there is a flush request, not output. */
#define CC_HAND_BODY___overflow(id) return c == EOF ? CC_REAL(__overflow)(f, c) : cc_putc(id, c, f);

static int cc_fclose(int id, FILE *f) {
  struct cc_op os_, *o = &os_;
  cc_op_init(o, id);
  if (!cc_stream_tracked(f)) return CC_REAL(fclose)(f);
  CC_FD(cc_stream_fd(f));
  if (!cc_begin(o)) return CC_REAL(fclose)(f);
  return CC_RUN(int, CC_REAL(fclose)(f), r_ != 0);
}
#define CC_HAND_BODY_fclose(id) return cc_fclose(id, f);

static void cc_sync(int id) {
  struct cc_op os_, *o = &os_;
  cc_op_init(o, id);
  /* sync() names nothing: it counts as soon as the agent is active */
  CC_PATH(cc.scope);
  if (!cc_begin(o)) {
    CC_REAL(sync)();
    return;
  }
  o->rel[0] = '.', o->rel[1] = 0;
  if (!o->inject) CC_REAL(sync)();
  cc_end(o, 0, 0);
}
#define CC_HAND_BODY_sync(id) cc_sync(id);

/* The hand-written wrappers, a row's twin with the row's body. */
#define CC_HAND_WRAPPER(name, row, ret, params) \
  ret cc_w_##name params {                      \
    CC_NOTE_CALLER();                           \
    CC_HAND_BODY_##row(CC_ID_##name)            \
  }
#define CC_CALL(...)
#define CC_ERRNUM_CALL(...)
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) \
  CC_HAND_WRAPPER(name, name, ret, params) CC_WITH_TWIN(twin64, CC_HAND_WRAPPER, name, ret, params)
#include "calls.def"
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND
#undef CC_HAND_WRAPPER

/* ------------------------------------------- uncounted: keep fd table right -- */

CC_EXPORT int cc_w_dup(int fd) __asm__("dup");
CC_EXPORT int cc_w_dup2(int fd, int to) __asm__("dup2");
CC_EXPORT int cc_w_dup3(int fd, int to, int flags) __asm__("dup3");
CC_EXPORT int cc_w_fcntl(int fd, int cmd, ...) __asm__("fcntl");
CC_EXPORT int cc_w_fcntl64(int fd, int cmd, ...) __asm__("fcntl64");
CC_EXPORT FILE *cc_w_fdopen(int fd, const char *mode) __asm__("fdopen");
CC_EXPORT int cc_w_close_range(unsigned first, unsigned last, int flags) __asm__("close_range");
CC_EXPORT long cc_w_syscall(long n, ...) __asm__("syscall");

static int cc_dup_done(int from, int r) {
  if (r >= 0 && r != from && cc.ready == 2) cc_copy_slot(from, r);
  return r;
}
int cc_w_dup(int fd) { return cc_dup_done(fd, CC_XREAL(dup)(fd)); }
int cc_w_dup2(int fd, int to) { return cc_dup_done(fd, CC_XREAL(dup2)(fd, to)); }
int cc_w_dup3(int fd, int to, int flags) { return cc_dup_done(fd, CC_XREAL(dup3)(fd, to, flags)); }

static int cc_fcntl(int xid, int fd, int cmd, void *arg) {
  int r = ((cc_fn_fcntl *)cc_real(xid))(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) cc_dup_done(fd, r);
  return r;
}
/* fcntl's third argument is an int, a long or a pointer: pass the register on. */
int cc_w_fcntl(int fd, int cmd, ...) {
  void *arg;
  CC_VA_FETCH(arg, void *, cmd);
  return cc_fcntl(CC_XID_fcntl, fd, cmd, arg);
}
int cc_w_fcntl64(int fd, int cmd, ...) {
  void *arg;
  CC_VA_FETCH(arg, void *, cmd);
  return cc_fcntl(CC_XID_fcntl64, fd, cmd, arg);
}

FILE *cc_w_fdopen(int fd, const char *mode) {
  FILE *f = CC_XREAL(fdopen)(fd, mode);
  if (f && cc.ready == 2 && cc_fd_tracked(fd)) setvbuf(f, NULL, _IONBF, 0);
  return f;
}

int cc_w_close_range(unsigned first, unsigned last, int flags) {
  int r = CC_XREAL(close_range)(first, last, flags);
  if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
    for (unsigned fd = first; fd <= last && fd < CC_MAX_FD; ++fd) cc_untrack((int)fd);
  return r;
}

/* Raw syscall(2) users (libuv closes this way) reach the same wrappers: the
 * table's sys column generates one test per routed row. */

/* The generic syscall table (aarch64, riscv64, loongarch64) has only the *at
 * forms of these: there no program can make them raw, and their rows route
 * nothing. A row whose syscall some architecture lacks needs a line here. */
#define CC_NO_SYSCALL (-1L)
#ifndef SYS_open
#define SYS_open CC_NO_SYSCALL
#endif
#ifndef SYS_creat
#define SYS_creat CC_NO_SYSCALL
#endif
#ifndef SYS_rename
#define SYS_rename CC_NO_SYSCALL
#endif
#ifndef SYS_renameat
#define SYS_renameat CC_NO_SYSCALL
#endif
#ifndef SYS_link
#define SYS_link CC_NO_SYSCALL
#endif
#ifndef SYS_unlink
#define SYS_unlink CC_NO_SYSCALL
#endif
#ifndef SYS_mkdir
#define SYS_mkdir CC_NO_SYSCALL
#endif

/* CC_SYS_ARGS(types...): syscall()'s long arguments x[0..5] cast to the row's types. */
#define CC_SYS_ARGS(...) CC_SYS_ARGS_N(__VA_ARGS__, 6, 5, 4, 3, 2, 1, )(__VA_ARGS__)
#define CC_SYS_ARGS_N(a, b, c, d, e, f, n, ...) CC_SYS_ARGS_##n
#define CC_SYS_ARGS_1(a) (a) x[0]
#define CC_SYS_ARGS_2(a, b) CC_SYS_ARGS_1(a), (b)x[1]
#define CC_SYS_ARGS_3(a, b, c) CC_SYS_ARGS_2(a, b), (c)x[2]
#define CC_SYS_ARGS_4(a, b, c, d) CC_SYS_ARGS_3(a, b, c), (d)x[3]
#define CC_SYS_ARGS_5(a, b, c, d, e) CC_SYS_ARGS_4(a, b, c, d), (e)x[4]
#define CC_SYS_ARGS_6(a, b, c, d, e, f) CC_SYS_ARGS_5(a, b, c, d, e), (f)x[5]
/* sys is (nr, types...) or (): a test for the first, nothing for the second. */
#define CC_ROUTE(name, sys) CC_ROUTE_EXPAND_(CC_ROUTE_, name, CC_UNPAREN sys)
#define CC_ROUTE_EXPAND_(f, ...) f(__VA_ARGS__)
#define CC_ROUTE_(name, ...) __VA_OPT__(CC_ROUTE_TEST_(name, __VA_ARGS__))
#define CC_ROUTE_TEST_(name, nr, ...)                 \
  if (n == SYS_##nr) {                                \
    *r = (long)cc_w_##name(CC_SYS_ARGS(__VA_ARGS__)); \
    return 1;                                         \
  }

/* Returns 1, the wrapper's result in *r, when the table routes syscall n. */
static int cc_route_syscall(long n, const long x[6], long *r) {
  if (n == CC_NO_SYSCALL) return 0;
#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) CC_ROUTE(name, sys)
#define CC_ERRNUM_CALL CC_CALL
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) CC_ROUTE(name, sys)
#include "calls.def"
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND
  return 0;
}

long cc_w_syscall(long n, ...) {
  CC_NOTE_CALLER();
  long x[6], r;
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < 6; ++i) x[i] = va_arg(ap, long);
  va_end(ap);
  if (cc_route_syscall(n, x, &r)) return r;
  switch (n) { /* uncounted, but the fd table must follow */
    case SYS_dup:
      return cc_w_dup((int)x[0]);
#ifdef SYS_dup2 /* not in the generic table either */
    case SYS_dup2:
      return cc_w_dup2((int)x[0], (int)x[1]);
#endif
    case SYS_dup3:
      return cc_w_dup3((int)x[0], (int)x[1], (int)x[2]);
    case SYS_close_range:
      return cc_w_close_range((unsigned)x[0], (unsigned)x[1], (int)x[2]);
    default:
      return CC_XREAL(syscall)(n, x[0], x[1], x[2], x[3], x[4], x[5]);
  }
}

/* ------------------------------------------------------------------- init -- */

static int cc_at_planned_call(const char *name, int *failnum, void **failinfo, unsigned *flags) {
  (void)name, (void)failnum, (void)failinfo, (void)flags;
  return cc_current == cc.plan.call;
}

/* Writes the file header; 1 on success. */
static int cc_trace_header(int fd) {
  struct cc_trace_header h;
  memcpy(h.magic, CC_TRACE_MAGIC, sizeof h.magic);
  h.version = CC_TRACE_VERSION;
  h.record_header_size = sizeof(struct cc_trace_record);
  return CC_REAL(write)(fd, &h, sizeof h) == (ssize_t)sizeof h;
}

/* Opens (or reopens) the trace: O_APPEND, away from low descriptor numbers
 * subjects use, header written once under flock by whichever process is first.
 * Without the file's identity (fstat failed) or its header, tracing is off:
 * cc_record could not tell our descriptor from one the subject reused. */
static void cc_trace_open(void) {
  cc.trace_fd = -1;
  int fd = CC_REAL(open)(cc.trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int high = CC_XREAL(fcntl)(fd, F_DUPFD_CLOEXEC, (void *)(intptr_t)512);
  if (high >= 0) {
    CC_REAL(close)(fd);
    fd = high;
  }
  struct stat st;
  flock(fd, LOCK_EX);
  int ok = fstat(fd, &st) == 0 && (st.st_size > 0 || cc_trace_header(fd));
  flock(fd, LOCK_UN);
  if (!ok) {
    CC_REAL(close)(fd);
    return;
  }
  cc.trace_fd = fd;
  cc.trace_dev = st.st_dev;
  cc.trace_ino = st.st_ino;
}

static void cc_map_control(const char *path) {
  int fd = CC_REAL(open)(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void *p = mmap(NULL, sizeof(struct cc_control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CC_REAL(close)(fd);
  if (p == MAP_FAILED) return;
  struct cc_control *c = p;
  if (c->magic != CC_CONTROL_MAGIC || c->version != CC_CONTROL_VERSION) {
    munmap(p, sizeof *c);
    return;
  }
  cc.control = c;
}

/* Descriptors inherited into the scope (sh: `cmd > file` opens in the parent). */
static void cc_adopt_inherited_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    char link[64], target[PATH_MAX], rel[CC_REL_MAX];
    if (e->d_name[0] == '.' || fd == dirfd(d) || fd == cc.trace_fd) continue;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    struct stat st;
    if (target[0] == '/' && cc_relative(target, rel, sizeof rel) && fstat(fd, &st) == 0) cc_track(fd, rel, &st);
  }
  closedir(d);
  if (cc_fd_tracked(STDOUT_FILENO)) setvbuf(stdout, NULL, _IONBF, 0);
}

static void cc_enable_plan(void) {
  fiu_init(0);
  switch (cc.plan.kind) {
    case CC_PLAN_kill_before:
      fiu_enable_external("crashcheck/kill/before", 1, NULL, 0, cc_at_planned_call);
      break;
    case CC_PLAN_kill_after:
      fiu_enable_external("crashcheck/kill/after", 1, NULL, 0, cc_at_planned_call);
      break;
    case CC_PLAN_fail_call:
      fiu_enable_external("crashcheck/io/*", 1, (void *)(intptr_t)cc.plan.error, 0, cc_at_planned_call);
      break;
  }
}

/* Returns 1 when the agent has a scope to watch. */
static int cc_setup(void) {
  const char *scope = getenv(CC_ENV_SCOPE);
  if (!scope || scope[0] != '/' || cc_normalize(scope, cc.scope, sizeof cc.scope) != 0) return 0;
  cc.scope_len = strlen(cc.scope);
  if (realpath(cc.scope, cc.scope_real)) cc.scope_real_len = strlen(cc.scope_real);
  cc.trace_fd = -1;
  const char *control = getenv(CC_ENV_CONTROL);
  if (control) cc_map_control(control);
  if (cc.control) atomic_fetch_add(&cc.control->agents_loaded, 1);
  const char *plan = getenv(CC_ENV_PLAN);
  if (plan && (cc_plan_parse(plan, strlen(plan), &cc.plan) != 0 || cc.plan.kind == CC_PLAN_kill_within)) {
    static const char msg[] = "crashcheck agent: bad CRASHCHECK_PLAN\n";
    CC_REAL(write)(2, msg, sizeof msg - 1);
    _exit(125);
  }
  const char *timeout = getenv(CC_ENV_PAUSE_TIMEOUT_MS);
  cc.pause_timeout_ms = timeout ? atoi(timeout) : 30000;
  if (cc.pause_timeout_ms <= 0) cc.pause_timeout_ms = 30000;
  const char *trace = getenv(CC_ENV_TRACE);
  if (trace && strlen(trace) < sizeof cc.trace_path) {
    memcpy(cc.trace_path, trace, strlen(trace) + 1);
    cc_trace_open();
  }
  const char *sites = getenv(CC_ENV_SITES);
  if (sites && sites[0] == '/' && strlen(sites) < sizeof cc.sites_path) {
    memcpy(cc.sites_path, sites, strlen(sites) + 1);
    cc.sites = 1;
  }
  cc_enable_plan();
  cc_adopt_inherited_fds();
  return 1;
}

static int cc_init(void) {
  int expected = 0;
  if (!__atomic_compare_exchange_n(&cc.ready, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return expected; /* another thread is initialising: pass through meanwhile */
  int saved = errno;
  cc_busy = 1;
  int state = cc_setup() ? 2 : 3;
  cc_busy = 0;
  __atomic_store_n(&cc.ready, state, __ATOMIC_RELEASE);
  errno = saved;
  return state;
}

__attribute__((constructor)) static void cc_constructor(void) {
  if (__atomic_load_n(&cc.ready, __ATOMIC_ACQUIRE) == 0) cc_init();
}
