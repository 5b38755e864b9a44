/* probe ACTION DIR: performs one intercepted call (named like the libc
 * symbol) on files in DIR, so the test can check the agent's record of it.
 * Preparation steps (opening a descriptor to write to, say) are counted too;
 * the test looks for the record of the named call. Exit 64: unknown action. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int __overflow(FILE *, int);
int __fprintf_chk(FILE *, int, const char *, ...);
int __printf_chk(int, const char *, ...);
int __vfprintf_chk(FILE *, int, const char *, va_list);
int __close(int);

static const char hello[] = "hello";

static int fd_w(void) { return open("f", O_WRONLY | O_CREAT, 0644); }
static FILE *stream_w(void) { return fopen("f", "w"); }
static void to_stdout(void) {
  if (!freopen("f", "w", stdout)) exit(3);
}
static int call_vfprintf(int chk, FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = chk ? __vfprintf_chk(f, 1, fmt, ap) : vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}
static struct iovec two[2] = {{(void *)"hel", 3}, {(void *)"lo", 2}};
static void template(char *t) { strcpy(t, "tmpXXXXXX"); }
static void template_s(char *t) { strcpy(t, "tmpXXXXXX.json"); }
static void make_f(void) { close(creat("f", 0644)); }

/* Called through pointers: with optimisation glibc's headers inline these
 * (putchar becomes putc, putc_unlocked pokes the buffer and calls
 * __overflow), and the probe must reach the named symbol itself. */
static size_t (*volatile fwrite_unlocked_p)(const void *, size_t, size_t, FILE *) = fwrite_unlocked;
static int (*volatile fputc_unlocked_p)(int, FILE *) = fputc_unlocked;
static int (*volatile putc_unlocked_p)(int, FILE *) = putc_unlocked;
static int (*volatile putchar_p)(int) = putchar;
static int (*volatile vprintf_p)(const char *, va_list) = vprintf;

static int call_vprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vprintf_p(fmt, ap);
  va_end(ap);
  return r;
}
#define IS(name) (strcmp(action, name) == 0)

