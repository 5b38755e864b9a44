// Never a pass when blind (issue 11): a pass that rests on a run the models
// did not fully see becomes not_run with the reason; its correct twin keeps
// its pass. A write across a page boundary is no longer a blind spot: its
// states inside the call are modelled (within_call_test.cpp), so an in-place
// one fails. Ground truth for the torn states: ground_truth_test.cpp (a real
// SIGKILL inside one write leaves a page-aligned prefix, and a reader sees it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

void expect_withheld(const nlohmann::json& report, const std::string& why) {
  for (const char* name : {"crash_atomic", "reader_safe"}) {
    const auto& p = report["properties"][name];
    EXPECT_EQ(p["verdict"], "not_run") << name << ": " << p.dump(2);
    EXPECT_NE(p["reason"].get<std::string>().find(why), std::string::npos) << name << ": " << p.dump(2);
  }
}

// Fails, with a state inside the write as counterexample, and no pass withheld.
void expect_torn_inside(const nlohmann::json& report) {
  for (const char* name : {"crash_atomic", "reader_safe"}) {
    const auto& p = report["properties"][name];
    EXPECT_EQ(p["verdict"], "fail") << name << ": " << p.dump(2);
    ASSERT_FALSE(p["failures"].empty()) << name;
    EXPECT_TRUE(testing::has(p["failures"][0]["case_id"].get<std::string>(), "-within-")) << p.dump(2);
  }
  EXPECT_FALSE(testing::has(report["notes"].dump(), "passes withheld")) << report["notes"];
}

TEST(BlindSpots, OneInPlaceWriteOfSeveralPagesFailsInsideTheCall) {
  for (const std::string backend : {"seccomp", "preload"})
    expect_torn_inside(testing::check_planted("kill,reader", "inplace-write", backend));
}

TEST(BlindSpots, StoresTheTraceDoesNotExplainWithholdTheKillAndReaderPasses) {
  expect_withheld(testing::check_planted("kill,reader", "inplace-mmap", "preload"),
                  "not judged, the run was partly unseen: the trace does "
                  "not explain");
}

TEST(BlindSpots, TheTempAndRenameTwinKeepsItsPasses) {
  for (const std::string backend : {"seccomp", "preload"}) {
    const auto report = testing::check_planted("kill,reader", "temp-write", backend);
    EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "pass") << backend;
    EXPECT_EQ(report["properties"]["reader_safe"]["verdict"], "pass") << backend;
  }
}

// One small write decides: the bytes that differ, [from, from + 2000), are
// written by one pwrite. Across the boundary at 4096 a kill can cut it
// between the pages; inside one page it cannot.
nlohmann::json check_diff_writer(std::size_t from) {
  testing::TempDir dir;
  const std::string old(3 * 4096, 'o');
  std::string fresh = old;
  fresh.replace(from, 2000, std::string(2000, 'n'));
  testing::write_text(dir / "old", old);
  testing::write_text(dir / "new", fresh);
  const auto result =
      testing::run_crashcheck({"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(),
                               "--models", "kill,reader", "--quiet", "-o", (dir / "out").string(), "--",
                               CRASHCHECK_PLANTED_WRITER, "inplace-diff", "{target}", "{payload}"});
  EXPECT_LE(result.status, 1) << result.output;
  return nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
}

TEST(BlindSpots, ASmallWriteAcrossAPageBoundaryFailsInsideTheCall) {
  const auto report = check_diff_writer(3000);
  expect_torn_inside(report);
  // 2000 bytes from 3000 cross one boundary, at 4096: the one state inside the call.
  EXPECT_EQ(report["properties"]["crash_atomic"]["failures"][0]["case_id"],
            "kill-within-" +
                std::to_string(report["properties"]["crash_atomic"]["failures"][0]["call_index"].get<int>()) + "-1096");
}

// Inside one page a SIGKILL cannot stop the write midway, but a reader,
// which copies bytes, can find it half applied (ground_truth_test.cpp races
// a 3000-byte write and sees it).
TEST(BlindSpots, TheSameWriteInsideOnePageIsTornForAReaderOnly) {
  const auto report = check_diff_writer(1000);
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "pass") << report["properties"].dump(2);
  EXPECT_EQ(report["properties"]["reader_safe"]["verdict"], "fail");
}

}  // namespace
}  // namespace crashcheck::runner
