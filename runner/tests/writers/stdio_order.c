/* A writer through a buffered stdio stream, in three orders (issue 13 N0,
 * N2b). A buffered stream's bytes reach the file at fflush or fclose (the
 * content is far smaller than the buffer), so where those calls stand
 * decides what a crash leaves.
 *
 *   stdio_order MODE TARGET
 *   correct              fopen(TARGET.tmp), fprintf, fflush, fsync, fclose
 *                        (each checked), rename, directory fsync
 *   fsync-before-flush   fprintf, fsync (the bytes are still in the buffer:
 *                        it syncs nothing), fclose, rename, directory fsync
 *   rename-before-close  fprintf, fsync, rename, fclose (the bytes reach
 *                        the published file only now), directory fsync
 *
 * With STDIO_ORDER_STOP=after-fsync or after-rename in the environment the
 * writer stops itself (SIGSTOP) there, so a test can look at the files at
 * that moment and kill it for real (ground truth without crashcheck).
 * A failing call removes the temp and exits 1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char temp[4096];

static void fail(const char *what) {
  perror(what);
  unlink(temp);
  exit(1);
}

static void stop_at(const char *moment) {
  const char *wanted = getenv("STDIO_ORDER_STOP");
  if (wanted && strcmp(wanted, moment) == 0) raise(SIGSTOP);
}

static void sync_directory_of(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd < 0 || fsync(fd) != 0) fail("directory fsync");
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: stdio_order correct|fsync-before-flush|rename-before-close TARGET\n");
    return 2;
  }
  const char *mode = argv[1], *target = argv[2];
  snprintf(temp, sizeof temp, "%s.tmp", target);
  FILE *f = fopen(temp, "w");
  if (!f) fail("fopen");
  fprintf(f, "{\"stream\": \"buffered\", \"lines\": [%d, %d, %d]}\n", 1, 2, 3);
  if (strcmp(mode, "correct") == 0 && fflush(f) != 0) fail("fflush");
  if (fsync(fileno(f)) != 0) fail("fsync");
  stop_at("after-fsync");
  if (strcmp(mode, "rename-before-close") == 0) {
    if (rename(temp, target) != 0) fail("rename");
    stop_at("after-rename");
    if (fclose(f) != 0) fail("fclose");
  } else {
    if (fclose(f) != 0) fail("fclose");
    if (rename(temp, target) != 0) fail("rename");
    stop_at("after-rename");
  }
  sync_directory_of(target);
  return 0;
}