int main(int argc, char **argv) {
  if (argc != 3 || chdir(argv[2]) != 0) return 2;
  const char *action = argv[1];
  int dir = open(".", O_RDONLY | O_DIRECTORY);
  char t[64];
  long r = 0;
  if (IS("open"))
    r = open("f", O_WRONLY | O_CREAT | O_TRUNC, 0640);
  else if (IS("open64"))
    r = open64("f", O_WRONLY | O_CREAT | O_TRUNC, 0640);
  else if (IS("openat"))
    r = openat(dir, "f", O_WRONLY | O_CREAT | O_TRUNC, 0640);
  else if (IS("openat64"))
    r = openat64(dir, "f", O_WRONLY | O_CREAT | O_TRUNC, 0640);
  else if (IS("__open_2"))
    make_f(), r = __open_2("f", O_WRONLY);
  else if (IS("__open64_2"))
    make_f(), r = __open64_2("f", O_WRONLY);
  else if (IS("__openat_2"))
    make_f(), r = __openat_2(dir, "f", O_WRONLY);
  else if (IS("__openat64_2"))
    make_f(), r = __openat64_2(dir, "f", O_WRONLY);
  else if (IS("creat"))
    r = creat("f", 0640);
  else if (IS("creat64"))
    r = creat64("f", 0640);
  else if (IS("mkstemp"))
    template(t), r = mkstemp(t);
  else if (IS("mkstemp64"))
    template(t), r = mkstemp64(t);
  else if (IS("mkostemp"))
    template(t), r = mkostemp(t, O_CLOEXEC);
  else if (IS("mkostemp64"))
    template(t), r = mkostemp64(t, O_CLOEXEC);
  else if (IS("mkstemps"))
    template_s(t), r = mkstemps(t, 5);
  else if (IS("mkstemps64"))
    template_s(t), r = mkstemps64(t, 5);
  else if (IS("mkostemps"))
    template_s(t), r = mkostemps(t, 5, O_CLOEXEC);
  else if (IS("mkostemps64"))
    template_s(t), r = mkostemps64(t, 5, O_CLOEXEC);
  else if (IS("fopen"))
    r = fopen("f", "w") ? 0 : -1;
  else if (IS("fopen64"))
    r = fopen64("f", "w") ? 0 : -1;
  else if (IS("freopen"))
    r = freopen("f", "w", stdout) ? 0 : -1;
  else if (IS("freopen64"))
    r = freopen64("f", "w", stdout) ? 0 : -1;
  else if (IS("write"))
    r = write(fd_w(), hello, 5);
  else if (IS("pwrite"))
    r = pwrite(fd_w(), hello, 5, 3);
  else if (IS("pwrite64"))
    r = pwrite64(fd_w(), hello, 5, 3);
  else if (IS("writev"))
    r = writev(fd_w(), two, 2);
  else if (IS("pwritev"))
    r = pwritev(fd_w(), two, 2, 3);
  else if (IS("pwritev64"))
    r = pwritev64(fd_w(), two, 2, 3);
  else if (IS("pwritev2"))
    r = pwritev2(fd_w(), two, 2, 3, 0);
  else if (IS("pwritev64v2"))
    r = pwritev64v2(fd_w(), two, 2, 3, 0);
  else if (IS("fwrite"))
    r = (long)fwrite(hello, 1, 5, stream_w()) - 5;
  else if (IS("fwrite_unlocked"))
    r = (long)fwrite_unlocked_p(hello, 1, 5, stream_w()) - 5;
  else if (IS("fputs"))
    r = fputs(hello, stream_w());
  else if (IS("fputs_unlocked"))
    r = fputs_unlocked(hello, stream_w());
  else if (IS("puts"))
    to_stdout(), r = puts("hell");
  else if (IS("fputc"))
    r = fputc('h', stream_w());
  else if (IS("fputc_unlocked"))
    r = fputc_unlocked_p('h', stream_w());
  else if (IS("putc"))
    r = putc('h', stream_w());
  else if (IS("putc_unlocked"))
    r = putc_unlocked_p('h', stream_w());
  else if (IS("putchar"))
    to_stdout(), r = putchar_p('h');
  else if (IS("__overflow"))
    r = __overflow(stream_w(), 'h');
  else if (IS("fprintf"))
    r = fprintf(stream_w(), "%s", hello);
  else if (IS("__fprintf_chk"))
    r = __fprintf_chk(stream_w(), 1, "%s", hello);
  else if (IS("vfprintf"))
    r = call_vfprintf(0, stream_w(), "%s", hello);
  else if (IS("__vfprintf_chk"))
    r = call_vfprintf(1, stream_w(), "%s", hello);
  else if (IS("printf"))
    to_stdout(), r = printf("%s", hello);
  else if (IS("__printf_chk"))
    to_stdout(), r = __printf_chk(1, "%s", hello);
  else if (IS("vprintf"))
    to_stdout(), r = call_vprintf("%s", hello);
  else if (IS("fsync"))
    r = fsync(fd_w());
  else if (IS("fdatasync"))
    r = fdatasync(fd_w());
  else if (IS("sync_file_range"))
    r = sync_file_range(fd_w(), 0, 0, SYNC_FILE_RANGE_WRITE);
  else if (IS("syncfs"))
    r = syncfs(fd_w());
  else if (IS("sync"))
    sync();
  else if (IS("close")) {
    int fd = fd_w();
    r = close(fd);
    if (r < 0 && fcntl(fd, F_GETFD) != -1) return 4; /* Linux releases it even on error */
  } else if (IS("fclose"))
    r = fclose(stream_w());
  else if (IS("rename"))
    make_f(), r = rename("f", "g");
  else if (IS("renameat"))
    make_f(), r = renameat(dir, "f", dir, "g");
  else if (IS("renameat2"))
    make_f(), r = renameat2(dir, "f", dir, "g", RENAME_NOREPLACE);
  else if (IS("link"))
    make_f(), r = link("f", "g");
  else if (IS("linkat"))
    make_f(), r = linkat(dir, "f", dir, "g", 0);
  else if (IS("unlink"))
    make_f(), r = unlink("f");
  else if (IS("unlinkat"))
    make_f(), r = unlinkat(dir, "f", 0);
  else if (IS("rmdir"))
    mkdir("f", 0755), r = rmdir("f");
  else if (IS("mkdir"))
    r = mkdir("f", 0750);
  else if (IS("mkdirat"))
    r = mkdirat(dir, "f", 0750);
  else if (IS("truncate"))
    make_f(), r = truncate("f", 3);
  else if (IS("truncate64"))
    make_f(), r = truncate64("f", 3);
  else if (IS("ftruncate"))
    r = ftruncate(fd_w(), 3);
  else if (IS("ftruncate64"))
    r = ftruncate64(fd_w(), 3);
  else if (IS("chmod"))
    make_f(), r = chmod("f", 0600);
  else if (IS("fchmod"))
    r = fchmod(fd_w(), 0600);
  else if (IS("fchmodat"))
    make_f(), r = fchmodat(dir, "f", 0600, 0);
  else if (IS("chown"))
    make_f(), r = chown("f", getuid(), getgid());
  else if (IS("lchown"))
    make_f(), r = lchown("f", getuid(), getgid());
  else if (IS("fchown"))
    r = fchown(fd_w(), getuid(), getgid());
  else if (IS("fchownat"))
    make_f(), r = fchownat(dir, "f", getuid(), getgid(), 0);
  else if (IS("fallocate"))
    r = fallocate(fd_w(), 0, 3, 4096);
  else if (IS("fallocate64"))
    r = fallocate64(fd_w(), 0, 3, 4096);
  else if (IS("posix_fallocate"))
    r = -posix_fallocate(fd_w(), 3, 4096);
  else if (IS("copy_file_range")) {
    int in = open("src", O_RDWR | O_CREAT, 0644);
    r = write(in, "..hello", 7) == 7 ? 0 : -1;
    loff_t from = 2;
    r = r ? r : copy_file_range(in, &from, fd_w(), NULL, 5, 0);
  } else if (IS("sendfile") || IS("sendfile64")) {
    int in = open("src", O_RDWR | O_CREAT, 0644);
    r = write(in, "..hello", 7) == 7 ? 0 : -1;
    off_t from = 2;
    r = r ? r : IS("sendfile") ? sendfile(fd_w(), in, &from, 5) : sendfile64(fd_w(), in, &from, 5);
  } else if (IS("posix_fallocate64"))
    r = -posix_fallocate64(fd_w(), 3, 4096);
  else if (IS("fsync_dir"))
    r = fsync(dir);                 /* the directory opened above */
  else if (IS("budget_giveback")) { /* a failed write must not spend the disk-full budget */
    int ro = open("f", O_RDONLY | O_CREAT, 0644);
    if (write(ro, hello, 5) != -1) return 5;
    r = write(fd_w(), hello, 5) == 5 ? 0 : -1;
  }
  /* descriptor tracking, not counted calls of their own */
  else if (IS("dup"))
    r = write(dup(fd_w()), hello, 5);
  else if (IS("dup2"))
    r = write(dup2(fd_w(), 40), hello, 5);
  else if (IS("dup3"))
    r = write(dup3(fd_w(), 40, O_CLOEXEC), hello, 5);
  else if (IS("fcntl"))
    r = write(fcntl(fd_w(), F_DUPFD_CLOEXEC, 40), hello, 5);
  else if (IS("fdopen"))
    r = fputs(hello, fdopen(fd_w(), "w"));
  else if (IS("syscall")) {
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "f", O_WRONLY | O_CREAT, 0644);
    r = syscall(SYS_write, fd, hello, 5) == 5 ? syscall(SYS_close, fd) : -1;
  } else if (IS("raw_syscalls")) { /* one raw syscall per routed row the generic table has too */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "f", O_WRONLY | O_CREAT, 0644);
    r = syscall(SYS_pwrite64, fd, hello, 5, 3) == 5 && syscall(SYS_fsync, fd) == 0 &&
                syscall(SYS_ftruncate, fd, 4) == 0 && syscall(SYS_close, fd) == 0 &&
                syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 0) == 0 &&
                syscall(SYS_mkdirat, AT_FDCWD, "d", 0750) == 0 && syscall(SYS_unlinkat, AT_FDCWD, "g", 0) == 0
            ? 0
            : -1;
  } else if (IS("reused_fd")) {
    /* closed behind the agent's back, the number reused outside the scope */
    int fd = fd_w();
    __close(fd);
    int other = open("/dev/null", O_WRONLY);
    r = other == fd ? write(other, hello, 5) - 5 : -1;
  } else
    return 64;
  return r < 0 ? 1 : 0;
}
