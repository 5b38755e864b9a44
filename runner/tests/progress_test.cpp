// Progress lines: what a terminal and a CI log are told, with a clock the
// test moves by hand.
#include <gtest/gtest.h>

#include "crashcheck/runner/progress.hpp"

namespace crashcheck::runner {
namespace {

using namespace std::chrono_literals;

struct Recorded {
  std::vector<std::string> lines;
  std::chrono::steady_clock::time_point now{};
};

TEST(Progress, ALogGetsALineWhenAModelFinishesAndOtherwiseAtMostEveryTenSeconds) {
  Recorded r;
  {
    Progress p(
        "demo", {"errno", "errno", "errno", "disk-full"}, false,
        [&r](const std::string& line, bool) { r.lines.push_back(line); }, [&r] { return r.now; });
    r.now += 1s;
    p.done(0);
    EXPECT_TRUE(r.lines.empty()) << "no line before 10 s";
    r.now += 10s;
    p.done(1);
    ASSERT_EQ(r.lines.size(), 1u);
    EXPECT_EQ(r.lines[0], "demo: errno 2/3, disk-full 0/1 — about 11 s left");
    p.done(2);
    ASSERT_EQ(r.lines.size(), 2u);
    EXPECT_EQ(r.lines[1], "demo: errno finished, 3 cases (11.0 s into the run)");
  }
  EXPECT_EQ(r.lines.size(), 2u) << "a log is not cleared at the end";
}

TEST(Progress, ATerminalIsRedrawnOnEveryCaseAndClearedAtTheEnd) {
  Recorded r;
  {
    Progress p(
        "demo", {"kill", "errno"}, true, [&r](const std::string& line, bool) { r.lines.push_back(line); },
        [&r] { return r.now; });
    r.now += 2s;
    p.done(1);
    p.done(0);
  }
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[0], "demo: kill 0/1, errno 1/1 — about 2 s left");
  EXPECT_EQ(r.lines[1], "demo: kill 1/1, errno 1/1");
  EXPECT_EQ(r.lines[2], "");
}

}  // namespace
}  // namespace crashcheck::runner
