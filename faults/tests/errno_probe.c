/* errno_probe CALL DIR ok|fifo|fail: makes one call of a hand-written wrapper
 * on files in DIR and exits with the errno the call left. Before the call errno
 * is set to ERRNO_SENTINEL (200, no Linux errno), so "ok" exits 200 when the
 * wrapper keeps errno across a successful call; "fifo" is "ok" with the stream
 * (stdio calls only) on a named pipe, where the agent's ftell fails; "fail"
 * makes the call fail for a real reason (a missing file, a read-only descriptor
 * or stream) and exits with the errno it set. Preparation (creating files,
 * opening the stream to write to) happens before errno is set. Exit 255: usage, preparation failed,
 * or CALL unknown. Built -O0 -fno-builtin so each call reaches its symbol. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRNO_SENTINEL 200

int __overflow(FILE *, int);
int __fprintf_chk(FILE *, int, const char *, ...);
int __printf_chk(int, const char *, ...);
int __vfprintf_chk(FILE *, int, const char *, va_list);

static int ok;   /* 1: the call should succeed, 0: it should fail */
static int fifo; /* streams on a named pipe, opened read-write (never blocks) */

static void need(int condition) {
  if (!condition) exit(255);
}

/* "f" exists (a file, or a pipe); streams on it can (ok) or cannot (fail) be written. */
static void make_f(void) { need(fifo ? mkfifo("f", 0644) == 0 : close(creat("f", 0644)) == 0); }
static const char *stream_mode(void) { return fifo ? "r+" : ok ? "w" : "r"; }
static FILE *stream(void) {
  make_f();
  FILE *f = fopen("f", stream_mode());
  need(f != NULL);
  return f;
}
static void stdout_to_f(void) {
  make_f();
  need(freopen("f", stream_mode(), stdout) != NULL);
}
/* A descriptor to copy to (fail: read-only) and one to copy from. */
static int copy_out(void) { return open("f", (ok ? O_WRONLY : O_RDONLY) | O_CREAT, 0644); }
static int copy_in(void) {
  int in = open("src", O_RDWR | O_CREAT | O_TRUNC, 0644);
  need(in >= 0 && write(in, "hello", 5) == 5 && lseek(in, 0, SEEK_SET) == 0);
  return in;
}
static const char *open_path(void) { return ok ? "f" : "missing"; }
static int open_flags(void) { return ok ? O_WRONLY | O_CREAT : O_RDONLY; }
static const char *fopen_mode(void) { return ok ? "w" : "r"; }

static int v(int chk, FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = f == NULL ? vprintf(fmt, ap) : chk ? __vfprintf_chk(f, 1, fmt, ap) : vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}

#define IS(name) (strcmp(call, name) == 0)
#define CALL(expr)          \
  do {                      \
    errno = ERRNO_SENTINEL; \
    (void)(expr);           \
    return errno;           \
  } while (0)

static int run(const char *call, int dir) {
  if (IS("open")) CALL(open(open_path(), open_flags(), 0644));
  if (IS("open64")) CALL(open64(open_path(), open_flags(), 0644));
  if (IS("openat")) CALL(openat(dir, open_path(), open_flags(), 0644));
  if (IS("openat64")) CALL(openat64(dir, open_path(), open_flags(), 0644));
  if (IS("fopen")) CALL(fopen(open_path(), fopen_mode()));
  if (IS("fopen64")) CALL(fopen64(open_path(), fopen_mode()));
  if (IS("freopen") || IS("freopen64")) {
    FILE *f = fopen("/dev/null", "w");
    need(f != NULL);
    if (IS("freopen")) CALL(freopen(open_path(), fopen_mode(), f));
    CALL(freopen64(open_path(), fopen_mode(), f));
  }
  if (IS("copy_file_range") || IS("sendfile") || IS("sendfile64")) {
    int in = copy_in(), out = copy_out();
    need(out >= 0);
    if (IS("copy_file_range")) CALL(copy_file_range(in, NULL, out, NULL, 5, 0));
    if (IS("sendfile")) CALL(sendfile(out, in, NULL, 5));
    CALL(sendfile64(out, in, NULL, 5));
  }
  if (IS("puts") || IS("putchar") || IS("printf") || IS("__printf_chk") || IS("vprintf")) {
    stdout_to_f();
    if (IS("puts")) CALL(puts("hello"));
    if (IS("putchar")) CALL(putchar('h'));
    if (IS("printf")) CALL(printf("%s", "hello"));
    if (IS("__printf_chk")) CALL(__printf_chk(1, "%s", "hello"));
    CALL(v(0, NULL, "%s", "hello"));
  }
  if (IS("sync")) CALL(sync());
  FILE *f = stream();
  if (IS("fwrite")) CALL(fwrite("hello", 1, 5, f));
  if (IS("fwrite_unlocked")) CALL(fwrite_unlocked("hello", 1, 5, f));
  if (IS("fputs")) CALL(fputs("hello", f));
  if (IS("fputs_unlocked")) CALL(fputs_unlocked("hello", f));
  if (IS("fputc")) CALL(fputc('h', f));
  if (IS("fputc_unlocked")) CALL(fputc_unlocked('h', f));
  if (IS("putc")) CALL(putc('h', f));
  if (IS("putc_unlocked")) CALL(putc_unlocked('h', f));
  if (IS("__overflow")) CALL(__overflow(f, 'h'));
  if (IS("fprintf")) CALL(fprintf(f, "%s", "hello"));
  if (IS("__fprintf_chk")) CALL(__fprintf_chk(f, 1, "%s", "hello"));
  if (IS("vfprintf")) CALL(v(0, f, "%s", "hello"));
  if (IS("__vfprintf_chk")) CALL(v(1, f, "%s", "hello"));
  if (IS("fclose")) CALL(fclose(f));
  return 255;
}

int main(int argc, char **argv) {
  if (argc != 4 || chdir(argv[2]) != 0) return 255;
  fifo = strcmp(argv[3], "fifo") == 0;
  ok = fifo || strcmp(argv[3], "ok") == 0;
  int dir = open(".", O_RDONLY | O_DIRECTORY);
  need(dir >= 0);
  return run(argv[1], dir);
}
