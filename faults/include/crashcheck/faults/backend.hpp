// How one subject run is observed and faulted: the interception backend.
//
// The runner starts every subject itself (its own process group, a timeout,
// a subreaper that reaps whatever the subject leaves). A backend only
//   1. rewrites the launch — LD_PRELOAD entries for the preload agent, a
//      launcher in front of argv for the seccomp supervisor;
//   2. while the subject runs, reports where it paused (pause plan) and lets
//      it go on;
//   3. when everything the subject started has ended, hands back what it saw:
//      the trace of counted calls, how many processes it observed, and notes.
// The runner never knows which backend ran: it talks to an Observer.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "crashcheck/faults.hpp"

namespace crashcheck::faults {

enum class BackendKind : std::uint8_t {
  seccomp,  // seccomp user-notification supervisor: every file-system syscall, static and Go binaries included
  preload,  // LD_PRELOAD agent over libc: dynamically linked subjects only
};

std::string_view backend_name(BackendKind kind) noexcept;  // "seccomp", "preload"
std::optional<BackendKind> backend_from_name(std::string_view name) noexcept;

// Why a backend cannot run on this machine (kernel without seccomp user
// notification, missing agent library…); nullopt when it can. `agent_library`
// is the preload agent a run would use (empty: default_agent_library()).
std::optional<std::string> backend_unavailable(BackendKind kind, const std::filesystem::path& agent_library = {});

// The command and environment the runner is about to start.
struct Launch {
  std::vector<std::string> argv;
  std::map<std::string, std::string> environment;
};

// What one run needs to know.
struct RunSetup {
  std::filesystem::path scope;     // absolute scratch directory: calls touching it (or files inside it) count
  std::filesystem::path work_dir;  // private, empty, writable: trace, control block, sockets
  FaultPlan plan;
  std::filesystem::path agent_library;  // preload only; empty: default_agent_library()
  // Give each counted call its site (TraceRecord::site): the runner asks it of
  // the one run whose trace the report shows, so fault cases pay nothing.
  bool sites = false;
  // Fork server (seccomp only; faults/README.md, "Forked cases"): this run is
  // a template, parked before its first counted call, from which cases are
  // forked (Observer::fork_subject) ...
  bool fork_template = false;
  std::filesystem::path fork_root{};  // template runs: the directory each case gets its own of (canonical)
  // ... or this run's subject is such a fork: nothing is launched (wrap()
  // leaves the launch alone), the template's supervisor hands it the child.
  bool forked = false;
};

// A case forked from a template run. Its status descriptor (owned here) is
// readable once the case has ended; read_end() then says how.
class ForkedSubject {
 public:
  ForkedSubject() = default;
  ForkedSubject(pid_t pid, int status_fd) : pid_(pid), status_fd_(status_fd) {}
  ForkedSubject(ForkedSubject&& other) noexcept;
  ForkedSubject& operator=(ForkedSubject&& other) noexcept;
  ~ForkedSubject();
  explicit operator bool() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // also its process group
  int status_fd() const { return status_fd_; }
  struct End {
    std::optional<int> wait_status;  // as waitpid's; nullopt: the child never became the case
    std::string why;                 // when it did not, or when nothing was heard
  };
  End read_end() const;

 private:
  pid_t pid_ = -1;
  int status_fd_ = -1;
};

// What the backend saw of one run.
struct Observation {
  std::optional<Trace> trace;  // nullopt when it cannot be read (trace_error says why)
  std::string trace_error;
  std::uint32_t processes_seen = 0;  // 0: the backend never saw the subject (not checkable)
  std::uint32_t calls_counted = 0;
  std::vector<std::string> notes;  // e.g. "io_uring_setup refused with ENOSYS"
  // Why this backend cannot observe this subject faithfully, when it cannot
  // (seccomp: the subject installs its own seccomp listener, which the
  // kernel refuses under the supervisor's); the runner falls back to
  // another backend when none was asked for.
  std::optional<std::string> conflict;
};

class Observer {
 public:
  virtual ~Observer() = default;
  // Before the subject starts: adds what this backend needs to the launch.
  virtual void wrap(Launch& launch) = 0;
  // Pause plan: waits until the subject stops before a counted call (every
  // process and thread of it held, so a snapshot is a consistent cut) and
  // returns that call's number; nullopt on timeout.
  virtual std::optional<std::uint32_t> wait_paused(std::chrono::milliseconds timeout) = 0;
  // Lets the paused call go on, to the next pause.
  virtual void resume() = 0;
  // After the subject and all it started have ended (or were killed).
  virtual Observation finish() = 0;

  // Fork server, template runs only: waits until the subject parked before
  // its first counted call and its fork server said hello; nullopt then,
  // else why no case can be forked from it.
  virtual std::optional<std::string> await_template(std::chrono::milliseconds timeout);
  // A copy of the parked subject in a mount namespace of its own, where
  // `case_root` is bound over `template_root`, observed by `forked` (made
  // with RunSetup::forked, wrapped; it must outlive the child). Empty, with
  // `why` set, when none could be made.
  virtual ForkedSubject fork_subject(const std::filesystem::path& case_root, const std::filesystem::path& template_root,
                                     Observer& forked, std::string& why);
};

std::unique_ptr<Observer> make_observer(BackendKind kind, const RunSetup& setup);

}  // namespace crashcheck::faults
