// faults/backend.hpp: the backend names and the dispatch to each backend.
#include "crashcheck/faults/backend.hpp"

#include <array>
#include <utility>

#include "backends.hpp"

namespace crashcheck::faults {
namespace {

constexpr std::array<std::pair<BackendKind, std::string_view>, 2> backend_names = {{
    {BackendKind::seccomp, "seccomp"},
    {BackendKind::preload, "preload"},
}};

}  // namespace

std::string_view backend_name(BackendKind kind) noexcept {
  for (const auto& [k, name] : backend_names)
    if (k == kind) return name;
  return "unknown";
}

std::optional<BackendKind> backend_from_name(std::string_view name) noexcept {
  for (const auto& [k, n] : backend_names)
    if (n == name) return k;
  return std::nullopt;
}

std::optional<std::string> backend_unavailable(BackendKind kind, const std::filesystem::path& agent_library) {
  if (kind == BackendKind::seccomp) return seccomp_unavailable();
  try {
    return preload_unavailable(default_agent_library(agent_library));
  } catch (const AgentNotFound& e) {
    return e.what();
  }
}

std::unique_ptr<Observer> make_observer(BackendKind kind, const RunSetup& setup) {
  return kind == BackendKind::seccomp ? make_seccomp_observer(setup) : make_preload_observer(setup);
}

}  // namespace crashcheck::faults
