/* Fault-plan codec, errno names and the disk-full rule, shared by the agent
 * and the runner. */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE */
#include "shared.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(struct cc_trace_record) == 72, "trace record layout is part of the format");
_Static_assert(sizeof(struct cc_trace_header) == 16, "trace header layout is part of the format");

/* clang-format off */
#define CC_ERRNO_NAMES(X) \
  X(EPERM) \
  X(ENOENT) \
  X(EINTR) \
  X(EIO) \
  X(EBADF) \
  X(EAGAIN) \
  X(ENOMEM) \
  X(EACCES) \
  X(EBUSY) \
  X(EEXIST) \
  X(EXDEV) \
  X(ENOTDIR) \
  X(EISDIR) \
  X(EINVAL) \
  X(ENFILE) \
  X(EMFILE) \
  X(EFBIG) \
  X(ENOSPC) \
  X(ESPIPE) \
  X(EROFS) \
  X(EMLINK) \
  X(ENAMETOOLONG) \
  X(ENOTEMPTY) \
  X(ELOOP) \
  X(EOPNOTSUPP) \
  X(EDQUOT) \
  X(ESTALE) \
  X(ETXTBSY) \
  X(EOVERFLOW) \
  X(ENOSYS)
/* clang-format on */

static const struct {
  int value;
  const char *name;
} errno_names[] = {
#define CC_ERRNO_ENTRY(e) {e, #e},
    CC_ERRNO_NAMES(CC_ERRNO_ENTRY)
#undef CC_ERRNO_ENTRY
};

int cc_errno_from_name(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; ++i)
    if (strlen(errno_names[i].name) == len && memcmp(errno_names[i].name, name, len) == 0) return errno_names[i].value;
  return 0;
}

const char *cc_errno_name(int error) {
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; ++i)
    if (errno_names[i].value == error) return errno_names[i].name;
  return NULL;
}

