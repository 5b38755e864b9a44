// Tears inside a call, judged (issue 11, item 2): a writer that rewrites its
// target in place with one 1 MiB write fails crash_atomic and reader_safe with
// a kill-within / reader-within counterexample, which `crashcheck replay`
// reproduces; its temp + fsync + rename + directory fsync twin passes, and none
// of its states inside a call is judged torn. Both backends. The ground truth
// (a real reader racing the real write sees a mix; never for the twin; a real
// SIGKILL mid-write leaves a page-aligned prefix) is ground_truth_test.cpp.
#include <gtest/gtest.h>

#include "crashcheck/faults/backend.hpp"
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support.hpp"

namespace crashcheck::runner {
namespace {
namespace fs = std::filesystem;
using testing::has;

constexpr std::size_t kMiB = 1 << 20;
constexpr std::size_t kBoundaries = kMiB / 4096 - 1;  // page boundaries strictly inside one 1 MiB write at 0

class WithinCall : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "seccomp")
      if (auto why = faults::backend_unavailable(faults::BackendKind::seccomp))
        GTEST_SKIP() << "seccomp backend unavailable: " << *why;
    testing::write_text(dir_ / "old", std::string(kMiB, 'o'));
    testing::write_text(dir_ / "new", std::string(kMiB, 'n'));
  }

  // `crashcheck check` of one_big_write.py MODE; its report.
  nlohmann::json check(const std::string& mode, const std::string& models, std::vector<std::string> extra = {}) {
    out_ = dir_ / ("out" + std::to_string(runs_++));
    std::vector<std::string> args{"check",
                                  "--old",
                                  (dir_ / "old").string(),
                                  "--payload",
                                  (dir_ / "new").string(),
                                  "--models",
                                  models,
                                  "--backend",
                                  GetParam(),
                                  "--quiet",
                                  "-j",
                                  "2",
                                  "-o",
                                  out_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    for (std::string a :
         {std::string("--"), std::string(CRASHCHECK_PYTHON), std::string(CRASHCHECK_WRITERS_DIR) + "/one_big_write.py",
          mode, std::string("{target}"), std::string("{payload}")})
      args.push_back(a);
    const auto result = testing::run_crashcheck(args);
    EXPECT_LE(result.status, 1) << result.output;
    return nlohmann::json::parse(testing::read_text(out_ / "report.json"));
  }

  fs::path report_file() const { return out_ / "report.json"; }

  testing::TempDir dir_;
  fs::path out_;
  int runs_ = 0;
};

// The case ids of `report`'s cells of `model` whose id starts with `prefix`.
std::vector<nlohmann::json> cells_of(const nlohmann::json& report, const std::string& model,
                                     const std::string& prefix) {
  std::vector<nlohmann::json> out;
  for (const auto& c : report["cells"])
    if (c["model"] == model && c["case_id"].get<std::string>().rfind(prefix, 0) == 0) out.push_back(c);
  return out;
}

std::string first_failure(const nlohmann::json& report, const std::string& property, const std::string& prefix) {
  for (const auto& f : report["properties"][property]["failures"])
    if (f["case_id"].get<std::string>().rfind(prefix, 0) == 0) return f["case_id"];
  return "";
}

TEST_P(WithinCall, OneInPlaceWriteOfOneMebibyteFailsWithAKillWithinCounterexample) {
  const auto report = check("in-place", "kill,reader");
  const auto& p = report["properties"];
  EXPECT_EQ(p["crash_atomic"]["verdict"], "fail") << p.dump(2);
  EXPECT_EQ(p["reader_safe"]["verdict"], "fail") << p.dump(2);
  const std::string kill = first_failure(report, "crash_atomic", "kill-within-");
  const std::string reader = first_failure(report, "reader_safe", "reader-within-");
  ASSERT_FALSE(kill.empty()) << p["crash_atomic"].dump(2);
  ASSERT_FALSE(reader.empty()) << p["reader_safe"].dump(2);
  // The states at call boundaries are old or new: only the states inside the write fail.
  for (const auto& c : report["cells"])
    if (!has(c["case_id"].get<std::string>(), "within-")) {
      EXPECT_TRUE(c["outcome"] == "old" || c["outcome"] == "new") << c.dump();
    }
  // 255 boundaries inside the write: 16 modelled (first and last always), and the note says so.
  EXPECT_EQ(cells_of(report, "kill", "kill-within-").size(), 16u);
  EXPECT_TRUE(has(report["notes"].dump(), std::to_string(kBoundaries) + " page boundaries, 16 modelled"))
      << report["notes"];
  EXPECT_FALSE(has(report["notes"].dump(), "passes withheld")) << report["notes"];
  const std::string html = testing::read_text(out_ / "report.html"), md = testing::read_text(out_ / "report.md");
  EXPECT_TRUE(has(html, kill)) << "the HTML report lists the counterexample";
  EXPECT_TRUE(has(md, kill)) << "the Markdown report lists the counterexample";

  // replay reproduces both: on seccomp the kill is a real one inside the write.
  for (const std::string& id : {kill, reader}) {
    const auto replayed = testing::run_crashcheck({"replay", report_file().string(), id});
    EXPECT_EQ(replayed.status, 1) << replayed.output;
    EXPECT_TRUE(has(replayed.output, "verdict: FAIL")) << replayed.output;
    EXPECT_TRUE(has(replayed.output, "torn") || has(replayed.output, "other")) << replayed.output;
  }
  const auto replayed = testing::run_crashcheck({"replay", report_file().string(), kill});
  EXPECT_EQ(has(replayed.output, "synthesized"), GetParam() == "preload") << replayed.output;
}

