// Issue 13, "the writer as it is", on the paths an adversarial review found
// judged wrongly without a payload: an error handler that empties the target
// (was a pass), a correct writer that copies its content in with sendfile
// (was a fail), pwrites whose short results go unchecked (was not judged), a
// writer whose later runs make other calls than its first (was a pass in
// exact mode) and a JSON number cut where the double does not change (was
// "new"). Each defect has a twin without it
// (writers/own_content_paths.py).
//
// What each does to the target is first seen without crashcheck: strace
// fails or kills one call of a direct run. Then crashcheck, with no payload,
// must agree on both backends. The strace ground truth skips itself where
// ptrace is not allowed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include <cstdlib>
#include <sys/wait.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, strace_works, read_text, …

const std::string kOld = "{\"a\": 1}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/own_content_paths.py"; }

// One direct run of `mode` on DIR/t.json (holding kOld) under strace's
// `options`: its exit status and what the target holds after it.
struct DirectRun {
  int status = -1;
  std::string target;
};
DirectRun run_directly(const TempDir& dir, const std::string& mode, const std::string& options,
                       const std::string& state = "") {
  write_text(dir / "t.json", kOld);
  const std::string command = "strace -f -qqq -o /dev/null " + options + " " + CRASHCHECK_PYTHON + " " +
                              reports::shell_quote(writer()) + " " + reports::shell_quote((dir / "t.json").string()) +
                              " " + mode + " " + state + " 2>/dev/null";
  DirectRun run;
  run.status = shell(command);
  run.target = fs::exists(dir / "t.json") ? read_text(dir / "t.json") : "(missing)";
  return run;
}

bool is_json(const std::string& text) { return !json::parse(text, nullptr, false).is_discarded(); }

TEST(OwnContentPathsGroundTruth, WhatAFailedOrKilledCallLeaves) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  const std::string fsync_fails = "-e trace=fsync -e inject=fsync:error=EIO:when=1";
  const auto wiped = run_directly(dir, "wipe-on-error", fsync_fails);
  EXPECT_EQ(wiped.status, 1);
  EXPECT_EQ(wiped.target, "");  // the old content is gone and the new never came
  const auto emptied = run_directly(dir, "empty-on-error", fsync_fails);
  EXPECT_EQ(emptied.status, 0);  // success claimed
  EXPECT_EQ(emptied.target, "");
  // The second write interrupted: Python retries it, and the whole content lands.
  const auto retried = run_directly(dir, "two-writes", "-e trace=write -e inject=write:error=EINTR:when=2");
  EXPECT_EQ(retried.status, 0);
  EXPECT_TRUE(is_json(retried.target) && retried.target != kOld) << retried.target;
  const auto raised = run_directly(dir, "raise-on-error", fsync_fails);
  EXPECT_EQ(raised.status, 1);
  EXPECT_EQ(raised.target, kOld);

  // The directory's open fails after the rename: exit 1, the whole new file.
  const auto copied = run_directly(
      dir, "copy",
      "-P " + reports::shell_quote(dir.path().string()) + " -e trace=openat -e inject=openat:error=ENOSPC");
  EXPECT_EQ(copied.status, 1);
  EXPECT_TRUE(is_json(copied.target) && copied.target != kOld) << copied.target;
  const auto in_place = run_directly(dir, "copy-in-place", "-e trace=sendfile -e inject=sendfile:error=ENOSPC:when=1");
  EXPECT_EQ(in_place.status, 1);
  EXPECT_EQ(in_place.target, "");

  // The second pwrite claims 6 bytes: the unchecked writer publishes a file
  // that is not what it meant, and says it succeeded.
  const std::string short_pwrite = "-e trace=pwrite64 -e inject=pwrite64:retval=6:when=2";
  const auto unchecked = run_directly(dir, "pwrite-unchecked", short_pwrite);
  EXPECT_EQ(unchecked.status, 0);
  EXPECT_FALSE(is_json(unchecked.target)) << unchecked.target;
  const auto checked = run_directly(dir, "pwrite-checked", short_pwrite);
  EXPECT_EQ(checked.status, 1);
  EXPECT_EQ(checked.target, kOld);

  // Killed before the number's last digit: the same double, another number.
  const std::string second_write_killed = "-e trace=write -e inject=write:signal=KILL:when=2";
  const auto number = run_directly(dir, "number-in-place", second_write_killed);
  EXPECT_EQ(number.status, 128 + SIGKILL);
  EXPECT_EQ(number.target, "0.1234567890123456789");
  EXPECT_EQ(run_directly(dir, "number-atomic", second_write_killed).target, kOld);

  // A run after the first, killed between its trailer's two writes, leaves
  // a file that is neither old nor what that run meant to write.
  const auto state = dir / "runs";
  write_text(state, "x");
  const auto later = run_directly(dir, "append-later", "-e trace=write -e inject=write:signal=KILL:when=4",
                                  reports::shell_quote(state.string()));
  EXPECT_EQ(later.status, 128 + SIGKILL);
  EXPECT_TRUE(later.target.ends_with("}\ntrailer part 1\n")) << later.target;
}

