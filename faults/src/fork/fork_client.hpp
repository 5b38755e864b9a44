// crashcheck's side of the fork server (protocol.h): the socket a template
// run's library connects to, and the requests that fork cases from it. Used
// by the seccomp supervisor of a template run.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "../seccomp/tracee.hpp"
#include "crashcheck/faults/backend.hpp"

namespace crashcheck::faults {

// The library a template run preloads: $CRASHCHECK_FORK_LIBRARY, else the
// one installed beside crashcheck, else this build's; empty when none exists.
std::filesystem::path default_fork_library();

class ForkClient {
 public:
  // Listens in `work_dir` and adds to `environment` what makes the subject
  // load the library and find this socket. False when it cannot.
  bool listen(const std::filesystem::path& work_dir, std::map<std::string, std::string>& environment);
  // The fork server's hello (the template's pid), within `timeout`.
  bool accept(std::chrono::milliseconds timeout);
  // A child that becomes its case; empty, with `why`, when none could be
  // forked (a child that could not set up says so on its status pipe).
  ForkedSubject fork(const std::filesystem::path& case_root, const std::filesystem::path& template_root,
                     std::string& why);
  // The template's fork server ends (and with it the template) once this
  // closes its side.
  void close();

 private:
  seccomp::UniqueFd listen_, conn_;
  std::mutex mutex_;  // one request at a time: cases are forked from -j workers
};

}  // namespace crashcheck::faults
