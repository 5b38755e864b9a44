/* chunk_writer DIR COUNT SIZE [stdio]: writes COUNT chunks of SIZE bytes to
 * DIR/out (write(2), or fwrite with "stdio") and prints each result as
 * "<bytes> <errno name or OK>" on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4 || chdir(argv[1]) != 0) return 2;
  int count = atoi(argv[2]);
  size_t size = (size_t)atoi(argv[3]);
  int use_stdio = argc > 4 && strcmp(argv[4], "stdio") == 0;
  char *chunk = malloc(size);
  memset(chunk, 'x', size);
  int fd = -1;
  FILE *f = NULL;
  if (use_stdio)
    f = fopen("out", "w");
  else
    fd = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!f && fd < 0) return 3;
  for (int i = 0; i < count; ++i) {
    errno = 0;
    long n = use_stdio ? (long)fwrite(chunk, 1, size, f) : (long)write(fd, chunk, size);
    printf("%ld %s\n", n, errno ? strerrorname_np(errno) : "OK");
  }
  free(chunk);
  return 0;
}
