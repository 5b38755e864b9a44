// PLACEHOLDER until the seccomp supervisor lands (issue 10): the backend
// reports itself unavailable, so the runner falls back to preload and says so.
// Delete this file when src/seccomp/ implements the two functions for real.
#include "../backends.hpp"

#include <stdexcept>

namespace crashcheck::faults {

std::optional<std::string> seccomp_unavailable() { return "the seccomp backend is not built into this crashcheck"; }

std::unique_ptr<Observer> make_seccomp_observer(const RunSetup&) {
  throw std::logic_error("make_seccomp_observer: " + *seccomp_unavailable());
}

}  // namespace crashcheck::faults
