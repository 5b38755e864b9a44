/* A correct atomic writer in C with one defect planted on request.
 *
 * Usage: planted DEFECT TARGET PAYLOAD
 * DEFECT is "none" or a diagnosis rule id (see planted.py, its Python twin);
 * the writer then has exactly that defect and no other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *defect;

static int is(const char *rule) { return strcmp(defect, rule) == 0; }

/* A call that fails with EINTR is retried, unless the defect says not to. */
#define RETRY(result, call) \
  do {                      \
    (result) = (call);      \
  } while ((result) < 0 && errno == EINTR && !is("retry_eintr"))

static int write_all(int fd, const char *data, size_t size) {
  if (is("check_write_result")) {
    (void)!write(fd, data, size); /* one write, result ignored */
    return 0;
  }
  for (size_t done = 0; done < size;) {
    ssize_t n;
    RETRY(n, write(fd, data + done, size - done));
    if (n < 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static int in_place(const char *target, const char *data, size_t size) {
  int fd, rc;
  RETRY(fd, open(target, O_WRONLY | O_TRUNC));
  if (fd < 0 || write_all(fd, data, size) != 0) return -1;
  RETRY(rc, fsync(fd));
  return rc == 0 && close(fd) == 0 ? 0 : -1;
}

static int fsync_directory(const char *dir) {
  int fd, rc;
  RETRY(fd, open(dir, O_RDONLY | O_DIRECTORY));
  if (fd < 0) return -1;
  RETRY(rc, fsync(fd));
  close(fd);
  return rc;
}

/* Write the temp, fsync, close and rename it over the target. */
static int publish(const char *target, const char *tmp, const char *data, size_t size) {
  struct stat old;
  int fd, rc = 0;
  if (stat(target, &old) != 0) return -1;
  RETRY(fd, open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600));
  if (fd < 0) return -1;
  if (write_all(fd, data, size) != 0) goto fail;
  if (!is("preserve_mode") && fchmod(fd, old.st_mode & 07777) != 0) goto fail;
  if (!is("fsync_file_before_rename")) RETRY(rc, fsync(fd));
  if (rc != 0 && !is("check_fsync_result")) goto fail;
  if (close(fd) != 0 && !is("check_close_result")) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (is("no_unlink_before_rename") && unlink(target) != 0) goto fail;
  if (rename(tmp, target) != 0) goto fail;
  return 0;
fail:
  if (fd >= 0) close(fd);
  if (!is("remove_temp_on_error")) unlink(tmp);
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  defect = argv[1];
  const char *target = argv[2];
  static char data[1 << 20];
  FILE *in = fopen(argv[3], "rb");
  if (!in) return 1;
  const size_t size = fread(data, 1, sizeof data, in);
  fclose(in);
  if (is("write_temp_then_rename")) return in_place(target, data, size) == 0 ? 0 : 1;
  char dir_buffer[4096], tmp[4200];
  snprintf(dir_buffer, sizeof dir_buffer, "%s", target);
  const char *dir = dirname(dir_buffer);
  snprintf(tmp, sizeof tmp, "%s/.planted.tmp", dir);
  if (publish(target, tmp, data, size) != 0) return 1;
  if (!is("fsync_dir_after_rename") && fsync_directory(dir) != 0) return 1;
  return 0;
}
