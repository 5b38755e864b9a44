// Fuzz target: the trace decoder (faults::decode_trace, what read_trace runs
// over a trace file). Any bytes must give a Trace or a TraceError, never a
// crash, an over-read or an allocation the input does not pay for.
#include <crashcheck/faults.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const crashcheck::faults::Trace trace = crashcheck::faults::decode_trace(bytes, "fuzz.trace");
    for (std::size_t i = 1; i < trace.records.size(); ++i)
      if (trace.records[i - 1].seq > trace.records[i].seq) __builtin_trap();  // promised: in seq order
  } catch (const crashcheck::faults::TraceError&) {
  }
  return 0;
}
