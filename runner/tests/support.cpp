#include "support.hpp"

#include <cstdlib>

#include <crashcheck/reference.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace crashcheck::runner::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "runner-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& file, const std::string& text, unsigned mode) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
  fs::permissions(file, static_cast<fs::perms>(mode), fs::perm_options::replace);
}

std::string read_text(const fs::path& file) { return crashcheck::read_file(file).value_or(""); }

int read_pid(const fs::path& file) {
  std::ifstream in(file);
  int pid = -1;
  in >> pid;
  return pid;
}

bool process_gone(int pid) { return pid > 0 && ::kill(pid, 0) == -1 && errno == ESRCH; }

int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool strace_works() { return shell("strace -qq -o /dev/null true 2>/dev/null") == 0; }

ProgramResult run_crashcheck(const std::vector<std::string>& args) {
  const SplitResult r = run_crashcheck_split(args, true);
  return {r.status, r.out};
}

SplitResult run_crashcheck_split(const std::vector<std::string>& args, bool merged) {
  TempDir out_dir;
  const fs::path log = out_dir / "output", errors = out_dir / "errors";
  std::vector<std::string> argv{CRASHCHECK_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(merged ? fd : ::open(errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_text(log),
          merged ? std::string() : read_text(errors)};
}

fs::path shell_scenario(const TempDir& dir, const std::string& script, const std::string& extra) {
  write_text(dir / "old.txt", "old content\n");
  write_text(dir / "new.txt", "the new content, longer than the old\n");
  const nlohmann::json command = {"/bin/sh", "-c", script};
  write_text(dir / "scenario.json", "{\"name\": \"shell\", \"command\": " + command.dump() +
                                        ", \"target\": \"t.txt\", \"old\": {\"file\": \"old.txt\", \"mode\": \"0640\"},"
                                        " \"payload\": {\"file\": \"new.txt\"}, \"timeout_s\": 10" +
                                        extra + "}");
  return dir / "scenario.json";
}

bool differs_run_to_run(const fs::path& scenario_file) {
  return read_text(scenario_file).find("sqlite_writer.py") != std::string::npos;
}

fs::path scenarios_dir() { return fs::path(CRASHCHECK_SOURCE_DIR) / "scenarios"; }

std::vector<fs::path> bundled_scenario_files() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(scenarios_dir()))
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

ScopedEnvironment::ScopedEnvironment(const char* name, const std::string& value) : name_(name) {
  if (const char* was = std::getenv(name)) before_ = was;
  ::setenv(name, value.c_str(), 1);
}

ScopedEnvironment::~ScopedEnvironment() {
  if (before_)
    ::setenv(name_, before_->c_str(), 1);
  else
    ::unsetenv(name_);
}

}  // namespace crashcheck::runner::testing