// One in-place write smaller than a page: a SIGKILL cannot stop it midway
// (crash_atomic passes), but a reader copies bytes and can find it half
// applied (ground_truth_test.cpp races one): reader_safe fails at its middle.
TEST_P(WithinCall, ASubPageInPlaceWriteIsTornForAReaderOnly) {
  testing::write_text(dir_ / "old", std::string(3000, 'o'));
  testing::write_text(dir_ / "new", std::string(3000, 'n'));
  const auto report = check("in-place", "kill,reader");
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "pass") << report["properties"]["crash_atomic"].dump(2);
  const auto& reader = report["properties"]["reader_safe"];
  ASSERT_EQ(reader["verdict"], "fail") << reader.dump(2);
  EXPECT_TRUE(has(reader["failures"][0]["case_id"].get<std::string>(), "reader-within-")) << reader.dump(2);
  EXPECT_TRUE(has(reader["failures"][0]["case_id"].get<std::string>(), "-1500")) << reader.dump(2);
  EXPECT_EQ(check("temp-rename", "kill,reader")["properties"]["reader_safe"]["verdict"], "pass");
}

// 255 page boundaries, 16 sampled: drawn from the two a tear shows at
// (only bytes 500000-509999 change), not missed by a draw over all of them.
// A SIGKILL at either leaves the file torn (ground_truth_test.cpp kills one
// write at a chosen page boundary).
TEST_P(WithinCall, TheSampledBoundariesAreThoseATearShowsAt) {
  std::string changed(kMiB, 'o');
  changed.replace(500000, 10000, std::string(10000, 'n'));
  testing::write_text(dir_ / "new", changed);
  const auto report = check("in-place", "kill,reader");
  for (const char* name : {"crash_atomic", "reader_safe"})
    EXPECT_EQ(report["properties"][name]["verdict"], "fail") << name << report["properties"][name].dump(2);
}

TEST_P(WithinCall, TheTempAndRenameTwinPassesAndNoStateInsideACallIsTorn) {
  const auto report = check("temp-rename", "kill,reader,errno,disk-full,power-loss");
  for (const char* name :
       {"crash_atomic", "reader_safe", "powerloss_atomic", "durable", "error_safe", "temp_clean", "mode_preserved"})
    EXPECT_EQ(report["properties"][name]["verdict"], "pass") << name << ": " << report["properties"][name].dump(2);
  const auto kills = cells_of(report, "kill", "kill-within-"), readers = cells_of(report, "reader", "reader-within-");
  EXPECT_EQ(kills.size(), 16u);
  EXPECT_EQ(readers.size(), 16u);
  for (const auto& list : {kills, readers})
    for (const auto& c : list) EXPECT_EQ(c["outcome"], "old") << c.dump();
}

TEST_P(WithinCall, ExhaustiveModelsEveryPageBoundary) {
  const auto report = check("in-place", "kill", {"--exhaustive"});
  EXPECT_EQ(cells_of(report, "kill", "kill-within-").size(), kBoundaries);
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "fail");
}

TEST_P(WithinCall, ExactModeKillsInsideTheWriteForRealWhereTheBackendCan) {
  const auto report = check("in-place", "kill", {"--kill-mode", "exact"});
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "fail");
  EXPECT_EQ(cells_of(report, "kill", "kill-within-").size(), 16u);
  const std::string notes = report["notes"].dump();
  if (GetParam() == "seccomp")
    EXPECT_TRUE(has(notes, "exact mode also killed 1 real subject inside a call")) << notes;
  else
    EXPECT_TRUE(has(notes, "cannot stop a write midway")) << notes;
}

// valid_content is judged on the states inside the call too: an in-place
// rewrite of one JSON document by another of the same length is invalid JSON
// while half done (the new document's head over the old one's tail).
TEST_P(WithinCall, ValidContentIsJudgedOnTheStatesInsideTheCall) {
  const std::size_t body = 3 * 4096;
  testing::write_text(dir_ / "old", "\"" + std::string(body + 7, 'o') + "\"");
  testing::write_text(dir_ / "new", "{\"k\": \"" + std::string(body, 'n') + "\"}");
  const auto report = check("in-place", "kill,reader", {"--validate", "json"});
  const auto& valid = report["properties"]["valid_content"];
  EXPECT_EQ(valid["verdict"], "fail") << valid.dump(2);
  ASSERT_FALSE(valid["failures"].empty());
  EXPECT_TRUE(has(valid["failures"][0]["case_id"].get<std::string>(), "-within-")) << valid.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Backends, WithinCall, ::testing::Values("seccomp", "preload"));

}  // namespace
}  // namespace crashcheck::runner
