// The property checkers on hand-made observations, target classification,
// and case ids (a round trip for every fault plan, via rapidcheck).
#include "crashcheck/runner/properties.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cerrno>

#include "crashcheck/runner/cases.hpp"

namespace crashcheck::runner {
namespace {

using reports::Verdict;

const Contents kContents{std::string("old content"), 0644, std::string("new content!")};

Entry file(const std::string& bytes, mode_t mode = 0644) { return {Entry::Kind::file, mode, bytes}; }

Observation seen(const std::string& model, const std::optional<std::string>& bytes, int exit_status = 0,
                 std::vector<std::string> leftovers = {}, mode_t mode = 0644) {
  static int serial = 0;
  Observation o;
  o.case_id = model + "-" + std::to_string(++serial);
  o.model = *reports::model_from_name(model);
  const Entry e = file(bytes.value_or(""), mode);
  o.target = describe_target(bytes ? &e : nullptr, kContents);
  o.target_bytes = bytes;
  o.exit_status = exit_status;
  o.leftovers = std::move(leftovers);
  return o;
}

const ContentValidator kNoEmpty = [](const std::string& b) { return !b.empty(); };
const std::vector<std::string> kAllModels = {"kill", "errno", "disk-full", "reader"};

TEST(DescribeTarget, ClassifiesEveryState) {
  auto matches = [](const std::optional<std::string>& bytes) {
    const Entry e = file(bytes.value_or(""));
    return describe_target(bytes ? &e : nullptr, kContents).matches;
  };
  EXPECT_EQ(matches("old content"), "old");
  EXPECT_EQ(matches("new content!"), "new");
  EXPECT_EQ(matches(std::nullopt), "missing");
  EXPECT_EQ(matches(""), "torn");
  EXPECT_EQ(matches("new con"), "torn");
  EXPECT_EQ(matches("old contentX"), "other");
  const Entry e = file("new content!", 0600);
  EXPECT_EQ(describe_target(&e, kContents).mode, "0600");
  EXPECT_EQ(describe_target(&e, kContents).size, 12u);
}

TEST(Judge, CrashAtomicFailsOnATornStateAndPassesOtherwise) {
  auto j = judge({seen("kill", "old content", -9), seen("kill", "new content!", -9)}, kContents, kAllModels, kNoEmpty);
  EXPECT_EQ(j.properties["crash_atomic"].verdict, Verdict::pass);
  EXPECT_EQ(j.properties["crash_atomic"].cases, 2u);
  j = judge({seen("kill", "old content", -9), seen("kill", "", -9)}, kContents, kAllModels, kNoEmpty);
  ASSERT_EQ(j.properties["crash_atomic"].verdict, Verdict::fail);
  EXPECT_EQ(j.properties["crash_atomic"].failures.at(0).target.matches, "torn");
  EXPECT_EQ(j.properties["valid_content"].verdict, Verdict::fail);
}

TEST(Judge, MissingTargetIsTheOldStateOnlyWhenThereWasNoOldFile) {
  const Contents no_old{std::nullopt, 0644, "new"};
  Observation o = seen("kill", std::nullopt, -9);
  o.target = describe_target(nullptr, no_old);
  EXPECT_EQ(judge({o}, no_old, kAllModels, {}).properties["crash_atomic"].verdict, Verdict::pass);
  EXPECT_EQ(judge({seen("kill", std::nullopt, -9)}, kContents, kAllModels, {}).properties["crash_atomic"].verdict,
            Verdict::fail);
}

TEST(Judge, ErrorSafeRejectsSuccessWithWrongContentAndFailureWithTornContent) {
  auto verdict = [](Observation o) { return judge({o}, kContents, kAllModels, {}).properties["error_safe"].verdict; };
  EXPECT_EQ(verdict(seen("errno", "old content", 1)), Verdict::pass);
  EXPECT_EQ(verdict(seen("errno", "new content!", 0)), Verdict::pass);
  EXPECT_EQ(verdict(seen("errno", "new content!", 1)), Verdict::pass);  // e.g. directory fsync failed after rename
  EXPECT_EQ(verdict(seen("errno", "old content", 0)), Verdict::fail);   // claimed success, nothing written
  EXPECT_EQ(verdict(seen("disk-full", "new con", 1)), Verdict::fail);
  Observation hung = seen("errno", "old content", -9);
  hung.timed_out = true;
  EXPECT_EQ(verdict(hung), Verdict::fail);
}

TEST(Judge, TempFilesAfterSigkillAreANoteAfterAReportedFailureAFailure) {
  auto j =
      judge({seen("kill", "old content", -9, {"x.tmp"}), seen("errno", "old content", 1)}, kContents, kAllModels, {});
  EXPECT_EQ(j.properties["temp_clean"].verdict, Verdict::pass);
  ASSERT_EQ(j.properties["temp_clean"].notes.size(), 1u);
  EXPECT_NE(j.properties["temp_clean"].notes[0].find("x.tmp"), std::string::npos);
  j = judge({seen("errno", "old content", 1, {"x.tmp"})}, kContents, kAllModels, {});
  EXPECT_EQ(j.properties["temp_clean"].verdict, Verdict::fail);
  // No reported failure at all: nothing to judge.
  j = judge({seen("errno", "new content!", 0)}, kContents, kAllModels, {});
  EXPECT_EQ(j.properties["temp_clean"].verdict, Verdict::not_run);
}

TEST(Judge, ModePreservedLooksAtReplacedFilesOnly) {
  auto j = judge({seen("baseline", "new content!", 0, {}, 0600), seen("kill", "old content", -9, {}, 0644)}, kContents,
                 kAllModels, {});
  ASSERT_EQ(j.properties["mode_preserved"].verdict, Verdict::fail);
  EXPECT_EQ(j.properties["mode_preserved"].cases, 1u);
  const Contents no_old{std::nullopt, 0644, "new content!"};
  j = judge({seen("baseline", "new content!", 0, {}, 0600)}, no_old, kAllModels, {});
  EXPECT_EQ(j.properties["mode_preserved"].verdict, Verdict::not_run);
  EXPECT_FALSE(j.properties["mode_preserved"].reason.empty());
}

TEST(Judge, PropertiesNoCaseCheckedAreNotRunWithAReason) {
  auto j = judge({seen("baseline", "new content!", 0)}, kContents, {"kill"}, {});
  for (auto name : reports::kProperties) EXPECT_TRUE(j.properties.count(std::string(name))) << name;
  for (const char* name : {"reader_safe", "error_safe", "valid_content", "powerloss_atomic", "durable"}) {
    EXPECT_EQ(j.properties[name].verdict, Verdict::not_run) << name;
    EXPECT_FALSE(j.properties[name].reason.empty()) << name;
  }
  EXPECT_NE(j.properties["reader_safe"].reason.find("reader"), std::string::npos);
}

TEST(Judge, CellsCarryTheOutcomeOfEveryCase) {
  auto j = judge({seen("errno", "old content", 1), seen("errno", "old content", 0), seen("reader", "")}, kContents,
                 kAllModels, {});
  ASSERT_EQ(j.cells.size(), 3u);
  EXPECT_EQ(j.cells[0].outcome, "error_ok");
  EXPECT_EQ(j.cells[1].outcome, "wrong_success");
  EXPECT_EQ(j.cells[2].outcome, "torn");
}

using Kind = faults::FaultPlan::Kind;

RC_GTEST_PROP(CaseIds, RoundTripEveryPlan, ()) {
  const auto kind = *rc::gen::element(Kind::kill_before, Kind::kill_after, Kind::fail_call, Kind::disk_full);
  faults::FaultPlan plan;
  plan.kind = kind;
  if (kind == Kind::disk_full)
    plan.byte_budget = *rc::gen::arbitrary<std::uint64_t>();
  else
    plan.call = *rc::gen::inRange<std::uint32_t>(1, 1u << 30);
  if (kind == Kind::fail_call) plan.error = *rc::gen::element(ENOSPC, EIO, EDQUOT, EINTR, EXDEV, EACCES);
  using reports::Model;
  const Model model = kind == Kind::fail_call   ? Model::errno_fault
                      : kind == Kind::disk_full ? Model::disk_full
                                                : Model::kill;
  const std::string id = case_id(model, plan);
  const auto back = parse_case_id(id);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->id == id);
  RC_ASSERT(back->model == model);
  RC_ASSERT(back->plan.encode() == plan.encode());
}

// States inside a call: kill-within-N-B and reader-within-N-B, for any call and byte count.
RC_GTEST_PROP(CaseIds, RoundTripStatesInsideACall, ()) {
  using reports::Model;
  const Model model = *rc::gen::element(Model::kill, Model::reader);
  const faults::FaultPlan plan{Kind::kill_within, *rc::gen::inRange<std::uint32_t>(1, 1u << 30), 0,
                               *rc::gen::inRange<std::uint64_t>(1, 1ull << 40)};
  const std::uint32_t reader_call = model == Model::reader ? plan.call : 0;
  const std::string id = case_id(model, plan, reader_call);
  const auto back = parse_case_id(id);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->id == id);
  RC_ASSERT(back->model == model);
  RC_ASSERT(back->plan.encode() == plan.encode());
  RC_ASSERT(back->reader_call == reader_call);
}

TEST(CaseIds, ReaderAndBaselineAndGarbage) {
  EXPECT_EQ(parse_case_id("reader-3")->reader_call, 3u);
  EXPECT_EQ(parse_case_id("baseline")->model, reports::Model::baseline);
  for (const char* bad :
       {"kill-before-", "kill-before-x", "errno-3", "errno-3-EWHAT", "disk-full--1", "nope", "kill-within-3",
        "kill-within-0-4096", "kill-within-3-0", "kill-within-3-x", "reader-within-3-", "kill-within--4096"})
    EXPECT_FALSE(parse_case_id(bad).has_value()) << bad;
}

}  // namespace
}  // namespace crashcheck::runner
