// crashcheck-report-sample DIR failing|passing: writes a sample report's
// report.json/.md/.html/.junit.xml into DIR (used by the browser test and to
// look at the renderers by hand).
#include "sample_reports.hpp"

#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
  using namespace crashcheck::reports;
  if (argc != 3 || (std::string_view(argv[2]) != "failing" && std::string_view(argv[2]) != "passing")) {
    std::cerr << "usage: crashcheck-report-sample DIR failing|passing\n";
    return 2;
  }
  const Report report = std::string_view(argv[2]) == "failing" ? samples::failing_report() : samples::passing_report();
  if (const std::string error = write_report_files(report, argv[1]); !error.empty()) {
    std::cerr << "crashcheck-report-sample: " << error << "\n";
    return 3;
  }
  return 0;
}
