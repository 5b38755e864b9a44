#include "subject.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace crashcheck::faults::testing {

namespace fs = std::filesystem;

namespace {
fs::path make_temp_dir(const fs::path& parent) {
  std::string pattern = (parent / "cc-faults-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw std::system_error(errno, std::generic_category(), "mkdtemp in " + parent.string());
  return pattern;
}
}  // namespace

Sandbox::Sandbox() {
  root_ = make_temp_dir(fs::temp_directory_path());
  scope_ = root_ / "scope";
  fs::create_directory(scope_);
  agent_dir_ = fs::is_directory("/dev/shm") ? make_temp_dir("/dev/shm") : root_;
}

Sandbox::~Sandbox() {
  std::error_code ec;
  fs::remove_all(root_, ec);
  fs::remove_all(agent_dir_, ec);
}

void Sandbox::reset(const std::vector<std::pair<std::string, std::string>>& files) {
  fs::remove_all(scope_);
  fs::create_directory(scope_);
  for (const auto& [name, content] : files) std::ofstream(scope_ / name, std::ios::binary) << content;
}

std::vector<std::pair<std::string, std::string>> Sandbox::files() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : fs::recursive_directory_iterator(scope_))
    if (entry.is_regular_file()) out.emplace_back(fs::relative(entry.path(), scope_).string(), read_file(entry.path()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool SubjectRun::exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
bool SubjectRun::killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

namespace {

std::vector<std::string> subject_environment(const Sandbox& box, const SubjectOptions& options) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  env.erase("LD_PRELOAD");  // an ASan test binary must not hand its runtime on
  AgentSetup setup{default_agent_library(), box.scope(), box.trace_file(), box.control_file(), options.plan};
  if (!options.without_agent)
    for (auto& [k, v] : agent_environment(setup)) env[k] = v;
  for (auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> out;
  for (auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Kills the subject's process group if it outlives its time.
class Watchdog {
 public:
  Watchdog(pid_t pid, std::chrono::milliseconds limit)
      : thread_([this, pid, limit] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) ::kill(-pid, SIGKILL);
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

namespace {

struct Exit {
  int status = -1;
  std::string out;
  std::chrono::nanoseconds wall{};
  std::chrono::microseconds cpu{};
};

// Spawns argv in its own process group with stdout piped, runs `during`,
// reads stdout, reaps it; the watchdog kills the group after `timeout`.
Exit spawn_and_wait(std::vector<std::string> argv, std::vector<std::string> env, std::chrono::milliseconds timeout,
                    const std::function<void()>& during) {
  std::vector<char*> envp, args;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawnattr_t attr;  // own process group, so a hung subject can be killed whole
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  auto start = std::chrono::steady_clock::now();
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::system_error(rc, std::generic_category(), "spawn " + argv.at(0));
  }
  std::optional<Watchdog> watchdog(std::in_place, pid, timeout);
  if (during) during();
  Exit exit;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) exit.out.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  struct rusage usage {};
  ::wait4(pid, &exit.status, 0, &usage);
  exit.cpu = std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
             std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  exit.wall = std::chrono::steady_clock::now() - start;
  return exit;
}

std::vector<std::string> inherited_environment() {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace

SubjectRun run_subject(const Sandbox& box, const std::vector<std::string>& argv, const SubjectOptions& options) {
  fs::remove(box.trace_file());
  AgentControl control = AgentControl::create(box.control_file());
  Exit exit = spawn_and_wait(argv, subject_environment(box, options), options.timeout, [&] {
    if (options.while_running) options.while_running(control);
  });
  SubjectRun run;
  run.status = exit.status;
  run.out = std::move(exit.out);
  run.wall = exit.wall;
  run.cpu = exit.cpu;
  run.processes_loaded = control.processes_loaded();
  run.calls_counted = control.calls_counted();
  if (fs::exists(box.trace_file())) run.trace = read_trace(box.trace_file());
  return run;
}

bool ObservedRun::exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
bool ObservedRun::killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

ObservedRun run_observed(Observer& observer, Launch launch, const std::function<void(Observer&)>& during,
                         std::chrono::milliseconds timeout) {
  if (launch.environment.empty())
    for (const std::string& entry : inherited_environment()) {
      auto eq = entry.find('=');
      if (eq != std::string::npos) launch.environment.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
  observer.wrap(launch);
  std::vector<std::string> env;
  for (const auto& [k, v] : launch.environment) env.push_back(k + "=" + v);
  Exit exit = spawn_and_wait(launch.argv, env, timeout, [&] {
    if (during) during(observer);
  });
  ObservedRun run;
  run.status = exit.status;
  run.out = std::move(exit.out);
  run.wall = exit.wall;
  run.cpu = exit.cpu;
  run.obs = observer.finish();
  return run;
}

}  // namespace crashcheck::faults::testing
