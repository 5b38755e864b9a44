/* Ground truth for "a SIGKILL can land inside one write": a real kill in the
 * middle of one write(2), made deterministic with userfaultfd, observed with
 * nothing of crashcheck.
 *
 * The file holds PAGES pages of 'o'. A child process writes PAGES pages of 'n'
 * with ONE write() from a buffer whose first KEPT pages are present and whose
 * rest is registered with userfaultfd: the kernel copies the present pages
 * into the file, then faults on the first missing one and waits for the
 * child's own fault handler. That handler tells the parent "the write is at
 * page KEPT" instead of serving the fault, and the parent SIGKILLs the child.
 * The file is left with exactly KEPT pages new and the rest old: what the
 * kill model's kill-within states say a SIGKILL mid-write leaves.
 *
 * A reader that reads the file while the write waits sees the same mix.
 *
 * Usage: killed_mid_write FILE PAGES KEPT. Prints, for the reader and after
 * the kill, how many leading pages of FILE hold 'n' and whether the rest is
 * all 'o': "reader: new=3 rest=old" / "killed: new=3 rest=old". Exit 0 on
 * that measurement, 77 when userfaultfd is not available here, 3 when the
 * write never waited at the missing page. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long page;

struct job {
  int fd;
  char *buffer;
  size_t size;
  int report;
};

static void *write_all_at_once(void *arg) {
  struct job *job = arg;
  (void)!write(job->fd, job->buffer, job->size);
  (void)!write(job->report, "d", 1); /* only when the write never waited on the fault */
  return NULL;
}

/* Faults taken inside the kernel (write's copy from the buffer) must reach
 * the handler, so not UFFD_USER_MODE_ONLY: /dev/userfaultfd, else the
 * syscall (which then needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd). */
static int open_uffd(void) {
  int uffd = -1, dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) uffd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
  if (uffd < 0) uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
  struct uffdio_api api = {.api = UFFD_API};
  if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0) return -1;
  return uffd;
}

/* The child: one write whose source faults at page `kept`; reports the fault
 * on `report` and waits to be killed. */
static void child(const char *file, size_t pages, size_t kept, int report) {
  int uffd = open_uffd();
  if (uffd < 0) _exit(77);
  int fd = open(file, O_WRONLY);
  char *buffer = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fd < 0 || buffer == MAP_FAILED) _exit(1);
  memset(buffer, 'n', kept * page); /* present: copied without a fault */
  struct uffdio_register reg = {.range = {(unsigned long)(buffer + kept * page), (pages - kept) * page},
                                .mode = UFFDIO_REGISTER_MODE_MISSING};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) _exit(77);
  struct job job = {fd, buffer, pages * page, report};
  pthread_t writer;
  pthread_create(&writer, NULL, write_all_at_once, &job);
  struct uffd_msg msg;
  struct pollfd wait_fault = {uffd, POLLIN, 0};
  while (poll(&wait_fault, 1, -1) != 1 || read(uffd, &msg, sizeof msg) != sizeof msg) {
  }
  (void)!write(report, "f", 1);
  for (;;) pause();
}

static void measure(const char *who, const char *file, size_t pages) {
  FILE *f = fopen(file, "rb");
  size_t leading = 0, at = 0;
  int rest_old = 1, c;
  while (f && (c = fgetc(f)) != EOF) {
    if (c == 'n' && at == leading)
      leading++;
    else if (c != 'o')
      rest_old = 0;
    at++;
  }
  if (f) fclose(f);
  printf("%s: new=%zu rest=%s\n", who, leading / page, rest_old && at == pages * page ? "old" : "other");
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  page = sysconf(_SC_PAGESIZE);
  const char *file = argv[1];
  size_t pages = strtoul(argv[2], NULL, 10), kept = strtoul(argv[3], NULL, 10);
  if (kept >= pages) return 2;
  FILE *f = fopen(file, "wb");
  for (size_t i = 0; f && i < pages * page; ++i) fputc('o', f);
  if (!f || fclose(f) != 0) return 1;
  int report[2];
  if (pipe(report) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) child(file, pages, kept, report[1]);
  close(report[1]);
  char got;
  int status;
  if (read(report[0], &got, 1) != 1 || got != 'f') { /* no userfaultfd, or the write never faulted */
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 77 ? 77 : 3;
  }
  measure("reader", file, pages); /* a concurrent reader, while the write waits mid-way */
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  measure("killed", file, pages);
  return 0;
}