json check(const TempDir& dir, const std::string& mode, const std::string& models, const std::string& backend,
           std::vector<std::string> extra = {}) {
  write_text(dir / "old.json", kOld);
  const auto state = dir / ("runs-" + mode + "-" + backend);
  write_text(state, "");
  const auto out = dir / ("out-" + mode + "-" + backend);
  std::vector<std::string> args{
      "check",      "--old",  (dir / "old.json").string(), "--models", models, "--backend", backend, "-o",
      out.string(), "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  for (const std::string& arg :
       {std::string("--"), std::string(CRASHCHECK_PYTHON), writer(), std::string("{target}"), mode, state.string()})
    args.push_back(arg);
  const auto r = run_crashcheck(args);
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(out / "report.json"));
}

std::string verdict(const json& report, const char* property) { return report["properties"][property]["verdict"]; }

class OwnContentPaths : public ::testing::TestWithParam<const char*> {};

TEST_P(OwnContentPaths, AnErrorHandlerThatEmptiesTheTargetFailsErrorSafe) {
  TempDir dir;
  const json wiped = check(dir, "wipe-on-error", "errno,disk-full", GetParam());
  ASSERT_EQ(verdict(wiped, "error_safe"), "fail");
  const auto& failures = wiped["properties"]["error_safe"]["failures"];
  ASSERT_FALSE(failures.empty());
  EXPECT_EQ(failures[0]["target"]["matches"], "torn");
  EXPECT_EQ(failures[0]["target"]["size"], 0);
  EXPECT_EQ(verdict(check(dir, "raise-on-error", "errno,disk-full", GetParam()), "error_safe"), "pass");
}

TEST_P(OwnContentPaths, AnErrorHandlerThatEmptiesTheTargetAndClaimsSuccessFailsErrorSafe) {
  TempDir dir;
  const json emptied = check(dir, "empty-on-error", "errno,disk-full", GetParam());
  ASSERT_EQ(verdict(emptied, "error_safe"), "fail") << emptied["properties"]["error_safe"].dump();
  const std::string detail = emptied["properties"]["error_safe"]["failures"][0]["detail"];
  EXPECT_TRUE(has(detail, "the writer exited 0 (success) but the target holds a torn prefix (0 bytes)")) << detail;
}

// An interrupted write past offset 0, retried: the run's content is whole.
TEST_P(OwnContentPaths, ARetriedInterruptedWriteIsWhole) {
  TempDir dir;
  const json retried = check(dir, "two-writes", "errno,disk-full", GetParam());
  EXPECT_EQ(verdict(retried, "error_safe"), "pass") << retried["properties"]["error_safe"].dump();
}

TEST_P(OwnContentPaths, ACopyBySendfileIsWholeAndACopyOntoTheTargetIsNot) {
  TempDir dir;
  const json copied = check(dir, "copy", "errno,disk-full,kill,power-loss", GetParam());
  for (const char* p : {"error_safe", "crash_atomic", "powerloss_atomic", "durable"})
    EXPECT_EQ(verdict(copied, p), "pass") << p << ": " << copied["properties"][p].dump();
  EXPECT_EQ(verdict(check(dir, "copy-in-place", "errno,disk-full", GetParam()), "error_safe"), "fail");
}

TEST_P(OwnContentPaths, AShortPwriteLeftUncheckedIsAWrongSuccess) {
  TempDir dir;
  const json unchecked = check(dir, "pwrite-unchecked", "disk-full", GetParam());
  ASSERT_EQ(verdict(unchecked, "error_safe"), "fail") << unchecked["properties"]["error_safe"].dump();
  const std::string detail = unchecked["properties"]["error_safe"]["failures"][0]["detail"];
  EXPECT_TRUE(has(detail, "the writer exited 0 (success) but the target holds")) << detail;
  EXPECT_EQ(verdict(check(dir, "pwrite-checked", "disk-full", GetParam()), "error_safe"), "pass");
}

// Exact kills re-run the writer: a run whose calls are no longer the
// baseline's is not judged against the baseline's recipe.
TEST_P(OwnContentPaths, AnExactKillInARunThatLeftTheBaselinesPathIsNotJudged) {
  TempDir dir;
  const std::vector<std::string> exact{"--kill-mode", "exact"};
  const json later = check(dir, "append-later", "kill", GetParam(), exact);
  const auto& crash = later["properties"]["crash_atomic"];
  EXPECT_NE(crash["verdict"], "pass") << crash.dump();
  if (crash["verdict"] == "not_run") {
    EXPECT_TRUE(has(crash["reason"], "this run's calls are not the baseline's up to its fault: call ")) << crash.dump();
  }
  EXPECT_EQ(verdict(check(dir, "append-never", "kill", GetParam(), exact), "crash_atomic"), "pass");
}

TEST_P(OwnContentPaths, UnderCompareJsonANumberCutShortIsTorn) {
  TempDir dir;
  const std::vector<std::string> as_json{"--compare", "json"};
  const json in_place = check(dir, "number-in-place", "kill", GetParam(), as_json);
  ASSERT_EQ(verdict(in_place, "crash_atomic"), "fail");
  bool cut = false;
  for (const auto& f : in_place["properties"]["crash_atomic"]["failures"])
    cut = cut || (f["target"]["matches"] == "torn" && f["target"]["size"] == 21);
  EXPECT_TRUE(cut) << in_place["properties"]["crash_atomic"].dump();
  EXPECT_EQ(verdict(check(dir, "number-atomic", "kill", GetParam(), as_json), "crash_atomic"), "pass");
}

INSTANTIATE_TEST_SUITE_P(Backends, OwnContentPaths, ::testing::Values("seccomp", "preload"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace crashcheck::runner