/* Parses a decimal number filling exactly [s, end); -1 when not a number. */
static int parse_u64(const char *s, const char *end, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (s == end) return -1;
  for (; s < end; ++s) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (max - (uint64_t)(*s - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static const struct {
  int kind;
  const char *word;
} plan_words[] = {
    {CC_PLAN_none, "none"},
    {CC_PLAN_kill_before, "kill-before"},
    {CC_PLAN_kill_after, "kill-after"},
    {CC_PLAN_fail_call, "fail"},
    {CC_PLAN_disk_full, "disk-full"},
    {CC_PLAN_pause, "pause"},
    {CC_PLAN_kill_within, "kill-within"},
};

int cc_plan_parse(const char *text, size_t len, struct cc_plan *out) {
  const char *end = text + len;
  const char *colon = memchr(text, ':', len);
  const char *word_end = colon ? colon : end;
  struct cc_plan p = {CC_PLAN_none, 0, 0, 0};
  int found = 0;
  for (size_t i = 0; i < sizeof plan_words / sizeof plan_words[0]; ++i)
    if ((size_t)(word_end - text) == strlen(plan_words[i].word) &&
        memcmp(text, plan_words[i].word, (size_t)(word_end - text)) == 0) {
      p.kind = plan_words[i].kind;
      found = 1;
    }
  if (!found) return -1;
  const char *arg = colon ? colon + 1 : end;
  uint64_t n = 0;
  switch (p.kind) {
    case CC_PLAN_none:
    case CC_PLAN_pause:
      if (colon) return -1;
      break;
    case CC_PLAN_kill_before:
    case CC_PLAN_kill_after:
      if (!colon || parse_u64(arg, end, UINT32_MAX, &n) || n == 0) return -1;
      p.call = (uint32_t)n;
      break;
    case CC_PLAN_kill_within: {
      const char *colon2 = colon ? memchr(arg, ':', (size_t)(end - arg)) : NULL;
      if (!colon2 || parse_u64(arg, colon2, UINT32_MAX, &n) || n == 0) return -1;
      p.call = (uint32_t)n;
      if (parse_u64(colon2 + 1, end, UINT64_MAX, &p.byte_budget)) return -1;
      break;
    }
    case CC_PLAN_fail_call: {
      const char *colon2 = colon ? memchr(arg, ':', (size_t)(end - arg)) : NULL;
      if (!colon2 || parse_u64(arg, colon2, UINT32_MAX, &n) || n == 0) return -1;
      p.call = (uint32_t)n;
      uint64_t num = 0;
      p.error = cc_errno_from_name(colon2 + 1, (size_t)(end - colon2 - 1));
      if (p.error == 0 && parse_u64(colon2 + 1, end, 4095, &num) == 0) p.error = (int)num;
      if (p.error <= 0) return -1;
      break;
    }
    case CC_PLAN_disk_full:
      if (!colon || parse_u64(arg, end, UINT64_MAX, &n)) return -1;
      p.byte_budget = n;
      break;
  }
  *out = p;
  return 0;
}

size_t cc_plan_format(const struct cc_plan *p, char *buf, size_t size) {
  const char *word = "none";
  for (size_t i = 0; i < sizeof plan_words / sizeof plan_words[0]; ++i)
    if (plan_words[i].kind == p->kind) word = plan_words[i].word;
  int n;
  switch (p->kind) {
    case CC_PLAN_kill_before:
    case CC_PLAN_kill_after:
      n = snprintf(buf, size, "%s:%u", word, (unsigned)p->call);
      break;
    case CC_PLAN_fail_call: {
      const char *name = cc_errno_name(p->error);
      n = name ? snprintf(buf, size, "%s:%u:%s", word, (unsigned)p->call, name)
               : snprintf(buf, size, "%s:%u:%d", word, (unsigned)p->call, p->error);
      break;
    }
    case CC_PLAN_kill_within:
      n = snprintf(buf, size, "%s:%u:%llu", word, (unsigned)p->call, (unsigned long long)p->byte_budget);
      break;
    case CC_PLAN_disk_full:
      n = snprintf(buf, size, "%s:%llu", word, (unsigned long long)p->byte_budget);
      break;
    default:
      n = snprintf(buf, size, "%s", word);
  }
  return n < 0 ? 0 : (size_t)n;
}

/* Where the allocated run holding `pos` ends, or `pos` when `pos` is in a
 * hole or past the end (lseek's SEEK_DATA/SEEK_HOLE; a file system without
 * them reports one data run up to the end, which is the safe side: only
 * bytes past the end are then charged). */
static uint64_t allocated_until(int fd, uint64_t pos, uint64_t size) {
  if (pos >= size) return pos;
  off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
  if (data < 0) return errno == ENXIO ? pos : size;
  if ((uint64_t)data != pos) return pos;
  off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
  return hole < 0 ? size : (uint64_t)hole;
}

/* Where the hole or end holding `pos` ends (the next data), at most `end`. */
static uint64_t unallocated_until(int fd, uint64_t pos, uint64_t size, uint64_t end) {
  if (pos >= size) return end;
  off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
  return data < 0 || (uint64_t)data > end ? end : (uint64_t)data;
}

uint64_t cc_disk_full_fit(int fd, int64_t offset, uint64_t want, uint64_t left, uint64_t *charged) {
  struct stat st;
  *charged = 0;
  if (offset < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *charged = want < left ? want : left;
    return *charged;
  }
  const uint64_t size = (uint64_t)st.st_size, start = (uint64_t)offset, end = start + want;
  uint64_t pos = start;
  while (pos < end) {
    uint64_t run = allocated_until(fd, pos, size);
    if (run > pos) { /* overwrites allocated bytes: free */
      pos = run < end ? run : end;
      continue;
    }
    uint64_t gap = unallocated_until(fd, pos, size, end) - pos, take = gap < left - *charged ? gap : left - *charged;
    if (gap == 0) break; /* cannot happen: pos is not in an allocated run */
    *charged += take;
    pos += take;
    if (take < gap) break; /* out of space */
  }
  return pos - start;
}

uint64_t cc_disk_full_spent(uint64_t allowed, uint64_t charged, uint64_t done) {
  const uint64_t free_bytes = allowed - charged;
  if (done <= free_bytes) return 0;
  return done - free_bytes < charged ? done - free_bytes : charged;
}
