/* A writer that leaves a process running after it exits 0, with a correct
 * twin for each defect (issue 11 F4, issue 13 N1d):
 *
 *   outliving_writer MODE TARGET PAYLOAD
 *
 *   daemon-rewrite  atomic replace (temp, write, fsync, rename, directory
 *                   fsync), then a setsid() double-forked daemon that, once
 *                   the writer has exited, rewrites the target in place
 *                   (O_TRUNC, two pwrites, no fsync): a crash or a reader
 *                   then can find it empty or half written.
 *   daemon-log      the same daemon, which only logs a line to stderr and
 *                   touches nothing in scope (the twin).
 *   daemon-forever  the same daemon, which never ends (killed at the case
 *                   timeout: what it would still do is never seen).
 *   bg-rename       writes and syncs the temp, hands the rename (and the
 *                   directory fsync) to a child in its own process group
 *                   and exits 0 at once: success reported before the commit.
 *   bg-wait         the same child, waited for before exiting (the twin).
 *
 * The outliving process starts its work only when the writer has exited
 * (end of file on a pipe only the writer holds), never after a sleep. When
 * $OUTLIVE_GATE names a descriptor, it then also waits for end of file on
 * that one: the ground truth holds it open to read the target at the
 * moment of the writer's exit, before the outliving process acts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static char *read_payload(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open payload");
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  char *bytes = malloc((size_t)st.st_size + 1);
  ssize_t n = read(fd, bytes, (size_t)st.st_size);
  if (n != st.st_size) die("read payload");
  close(fd);
  *size = (size_t)n;
  return bytes;
}

static void write_all(int fd, const char *bytes, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, bytes, size);
    if (n <= 0) die("write");
    bytes += n;
    size -= (size_t)n;
  }
}

static void sync_dir(const char *target) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", target);
  int dir = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dir < 0 || fsync(dir) != 0) die("directory fsync");
  close(dir);
}

/* The temp written and synced; its name in `tmp`. */
static void write_temp(const char *target, const char *bytes, size_t size, char *tmp, size_t tmp_size) {
  snprintf(tmp, tmp_size, "%s.tmp", target);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open temp");
  write_all(fd, bytes, size);
  if (fsync(fd) != 0) die("fsync");
  close(fd);
}

static void commit(const char *tmp, const char *target) {
  if (rename(tmp, target) != 0) die("rename");
  sync_dir(target);
}

static void wait_eof(int fd) {
  char c;
  while (read(fd, &c, 1) > 0) {
  }
}

/* In the outliving process: until the writer has exited, and the gate. */
static void wait_for_writer_exit(int exit_pipe) {
  wait_eof(exit_pipe);
  close(exit_pipe);
  const char *gate = getenv("OUTLIVE_GATE");
  if (gate) wait_eof(atoi(gate));
}

static void daemon_work(const char *mode, const char *target, const char *bytes, size_t size) {
  if (!strcmp(mode, "daemon-log")) {
    dprintf(2, "daemon: compaction not needed\n");
    return;
  }
  if (!strcmp(mode, "daemon-forever")) {
    for (;;) pause();
  }
  int fd = open(target, O_WRONLY | O_TRUNC);
  if (fd < 0) die("daemon open");
  size_t half = size / 2;
  if (pwrite(fd, bytes, half, 0) != (ssize_t)half) die("daemon pwrite");
  if (pwrite(fd, bytes + half, size - half, (off_t)half) != (ssize_t)(size - half)) die("daemon pwrite");
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: outliving_writer MODE TARGET PAYLOAD\n");
    return 2;
  }
  const char *mode = argv[1], *target = argv[2];
  size_t size;
  char *bytes = read_payload(argv[3], &size);
  char tmp[4096];
  write_temp(target, bytes, size, tmp, sizeof tmp);
  const int daemon = !strncmp(mode, "daemon-", 7);
  if (daemon) commit(tmp, target);
  int exit_pipe[2];
  if (pipe(exit_pipe) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(exit_pipe[1]);
    if (daemon) {
      setsid();
      if (fork() != 0) _exit(0);
      wait_for_writer_exit(exit_pipe[0]);
      daemon_work(mode, target, bytes, size);
    } else {
      if (strcmp(mode, "bg-wait") != 0) wait_for_writer_exit(exit_pipe[0]);
      commit(tmp, target);
    }
    _exit(0);
  }
  close(exit_pipe[0]);
  if (daemon || !strcmp(mode, "bg-wait")) waitpid(child, NULL, 0);
  return 0;
}
