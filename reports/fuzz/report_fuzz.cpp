// Fuzz target: the report reader (reports::parse_report, what load_report runs
// over a file). A report it accepts must render in every format and survive
// a JSON round trip unchanged; anything else must be a ReportError.
#include <crashcheck/report.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crashcheck::reports;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Report report;
  try {
    report = parse_report(bytes, "fuzz.json");
  } catch (const ReportError&) {
    return 0;
  }
  for (const Format format : {Format::json, Format::markdown, Format::html, Format::junit})
    (void)render(report, format);
  (void)render_comparison(compare(report, report), "a", "b");
  if (parse_report(render_json(report), "round-trip") != report) __builtin_trap();
  return 0;
}
