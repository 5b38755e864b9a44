// Issue 13 N1c: the errno model fails every counted call whose call table
// lists errnos, not only opens, writes, syncs, closes and renames. An
// in-place rewrite whose ftruncate failure is ignored leaves the new content
// followed by the old tail and exits 0 (error_safe fails); its twin puts the
// old content back and exits 1 (passes). A replacement whose fchmod failure
// is ignored publishes the temp file's mode (mode_preserved fails); its twin
// gives up (passes). Writers: writers/cuts_in_place.py.
//
// Ground truth first, without crashcheck: strace fails the one call in a
// direct run (it skips itself where ptrace is not allowed). Then crashcheck
// must agree on both backends, with and without a payload (without, each run's
// own content is rebuilt from its trace, the failed truncate included).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include <sys/stat.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, strace_works, read_text, …

// Longer than any new content, so a truncate that fails leaves a tail of it.
const std::string kOld = "{\"old\": \"" + std::string(180, 'o') + "\"}\n";
const std::string kNew = "{\"new\": 1}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/cuts_in_place.py"; }

struct DirectRun {
  int status = -1;
  std::string target;
  unsigned mode = 0;
};

// `mode` of the writer on DIR/t.json (kOld, 0644) with `call` failing with EIO/EPERM under strace.
DirectRun run_directly(const TempDir& dir, const std::string& mode, const std::string& call, const char* error) {
  write_text(dir / "t.json", kOld, 0644);
  const std::string command = "strace -f -qqq -o /dev/null -e trace=" + call + " -e inject=" + call +
                              ":error=" + error + " " + CRASHCHECK_PYTHON + " " + reports::shell_quote(writer()) + " " +
                              reports::shell_quote((dir / "t.json").string()) + " " + mode + " 2>/dev/null";
  DirectRun run;
  run.status = shell(command);
  run.target = read_text(dir / "t.json");
  struct stat st {};
  if (::stat((dir / "t.json").c_str(), &st) == 0) run.mode = st.st_mode & 07777;
  return run;
}

TEST(ErrnoEveryCallGroundTruth, AnIgnoredTruncateOrChmodFailureIsASilentlyWrongResult) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  const auto ignored = run_directly(dir, "ignore", "ftruncate", "EIO");
  EXPECT_EQ(ignored.status, 0);  // success claimed
  EXPECT_EQ(ignored.target.size(), kOld.size());
  EXPECT_NE(ignored.target, kOld);
  EXPECT_TRUE(json::parse(ignored.target, nullptr, false).is_discarded()) << ignored.target;  // neither old nor new
  const auto restored = run_directly(dir, "restore", "ftruncate", "EIO");
  EXPECT_EQ(restored.status, 1);
  EXPECT_EQ(restored.target, kOld);

  const auto chmod_ignored = run_directly(dir, "chmod-ignore", "fchmod", "EPERM");
  EXPECT_EQ(chmod_ignored.status, 0);
  EXPECT_EQ(chmod_ignored.mode, 0600u);  // the temp file's mode replaced the old file's
  const auto chmod_checked = run_directly(dir, "chmod-check", "fchmod", "EPERM");
  EXPECT_EQ(chmod_checked.status, 1);
  EXPECT_EQ(chmod_checked.mode, 0644u);
  EXPECT_EQ(chmod_checked.target, kOld);
}

json check(const TempDir& dir, const std::string& mode, const std::string& backend, bool payload) {
  write_text(dir / "old.json", kOld, 0644);
  write_text(dir / "new.json", kNew);
  const auto out = dir / ("out-" + mode + "-" + backend + (payload ? "-payload" : ""));
  std::vector<std::string> args{
      "check",      "--old",  (dir / "old.json").string(), "--models", "errno", "--backend", backend, "-o",
      out.string(), "--quiet"};
  if (payload) args.insert(args.end(), {"--payload", (dir / "new.json").string()});
  args.insert(args.end(), {"--", CRASHCHECK_PYTHON, writer(), "{target}"});
  if (payload) args.push_back("{payload}");
  args.push_back(mode);
  const auto r = run_crashcheck(args);
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(out / "report.json"));
}

const json& property(const json& report, const char* name) { return report["properties"][name]; }

// Whether every failure names a call starting with `name` (glibc's
// ftruncate may be ftruncate64 under preload).
bool all_at(const json& result, const std::string& name) {
  for (const auto& f : result["failures"])
    if (!f["call"].get<std::string>().starts_with(name)) return false;
  return !result["failures"].empty();
}

class ErrnoEveryCall : public ::testing::TestWithParam<const char*> {};

TEST_P(ErrnoEveryCall, AnIgnoredTruncateFailureFailsErrorSafeAndTheRestoringTwinPasses) {
  TempDir dir;
  for (bool payload : {true, false}) {
    const json ignored = check(dir, "ignore", GetParam(), payload);
    const auto& safe = property(ignored, "error_safe");
    ASSERT_EQ(safe["verdict"], "fail") << payload << safe.dump(2);
    EXPECT_TRUE(all_at(safe, "ftruncate")) << safe.dump(2);
    const auto& first = safe["failures"].at(0);
    EXPECT_EQ(first["exit_status"], 0);
    EXPECT_EQ(first["target"]["size"], kOld.size());  // the new content, then the old tail
    EXPECT_TRUE(has(first["detail"], "the writer exited 0 (success) but the target holds")) << first.dump(2);

    const json restored = check(dir, "restore", GetParam(), payload);
    EXPECT_EQ(property(restored, "error_safe")["verdict"], "pass") << property(restored, "error_safe").dump(2);
  }
}

TEST_P(ErrnoEveryCall, AnIgnoredChmodFailureFailsModePreservedAndTheCheckingTwinPasses) {
  TempDir dir;
  const json ignored = check(dir, "chmod-ignore", GetParam(), true);
  const auto& mode = property(ignored, "mode_preserved");
  ASSERT_EQ(mode["verdict"], "fail") << mode.dump(2);
  EXPECT_TRUE(all_at(mode, "fchmod(")) << mode.dump(2);
  EXPECT_TRUE(has(mode["failures"].at(0)["detail"], "has mode 0600, the old one had 0644")) << mode.dump(2);
  const json checked = check(dir, "chmod-check", GetParam(), true);
  for (const char* p : {"mode_preserved", "error_safe", "temp_clean"})
    EXPECT_EQ(property(checked, p)["verdict"], "pass") << p << property(checked, p).dump(2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ErrnoEveryCall, ::testing::Values("preload", "seccomp"));

}  // namespace
}  // namespace crashcheck::runner
