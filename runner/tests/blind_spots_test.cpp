// Never a pass when blind (issue 11): a pass that rests on a run the models
// did not fully see becomes not_run with the reason; its correct twin keeps
// its pass. Ground truth for the torn states: ground_truth_test.cpp (a real
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

TEST(BlindSpots, OneInPlaceWriteOfSeveralPagesWithholdsTheKillAndReaderPasses) {
  expect_withheld(testing::check_planted("kill,reader", "inplace-write", "seccomp"),
                  "changes the target in place by more than one page");
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

}  // namespace
}  // namespace crashcheck::runner
