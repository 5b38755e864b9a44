// Fuzz target: the scenario parser (runner::parse_scenario, what
// load_scenario runs over a file). Any bytes give a Scenario or an
// InputError naming the file; a Scenario it accepts keeps its promises.
#include "crashcheck/runner/scenario.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crashcheck::runner;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Scenario s = parse_scenario(text, CRASHCHECK_SCENARIO_DIR "/fuzz.json");
    if (s.name.empty() || s.command.empty() || s.target.empty() || s.payload.empty()) __builtin_trap();
  } catch (const InputError&) {
  }
  return 0;
}
