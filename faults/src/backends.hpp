// The backends behind faults/backend.hpp, one pair of functions each. Private
// to faults/: the runner reaches them only through make_observer().
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crashcheck/faults/backend.hpp"

namespace crashcheck::faults {

// LD_PRELOAD agent (src/preload/).
std::unique_ptr<Observer> make_preload_observer(const RunSetup& setup);
std::optional<std::string> preload_unavailable(const std::filesystem::path& agent_library);

// seccomp user-notification supervisor (src/seccomp/).
std::unique_ptr<Observer> make_seccomp_observer(const RunSetup& setup);
std::optional<std::string> seccomp_unavailable();

}  // namespace crashcheck::faults
