// Fuzz target: the --shard K/N parser. Text it accepts must mean
// 1 <= K <= N; anything else is an InputError.
#include "crashcheck/runner/shards.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crashcheck/runner/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crashcheck::runner;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const ShardSlice slice = parse_shard(text, "--shard");
    if (slice.index < 1 || slice.index > slice.count) __builtin_trap();
  } catch (const InputError&) {
  }
  return 0;
}
