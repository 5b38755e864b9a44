/* A writer that replaces TARGET with PAYLOAD in CHUNK-byte writes to a temp
 * file (fsync, rename, directory fsync) and checks every write's result but
 * the IGNORED-th (1-based; 0: checks them all). With one write failing, the
 * careless one exits 0 with a target one chunk short; its twin (0) exits 1
 * and leaves the old target. The sampling tests plant the defect at the
 * first, a middle and the last of a long run of identical writes.
 * Usage: chunk_writer IGNORED TARGET PAYLOAD CHUNK */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char temp[4096];

static void fail(const char *what) {
  perror(what);
  if (temp[0]) unlink(temp);
  exit(1);
}

static char *read_payload(const char *path, size_t *size) {
  FILE *in = fopen(path, "rb");
  if (!in) fail(path);
  static char buffer[1 << 20];
  *size = fread(buffer, 1, sizeof buffer, in);
  fclose(in);
  return buffer;
}

static void sync_directory(const char *target) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", target);
  int dir = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dir < 0 || fsync(dir) != 0 || close(dir) != 0) fail("directory fsync");
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: chunk_writer IGNORED TARGET PAYLOAD CHUNK\n");
    return 2;
  }
  const long ignored = atol(argv[1]);
  const char *target = argv[2];
  const size_t chunk = (size_t)atol(argv[4]);
  size_t size = 0;
  const char *payload = read_payload(argv[3], &size);
  snprintf(temp, sizeof temp, "%s.XXXXXX", target);
  int fd = mkstemp(temp);
  if (fd < 0 || fchmod(fd, 0644) != 0) fail("temp");
  long n = 0;
  for (size_t at = 0; at < size; at += chunk) {
    const size_t length = size - at < chunk ? size - at : chunk;
    const ssize_t written = write(fd, payload + at, length);
    if (++n != ignored && written != (ssize_t)length) fail("write");
  }
  if (fsync(fd) != 0) fail("fsync");
  if (close(fd) != 0) fail("close");
  if (rename(temp, target) != 0) fail("rename");
  temp[0] = '\0';
  sync_directory(target);
  return 0;
}
