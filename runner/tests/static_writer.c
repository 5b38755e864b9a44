/* A statically linked writer: LD_PRELOAD cannot reach it, so crashcheck
 * must call it "not checkable" rather than pass it.
 * Usage: static_writer PAYLOAD TARGET */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  int in = open(argv[1], O_RDONLY), out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) return 1;
  char buffer[4096];
  for (ssize_t n; (n = read(in, buffer, sizeof buffer)) > 0;)
    if (write(out, buffer, (size_t)n) != n) return 1;
  return close(out) == 0 ? 0 : 1;
}
