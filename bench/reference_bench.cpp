// The reference writer against the bare minimal syscall sequence it wraps
// (open, write, fsync, close, rename, open+fsync+close of the directory),
// in the same run, on the same directory, for 1 KiB, 64 KiB and 1 MiB.
// Goal: the reference keeps >= 0.95 of the bare sequence's throughput.
//
// A plain timing program rather than Google Benchmark: fsync times drift by
// whole factors while other jobs use the disk, so the two sides must be
// interleaved write by write (ABBA order), which Google Benchmark cannot do.
// The ratio compares median times per write.
//
//   reference_bench [--dir DIR] [--rounds N]     exit 1 if a ratio is below the goal
#include <crashcheck/reference.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGoal = 0.95;
constexpr int kWarmUpRounds = 5;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

// What a careful hand-written writer does, minus every check the reference adds.
void bare_sequence(const fs::path& target, const fs::path& temp, std::string_view bytes) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  check(fd >= 0, "open");
  check(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()), "write");
  check(::fsync(fd) == 0, "fsync");
  check(::close(fd) == 0, "close");
  check(::rename(temp.c_str(), target.c_str()) == 0, "rename");
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  check(dir >= 0 && ::fsync(dir) == 0, "fsync directory");
  ::close(dir);
}

void reference_write(const fs::path& target, std::string_view bytes) {
  if (const auto error = crashcheck::write_file_atomic(target, bytes)) throw std::runtime_error(error.message());
}

double seconds(const std::function<void()>& write) {
  const auto start = Clock::now();
  write();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Times `rounds` writes of each side, alternating which goes first; returns
// the throughput ratio reference / bare (= median bare time / median reference time).
double compare(const fs::path& dir, std::size_t size, int rounds) {
  const std::string bytes(size, 'x');
  const fs::path bare_target = dir / "bare.dat", bare_temp = dir / ".bare.dat.tmp";
  const fs::path reference_target = dir / "reference.dat";
  const std::function<void()> bare = [&] { bare_sequence(bare_target, bare_temp, bytes); };
  const std::function<void()> reference = [&] { reference_write(reference_target, bytes); };
  std::vector<double> bare_times, reference_times;
  for (int round = -kWarmUpRounds; round < rounds; ++round) {
    const bool bare_first = round % 2 == 0;
    const double first = seconds(bare_first ? bare : reference);
    const double second = seconds(bare_first ? reference : bare);
    if (round < 0) continue;
    bare_times.push_back(bare_first ? first : second);
    reference_times.push_back(bare_first ? second : first);
  }
  const double bare_median = median(bare_times), reference_median = median(reference_times);
  const double ratio = bare_median / reference_median;
  std::printf("%8zu bytes: bare %8.1f us (%6.1f MB/s)  reference %8.1f us (%6.1f MB/s)  ratio %.3f %s\n", size,
              bare_median * 1e6, size / bare_median / 1e6, reference_median * 1e6, size / reference_median / 1e6, ratio,
              ratio >= kGoal ? "ok" : "BELOW GOAL");
  return ratio;
}

struct Options {
  fs::path dir;  // empty: a fresh directory in the current one (on disk, not a tmpfs)
  int rounds = 200;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      options.dir = argv[++i];
    } else if (arg == "--rounds" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
      options.rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "reference_bench: unknown argument '%s'\nusage: reference_bench [--dir DIR] [--rounds N]\n",
                   argv[i]);
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  const bool own_dir = options.dir.empty();
  if (own_dir) {
    std::string templ = (fs::current_path() / "reference-bench-XXXXXX").string();
    if (!::mkdtemp(templ.data())) return std::perror("mkdtemp"), 2;
    options.dir = templ;
  }
  std::printf("write_file_atomic vs bare open/write/fsync/close/rename/fsync-dir, %d interleaved rounds, in %s\n",
              options.rounds, options.dir.c_str());
  bool met = true;
  try {
    for (std::size_t size : {std::size_t{1} << 10, std::size_t{64} << 10, std::size_t{1} << 20})
      met = compare(options.dir, size, options.rounds) >= kGoal && met;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reference_bench: %s\n", e.what());
    met = false;
  }
  if (own_dir) fs::remove_all(options.dir);
  std::printf("goal: ratio >= %.2f for every size: %s\n", kGoal, met ? "met" : "NOT met");
  return met ? 0 : 1;
}
