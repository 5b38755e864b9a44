// Reports the tests render: one modelled on the seed's reference writer (every
// property holds), one on pipeline_health_original (open with O_TRUNC, write,
// close) whose subject-supplied strings are hostile: markup, quotes, control
// characters and bytes that are not UTF-8.
#pragma once

#include "crashcheck/report.hpp"

namespace crashcheck::reports::samples {

inline constexpr std::string_view kHostileName = "evil <script>alert(\"x\")</script> & 'co'";
inline constexpr std::string_view kHostileTarget = "pipeline\xff\xfe_health.json";  // not UTF-8
inline constexpr std::string_view kSiteDir = "/home/me/src/";
inline constexpr std::string_view kHostileSite = "/home/me/src/<i>&\"w'.py:3";  // a call site in a file named so
inline constexpr std::string_view kHostileExcerpt = "{\"status\": \"ok\"</pre><script>x()</script>]]>\x01";

Report passing_report();
Report failing_report();
// Nothing judged: "the baseline run (no fault) failed: exit 1".
Report not_checkable_report();

}  // namespace crashcheck::reports::samples
