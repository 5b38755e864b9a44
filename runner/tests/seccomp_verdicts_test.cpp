// Verdicts under the default backend (seccomp, where the kernel has it) on
// the writers the LD_PRELOAD agent misjudged or could not see at all: static
// binaries, Go, buffered stdio, glibc-internal opens, raw openat2, paths
// through /proc/self/cwd, temps in $TMPDIR, temps written by a thread or a
// child. Each runs through the real `crashcheck check`; each defective
// writer has a correct twin. The writers are faults/tests/seccomp_writer.c's
// twin actions and writers/go_writer.go; what they do wrong is known from how
// Linux works (a rename not followed by a directory fsync is not durable, …),
// not from crashcheck.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "crashcheck/faults/backend.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr const char* kContent = "new content\n";  // what every writer writes (seccomp_writer.c, go_writer.go)

// The properties every correct twin must pass (no --old, no validator: mode_preserved and valid_content do not run).
constexpr const char* kJudged[] = {"crash_atomic", "powerloss_atomic", "durable",
                                   "error_safe",   "temp_clean",       "reader_safe"};

class SeccompVerdicts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = faults::backend_unavailable(faults::BackendKind::seccomp))
      GTEST_SKIP() << "seccomp backend unavailable: " << *why;
  }

  // `crashcheck check` of writer (its argv; {dir} is the scratch directory) with the default backend.
  nlohmann::json judge(const std::vector<std::string>& writer) {
    testing::write_text(dir_ / "payload", kContent);
    const fs::path out = dir_ / ("out" + std::to_string(runs_++));
    std::vector<std::string> args{
        "check", "--payload", (dir_ / "payload").string(), "--target", "target", "-j", "2", "-o", out.string(), "--"};
    args.insert(args.end(), writer.begin(), writer.end());
    const auto result = testing::run_crashcheck(args);
    output_ = result.output;
    EXPECT_TRUE(result.status == 0 || result.status == 1) << result.output;
    auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
    EXPECT_EQ(report["subject"]["backend"], "seccomp");
    EXPECT_EQ(result.status, report["properties"].dump().find("\"fail\"") == std::string::npos ? 0 : 1);
    return report;
  }

  void expect_correct(const nlohmann::json& report) {
    for (const char* p : kJudged)
      EXPECT_EQ(report["properties"][p]["verdict"], "pass") << p << ": " << report["properties"][p].dump() << "\n"
                                                            << output_;
  }

  void expect_verdict(const nlohmann::json& report, const char* property, const char* verdict) {
    EXPECT_EQ(report["properties"][property]["verdict"], verdict)
        << property << ": " << report["properties"][property].dump() << "\n"
        << output_;
  }

  TempDir dir_;
  std::string output_;
  int runs_ = 0;
};

// One defective writer and its correct twin (seccomp_writer.c's twin
// actions): the twin passes every judged property; the defective one fails
// `fails` and still passes `holds` (so it is that defect, not any, that is seen).
struct Twins {
  const char* correct;
  const char* defective;
  const char* fails;
  std::vector<const char*> holds;
  const char* why;  // what the preload agent could not see
};

const Twins kTwins[] = {
    {"synced-dir",
     "no-dir-sync",
     "durable",
     {"powerloss_atomic", "crash_atomic"},
     "fsync(dirfd(opendir(dir))): glibc opens the directory internally"},
    {"stdio-checked",
     "stdio-unchecked",
     "error_safe",
     {"crash_atomic"},
     "buffered stdio: the write and its error happen in fflush/fclose"},
    {"openat2-sync",
     "openat2-nosync",
     "powerloss_atomic",
     {"crash_atomic"},
     "the temp made with syscall(SYS_openat2), which no libc wrapper shows"},
    {"cwd-atomic", "cwd-inplace", "crash_atomic", {}, "the target reached as /proc/self/cwd/target"},
    {"tmpdir-sync",
     "tmpdir-nosync",
     "powerloss_atomic",
     {"crash_atomic"},
     "a temp made in $TMPDIR and renamed in, traced from its creation"},
    {"thread-sync", "thread-nosync", "powerloss_atomic", {"crash_atomic"}, "the temp written by a second thread"},
    {"fork-sync", "fork-nosync", "powerloss_atomic", {"crash_atomic"}, "the temp written by a forked child"},
    {"tmpfile-sync",
     "tmpfile-nosync",
     "powerloss_atomic",
     {"crash_atomic", "error_safe", "temp_clean", "reader_safe"},
     "an O_TMPFILE file (no name), linked in through /proc/self/fd/N, renamed over the target"},
    {"flink-dirsync",
     "flink-nodirsync",
     "durable",
     {"powerloss_atomic", "crash_atomic", "error_safe", "temp_clean", "reader_safe"},
     "an O_TMPFILE file published by linkat(fd, \"\", AT_EMPTY_PATH) itself"},
};

