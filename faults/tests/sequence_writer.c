/* sequence_writer DIR: replaces DIR/target with "new content" in exactly five
 * counted calls: open tmp, write, fsync, close, rename. A failing step N
 * prints "step N: ERRNO" and exits 10+N. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(int step) {
  fprintf(stderr, "step %d: %s\n", step, strerror(errno));
  return 10 + step;
}

int main(int argc, char **argv) {
  if (argc != 2 || chdir(argv[1]) != 0) return 2;
  static const char content[] = "new content";
  int fd = open("target.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail(1);
  ssize_t n = write(fd, content, sizeof content - 1);
  if (n != (ssize_t)(sizeof content - 1)) return fail(2);
  if (fsync(fd) != 0) return fail(3);
  if (close(fd) != 0) return fail(4);
  if (rename("target.tmp", "target") != 0) return fail(5);
  return 0;
}
