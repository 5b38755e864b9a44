#include "support.hpp"

#include <fiu-control.h>
#include <fiu.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace crashcheck::test {

ScratchDir::ScratchDir() {
  std::string templ = (fs::path(::testing::TempDir()) / "crashcheck-reference-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
  fs::remove_all(path_, ignored);
}

void write_plain(const fs::path& path, std::string_view content, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  if (::chmod(path.c_str(), mode) != 0) throw std::system_error(errno, std::generic_category(), "chmod");
}

void flip_byte(const fs::path& path, std::size_t offset, unsigned char mask) {
  std::string bytes = read_file(path).value();
  bytes.at(offset) = static_cast<char>(bytes.at(offset) ^ mask);
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(offset));
  out.put(bytes[offset]);
  if (!out) throw std::runtime_error("cannot corrupt " + path.string());
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct stat lstat_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::system_error(errno, std::generic_category(), path.string());
  return st;
}

mode_t mode_of(const fs::path& path) { return lstat_of(path).st_mode & 07777; }

std::string pattern_bytes(std::size_t size, std::uint64_t seed) {
  std::string bytes(size, '\0');
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < size; i += sizeof state) {
    // splitmix64: fast, and every seed gives a different stream
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::copy_n(reinterpret_cast<const char*>(&z), std::min(sizeof z, size - i), bytes.begin() + i);
  }
  return bytes;
}

int run_as_nobody(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(125);
    ::_exit(body());
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

InjectedFault::InjectedFault(WriteStep step, int failnum, unsigned flags)
    : InjectedFault(failure_point(step), failnum, flags) {}

InjectedFault::InjectedFault(std::string point, int failnum, unsigned flags) : point_(std::move(point)) {
  fiu_init(0);
  if (fiu_enable(point_.c_str(), failnum, nullptr, flags) != 0) throw std::runtime_error("fiu_enable " + point_);
}

InjectedFault::~InjectedFault() { fiu_disable(point_.c_str()); }

namespace {

std::vector<std::string> recorded_steps;

int record_step(const char* point, int*, void**, unsigned*) {
  recorded_steps.emplace_back(std::string_view(point).substr(kFailurePointPrefix.size()));
  return 0;  // record only, never fail
}

}  // namespace

StepRecorder::StepRecorder() {
  fiu_init(0);
  recorded_steps.clear();
  for (WriteStep step : steps_with_failure_points())
    fiu_enable_external(failure_point(step).c_str(), 1, nullptr, 0, record_step);
}

StepRecorder::~StepRecorder() {
  for (WriteStep step : steps_with_failure_points()) fiu_disable(failure_point(step).c_str());
}

const std::vector<std::string>& StepRecorder::steps() const { return recorded_steps; }

}  // namespace crashcheck::test
