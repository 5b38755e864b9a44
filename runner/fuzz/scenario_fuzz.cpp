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
    // The payload is optional (a writer may build its own content); a
    // single-file scenario names its target, a directory one its initial
    // directory and checker.
    const bool subject_named =
        s.directory_mode ? !s.directory_mode->initial.empty() && !s.directory_mode->checker.empty() : !s.target.empty();
    if (s.name.empty() || s.command.empty() || !subject_named) __builtin_trap();
  } catch (const InputError&) {
  }
  return 0;
}
