// check_planted (support.hpp): apart from support.cpp, which other test
// programs share, because only the runner tests build the planted writer.
#include <gtest/gtest.h>

#include "support.hpp"

namespace crashcheck::runner::testing {

nlohmann::json check_planted(const std::string& models, const std::string& how, const std::string& backend) {
  TempDir dir;
  write_text(dir / "old", std::string(3 * 4096, 'o'));
  write_text(dir / "new", std::string(3 * 4096, 'n'));
  const auto result = run_crashcheck({"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(),
                                      "--models", models, "--backend", backend, "--quiet", "-o", (dir / "out").string(),
                                      "--", CRASHCHECK_PLANTED_WRITER, how, "{target}", "{payload}"});
  EXPECT_LE(result.status, 1) << result.output;
  return nlohmann::json::parse(read_text(dir / "out" / "report.json"));
}

}  // namespace crashcheck::runner::testing