class TwinVerdicts : public SeccompVerdicts, public ::testing::WithParamInterface<Twins> {};

TEST_P(TwinVerdicts, TheCorrectTwinPassesEveryProperty) {
  SCOPED_TRACE(GetParam().why);
  expect_correct(judge({CRASHCHECK_SECCOMP_WRITER, GetParam().correct, "{dir}"}));
}

TEST_P(TwinVerdicts, TheDefectiveTwinFailsItsProperty) {
  SCOPED_TRACE(GetParam().why);
  const auto report = judge({CRASHCHECK_SECCOMP_WRITER, GetParam().defective, "{dir}"});
  expect_verdict(report, GetParam().fails, "fail");
  for (const char* p : GetParam().holds) expect_verdict(report, p, "pass");
}

INSTANTIATE_TEST_SUITE_P(CWriters, TwinVerdicts, ::testing::ValuesIn(kTwins), [](const auto& info) {
  std::string name = info.param.correct;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// gcc -static: no dynamic loader, so no LD_PRELOAD; the kernel still sees it.
// (An in-place static writer fails: Run.StaticBinaryIsJudgedUnderTheDefaultBackend.)
#ifdef CRASHCHECK_SECCOMP_WRITER_STATIC
TEST_F(SeccompVerdicts, StaticBinaryTwinsAreJudged) {
  expect_correct(judge({CRASHCHECK_SECCOMP_WRITER_STATIC, "synced-dir", "{dir}"}));
  expect_verdict(judge({CRASHCHECK_SECCOMP_WRITER_STATIC, "no-dir-sync", "{dir}"}), "durable", "fail");
}
#endif

// ---------------------------------------------------------- Go writers --

// Built here from writers/go_writer.go with Debian's golang-go (standard
// library only). The Go runtime makes raw system calls: preload never sees it.
class GoVerdicts : public SeccompVerdicts {
 protected:
  void SetUp() override {
    SeccompVerdicts::SetUp();
    if (IsSkipped()) return;
    const std::string go = CRASHCHECK_GO;
    if (go.empty() || ::access(go.c_str(), X_OK) != 0)
      GTEST_SKIP() << "go not found (install golang-go, see README.md): the Go writers cannot be built";
    binary_ = dir_ / "go_writer";
    const std::string build = "cd '" + dir_.path().string() + "' && GOCACHE='" + CRASHCHECK_GO_CACHE + "' GOPATH='" +
                              (dir_ / "gopath").string() + "' GO111MODULE=off GOFLAGS= '" + go + "' build -o '" +
                              binary_.string() + "' '" + CRASHCHECK_WRITERS_DIR + "/go_writer.go' 2>&1";
    ASSERT_EQ(std::system(build.c_str()), 0) << build;
  }
  fs::path binary_;
};

TEST_F(GoVerdicts, CreateTempSyncRenameAndDirectorySyncPassesEveryProperty) {
  expect_correct(judge({binary_.string(), "{dir}"}));
}

TEST_F(GoVerdicts, WithoutTheDirectorySyncIsNotDurable) {
  const auto report = judge({binary_.string(), "{dir}", "no-dir-sync"});
  expect_verdict(report, "durable", "fail");
  expect_verdict(report, "powerloss_atomic", "pass");
  expect_verdict(report, "crash_atomic", "pass");
}

// Go's linker writes no .debug_aranges and inlines os.Rename into main: the
// sites are still the writer's own lines, found by the markers in its source.
TEST_F(GoVerdicts, CallsCarryTheWritersOwnSourceLines) {
  const auto report = judge({binary_.string(), "{dir}"});
  const std::string source = std::string(CRASHCHECK_WRITERS_DIR) + "/go_writer.go";
  const auto line_of = [&](const std::string& marker) {
    std::ifstream in(source);
    int number = 0;
    for (std::string line; std::getline(in, line);)
      if (++number, line.ends_with("// site: " + marker)) return source + ":" + std::to_string(number);
    ADD_FAILURE() << "no marker " << marker;
    return std::string();
  };
  std::string listing;  // shown when an expectation fails
  for (const auto& call : report["calls"])
    listing += call["summary"].get<std::string>() + " @ " + call.value("site", std::string()) + "\n";
  const auto has_site = [&](const std::string& call, const std::string& marker) {
    const std::string want = line_of(marker);
    return std::any_of(report["calls"].begin(), report["calls"].end(),
                       [&](const auto& c) { return c["call"] == call && c.value("site", std::string()) == want; });
  };
  EXPECT_TRUE(has_site("openat", "openat")) << listing;
  EXPECT_TRUE(has_site("write", "write")) << listing;
  EXPECT_TRUE(has_site("fsync", "fsync")) << listing;
  EXPECT_TRUE(has_site("renameat", "renameat")) << listing;
  EXPECT_TRUE(has_site("fsync", "fsync dir")) << listing;
}

// ------------------------------------------------------ backend choice --

// Without a usable seccomp backend (here: its launcher missing) the default
// falls back to preload and the report says why; asking for seccomp
// explicitly is refused with exit 3, saying why, and nothing runs.
TEST(BackendChoice, DefaultFallsBackToPreloadWithANoteExplicitSeccompExitsThree) {
  TempDir dir;
  ::setenv("CRASHCHECK_LAUNCH", (dir / "no-launcher").c_str(), 1);
  testing::write_text(dir / "payload", kContent);
  const std::vector<std::string> base{"check", "--payload", (dir / "payload").string(), "--models", "kill"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return testing::run_crashcheck(args);
  };
  const auto fallback = with({"-o", (dir / "a").string(), "--", "/bin/sh", "-c", "cat {payload} > {target}"});
  EXPECT_EQ(fallback.status, 1) << fallback.output;
  const auto report = nlohmann::json::parse(testing::read_text(dir / "a" / "report.json"));
  EXPECT_EQ(report["subject"]["backend"], "preload");
  EXPECT_NE(report["notes"].dump().find("seccomp backend cannot run here"), std::string::npos) << report["notes"];
  EXPECT_NE(report["notes"].dump().find("no-launcher"), std::string::npos) << report["notes"];
  const auto refused =
      with({"--backend", "seccomp", "-o", (dir / "b").string(), "--", "/bin/sh", "-c", "cat {payload} > {target}"});
  ::unsetenv("CRASHCHECK_LAUNCH");
  EXPECT_EQ(refused.status, 3) << refused.output;
  EXPECT_NE(refused.output.find("the seccomp backend cannot run here"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("no-launcher"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "b" / "report.json"));
}

// A subject that installs a seccomp listener of its own (a sandboxing
// program) cannot have it under the supervisor's (the kernel says EBUSY):
// with no backend asked for, the whole run falls back to preload and says
// why; with seccomp asked for, it is not checkable, saying why.
TEST_F(SeccompVerdicts, ASubjectWithItsOwnSeccompListenerFallsBackToPreload) {
  testing::write_text(dir_ / "payload", kContent);
  const std::vector<std::string> writer{CRASHCHECK_SECCOMP_WRITER, "own-listener", "{dir}"};
  auto run = [&](const std::string& out, std::vector<std::string> more) {
    std::vector<std::string> args{"check",           "--payload", (dir_ / "payload").string(),
                                  "--target",        "target",    "--models",
                                  "kill,power-loss", "-o",        (dir_ / out).string()};
    args.insert(args.end(), more.begin(), more.end());
    args.push_back("--");
    args.insert(args.end(), writer.begin(), writer.end());
    return testing::run_crashcheck(args);
  };
  const auto fallback = run("a", {});
  EXPECT_TRUE(fallback.status == 0 || fallback.status == 1) << fallback.output;
  const auto report = nlohmann::json::parse(testing::read_text(dir_ / "a" / "report.json"));
  EXPECT_EQ(report["subject"]["backend"], "preload");
  EXPECT_NE(report["notes"].dump().find("backend: preload, because the subject installs a seccomp listener"),
            std::string::npos)
      << report["notes"];
  EXPECT_EQ(report["properties"]["crash_atomic"]["verdict"], "pass") << fallback.output;
  const auto refused = run("b", {"--backend", "seccomp"});
  EXPECT_EQ(refused.status, 3) << refused.output;
  EXPECT_NE(refused.output.find("not checkable: the subject installs a seccomp listener of its own"), std::string::npos)
      << refused.output;
}

}  // namespace
}  // namespace crashcheck::runner
