// Fuzz target: the fault plan codec. The C parser the agent runs
// (cc_plan_parse) gets exactly `size` bytes, not NUL-terminated, so a read
// past the end shows; a plan that parses must encode to text that parses
// back to the same plan.
#include <crashcheck/faults.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cc_plan raw{};
  (void)cc_plan_parse(text.data(), text.size(), &raw);

  using crashcheck::faults::FaultPlan;
  const auto plan = FaultPlan::parse(text);
  if (!plan) return 0;
  const auto again = FaultPlan::parse(plan->encode());
  if (!again || again->kind != plan->kind || again->call != plan->call || again->error != plan->error ||
      again->byte_budget != plan->byte_budget)
    __builtin_trap();
  return 0;
}
