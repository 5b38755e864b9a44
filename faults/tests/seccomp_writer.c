/* seccomp_writer ACTION DIR [ARG]: the writers the seccomp backend tests
 * drive, each one way a real program reaches a file. Built dynamic and
 * -static. Prints "errno=NAME" and exits 1 when a call fails (the tests
 * inject failures); exit 64: unknown action.
 *
 *   atomic     temp (O_EXCL) in DIR, write, fsync, rename to DIR/target,
 *              fsync(dirfd(opendir(DIR)))
 *   stdio      fopen DIR/target, buffered fputs (the bytes reach the kernel
 *              in fclose), fclose checked
 *   openat2    syscall(SYS_openat2) a temp, write, rename (no fsync)
 *   proc-cwd   chdir DIR, rewrite /proc/self/cwd/target in place (O_TRUNC)
 *   tmpdir     mkstemp in $TMPDIR, write, fsync, rename into DIR/target
 *   thread     the temp is written by a second thread
 *   fork       the temp is written by a forked child
 *   big        one write of ARG bytes to DIR/target
 *   writes     ARG writes of "0123456789" to DIR/target, each checked
 *   mmap       ftruncate, shared writable mapping, store, msync, munmap
 *   repeat     `atomic` ARG times (the benchmark's C writer)
 *   close-range  opens DIR/a and DIR/b, close_range over both
 *   exchange   DIR/a and DIR/b swapped with RENAME_EXCHANGE, then a to c
 *              with RENAME_NOREPLACE, then c onto b with RENAME_NOREPLACE
 *              (prints errno=EEXIST and goes on)
 *   tmpfile    O_TMPFILE in $TMPDIR, write, fsync, linkat through
 *              /proc/self/fd/N to DIR/target
 *   symlinked  writes DIR/target as $TMPDIR/link/target, $TMPDIR/link a
 *              symlink to DIR made here
 *   metadata   fallocate, ftruncate, truncate, fchmod, fchmodat, mkdir,
 *              rmdir, unlinkat on DIR/target and DIR/sub
 *   dir-in     mkdir $TMPDIR/d, write d/f, rename d to DIR/d, append to
 *              DIR/d/f by name and through the first descriptor
 *   mmap-exit  shared writable mapping, store, exit (no msync, no munmap)
 *   close-fail write DIR/target, close it (result printed, not checked),
 *              then write to the closed descriptor (result printed)
 *
 * Twins (the runner's verdict tests: each defective writer has a correct
 * twin; a failing call removes the temp before exit 1, so temp_clean holds):
 *   synced-dir / no-dir-sync          temp, fsync, rename; fsync(dirfd(opendir(DIR))) or not
 *   openat2-sync / openat2-nosync     the temp made with syscall(SYS_openat2); fsync or not
 *   cwd-atomic / cwd-inplace          through /proc/self/cwd after chdir DIR: temp + rename,
 *                                     or the target truncated and rewritten in place
 *   tmpdir-sync / tmpdir-nosync       mkstemp in $TMPDIR, renamed in; fsyncs or none
 *   thread-sync / thread-nosync       the temp written by a second thread; fsyncs or none
 *   fork-sync / fork-nosync           the temp written by a forked child; fsyncs or none
 *   stdio-checked / stdio-unchecked   buffered fputs to the temp; fflush, fsync and fclose
 *                                     checked, or fclose's result ignored (nothing synced)
 *   own-listener                      installs a seccomp filter with a listener of its own
 *                                     (as a sandboxing program does), then synced-dir
 * O_TMPFILE twins (crashcheck issue 13): open(DIR, O_TMPFILE), write, then a
 * linkat gives the file its first name; the directory synced through
 * open(DIR, O_DIRECTORY), which the preload agent sees too:
 *   tmpfile-sync / tmpfile-nosync     linkat(/proc/self/fd/N → DIR/target.tmp, AT_SYMLINK_FOLLOW),
 *                                     close, rename to DIR/target, directory fsync; the file
 *                                     fsynced before the linkat, or never
 *   flink-dirsync / flink-nodirsync   fsync, linkat(fd, "", → DIR/target, AT_EMPTY_PATH): the
 *                                     target published by the link itself; directory fsync or not */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char content[] = "new content\n";
