/* A careful atomic writer whose calls the call-site tests locate: each call
 * whose site a test checks carries a marker comment ("site: <name>") on its
 * line; the test finds the line by the marker, never by its number.
 * Usage: site_writer TARGET. Calls are never in tail position (a tail call
 * leaves no return address into this file). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char content[] = "new content\n";

/* Called before the directory open below: the return address into here
 * stays in the stack words glibc's variadic open then reserves, where a
 * plain stack scan took it for the open's caller (issue 13 N4). */
static __attribute__((noinline)) int sync_file(int fd) {
  int r;
  do r = fsync(fd); /* site: fsync file */
  while (r != 0 && errno == EINTR);
  return r; /* the loop keeps the fsync out of tail position */
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char temp[4096], dir[4096];
  snprintf(temp, sizeof temp, "%s.tmp", argv[1]);
  snprintf(dir, sizeof dir, "%s", argv[1]);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* site: open */
  if (fd < 0) return 1;
  if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) return 1; /* site: write */
  if (sync_file(fd) != 0) return 1;
  if (close(fd) != 0) return 1;
  if (rename(temp, argv[1]) != 0) return 1; /* site: rename */
  /* nothing between: the stack below still holds sync_file's frame */
  int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY); /* site: open dir */
  if (dfd < 0) return 1;
  if (fsync(dfd) != 0) return 1; /* site: fsync dir */
  if (close(dfd) != 0) return 1;
  puts("done");
  return 0;
}
