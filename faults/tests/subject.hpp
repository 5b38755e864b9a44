// Runs a subject under the agent the way the runner will: fresh scope
// directory, agent environment, control block, trace. Test-only helper.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "crashcheck/faults.hpp"
#include "crashcheck/faults/backend.hpp"
#include "preload/agent.hpp"

namespace crashcheck::faults::testing {

// A temporary directory holding the scope (scope/) and the agent's files.
class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::filesystem::path& scope() const { return scope_; }
  std::filesystem::path trace_file() const { return agent_dir_ / "trace.bin"; }
  std::filesystem::path control_file() const { return agent_dir_ / "control"; }
  // Replaces the scope's contents with the given files.
  void reset(const std::vector<std::pair<std::string, std::string>>& files = {});
  // Regular files in the scope (recursively), path -> content.
  std::vector<std::pair<std::string, std::string>> files() const;

 private:
  std::filesystem::path root_;
  std::filesystem::path scope_;
  // on tmpfs when there is one: on ext4 a subject's fsync would also flush the
  // agent's dirty trace and control pages (data=ordered) and slow it down
  std::filesystem::path agent_dir_;
};

struct SubjectRun {
  int status = -1;  // wait status
  std::string out;  // the subject's stdout
  Trace trace;
  std::uint32_t processes_loaded = 0;
  std::uint32_t calls_counted = 0;
  std::chrono::nanoseconds wall{};  // spawn to exit, excluding control-block setup and trace reading
  std::chrono::microseconds cpu{};  // user + system time of the subject's direct process

  bool exited(int code) const;
  bool killed() const;  // by SIGKILL
};

struct SubjectOptions {
  FaultPlan plan;
  std::vector<std::pair<std::string, std::string>> env;  // extra NAME=VALUE
  // Called while the subject runs (pause plan); the subject's stdout is read after.
  std::function<void(AgentControl&)> while_running;
  bool without_agent = false;  // baseline: same spawn path, no agent variables
  // the subject's process group is killed after this (a hung subject fails a test, not the suite)
  std::chrono::milliseconds timeout{60000};
};

SubjectRun run_subject(const Sandbox& box, const std::vector<std::string>& argv, const SubjectOptions& options = {});

std::string read_file(const std::filesystem::path& file);

// One run through an Observer (any backend), as the runner will: wrap the
// launch, spawn in its own process group, `during` while it runs (pause
// plan), reap, finish. An empty launch environment means this process's.
struct ObservedRun {
  int status = -1;
  std::string out;
  Observation obs;
  std::chrono::nanoseconds wall{};  // spawn to exit
  std::chrono::microseconds cpu{};  // user + system time of the direct child

  bool exited(int code) const;
  bool killed() const;  // by SIGKILL
};

ObservedRun run_observed(Observer& observer, Launch launch, const std::function<void(Observer&)>& during = {},
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

}  // namespace crashcheck::faults::testing
