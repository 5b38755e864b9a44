// Runs one untrusted subject command so that nothing it starts outlives its run.
//
// Each run forks a small supervisor. The supervisor becomes a child
// subreaper, starts the subject in a process group of its own, and when the
// subject ends (or the timeout passes, or the runner asks it to stop) kills
// that group and every descendant that was reparented to it — a double-forked
// daemon or a setsid() child included — and reaps them all before it reports.
// With SubjectSpec::wait_for_descendants (a writer's cases) it first waits,
// up to the same deadline, for what the subject left running, and reports
// whether anything outlived the subject and what it had to kill
// (OutlivingProcesses): the subject's own exit is its report of success,
// which a background job may still be working after.
// The supervisor uses only async-signal-safe calls, so forking it from a
// multi-threaded runner is safe.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace crashcheck::runner {

struct SubjectSpec {
  std::vector<std::string> argv;         // argv[0] is looked up on PATH when it has no '/'
  std::vector<std::string> environment;  // complete, "NAME=VALUE"
  std::filesystem::path working_directory;
  std::filesystem::path stdin_file;   // empty: /dev/null
  std::filesystem::path stdout_file;  // empty: /dev/null
  std::filesystem::path stderr_file;  // empty: /dev/null
  std::chrono::milliseconds timeout{30000};
  // After the subject ends, wait for the processes it started (until the
  // timeout) instead of killing them at once.
  bool wait_for_descendants = false;
};

// What was still running when the subject (its first process) ended.
struct OutlivingProcesses {
  bool outlived = false;           // a process the subject started was alive then
  int killed = 0;                  // still alive at the deadline, so killed
  std::vector<std::string> named;  // the first few killed: "pid 123 (cmdline)"
};

struct SubjectOutcome {
  enum class End { exited, signaled, timed_out, cancelled, spawn_failed };
  End end = End::spawn_failed;
  int code = 0;  // exit code, signal number, or errno of the failed exec

  // Exit status as reports store it: the exit code, or -N when killed by signal N.
  int status() const;
  bool succeeded() const { return end == End::exited && code == 0; }
  std::string describe() const;  // "exit 1", "killed by SIGKILL", "timed out", …
};

// Set from a signal handler (Ctrl-C, SIGTERM): every running subject is
// stopped and no new one starts.
std::atomic<bool>& cancel_requested() noexcept;

class SubjectProcess {
 public:
  // Starts the supervisor and the subject. Throws std::system_error when the
  // runner cannot fork or make a pipe.
  static SubjectProcess start(const SubjectSpec& spec);
  SubjectProcess(SubjectProcess&& other) noexcept;
  SubjectProcess& operator=(SubjectProcess&&) = delete;
  ~SubjectProcess();  // stops and reaps a run still going

  bool finished();        // non-blocking
  SubjectOutcome wait();  // blocks; stops the run when cancel_requested() is set
  void stop();            // kill everything now; wait() then reports `cancelled`
  // The supervisor's pid: everything the subject starts descends from it
  // (the concurrent model looks for an instance waiting on a lock).
  pid_t supervisor_pid() const { return supervisor_; }
  // Whether the subject's first process has ended by now, or is ending (its
  // exit is the success report, whatever it left running); nullopt when
  // unknown (no pidfd).
  std::optional<bool> subject_ended() const;
  // After wait(): what outlived the subject (wait_for_descendants only).
  const OutlivingProcesses& outliving() const { return rest_; }

 private:
  SubjectProcess(pid_t supervisor, int result_fd) : supervisor_(supervisor), result_fd_(result_fd) {}
  bool read_result(int timeout_ms);
  pid_t supervisor_ = -1;
  int result_fd_ = -1;
  pid_t subject_ = -1;  // the subject's first process
  int subject_pidfd_ = -1;
  bool done_ = false;
  SubjectOutcome outcome_;
  OutlivingProcesses rest_;
};

SubjectOutcome run_subject(const SubjectSpec& spec);

}  // namespace crashcheck::runner
