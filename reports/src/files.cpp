// The output directory: every rendering of a report, each file written
// atomically with the reference writer so a reader (CI, a browser) never
// sees half a report.
#include "crashcheck/reference.hpp"
#include "crashcheck/report.hpp"

#include <system_error>

namespace crashcheck::reports {

namespace {
constexpr std::array<Format, 4> kFormats = {Format::json, Format::markdown, Format::html, Format::junit};
}

std::optional<Format> parse_format(std::string_view name) noexcept {
  if (name == "json") return Format::json;
  if (name == "md" || name == "markdown") return Format::markdown;
  if (name == "html") return Format::html;
  if (name == "junit") return Format::junit;
  return std::nullopt;
}

std::string_view file_name(Format format) noexcept {
  switch (format) {
    case Format::json:
      return "report.json";
    case Format::markdown:
      return "report.md";
    case Format::html:
      return "report.html";
    case Format::junit:
      return "report.junit.xml";
  }
  return "report";
}

std::string render(const Report& report, Format format) {
  switch (format) {
    case Format::json:
      return render_json(report);
    case Format::markdown:
      return render_markdown(report);
    case Format::html:
      return render_html(report);
    case Format::junit:
      return render_junit(report);
  }
  return {};
}

std::string write_report_files(const Report& report, const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return dir.string() + ": cannot create directory: " + error.message();
  for (const Format format : kFormats) {
    const std::filesystem::path file = dir / file_name(format);
    if (const WriteError failed = write_file_atomic(file, render(report, format))) {
      return file.string() + ": " + failed.message();
    }
  }
  return {};
}

}  // namespace crashcheck::reports
