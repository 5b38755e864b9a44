// Issue 13 N12: the disk-full model charges only the bytes a write needs new
// space for (past the file's end, or in a hole). An in-place overwrite of a
// record of the same length cannot fail on a full disk; one that grows the
// file past its allocated pages can. Ground truth: a tmpfs filled up (root
// only; skipped otherwise), the two writes run there. crashcheck, both
// backends: the overwrite gets no disk-full case (a note says why, and
// error_safe has nothing to judge); the growing twin gets cases and fails it. Writer:
// writers/rewrites_record.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/faults/backend.hpp>
#include <crashcheck/report.hpp>

#include <unistd.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using nlohmann::json;
using namespace testing;  // support.hpp: TempDir, run_crashcheck, shell, read_text, …

const std::string kOld = "{\"id\": 7, \"state\": \"old\", \"pad\": \"" + std::string(60, 'o') + "\"}\n";
const std::string kSame = "{\"id\": 7, \"state\": \"new\", \"pad\": \"" + std::string(60, 'n') + "\"}\n";
const std::string kLonger = "{\"id\": 7, \"state\": \"new\", \"pad\": \"" + std::string(3 * 4096, 'n') + "\"}\n";

std::string writer() { return std::string(CRASHCHECK_WRITERS_DIR) + "/rewrites_record.py"; }

// A small tmpfs at `dir`, unmounted when it goes.
class FullTmpfs {
 public:
  explicit FullTmpfs(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir);
    mounted_ = shell("mount -t tmpfs -o size=64k tmpfs " + reports::shell_quote(dir.string()) + " 2>/dev/null") == 0;
  }
  ~FullTmpfs() {
    if (mounted_) shell("umount " + reports::shell_quote(dir_.string()));
  }
  bool mounted() const { return mounted_; }
  // Takes every free page: writes stop with ENOSPC.
  void fill() { shell("dd if=/dev/zero of=" + reports::shell_quote((dir_ / "fill").string()) + " bs=4k 2>/dev/null"); }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST(DiskFullSpaceGroundTruth, AFullDiskLetsAnOverwriteThroughAndStopsAGrowingWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  TempDir dir;
  FullTmpfs disk(dir / "disk");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here";
  const auto target = dir / "disk" / "t.json";
  write_text(target, kOld);
  disk.fill();
  write_text(dir / "same.json", kSame);
  write_text(dir / "longer.json", kLonger);
  const std::string run = std::string(CRASHCHECK_PYTHON) + " " + reports::shell_quote(writer()) + " " +
                          reports::shell_quote(target.string()) + " ";
  EXPECT_EQ(shell(run + reports::shell_quote((dir / "same.json").string())), 0);
  EXPECT_EQ(read_text(target), kSame);
  EXPECT_EQ(shell(run + reports::shell_quote((dir / "longer.json").string()) + " 2>/dev/null"), 1);
  const std::string left = read_text(target);
  EXPECT_NE(left, kSame);
  EXPECT_NE(left, kLonger);  // cut short: neither old nor new
}

json check(const TempDir& dir, const std::string& payload, const std::string& backend) {
  write_text(dir / "old.json", kOld);
  write_text(dir / "new.json", payload);
  const auto out = dir / ("out-" + std::to_string(payload.size()) + "-" + backend);
  const auto r =
      run_crashcheck({"check", "--old", (dir / "old.json").string(), "--payload", (dir / "new.json").string(),
                      "--target", "t.json", "--models", "disk-full", "--backend", backend, "--quiet", "-o",
                      out.string(), "--", CRASHCHECK_PYTHON, writer(), "{target}", "{payload}"});
  EXPECT_NE(r.status, 2) << r.output;
  return json::parse(read_text(out / "report.json"));
}

class DiskFullSpace : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const auto kind =
        std::string(GetParam()) == "seccomp" ? faults::BackendKind::seccomp : faults::BackendKind::preload;
    if (auto why = faults::backend_unavailable(kind)) GTEST_SKIP() << *why;
  }
  TempDir dir_;
};

TEST_P(DiskFullSpace, AnOverwriteInPlaceGetsNoDiskFullCase) {
  const json report = check(dir_, kSame, GetParam());
  EXPECT_FALSE(report["model_cases"].contains("disk-full")) << report["model_cases"].dump();
  EXPECT_NE(report["notes"].dump().find("need no new space"), std::string::npos) << report["notes"].dump(2);
  EXPECT_EQ(report["properties"]["error_safe"]["verdict"], "not_run") << report["properties"]["error_safe"].dump(2);
}

TEST_P(DiskFullSpace, TheGrowingTwinIsCutShortAndFailsErrorSafe) {
  const json report = check(dir_, kLonger, GetParam());
  EXPECT_GT(report["model_cases"].value("disk-full", 0), 0) << report["model_cases"].dump();
  EXPECT_EQ(report["properties"]["error_safe"]["verdict"], "fail") << report["properties"]["error_safe"].dump(2);
}

INSTANTIATE_TEST_SUITE_P(Backends, DiskFullSpace, ::testing::Values("seccomp", "preload"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace crashcheck::runner
