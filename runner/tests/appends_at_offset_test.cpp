// Issue 11 F8: pwritev2 with RWF_APPEND, and pwrite on an O_APPEND
// descriptor, land at the file's end whatever their offset argument says
// (pwrite(2), BUGS). Both backends record them where they landed, so the
// trace explains the run and a correct writer using them is judged (it was
// not_run: "the trace does not explain …"); its twin without the fsync
// fails powerloss_atomic and durable. Writer: writers/appends_at_offset.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, read_text, …

const std::string kOld = "{\"a\": 0}\n";
const std::string kNew = "{\"appended\": \"" + std::string(100, 'x') + "\"}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/appends_at_offset.py"; }

// Ground truth: a direct run (no crashcheck) leaves the whole payload, so
// the second half went to the end, not to offset 0.
TEST(AppendsAtOffsetGroundTruth, TheKernelAppendsWhateverTheOffset) {
  TempDir dir;
  write_text(dir / "new.json", kNew);
  for (const char* mode : {"rwf-append", "oappend-pwrite"}) {
    write_text(dir / "t.json", kOld);
    EXPECT_EQ(shell(std::string(CRASHCHECK_PYTHON) + " " + reports::shell_quote(writer()) + " " +
                    reports::shell_quote((dir / "t.json").string()) + " " +
                    reports::shell_quote((dir / "new.json").string()) + " " + mode),
              0);
    EXPECT_EQ(read_text(dir / "t.json"), kNew) << mode;
  }
}

json check(const TempDir& dir, const std::string& mode, const std::string& backend, bool sync) {
  write_text(dir / "old.json", kOld);
  write_text(dir / "new.json", kNew);
  const auto out = dir / ("out-" + mode + "-" + backend + (sync ? "" : "-nosync"));
  std::vector<std::string> args{"check",
                                "--old",
                                (dir / "old.json").string(),
                                "--payload",
                                (dir / "new.json").string(),
                                "--backend",
                                backend,
                                "--quiet",
                                "-o",
                                out.string(),
                                "--models",
                                "kill,power-loss,reader",
                                "--",
                                CRASHCHECK_PYTHON,
                                writer(),
                                "{target}",
                                "{payload}",
                                mode};
  if (!sync) args.push_back("--no-sync");
  const auto r = run_crashcheck(args);
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(out / "report.json"));
}

class AppendsAtOffset : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(AppendsAtOffset, AreReplayedAtTheEndSoTheWriterIsJudged) {
  const auto [backend, mode] = GetParam();
  TempDir dir;
  const json synced = check(dir, mode, backend, true);
  for (const char* p : {"crash_atomic", "reader_safe", "powerloss_atomic", "durable"})
    EXPECT_EQ(synced["properties"][p]["verdict"], "pass") << p << ": " << synced["properties"][p].dump(2);
  const json unsynced = check(dir, mode, backend, false);
  for (const char* p : {"powerloss_atomic", "durable"})
    EXPECT_EQ(unsynced["properties"][p]["verdict"], "fail") << p << ": " << unsynced["properties"][p].dump(2);
  EXPECT_EQ(unsynced["properties"]["crash_atomic"]["verdict"], "pass");
}

INSTANTIATE_TEST_SUITE_P(Backends, AppendsAtOffset,
                         ::testing::Combine(::testing::Values("preload", "seccomp"),
                                            ::testing::Values("rwf-append", "oappend-pwrite")),
                         [](const auto& info) {
                           std::string name = std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace crashcheck::runner
