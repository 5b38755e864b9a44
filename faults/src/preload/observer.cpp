// The preload backend behind faults/backend.hpp: the agent is LD_PRELOADed
// into the subject, the control block (agent.hpp) carries the pause
// handshake and the counters, and the agent's trace file is the observation.
#include <cstdlib>
#include <system_error>

#include "../backends.hpp"
#include "../shared.h"
#include "../sites/sites.hpp"
#include "agent.hpp"

namespace crashcheck::faults {
namespace {

class PreloadObserver final : public Observer {
 public:
  explicit PreloadObserver(const RunSetup& setup)
      : agent_{default_agent_library(setup.agent_library), std::filesystem::absolute(setup.scope),
               setup.work_dir / "trace", setup.work_dir / "control", setup.plan},
        control_(AgentControl::create(agent_.control_file)),
        sites_file_(setup.sites ? sites::file_in(setup.work_dir) : std::filesystem::path()),
        work_dir_(setup.work_dir) {}

  void wrap(Launch& launch) override {
    for (auto& [name, value] : agent_environment(agent_)) launch.environment[name] = value;
    launch.environment["UV_USE_IO_URING"] = "0";  // libuv's io_uring bypasses libc: the agent would see nothing
    // An ASan-built subject refuses a preloaded library ahead of its runtime,
    // and would report libfiu's never-freed allocations as its own leaks.
    std::string& asan = launch.environment["ASAN_OPTIONS"];
    asan += std::string(asan.empty() ? "" : ":") + "verify_asan_link_order=0:detect_leaks=0";
    if (!sites_file_.empty()) {
      launch.environment[CC_ENV_SITES] = sites_file_.string();
      sites::add_interpreter_hooks(launch, work_dir_);
    }
  }

  std::optional<std::uint32_t> wait_paused(std::chrono::milliseconds timeout) override {
    return control_.wait_paused(timeout);
  }
  void resume() override { control_.resume(); }

  Observation finish() override {
    Observation seen;
    seen.processes_seen = control_.processes_loaded();
    seen.calls_counted = control_.calls_counted();
    if (seen.processes_seen == 0)
      seen.notes.push_back(
          "the fault-injection agent was never loaded into the subject (a static binary or a Go program? "
          "LD_PRELOAD sees nothing there)");
    try {
      seen.trace = read_trace(agent_.trace_file);
      if (!sites_file_.empty()) sites::attach(*seen.trace, sites_file_);
    } catch (const TraceError& e) {
      seen.trace_error = e.what();
    }
    return seen;
  }

 private:
  AgentSetup agent_;
  AgentControl control_;
  std::filesystem::path sites_file_;  // empty: this run collects no call sites
  std::filesystem::path work_dir_;
};

}  // namespace

std::unique_ptr<Observer> make_preload_observer(const RunSetup& setup) {
  return std::make_unique<PreloadObserver>(setup);
}

std::optional<std::string> preload_unavailable(const std::filesystem::path& agent_library) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(agent_library, ec))
    return "the preload agent " + agent_library.string() + " does not exist";
  return std::nullopt;
}

}  // namespace crashcheck::faults
