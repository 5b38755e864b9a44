/* Small writers whose crash behaviour is known from how Linux works, not from
 * crashcheck: each replaces argv[2] (the target) with the bytes of argv[3]
 * (the payload) one way, and exits 0 only when every call it checks
 * succeeded. Usage: planted_writer HOW TARGET PAYLOAD
 *
 *   temp-write    temp file, one write(), the old mode, fsync, rename,
 *                 directory fsync                                          correct
 *   inplace-write open the target without O_TRUNC, one pwrite() over it   torn by a kill or a reader mid-write
 *   inplace-diff  one pwrite() of just the bytes that differ between the
 *                 target and the payload (same length)                     torn if that range spans two pages
 *   inplace-mmap  map the target MAP_SHARED, memcpy, msync, munmap         any page old or new until msync
 *   temp-mmap     temp sized with ftruncate, filled through a mapping,
 *                 msync, fsync, rename, directory fsync                    correct
 *   temp-splice   temp filled from a pipe with splice(), fsync, rename,
 *                 directory fsync                                          correct
 *
 * Changes that end where they began (nil_rewrite_test.cpp): temp-write, then
 * the published target changed and put back where a backend does not see
 * each step; page 1 is the one changed.
 *   wipe-store    the target mapped MAP_SHARED, page 1 overwritten with
 *                 'Z', a log line on stderr, page 1 stored back,
 *                 msync(MS_SYNC), munmap                                   page 1 'Z' at the log line
 *   wipe-punch    the same, page 1 wiped by madvise(MADV_REMOVE) (a hole
 *                 punched through the mapping: zeros)                      page 1 zeros at the log line
 *   temp-wipe     the same stores in the temp (ftruncate'd, mapped,
 *                 filled, wiped, logged, stored back, msync, munmap), then
 *                 fsync, rename, directory fsync: all before the rename    correct
 *   raw-rewrite   the target rewritten in place with the same bytes by the
 *                 syscall instruction (open O_TRUNC, writes of 1000 bytes,
 *                 close: no libc, the preload agent sees none of it), then
 *                 a directory fsync                                        empty or short at each raw write
 *   raw-read      the target read by the syscall instruction (an unseen
 *                 call that changes nothing), then a directory fsync       correct
 *   temp-utime    temp-write with the temp's times set to a fixed moment
 *                 before its fsync, as cp -p does (utimensat: a call the
 *                 preload agent does not see)                              correct
 *
 * The in-place writers need a payload as long as the old file, so that only
 * a torn state (never a short file) can tell old from new. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static char *read_all(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die(path);
  char *bytes = malloc(st.st_size ? (size_t)st.st_size : 1);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, bytes + got, (size_t)st.st_size - got);
    if (n <= 0) die("read payload");
    got += (size_t)n;
  }
  close(fd);
  *size = got;
  return bytes;
}

static void sync_directory_of(const char *target) {
  char *copy = strdup(target);
  int dir = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dir < 0 || fsync(dir) != 0 || close(dir) != 0) die("directory fsync");
  free(copy);
}

static int open_temp(const char *target, char *name, size_t size) {
  snprintf(name, size, "%s.tmp-XXXXXX", target);
  int fd = mkstemp(name);
  if (fd < 0) die("mkstemp");
  return fd;
}

/* The old file's mode, fsync, close, rename over the target, fsync the directory. */
static void commit_temp(int fd, const char *temp, const char *target) {
  struct stat old;
  if (stat(target, &old) == 0 && fchmod(fd, old.st_mode & 07777) != 0) die("fchmod");
  if (fsync(fd) != 0) die("fsync");
  if (close(fd) != 0) die("close");
  if (rename(temp, target) != 0) die("rename");
  sync_directory_of(target);
}

static void write_fully(int fd, const char *bytes, size_t size, off_t at) {
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fd, bytes + done, size - done, at + (off_t)done);
    if (n < 0) die("pwrite");
    done += (size_t)n;
  }
}

static void fill_mapped(int fd, const char *bytes, size_t size) {
  if (size == 0) return;
  char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) die("mmap");
  memcpy(map, bytes, size);
  if (msync(map, size, MS_SYNC) != 0) die("msync");
  if (munmap(map, size) != 0) die("munmap");
}

static void splice_in(int fd, const char *bytes, size_t size) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) die("pipe");
  for (size_t done = 0; done < size;) {
    size_t chunk = size - done < 16384 ? size - done : 16384;
    ssize_t put = write(pipe_fds[1], bytes + done, chunk);
    if (put <= 0) die("write pipe");
    for (ssize_t moved = 0; moved < put;) {
      ssize_t n = splice(pipe_fds[0], NULL, fd, NULL, (size_t)(put - moved), 0);
      if (n <= 0) die("splice");
      moved += n;
    }
    done += (size_t)put;
  }
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