static char tmp[4096], target[4096];
static int tmp_fd = -1;

static int clean_up = 0; /* twins: a failure removes the temp (tmp) before exit */

static int check(long r) {
  if (r < 0) {
    printf("errno=%s\n", strerrorname_np(errno));
    fflush(stdout);
    if (clean_up) unlink(tmp);
    exit(1);
  }
  return (int)r;
}

static void write_all(int fd, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = check(write(fd, data, n));
    data += w;
    n -= (size_t)w;
  }
}

static void sync_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) check(-1);
  check(fsync(dirfd(d)));
  closedir(d);
}

static void *thread_writes(void *arg) {
  (void)arg;
  write_all(tmp_fd, content, sizeof content - 1);
  return NULL;
}

static int atomic(const char *dir) {
  tmp_fd = check(open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  write_all(tmp_fd, content, sizeof content - 1);
  check(fsync(tmp_fd));
  check(close(tmp_fd));
  check(rename(tmp, target));
  sync_dir(dir);
  return 0;
}

static int with_stdio(void) {
  FILE *f = fopen(target, "w");
  if (!f) check(-1);
  fputs("line one\n", f);
  fputs("line two\n", f);
  if (fclose(f) != 0) check(-1);
  return 0;
}

static int with_openat2(void) {
  struct open_how how = {.flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0644};
  int fd = check(syscall(SYS_openat2, AT_FDCWD, tmp, &how, sizeof how));
  write_all(fd, content, sizeof content - 1);
  check(close(fd));
  check(rename(tmp, target));
  return 0;
}

static int proc_cwd(const char *dir) {
  check(chdir(dir));
  int fd = check(open("/proc/self/cwd/target", O_WRONLY | O_TRUNC));
  write_all(fd, content, sizeof content - 1);
  check(close(fd));
  return 0;
}

static int in_tmpdir(const char *dir) {
  const char *t = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/cc-writer-XXXXXX", t ? t : "/tmp");
  int fd = check(mkstemp(tmp));
  write_all(fd, content, sizeof content - 1);
  check(fsync(fd));
  check(close(fd));
  check(rename(tmp, target));
  sync_dir(dir);
  return 0;
}

static int in_thread(void) {
  tmp_fd = check(open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
  pthread_t t;
  if (pthread_create(&t, NULL, thread_writes, NULL) != 0) return 2;
  pthread_join(t, NULL);
  check(fsync(tmp_fd));
  check(close(tmp_fd));
  check(rename(tmp, target));
  return 0;
}

static int in_child(void) {
  pid_t pid = check(fork());
  if (pid == 0) {
    tmp_fd = check(open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    write_all(tmp_fd, content, sizeof content - 1);
    check(fsync(tmp_fd));
    _exit(close(tmp_fd) == 0 ? 0 : 1);
  }
  int status;
  check(waitpid(pid, &status, 0));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 3;
  check(rename(tmp, target));
  return 0;
}

static int big(long size) {
  char *data = malloc((size_t)size);
  for (long i = 0; i < size; ++i) data[i] = (char)('a' + i % 26);
  int fd = check(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  write_all(fd, data, (size_t)size);
  check(close(fd));
  free(data);
  return 0;
}

static int writes(long n) {
  int fd = check(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  for (long i = 0; i < n; ++i) {
    ssize_t w = check(write(fd, "0123456789", 10));
    printf("wrote=%zd\n", w);
  }
  check(close(fd));
  return 0;
}

static int mapped(void) {
  int fd = check(open(target, O_RDWR | O_CREAT | O_TRUNC, 0644));
  check(ftruncate(fd, 4096));
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) check(-1);
  memcpy(p, "mapped bytes", 12);
  check(msync(p, 4096, MS_SYNC));
  check(munmap(p, 4096));
  check(close(fd));
  return 0;
}

static void report(const char *what, long r) {
  printf("%s=%s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
  fflush(stdout);
}

static int in_range(const char *dir) {
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  int fa = check(open(a, O_WRONLY | O_CREAT, 0644));
  int fb = check(open(b, O_WRONLY | O_CREAT, 0644));
  unsigned lo = (unsigned)(fa < fb ? fa : fb), hi = (unsigned)(fa < fb ? fb : fa);
  check(syscall(SYS_close_range, lo, hi, 0));
  if (write(fa, "x", 1) >= 0 || write(fb, "x", 1) >= 0) return 4;  // both really closed
  return 0;
}

static int exchange(const char *dir) {
  char a[4096], b[4096], c[4096];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  snprintf(c, sizeof c, "%s/c", dir);
  int fd = check(open(a, O_WRONLY | O_CREAT, 0644));
  write_all(fd, "A", 1);
  check(close(fd));
  fd = check(open(b, O_WRONLY | O_CREAT, 0644));
  write_all(fd, "B", 1);
  check(close(fd));
  check(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE));
  check(renameat2(AT_FDCWD, a, AT_FDCWD, c, RENAME_NOREPLACE));
  report("noreplace", renameat2(AT_FDCWD, c, AT_FDCWD, b, RENAME_NOREPLACE));
  return 0;
}

static int tmpfile_linked(void) {
  const char *t = getenv("TMPDIR");
  int fd = check(open(t ? t : "/tmp", O_TMPFILE | O_WRONLY, 0644));
  write_all(fd, content, sizeof content - 1);
  check(fsync(fd));
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  check(linkat(AT_FDCWD, self, AT_FDCWD, target, AT_SYMLINK_FOLLOW));
  check(close(fd));
  return 0;
}

static int through_symlink(const char *dir) {
  const char *t = getenv("TMPDIR");
  char link[4096], path[4200];
  snprintf(link, sizeof link, "%s/link", t ? t : "/tmp");
  snprintf(path, sizeof path, "%s/target", link);
  check(symlink(dir, link));
  int fd = check(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  write_all(fd, content, sizeof content - 1);
  check(close(fd));
  return 0;
}

static int metadata(const char *dir) {
  char sub[4096], inner[4096];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(inner, sizeof inner, "%s/sub/inner", dir);
  int fd = check(open(target, O_RDWR | O_CREAT | O_TRUNC, 0644));
  check(fallocate(fd, 0, 0, 8192));
  check(ftruncate(fd, 100));
  check(truncate(target, 10));
  check(fchmod(fd, 0600));
  check(fchmodat(AT_FDCWD, target, 0640, 0));
  check(close(fd));
  check(mkdir(sub, 0755));
  check(close(check(open(inner, O_WRONLY | O_CREAT, 0644))));
  int dfd = check(open(sub, O_RDONLY | O_DIRECTORY));
  check(unlinkat(dfd, "inner", 0));
  check(close(dfd));
  check(rmdir(sub));
  check(mkdir(sub, 0700));
  int top = check(open(dir, O_RDONLY | O_DIRECTORY));
  check(unlinkat(top, "sub", AT_REMOVEDIR));
  check(close(top));
  return 0;
}

static int dir_renamed_in(const char *dir) {
  const char *t = getenv("TMPDIR");
  char d[4096], f[4200], in_d[4200], in_f[4300];
  snprintf(d, sizeof d, "%s/d", t ? t : "/tmp");
  snprintf(f, sizeof f, "%s/f", d);
  snprintf(in_d, sizeof in_d, "%s/d", dir);
  snprintf(in_f, sizeof in_f, "%s/f", in_d);
  check(mkdir(d, 0755));
  int fd = check(open(f, O_WRONLY | O_CREAT, 0644));
  write_all(fd, "before\n", 7);
  check(rename(d, in_d));
  write_all(fd, "after\n", 6);
  check(close(fd));
  fd = check(open(in_f, O_WRONLY | O_APPEND));
  write_all(fd, "named\n", 6);
  check(close(fd));
  return 0;
}

static int close_fails(void) {
  int fd = check(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  write_all(fd, content, sizeof content - 1);
  report("close", close(fd));
  report("write", write(fd, "x", 1));
  report("close again", close(fd));
  return 0;
}

static int mapped_until_exit(void) {
  int fd = check(open(target, O_RDWR | O_CREAT | O_TRUNC, 0644));
  check(ftruncate(fd, 4096));
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) check(-1);
  check(close(fd));
  memcpy(p, "stored, never synced", 20);
  return 0;
}

/* One twin: where the temp is made, how, who writes it, what is synced. */
struct twin {
  const char *name;
  enum { IN_DIR, IN_CWD, IN_TMPDIR } place;
  enum { BY_OPEN, BY_OPENAT2, BY_STDIO } maker;
  enum { BY_SELF, BY_THREAD, BY_CHILD } writer;
  int in_place, sync_file, sync_dir, check_close;
};

static const struct twin twins[] = {
    {"synced-dir", IN_DIR, BY_OPEN, BY_SELF, 0, 1, 1, 1},
    {"no-dir-sync", IN_DIR, BY_OPEN, BY_SELF, 0, 1, 0, 1},
    {"openat2-sync", IN_DIR, BY_OPENAT2, BY_SELF, 0, 1, 1, 1},
    {"openat2-nosync", IN_DIR, BY_OPENAT2, BY_SELF, 0, 0, 0, 1},
    {"cwd-atomic", IN_CWD, BY_OPEN, BY_SELF, 0, 1, 1, 1},
    {"cwd-inplace", IN_CWD, BY_OPEN, BY_SELF, 1, 1, 1, 1},
    {"tmpdir-sync", IN_TMPDIR, BY_OPEN, BY_SELF, 0, 1, 1, 1},
    {"tmpdir-nosync", IN_TMPDIR, BY_OPEN, BY_SELF, 0, 0, 0, 1},
    {"thread-sync", IN_DIR, BY_OPEN, BY_THREAD, 0, 1, 1, 1},
    {"thread-nosync", IN_DIR, BY_OPEN, BY_THREAD, 0, 0, 0, 1},
    {"fork-sync", IN_DIR, BY_OPEN, BY_CHILD, 0, 1, 1, 1},
    {"fork-nosync", IN_DIR, BY_OPEN, BY_CHILD, 0, 0, 0, 1},
    {"stdio-checked", IN_DIR, BY_STDIO, BY_SELF, 0, 1, 1, 1},
    {"stdio-unchecked", IN_DIR, BY_STDIO, BY_SELF, 0, 0, 0, 0},
};

static int make_file(const struct twin *w, const char *path, int flags) {
  if (w->place == IN_TMPDIR && !w->in_place) return check(mkstemp(tmp));
  if (w->maker == BY_OPENAT2) {
    struct open_how how = {.flags = (unsigned)flags, .mode = 0644};
    return check(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
  }
  return check(open(path, flags, 0644));
}

/* The bytes reach fd by w's writer; a failing child makes the parent fail. */
static void fill(const struct twin *w, int fd) {
  tmp_fd = fd;
  if (w->writer == BY_THREAD) {
    pthread_t t;
    if (pthread_create(&t, NULL, thread_writes, NULL) != 0) check(-1);
    pthread_join(t, NULL);
  } else if (w->writer == BY_CHILD) {
    pid_t pid = check(fork());
    if (pid == 0) {
      clean_up = 0; /* the parent cleans up */
      write_all(fd, content, sizeof content - 1);
      if (w->sync_file) check(fsync(fd));
      _exit(0);
    }
    int status;
    check(waitpid(pid, &status, 0));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      unlink(tmp);
      exit(1);
    }
  } else {
    write_all(fd, content, sizeof content - 1);
  }
  if (w->sync_file && w->writer != BY_CHILD) check(fsync(fd));
}

static int stdio_twin(const struct twin *w) {
  FILE *f = fopen(tmp, "w");
  if (!f) check(-1);
  if (fputs(content, f) == EOF) check(-1);
  if (w->check_close) {
    check(fflush(f) == 0 ? 0 : -1);
    check(fsync(fileno(f)));
    check(fclose(f) == 0 ? 0 : -1);
  } else {
    fclose(f); /* the classic bug: the buffered bytes' write error surfaces here, unseen */
  }
  return 0;
}

static int run_twin(const struct twin *w, const char *dir) {
  const char *t = getenv("TMPDIR");
  const char *sync_path = dir;
  if (w->place == IN_CWD) {
    check(chdir(dir));
    snprintf(tmp, sizeof tmp, "/proc/self/cwd/target.tmp");
    snprintf(target, sizeof target, "/proc/self/cwd/target");
    sync_path = "/proc/self/cwd";
  } else if (w->place == IN_TMPDIR) {
    snprintf(tmp, sizeof tmp, "%s/cc-writer-XXXXXX", t ? t : "/tmp");
  }
  if (w->in_place) {
    int fd = make_file(w, target, O_WRONLY | O_CREAT | O_TRUNC);
    fill(w, fd);
    check(close(fd));
    return 0;
  }
  clean_up = 1;
  if (w->maker == BY_STDIO) {
    stdio_twin(w);
  } else {
    int fd = make_file(w, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC);
    fill(w, fd);
    if (w->check_close) check(close(fd));
  }
  check(rename(tmp, target));
  clean_up = 0;
  if (w->sync_dir) sync_dir(sync_path);
  return 0;
}

/* One O_TMPFILE twin: how its linkat names the file, and what is synced. */
struct tmpfile_twin {
  const char *name;
  int through_proc, sync_file, sync_dir;
};

static const struct tmpfile_twin tmpfile_twins[] = {
    {"tmpfile-sync", 1, 1, 1},
    {"tmpfile-nosync", 1, 0, 1},
    {"flink-dirsync", 0, 1, 1},
    {"flink-nodirsync", 0, 1, 0},
};

static int run_tmpfile_twin(const struct tmpfile_twin *w, const char *dir) {
  int fd = check(open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
  write_all(fd, content, sizeof content - 1);
  if (w->sync_file) check(fsync(fd));
  if (w->through_proc) {
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    check(linkat(AT_FDCWD, self, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW));
    clean_up = 1; /* from here on the temp has a name to remove */
    check(close(fd));
    check(rename(tmp, target));
    clean_up = 0;
  } else {
    check(linkat(fd, "", AT_FDCWD, target, AT_EMPTY_PATH));
    check(close(fd));
  }
  if (w->sync_dir) {
    int d = check(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    check(fsync(d));
    check(close(d));
  }
  return 0;
}

/* An allow-all filter asking for a listener: the kernel refuses a second
 * listener in one filter chain (EBUSY), which is what the supervisor notes. */
static void own_listener(void) {
  struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {1, &allow};
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  check(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
}

int main(int argc, char **argv) {
  if (argc < 3) return 64;
  const char *action = argv[1], *dir = argv[2];
  long arg = argc > 3 ? atol(argv[3]) : 0;
  snprintf(tmp, sizeof tmp, "%s/target.tmp", dir);
  snprintf(target, sizeof target, "%s/target", dir);
  if (!strcmp(action, "atomic")) return atomic(dir);
  if (!strcmp(action, "stdio")) return with_stdio();
  if (!strcmp(action, "openat2")) return with_openat2();
  if (!strcmp(action, "proc-cwd")) return proc_cwd(dir);
  if (!strcmp(action, "tmpdir")) return in_tmpdir(dir);
  if (!strcmp(action, "thread")) return in_thread();
  if (!strcmp(action, "fork")) return in_child();
  if (!strcmp(action, "big")) return big(arg);
  if (!strcmp(action, "writes")) return writes(arg);
  if (!strcmp(action, "mmap")) return mapped();
  if (!strcmp(action, "close-range")) return in_range(dir);
  if (!strcmp(action, "exchange")) return exchange(dir);
  if (!strcmp(action, "tmpfile")) return tmpfile_linked();
  if (!strcmp(action, "symlinked")) return through_symlink(dir);
  if (!strcmp(action, "metadata")) return metadata(dir);
  if (!strcmp(action, "dir-in")) return dir_renamed_in(dir);
  if (!strcmp(action, "mmap-exit")) return mapped_until_exit();
  if (!strcmp(action, "close-fail")) return close_fails();
  if (!strcmp(action, "own-listener")) {
    own_listener();
    return run_twin(&twins[0], dir);
  }
  for (size_t i = 0; i < sizeof twins / sizeof *twins; ++i)
    if (!strcmp(action, twins[i].name)) return run_twin(&twins[i], dir);
  for (size_t i = 0; i < sizeof tmpfile_twins / sizeof *tmpfile_twins; ++i)
    if (!strcmp(action, tmpfile_twins[i].name)) return run_tmpfile_twin(&tmpfile_twins[i], dir);
  if (!strcmp(action, "repeat")) {
    for (long i = 0; i < arg; ++i) atomic(dir);
    return 0;
  }
  return 64;
}
