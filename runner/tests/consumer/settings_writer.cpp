// settings_writer atomic|in-place TARGET PAYLOAD: replaces TARGET with the
// bytes of PAYLOAD, either with the reference writer or the naive way
// (truncate and write in place, which a crash can leave empty or torn).
#include <crashcheck/reference.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: settings_writer atomic|in-place TARGET PAYLOAD\n";
    return 2;
  }
  std::ostringstream payload;
  payload << std::ifstream(argv[3], std::ios::binary).rdbuf();
  const std::string bytes = payload.str();
  if (std::string_view(argv[1]) == "atomic") {
    const crashcheck::WriteError error = crashcheck::write_file_atomic(argv[2], bytes);
    if (error) std::cerr << "settings_writer: " << error.message() << "\n";
    return error ? 1 : 0;
  }
  std::FILE* out = std::fopen(argv[2], "w");  // truncates the old settings first
  if (!out) return 1;
  const std::size_t half = bytes.size() / 2;
  bool ok = std::fwrite(bytes.data(), 1, half, out) == half && std::fflush(out) == 0;
  ok = ok && std::fwrite(bytes.data() + half, 1, bytes.size() - half, out) == bytes.size() - half;
  return std::fclose(out) == 0 && ok ? 0 : 1;
}
