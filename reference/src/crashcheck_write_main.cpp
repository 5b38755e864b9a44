// crashcheck-write TARGET [--payload FILE] [--durability full|no-dir-sync|none] [--refuse-symlinks]
//                  [--backup] [--checksum] [--lock]
//
// The reference writer as a subject the harness drives like any other:
// exit 0 when TARGET holds exactly the payload, 1 (one line on stderr) when
// the write failed and TARGET is untouched, 2 for bad usage or an unreadable
// payload.
#include <crashcheck/reference.hpp>

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>

namespace {

constexpr int kExitWriteFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitNotDurable = 3;  // replaced, but the directory fsync failed: not success

// All of `fd` until end of file, or the errno that stopped the reading.
int read_all(int fd, std::string& out) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// The payload from FILE or, without one, standard input.
std::optional<std::string> read_payload(const std::string& file) {
  std::string payload;
  const int fd = file.empty() ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  const int error = fd < 0 ? errno : read_all(fd, payload);
  if (fd > STDIN_FILENO) ::close(fd);
  if (error == 0) return payload;
  std::cerr << "crashcheck-write: payload " << (file.empty() ? "<stdin>" : file) << ": " << std::strerror(error)
            << '\n';
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replace TARGET atomically with a payload (the crashcheck reference writer).", "crashcheck-write"};
  std::string target;
  std::string payload_file;
  crashcheck::WriteOptions options;
  bool refuse_symlinks = false;
  const std::map<std::string, crashcheck::Durability> durability_names{
      {"full", crashcheck::Durability::full},
      {"no-dir-sync", crashcheck::Durability::no_dir_sync},
      {"none", crashcheck::Durability::no_sync},
  };
  app.add_option("TARGET", target, "File to replace")->required();
  app.add_option("--payload", payload_file, "File holding the new content (default: standard input)");
  app.add_option("--durability", options.durability,
                 "full: fsync file and directory; no-dir-sync: fsync file only; none: no fsync")
      ->transform(CLI::CheckedTransformer(durability_names))
      ->default_str("full");
  app.add_flag("--refuse-symlinks", refuse_symlinks,
               "Fail (ELOOP) when TARGET is a symbolic link instead of replacing the file it points at");
  app.add_flag("--backup", options.keep_backup,
               "Before replacing TARGET, keep its current content as TARGET.bak (hard link, or a copy)");
  app.add_flag("--checksum", options.checksum,
               "Write the payload inside a checksummed envelope (magic, version, length, CRC-32C)");
  bool lock = false;
  app.add_flag("--lock", lock,
               "Hold flock(LOCK_EX) on TARGET.lock while reading and replacing TARGET (waits for other holders)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadInput;  // --help exits 0
  }
  if (refuse_symlinks) options.symlinks = crashcheck::SymlinkPolicy::refuse;

  const std::optional<std::string> payload = read_payload(payload_file);
  if (!payload) return kExitBadInput;
  const crashcheck::WriteError result = lock ? crashcheck::write_file_locked(target, *payload, options)
                                             : crashcheck::write_file_atomic(target, *payload, options);
  if (result) {
    std::cerr << "crashcheck-write: " << target << ": " << result.message() << '\n';
    return kExitWriteFailed;
  }
  if (result.durability_warning) {
    std::cerr << "crashcheck-write: warning: " << target << ": " << result.message() << '\n';
    return kExitNotDurable;
  }
  return 0;
}
