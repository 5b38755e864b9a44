// read_file: a file's whole content in one buffer of its size. A stream
// copy grows its buffer by doubling, so a 20 MiB file briefly cost 48 MiB
// and kept 32; the runner reads large targets at every case.
#include <crashcheck/reference.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace crashcheck {
namespace {

// Reads into the reserved room while there is some, then through a small
// buffer (a file that grew meanwhile is read to its end; EOF is found
// without growing the string). Returns false on a read error.
bool read_all(int fd, std::string& content) {
  char chunk[1 << 14];
  for (;;) {
    const std::size_t at = content.size(), room = content.capacity() - at;
    ssize_t got = 0;
    if (room > 0) {
      content.resize(content.capacity());
      got = ::read(fd, content.data() + at, room);
      content.resize(at + static_cast<std::size_t>(got > 0 ? got : 0));
    } else {
      got = ::read(fd, chunk, sizeof chunk);
      if (got > 0) content.append(chunk, static_cast<std::size_t>(got));
    }
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return got == 0;
  }
}

}  // namespace

std::optional<std::string> read_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::string content;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) content.reserve(static_cast<std::size_t>(st.st_size));
  const bool read = read_all(fd, content);
  const int saved = errno;
  ::close(fd);
  if (!read) {
    errno = saved;
    return std::nullopt;
  }
  return content;
}

}  // namespace crashcheck
