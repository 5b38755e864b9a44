// Ground truth, measured without crashcheck: what a real SIGKILL inside one
// write(2), and a reader racing it, leave (writers/killed_mid_write.c). The
// kill and reader models' kill-within states claim exactly this: a
// page-aligned prefix of the write applied, the rest as before.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

struct Measured {
  int status = -1;
  std::string output;
};

Measured run_killed_mid_write(const std::filesystem::path& file, int pages, int kept) {
  const std::string command = std::string(CRASHCHECK_KILLED_MID_WRITE) + " " + file.string() + " " +
                              std::to_string(pages) + " " + std::to_string(kept);
  Measured m;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return m;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe)) m.output += buffer;
  const int status = ::pclose(pipe);
  m.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

TEST(GroundTruth, ASigkillInsideOneWriteLeavesAPageAlignedPrefixAndAReaderSeesIt) {
  testing::TempDir dir;
  for (int kept : {1, 4, 15}) {
    const Measured m = run_killed_mid_write(dir / "file", 16, kept);
    if (m.status == 77) GTEST_SKIP() << "userfaultfd is not available here";
    ASSERT_EQ(m.status, 0) << m.output;
    const std::string expected = "new=" + std::to_string(kept) + " rest=old\n";
    EXPECT_EQ(m.output, "reader: " + expected + "killed: " + expected);
  }
}

}  // namespace
}  // namespace crashcheck::runner
