// The runner's side of the LD_PRELOAD agent (libcrashcheck_agent.so):
// the environment that carries the plan and paths into the subject, and the
// control block shared (mmap) with every process of one subject run.
// Private to faults/: the runner reaches the agent only through the preload
// Observer (observer.cpp); the agent tests use it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crashcheck/faults.hpp"

namespace crashcheck::faults {

// Where one subject run keeps its agent files.
struct AgentSetup {
  std::filesystem::path agent_library;  // libcrashcheck_agent.so
  std::filesystem::path scope;          // absolute scratch directory; only calls under it count
  std::filesystem::path trace_file;     // the agent appends records here
  std::filesystem::path control_file;   // shared control block, see AgentControl
  FaultPlan plan;
};

// NAME=VALUE entries to add to the subject's environment (LD_PRELOAD joined
// with any existing value, the plan, the paths).
std::vector<std::pair<std::string, std::string>> agent_environment(const AgentSetup& setup);

// The runner's handle on the control block shared (mmap) with every process
// of one subject run.
class AgentControl {
 public:
  // Creates and maps a fresh control block file. Throws std::system_error.
  static AgentControl create(const std::filesystem::path& file);
  AgentControl(AgentControl&&) noexcept;
  AgentControl& operator=(AgentControl&&) noexcept;
  ~AgentControl();

  std::uint32_t processes_loaded() const noexcept;  // agents that initialised (0: LD_PRELOAD saw nothing)
  std::uint32_t calls_counted() const noexcept;

  // Pause plan: waits until a subject process stops before a counted call and
  // returns that call's number; nullopt on timeout.
  std::optional<std::uint32_t> wait_paused(std::chrono::milliseconds timeout);
  // Lets the paused process make its call and run to the next pause.
  void resume();

 private:
  struct Mapping;
  explicit AgentControl(std::unique_ptr<Mapping> mapping);
  std::unique_ptr<Mapping> mapping_;
};

}  // namespace crashcheck::faults