/* The system call instruction itself: no libc entry point an agent could wrap. */
static long raw_syscall(long number, long a, long b, long c) {
  long ret;
#if defined(__x86_64__)
  __asm__ volatile("syscall" : "=a"(ret) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  ret = x0;
#else
#error "planted_writer: raw system calls are written for x86_64 and aarch64"
#endif
  return ret;
}

/* Page 1 of a mapping changed ('Z's, or a hole punched), a log line, page 1 put back. */
static void wipe_and_restore(char *map, const char *bytes, int punch) {
  const long page = sysconf(_SC_PAGESIZE);
  if (punch && madvise(map + page, (size_t)page, MADV_REMOVE) != 0) die("madvise");
  if (!punch) memset(map + page, 'Z', (size_t)page);
  fprintf(stderr, "refreshing page 1\n");
  memcpy(map + page, bytes + page, (size_t)page);
}

/* temp-write, then one of the changes that end where they began. */
static void replace_then(const char *how, const char *target, const char *bytes, size_t size) {
  if (size < 2 * (size_t)sysconf(_SC_PAGESIZE)) die("the payload must be at least two pages");
  char temp[4096];
  int fd = open_temp(target, temp, sizeof temp);
  if (strcmp(how, "temp-wipe") == 0) {
    if (ftruncate(fd, (off_t)size) != 0) die("ftruncate");
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
    memcpy(map, bytes, size);
    wipe_and_restore(map, bytes, 0);
    if (msync(map, size, MS_SYNC) != 0 || munmap(map, size) != 0) die("msync/munmap");
  } else {
    write_fully(fd, bytes, size, 0);
  }
  const struct timespec when[2] = {{1000000000, 0}, {1000000000, 0}};
  if (strcmp(how, "temp-utime") == 0 && futimens(fd, when) != 0) die("futimens");
  commit_temp(fd, temp, target);
  if (strcmp(how, "wipe-store") == 0 || strcmp(how, "wipe-punch") == 0) {
    fd = open(target, O_RDWR);
    if (fd < 0) die("open target");
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
    wipe_and_restore(map, bytes, how[5] == 'p');
    if (msync(map, size, MS_SYNC) != 0 || munmap(map, size) != 0 || close(fd) != 0) die("msync/munmap/close");
  } else if (strcmp(how, "raw-rewrite") == 0 || strcmp(how, "raw-read") == 0) {
    const int rewrite = strcmp(how, "raw-rewrite") == 0;
    long raw = raw_syscall(SYS_openat, AT_FDCWD, (long)target, rewrite ? O_WRONLY | O_TRUNC : O_RDONLY);
    if (raw < 0) die("raw open");
    char back[1000];
    for (size_t at = 0; rewrite && at < size; at += 1000)
      if (raw_syscall(SYS_write, raw, (long)(bytes + at), (long)(size - at < 1000 ? size - at : 1000)) <= 0)
        die("raw write");
    while (!rewrite && raw_syscall(SYS_read, raw, (long)back, sizeof back) > 0) {
    }
    raw_syscall(SYS_close, raw, 0, 0);
    sync_directory_of(target);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: planted_writer HOW TARGET PAYLOAD\n");
    return 2;
  }
  const char *how = argv[1], *target = argv[2];
  size_t size;
  char *bytes = read_all(argv[3], &size);
  char temp[4096];
  if (strcmp(how, "temp-write") == 0) {
    int fd = open_temp(target, temp, sizeof temp);
    write_fully(fd, bytes, size, 0);
    commit_temp(fd, temp, target);
  } else if (strcmp(how, "inplace-write") == 0) {
    int fd = open(target, O_WRONLY);
    if (fd < 0) die("open target");
    write_fully(fd, bytes, size, 0);
    if (fsync(fd) != 0 || close(fd) != 0) die("fsync/close");
  } else if (strcmp(how, "inplace-diff") == 0) {
    size_t old_size;
    char *old = read_all(target, &old_size);
    if (old_size != size) die("inplace-diff needs a payload as long as the target");
    size_t first = 0, end = size;
    while (first < size && old[first] == bytes[first]) ++first;
    while (end > first && old[end - 1] == bytes[end - 1]) --end;
    int fd = open(target, O_WRONLY);
    if (fd < 0) die("open target");
    write_fully(fd, bytes + first, end - first, (off_t)first);
    if (fsync(fd) != 0 || close(fd) != 0) die("fsync/close");
    free(old);
  } else if (strcmp(how, "inplace-mmap") == 0) {
    int fd = open(target, O_RDWR);
    if (fd < 0) die("open target");
    fill_mapped(fd, bytes, size);
    if (close(fd) != 0) die("close");
  } else if (strcmp(how, "temp-mmap") == 0) {
    int fd = open_temp(target, temp, sizeof temp);
    if (ftruncate(fd, (off_t)size) != 0) die("ftruncate");
    fill_mapped(fd, bytes, size);
    commit_temp(fd, temp, target);
  } else if (strcmp(how, "temp-splice") == 0) {
    int fd = open_temp(target, temp, sizeof temp);
    splice_in(fd, bytes, size);
    commit_temp(fd, temp, target);
  } else if (strcmp(how, "wipe-store") == 0 || strcmp(how, "wipe-punch") == 0 || strcmp(how, "temp-wipe") == 0 ||
             strcmp(how, "raw-rewrite") == 0 || strcmp(how, "raw-read") == 0 || strcmp(how, "temp-utime") == 0) {
    replace_then(how, target, bytes, size);
  } else {
    fprintf(stderr, "planted_writer: unknown way \"%s\"\n", how);
    return 2;
  }
  free(bytes);
  return 0;
}
