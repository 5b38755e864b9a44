// Issue 13 N9: a file the writer keeps on every run (a backup named by the
// time) is not a temp. temp_clean counts what a failed run leaves unless a
// successful run leaves a file of the same name shape too (digits aside);
// it failed such writers, naming the temp's creation. Ground truth:
// RLIMIT_FSIZE 0 makes the write fail for real; the correct writer leaves
// only its backup, the defective twin its temp as well. Writer:
// writers/keeps_backup.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, read_text, …

const std::string kOld = "{\"a\": 0}\n";
const std::string kNew = "{\"a\": 1, \"b\": \"" + std::string(64, 'x') + "\"}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/keeps_backup.py"; }

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(KeptByDesignGroundTruth, ARealWriteErrorLeavesTheBackupAndOnlyTheTwinLeavesItsTemp) {
  for (const bool defective : {false, true}) {
    TempDir dir;
    const auto work = dir / "work";
    std::filesystem::create_directories(work);
    write_text(work / "t.json", kOld);
    write_text(dir / "new.json", kNew);
    const std::string run = "ulimit -f 0; exec " + std::string(CRASHCHECK_PYTHON) + " " +
                            reports::shell_quote(writer()) + " " + reports::shell_quote((work / "t.json").string()) +
                            " " + reports::shell_quote((dir / "new.json").string()) +
                            (defective ? " --keep-temp-on-error" : "") + " 2>/dev/null";
    EXPECT_EQ(shell(run), 1);
    const auto names = names_in(work);
    ASSERT_EQ(names.size(), defective ? 3u : 2u) << defective;
    EXPECT_TRUE(names[0] == "t.json" && names[1].starts_with("t.json.bak-")) << names[1];
    if (defective) {
      EXPECT_EQ(names[2], "t.json.tmp");
    }
    EXPECT_EQ(read_text(work / "t.json"), kOld);
  }
}

json check(const TempDir& dir, bool defective, bool by_pid = false) {
  write_text(dir / "old.json", kOld);
  write_text(dir / "new.json", kNew);
  const auto out = dir / (std::string(defective ? "out-defective" : "out") + (by_pid ? "-pid" : ""));
  std::vector<std::string> args{"check",
                                "--old",
                                (dir / "old.json").string(),
                                "--payload",
                                (dir / "new.json").string(),
                                "--target",
                                "t.json",
                                "--models",
                                "errno,disk-full",
                                "--quiet",
                                "-o",
                                out.string(),
                                "--",
                                CRASHCHECK_PYTHON,
                                writer(),
                                "{target}",
                                "{payload}"};
  if (defective) args.push_back("--keep-temp-on-error");
  if (by_pid) args.push_back("--by-pid");
  const auto r = run_crashcheck(args);
  EXPECT_NE(r.status, 2) << r.output;
  return json::parse(read_text(out / "report.json"));
}

TEST(KeptByDesign, ABackupNamedPerRunIsNotATempAndTempCleanPasses) {
  TempDir dir;
  const json report = check(dir, false);
  const json& temp_clean = report["properties"]["temp_clean"];
  EXPECT_EQ(temp_clean["verdict"], "pass") << temp_clean.dump(2);
  EXPECT_NE(temp_clean.dump().find("t.json.bak-#"), std::string::npos) << temp_clean.dump(2);
  EXPECT_EQ(report["properties"]["error_safe"]["verdict"], "pass");
}

TEST(KeptByDesign, TheTwinThatLeavesItsTempFailsTempCleanAtTheTempsCreation) {
  TempDir dir;
  const json report = check(dir, true);
  const json& temp_clean = report["properties"]["temp_clean"];
  EXPECT_EQ(temp_clean["verdict"], "fail") << temp_clean.dump(2);
  EXPECT_NE(temp_clean.dump().find("e.g. t.json.tmp"), std::string::npos) << temp_clean.dump(2);
  bool diagnosed = false;
  for (const auto& d : report["diagnoses"])
    if (d["rule"] == "remove_temp_on_error") {
      diagnosed = true;
      EXPECT_NE(d["call"].get<std::string>().find("t.json.tmp"), std::string::npos) << d.dump(2);
    }
  EXPECT_TRUE(diagnosed) << report["diagnoses"].dump(2);
}

// adv8: a temp named by pid beside a backup named by the time: one name
// shape, digits aside. The baseline leaves one such file, the failed run
// two: one of them is a temp (the one whose digit run is not the backup's).
TEST(KeptByDesign, ATempNamedLikeTheBackupIsStillOneFileTooMany) {
  TempDir dir;
  const json report = check(dir, true, true);
  const json& temp_clean = report["properties"]["temp_clean"];
  EXPECT_EQ(temp_clean["verdict"], "fail") << temp_clean.dump(2);
  EXPECT_NE(temp_clean.dump().find("left 1 file(s) behind"), std::string::npos) << temp_clean.dump(2);
  const json twin = check(dir, false, true);
  EXPECT_EQ(twin["properties"]["temp_clean"]["verdict"], "pass") << twin["properties"]["temp_clean"].dump(2);
}

}  // namespace
}  // namespace crashcheck::runner
