// Directory mode (issue 15): the scenario and `check` input it accepts and
// refuses, and the checker's wiring — a checker that always exits 0 passes
// every checker-judged property, one that always exits 1 fails them all, and
// one that hangs is a timeout (fail), never a pass; and replay of one case. The writer is the bundled
// manifest writer in its correct form (scenarios/subjects/manifest_writer.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include "crashcheck/runner/campaign.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The properties the checker decides (temp_clean is judged from names alone).
const std::vector<std::string> kCheckerJudged = {"crash_consistent", "powerloss_consistent", "error_consistent",
                                                 "durable", "reader_consistent"};

// A scenario file in `dir` around the correct manifest writer, judged by `checker` (JSON argv).
fs::path manifest_scenario(const TempDir& dir, const std::string& checker, const std::string& extra = "") {
  const fs::path bundled = testing::scenarios_dir();
  const std::string text = "{\"name\": \"d\", \"command\": [\"" CRASHCHECK_PYTHON "\", \"" +
                           (bundled / "subjects" / "manifest_writer.py").string() +
                           "\", \"{dir}\", \"{payload}\", \"ordered\"], \"initial\": {\"dir\": \"" +
                           (bundled / "data" / "manifest_initial").string() + "\"}, \"payload\": {\"file\": \"" +
                           (bundled / "data" / "manifest_data.new.bin").string() +
                           "\"}, \"checker\": {\"command\": " + checker + "}" + extra + "}";
  testing::write_text(dir / "s.json", text);
  return dir / "s.json";
}

CampaignResult run(const fs::path& scenario, const std::vector<std::string>& models = {}, double timeout_s = 20) {
  RunOptions options;
  options.models = models;
  options.jobs = 2;
  options.progress = false;
  options.timeout_s = timeout_s;
  return run_campaigns(load_scenario(scenario), options);
}

std::string verdict(const CampaignResult& r, const std::string& property) {
  return std::string(reports::verdict_name(r.report.properties.at(property).verdict));
}

TEST(DirectoryMode, CheckerThatAlwaysExitsZeroPassesEveryCheckerProperty) {
  TempDir dir;
  const auto r = run(manifest_scenario(dir, "[\"/bin/true\"]"));
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  for (const auto& p : kCheckerJudged) {
    EXPECT_EQ(verdict(r, p), "pass") << p << ": " << r.report.properties.at(p).reason;
    EXPECT_GT(r.report.properties.at(p).cases, 0u) << p;
  }
  EXPECT_EQ(verdict(r, "temp_clean"), "pass");
  EXPECT_EQ(verdict(r, "crash_atomic"), "not_run");  // a single-file property
}

TEST(DirectoryMode, CheckerThatAlwaysExitsOneFailsEveryCheckerProperty) {
  TempDir dir;
  const auto r = run(manifest_scenario(dir, "[\"/bin/false\"]"));
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  for (const auto& p : kCheckerJudged) {
    const auto& result = r.report.properties.at(p);
    EXPECT_EQ(verdict(r, p), "fail") << p;
    ASSERT_FALSE(result.failures.empty()) << p;
    EXPECT_TRUE(testing::has(result.failures.front().detail, "ended exit 1")) << result.failures.front().detail;
  }
  EXPECT_EQ(verdict(r, "temp_clean"), "pass");  // names only: the checker does not decide it
}

TEST(DirectoryMode, CheckerSeesCommittedOnlyAfterTheWriterExitedZero) {
  TempDir dir;
  // Fails only the committed check: crash and power-loss states before the
  // end pass, what the writer left after exit 0 fails.
  const auto r = run(manifest_scenario(dir, "[\"/bin/sh\", \"-c\", \"test \\\"$CRASHCHECK_COMMITTED\\\" = 0\"]"),
                     {"kill", "power-loss"});
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  EXPECT_EQ(verdict(r, "powerloss_consistent"), "pass");
  EXPECT_EQ(verdict(r, "durable"), "fail");
  const auto& crash = r.report.properties.at("crash_consistent");
  ASSERT_EQ(crash.failures.size(), 1u);
  EXPECT_EQ(crash.failures.front().case_id, "baseline");
}

TEST(DirectoryMode, HangingCheckerIsATimeoutNeverAPass) {
  TempDir dir;
  // Hangs on the committed states only, so the run stays short.
  const auto r =
      run(manifest_scenario(dir, "[\"/bin/sh\", \"-c\", \"test \\\"$CRASHCHECK_COMMITTED\\\" = 0 || sleep 1000\"]"),
          {"power-loss"}, 1);
  ASSERT_FALSE(r.not_checkable) << *r.not_checkable;
  EXPECT_EQ(verdict(r, "powerloss_consistent"), "pass");
  const auto& durable = r.report.properties.at("durable");
  EXPECT_EQ(verdict(r, "durable"), "fail");
  ASSERT_FALSE(durable.failures.empty());
  EXPECT_TRUE(testing::has(durable.failures.front().detail, "(timeout)")) << durable.failures.front().detail;
}

TEST(DirectoryMode, BadInputExitsTwoNamingTheFieldOrFlag) {
  TempDir dir;
  const fs::path initial = testing::scenarios_dir() / "data" / "manifest_initial";
  auto expect_refused = [&](const std::string& text, const std::string& says) {
    testing::write_text(dir / "bad.json", text);
    const auto result = testing::run_crashcheck({"run", (dir / "bad.json").string(), "-o", (dir / "out").string()});
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_TRUE(testing::has(result.output, says)) << result.output;
    EXPECT_FALSE(fs::exists(dir / "out"));
  };
  const std::string head = "{\"name\": \"d\", \"command\": [\"/bin/true\"], ";
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() + "\"}}", "bad.json: field \"checker\"");
  expect_refused(head + "\"checker\": {\"command\": [\"/bin/true\"]}}", "bad.json: field \"initial\"");
  expect_refused(head + "\"initial\": {\"dir\": \"/no/such/dir\"}, \"checker\": {\"command\": [\"/bin/true\"]}}",
                 "bad.json: field \"initial.dir\": no such directory");
  testing::write_text(dir / "old.txt", "x");
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() +
                     "\"}, \"old\": {\"file\": \"old.txt\"}, \"checker\": {\"command\": [\"/bin/true\"]}}",
                 "bad.json: field \"old\": \"old\" and \"initial.dir\" exclude each other");
  expect_refused(head + "\"initial\": {\"dir\": \"" + initial.string() +
                     "\"}, \"checker\": {\"command\": [\"/no/such/checker\"]}}",
                 "bad.json: field \"checker.command\"");
  const auto no_checker = testing::run_crashcheck({"check", "--initial", initial.string(), "--", "/bin/true"});
  EXPECT_EQ(no_checker.status, 2);
  EXPECT_TRUE(testing::has(no_checker.output, "--initial: needs --checker")) << no_checker.output;
  const auto both = testing::run_crashcheck(
      {"check", "--initial", initial.string(), "--checker", "true", "--old", (dir / "old.txt").string(), "--", "true"});
  EXPECT_EQ(both.status, 2);
  EXPECT_TRUE(testing::has(both.output, "--old: excludes --initial")) << both.output;
}

TEST(DirectoryMode, CheckRunsTheSameCampaignFromFlags) {
  TempDir dir;
  const fs::path bundled = testing::scenarios_dir();
  const auto result = testing::run_crashcheck(
      {"check", "--initial", (bundled / "data" / "manifest_initial").string(), "--payload",
       (bundled / "data" / "manifest_data.new.bin").string(), "--checker",
       std::string(CRASHCHECK_PYTHON) + " " + (bundled / "subjects" / "manifest_checker.py").string() +
           " {dir} data-2.bin",
       "--models", "power-loss", "-j", "2", "-o", (dir / "out").string(), "--", CRASHCHECK_PYTHON,
       (bundled / "subjects" / "manifest_writer.py").string(), "{dir}", "{payload}", "unordered"});
  EXPECT_EQ(result.status, 1) << result.output;  // the planted defect
  EXPECT_TRUE(testing::has(result.output, "powerloss_consistent=fail")) << result.output;
  const std::string markdown = testing::read_text(dir / "out" / "report.md");
  EXPECT_TRUE(testing::has(markdown, "the directory holds MANIFEST, data\\-1\\.bin, data\\-2\\.bin")) << markdown;
}

// `check` in directory mode on `initial`, with `checker` and `writer` (argv); the report.
struct Checked {
  int status;
  std::string output;
  reports::Report report;
};
Checked check_directory(const TempDir& dir, const fs::path& initial, const std::string& checker,
                        std::vector<std::string> writer) {
  std::vector<std::string> args{"check", "--initial", initial.string(),       "--checker", checker, "-j",
                                "2",     "-o",        (dir / "out").string(), "--"};
  args.insert(args.end(), writer.begin(), writer.end());
  const auto result = testing::run_crashcheck(args);
  return {result.status, result.output, reports::load_report(dir / "out" / "report.json")};
}

// A symlink in the directory is a symlink in every state the checker sees
// (adversarial pass on issue 15: it was named after its target, so a writer
// that only adds a file failed everything). Truth: the writer never touches
// CUR, so `test -L CUR && test -f CUR` holds in the real directory all along;
// its twin removes CUR, and a SIGKILL after that leaves none.
TEST(DirectoryMode, ASymlinkIsKeptInEveryStateTheCheckerSees) {
  TempDir dir;
  testing::write_text(dir / "initial" / "data-1.bin", "one\n");
  fs::create_symlink("data-1.bin", dir / "initial" / "CUR");
  testing::write_text(dir / "link_checker.sh", "test -L \"$1/CUR\" && test -f \"$1/CUR\"\n");
  const std::string checker = "/bin/sh " + (dir / "link_checker.sh").string() + " {dir}";
  const auto kept = check_directory(dir, dir / "initial", checker, {"/bin/sh", "-c", "echo x > note"});
  EXPECT_EQ(kept.status, 0) << kept.output;
  for (const auto& p : {"crash_consistent", "error_consistent", "reader_consistent"})
    EXPECT_EQ(kept.report.properties.at(p).verdict, reports::Verdict::pass) << p;
  const auto removed = check_directory(dir, dir / "initial", checker, {"/bin/sh", "-c", "rm CUR"});
  EXPECT_EQ(removed.status, 1) << removed.output;
  EXPECT_EQ(removed.report.properties.at("crash_consistent").verdict, reports::Verdict::fail);
}

// A directory renamed with a file in it is not replayed by the power-loss
// model (one name per file): powerloss_consistent and durable are not_run
// with that reason — never a pass, even with a checker that accepts
// everything — and so is reader_consistent, whose states inside a write are
// replayed from the trace too (adversarial pass, adv6 3); the kill states at
// call boundaries are still judged. Without a file in it, the rename moves
// one entry, which the model follows.
TEST(DirectoryMode, ADirectoryRenamedWithItsFilesIsNotJudgedForPowerLoss) {
  TempDir dir;
  testing::write_text(dir / "initial" / "keep", "k\n");
  for (const bool with_file : {true, false}) {
    SCOPED_TRACE(with_file ? "with a file in it" : "empty");
    const std::string fill = with_file ? " && echo x > g.tmp/data" : "";
    const auto r =
        check_directory(dir, dir / "initial", "/bin/true", {"/bin/sh", "-c", "mkdir g.tmp" + fill + " && mv g.tmp g"});
    const auto& power = r.report.properties.at("powerloss_consistent");
    const auto& reader = r.report.properties.at("reader_consistent");
    if (with_file) {
      EXPECT_EQ(power.verdict, reports::Verdict::not_run) << r.output;
      EXPECT_TRUE(testing::has(power.reason, "which renames the directory `g.tmp` to `g`")) << power.reason;
      EXPECT_EQ(r.report.properties.at("durable").reason, power.reason);
      // a reader during `echo x` finds "x" alone: a state replayed from the trace, so not modelled here
      EXPECT_EQ(reader.verdict, reports::Verdict::not_run) << r.output;
      EXPECT_TRUE(testing::has(reader.reason, "inside write-class calls")) << reader.reason;
    } else {
      EXPECT_EQ(power.verdict, reports::Verdict::pass) << power.reason;
      EXPECT_EQ(reader.verdict, reports::Verdict::pass) << reader.reason;
    }
    EXPECT_EQ(r.report.properties.at("crash_consistent").verdict, reports::Verdict::pass);  // no write crosses a page
  }
}

// A temp made in $TMPDIR and renamed into the directory: the states the
// models build hold the directory only, never the temp's own name (adv7 5:
// the kill and reader models materialised `$TMPDIR/…` and exited 3).
TEST(DirectoryMode, ATempFromTmpdirRenamedInIsJudgedByEveryModel) {
  TempDir dir;
  testing::write_text(dir / "initial" / "keep", "k\n");
  const auto r = check_directory(dir, dir / "initial", "/bin/sh -c 'test -f \"$0/keep\"' {dir}",
                                 {"/bin/sh", "-c", "t=$(mktemp) && printf 'new data' > \"$t\" && mv \"$t\" new"});
  EXPECT_LE(r.status, 1) << r.output;
  for (const char* p : {"crash_consistent", "reader_consistent", "error_consistent"})
    EXPECT_EQ(r.report.properties.at(p).verdict, reports::Verdict::pass) << p << r.output;
}

// A file published in a new subdirectory (writers/new_generation.py, truth in
// its docstring): states where a power loss dropped the subdirectory drop its
// files too (materialising them was a harness failure, exit 3). Only the
// writer that fsyncs the parent after the mkdir passes powerloss_consistent.
TEST(DirectoryMode, ANewSubdirectoryIsDurableOnlyOnceItsParentIsSynced) {
  TempDir dir;
  testing::write_text(dir / "initial" / "CURRENT", "gen1\n");
  testing::write_text(dir / "initial" / "gen1" / "data", "generation one END\n");
  const std::string checker =
      std::string(CRASHCHECK_PYTHON) + " " + CRASHCHECK_WRITERS_DIR "/generation_checker.py {dir}";
  const auto writer = [](const char* mode) {
    return std::vector<std::string>{CRASHCHECK_PYTHON, CRASHCHECK_WRITERS_DIR "/new_generation.py", "{dir}", mode};
  };
  const auto synced = check_directory(dir, dir / "initial", checker, writer("synced"));
  EXPECT_EQ(synced.status, 0) << synced.output;
  EXPECT_EQ(synced.report.properties.at("powerloss_consistent").verdict, reports::Verdict::pass);
  const auto unsynced = check_directory(dir, dir / "initial", checker, writer("unsynced_parent"));
  EXPECT_EQ(unsynced.status, 1) << unsynced.output;
  EXPECT_EQ(unsynced.report.properties.at("powerloss_consistent").verdict, reports::Verdict::fail);
  EXPECT_EQ(unsynced.report.properties.at("crash_consistent").verdict, reports::Verdict::pass);
}

// The writer's exit is its report of success, also in directory mode
// (writers/background_commit.py, truth in its docstring): a child that
// commits after the writer exited 0 fails the committed check (durable and
// crash_consistent judge the states after the exit with
// CRASHCHECK_COMMITTED=1); the twin that waits for its child passes.
TEST(DirectoryMode, SuccessReportedBeforeABackgroundCommitFailsDurable) {
  TempDir dir;
  const fs::path bundled = testing::scenarios_dir();
  const std::string checker = std::string(CRASHCHECK_PYTHON) + " " +
                              (bundled / "subjects" / "manifest_checker.py").string() + " {dir} data-2.bin";
  const auto writer = [&](const char* mode, const char* models, const char* kill_mode) {
    return std::vector<std::string>{"--payload",
                                    (bundled / "data" / "manifest_data.new.bin").string(),
                                    "--models",
                                    models,
                                    "--kill-mode",
                                    kill_mode,
                                    "--",
                                    CRASHCHECK_PYTHON,
                                    CRASHCHECK_WRITERS_DIR "/background_commit.py",
                                    "{dir}",
                                    "{payload}",
                                    mode};
  };
  const auto run_mode = [&](const char* mode, const char* models = "kill,power-loss,reader",
                            const char* kill_mode = "fast") {
    std::vector<std::string> args{"check",     "--initial", (bundled / "data" / "manifest_initial").string(),
                                  "--checker", checker,     "-j",
                                  "2",         "-o",        (dir / "out").string()};
    const auto rest = writer(mode, models, kill_mode);
    args.insert(args.end(), rest.begin(), rest.end());
    const auto result = testing::run_crashcheck(args);
    return std::pair(result, reports::load_report(dir / "out" / "report.json"));
  };
  const auto [early, early_report] = run_mode("early");
  EXPECT_EQ(early.status, 1) << early.output;
  EXPECT_EQ(early_report.properties.at("durable").verdict, reports::Verdict::fail) << early.output;
  const auto [waited, waited_report] = run_mode("wait");
  EXPECT_EQ(waited.status, 0) << waited.output;
  EXPECT_EQ(waited_report.properties.at("durable").verdict, reports::Verdict::pass) << waited.output;
  // Exact mode: a real kill at the child's rename, after the exit, is judged with CRASHCHECK_COMMITTED=1 and
  // fails; without pauses the exit cannot be placed, and crash_consistent is not judged rather than passed.
  const auto [exact, exact_report] = run_mode("early", "kill,power-loss,reader", "exact");
  EXPECT_EQ(exact_report.properties.at("crash_consistent").verdict, reports::Verdict::fail) << exact.output;
  const auto [blind, blind_report] = run_mode("early", "kill,power-loss", "exact");
  EXPECT_EQ(blind_report.properties.at("crash_consistent").verdict, reports::Verdict::not_run) << blind.output;
  EXPECT_TRUE(testing::has(blind_report.properties.at("crash_consistent").reason, "outlived")) << blind.output;
  const auto [exact_waited, exact_waited_report] = run_mode("wait", "kill,power-loss,reader", "exact");
  EXPECT_EQ(exact_waited_report.properties.at("crash_consistent").verdict, reports::Verdict::pass)
      << exact_waited.output;
}

// A failing power-loss state of the planted defect, replayed: the checker
// fails it again, and --keep leaves the very directory it judged.
TEST(DirectoryMode, ReplayJudgesTheCaseAgainAndKeepsItsDirectory) {
  TempDir dir;
  const fs::path bundled = testing::scenarios_dir();
  const std::string checker = std::string(CRASHCHECK_PYTHON) + " " +
                              (bundled / "subjects" / "manifest_checker.py").string() + " {dir} data-2.bin";
  const auto result = testing::run_crashcheck({"check",
                                               "--initial",
                                               (bundled / "data" / "manifest_initial").string(),
                                               "--payload",
                                               (bundled / "data" / "manifest_data.new.bin").string(),
                                               "--checker",
                                               checker,
                                               "--models",
                                               "power-loss,errno",
                                               "-j",
                                               "2",
                                               "-o",
                                               (dir / "out").string(),
                                               "--quiet",
                                               "--",
                                               CRASHCHECK_PYTHON,
                                               (bundled / "subjects" / "manifest_writer.py").string(),
                                               "{dir}",
                                               "{payload}",
                                               "unordered"});
  ASSERT_EQ(result.status, 1) << result.output;
  const auto report = nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
  const auto& failures = report["properties"]["powerloss_consistent"]["failures"];
  ASSERT_FALSE(failures.empty());
  const std::string failing = failures[0]["case_id"];
  const std::string report_file = (dir / "out" / "report.json").string();

  const auto again = testing::run_crashcheck({"replay", report_file, failing, "--keep", (dir / "kept").string()});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_TRUE(testing::has(again.output, "checker (CRASHCHECK_COMMITTED=0): exit 1")) << again.output;
  EXPECT_TRUE(testing::has(again.output, "verdict: FAIL (still fails)")) << again.output;
  EXPECT_TRUE(fs::exists(dir / "kept" / "MANIFEST")) << again.output;
  // The kept directory is the state the checker judged: it fails it by itself too.
  const std::string kept = (dir / "kept").string();
  std::string command = checker;
  command.replace(command.find("{dir}"), 5, reports::shell_quote(kept));
  EXPECT_NE(testing::shell(command + " 2>/dev/null"), 0);

  const auto clean = testing::run_crashcheck({"replay", report_file, "errno-1-EIO"});
  EXPECT_LE(clean.status, 1) << clean.output;
  EXPECT_TRUE(testing::has(clean.output, "checker (CRASHCHECK_COMMITTED=0): ")) << clean.output;
  const auto occupied = testing::run_crashcheck({"replay", report_file, failing, "--keep", kept});
  EXPECT_EQ(occupied.status, 2) << occupied.output;
  EXPECT_TRUE(testing::has(occupied.output, "--keep: " + kept + " exists and is not empty")) << occupied.output;
}

// `crashcheck check` of writers/one_big_write.py MODE on {dir}/data.bin, with MODELS; its report.
struct BigWrite {
  fs::path initial, payload;
  std::string checker;  // with {dir}
};
nlohmann::json check_one_big_write(const BigWrite& w, const std::string& mode, const std::string& models,
                                   const std::string& kill_mode, const fs::path& out) {
  const auto result = testing::run_crashcheck({"check",
                                               "--initial",
                                               w.initial.string(),
                                               "--payload",
                                               w.payload.string(),
                                               "--checker",
                                               w.checker,
                                               "--models",
                                               models,
                                               "--kill-mode",
                                               kill_mode,
                                               "-j",
                                               "2",
                                               "--quiet",
                                               "-o",
                                               out.string(),
                                               "--",
                                               CRASHCHECK_PYTHON,
                                               std::string(CRASHCHECK_WRITERS_DIR) + "/one_big_write.py",
                                               mode,
                                               "{dir}/data.bin",
                                               "{payload}"});
  EXPECT_LE(result.status, 1) << result.output;
  return nlohmann::json::parse(testing::read_text(out / "report.json"));
}

// A SIGKILL inside one large write, in directory mode: data.bin (16 pages of
// 'o') rewritten in place with one 64 KiB write of 'n' fails
// crash_consistent on a kill-within state; its temp + fsync + rename twin
// passes, its states inside the temp's write included.
class DirectoryKillWithin : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "initial");
    testing::write_text(dir_ / "initial" / "data.bin", std::string(kBytes, 'o'));
    testing::write_text(dir_ / "new.bin", std::string(kBytes, 'n'));
  }
  // `crashcheck check` of one_big_write.py MODE on {dir}/data.bin, with MODELS; its report.
  nlohmann::json check(const std::string& mode, const std::string& models = "kill",
                       const std::string& kill_mode = "fast") {
    return check_one_big_write({dir_ / "initial", dir_ / "new.bin", checker() + " {dir}"}, mode, models, kill_mode,
                               dir_ / ("out-" + mode + "-" + models + "-" + kill_mode));
  }
  static std::string checker() {
    return std::string(CRASHCHECK_PYTHON) + " " + CRASHCHECK_WRITERS_DIR + "/uniform_dir_checker.py";
  }
  static constexpr std::size_t kBytes = 16 * 4096;
  TempDir dir_;
};

// Ground truth without crashcheck: a real SIGKILL inside one write(2)
// (writers/killed_mid_write.c, held mid-way by userfaultfd) leaves data.bin
// with 4 pages new and 12 old, and the checker rejects that directory; the
// same kill inside the twin's temp file leaves data.bin whole, and it passes.
TEST_F(DirectoryKillWithin, GroundTruthARealKillMidWriteLeavesADirectoryTheCheckerRejects) {
  const fs::path state = dir_ / "state";
  fs::create_directories(state);
  fs::copy_file(dir_ / "initial" / "data.bin", state / "data.bin");
  const auto killed = [&](const fs::path& file) {
    return testing::shell(std::string(CRASHCHECK_KILLED_MID_WRITE) + " " + file.string() + " 16 4 >/dev/null");
  };
  const int status = killed(state / "data.bin");
  if (status == 77) GTEST_SKIP() << "userfaultfd is not available here";
  ASSERT_EQ(status, 0);
  EXPECT_EQ(testing::read_text(state / "data.bin"), std::string(4 * 4096, 'n') + std::string(12 * 4096, 'o'));
  EXPECT_NE(testing::shell(checker() + " " + state.string() + " 2>/dev/null"), 0);
  fs::copy_file(dir_ / "initial" / "data.bin", state / "data.bin", fs::copy_options::overwrite_existing);
  ASSERT_EQ(killed(state / "data.bin.tmp"), 0);
  EXPECT_EQ(testing::shell(checker() + " " + state.string()), 0);
}

TEST_F(DirectoryKillWithin, OneInPlaceWriteFailsCrashConsistentOnAKillWithinState) {
  const auto report = check("in-place");
  const auto& crash = report["properties"]["crash_consistent"];
  ASSERT_EQ(crash["verdict"], "fail") << crash.dump(2);
  ASSERT_FALSE(crash["failures"].empty());
  for (const auto& f : crash["failures"])  // at call boundaries data.bin is old or new: only the cuts fail
    EXPECT_TRUE(f["case_id"].get<std::string>().starts_with("kill-within-")) << f.dump(2);
  EXPECT_EQ(crash["failing"], 15) << "one write of 16 pages: 15 page boundaries inside it";
  EXPECT_TRUE(testing::has(crash["failures"][0]["detail"].get<std::string>(), "not one generation"));
  EXPECT_TRUE(testing::has(report["notes"].dump(), "states inside calls: 15 of 15 page boundaries")) << report["notes"];
  ASSERT_FALSE(report["diagnoses"].empty());
  EXPECT_EQ(report["diagnoses"][0]["rule"], "write_temp_then_rename");
  EXPECT_EQ(report["diagnoses"][0]["property"], "crash_consistent");
  // replay synthesizes that state again from the re-run's trace, and the checker fails it again.
  const std::string id = crash["failures"][0]["case_id"];
  const auto again =
      testing::run_crashcheck({"replay", (dir_ / "out-in-place-kill-fast" / "report.json").string(), id});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_TRUE(testing::has(again.output, "verdict: FAIL (still fails)")) << again.output;
  EXPECT_TRUE(testing::has(again.output, "synthesized from its trace")) << again.output;
}

// Exact mode on seccomp (the default backend) kills one real subject inside
// the write, at its middle page boundary, and the checker rejects what that
// kill left; the twin's real kill inside its temp's write passes.
TEST_F(DirectoryKillWithin, ExactModeKillsOneRealSubjectInsideTheWrite) {
  for (const std::string mode : {"in-place", "temp-rename"}) {
    const auto report = check(mode, "kill", "exact");
    const auto& crash = report["properties"]["crash_consistent"];
    EXPECT_TRUE(testing::has(report["notes"].dump(), "exact mode also killed 1 real subject")) << report["notes"];
    EXPECT_EQ(crash["verdict"], mode == "in-place" ? "fail" : "pass") << crash.dump(2);
    if (mode == "in-place") {
      ASSERT_FALSE(crash["failures"].empty());
      EXPECT_EQ(crash["failures"][0]["case_id"], "kill-within-2-32768") << crash.dump(2);
      EXPECT_TRUE(testing::has(crash["failures"][0]["fault"].get<std::string>(), "(a real kill)")) << crash.dump(2);
    }
  }
}

TEST_F(DirectoryKillWithin, TheTempAndRenameTwinPassesWithItsStatesInsideTheWriteJudged) {
  const auto report = check("temp-rename");
  const auto& crash = report["properties"]["crash_consistent"];
  EXPECT_EQ(crash["verdict"], "pass") << crash.dump(2);
  EXPECT_TRUE(testing::has(report["notes"].dump(), "states inside calls: 15 of 15 page boundaries")) << report["notes"];
  EXPECT_TRUE(report["diagnoses"].empty()) << report["diagnoses"].dump(2);
}

// Ground truth without crashcheck: a real reader racing a real writer
// (writers/racing_reader.py) finds data.bin torn while one pwrite of 64 KiB
// rewrites it in place, and never while a temp is renamed over it, in four
// times as many reads as the first needed (at least 1,000).
TEST_F(DirectoryKillWithin, GroundTruthARealReaderFindsTheInPlaceWriteTornAndTheTwinWhole) {
  const auto race = [&](const std::string& mode, int reads) {
    const fs::path state = dir_ / ("race-" + mode);
    fs::create_directories(state);
    const fs::path out = dir_ / ("race-" + mode + ".txt");
    EXPECT_EQ(testing::shell(std::string(CRASHCHECK_PYTHON) + " " + CRASHCHECK_WRITERS_DIR + "/racing_reader.py " +
                             mode + " " + state.string() + " " + std::to_string(reads) + " >" + out.string()),
              0);
    int done = 0, torn = 0;
    std::sscanf(testing::read_text(out).c_str(), "reads %d torn %d", &done, &torn);
    return std::pair(done, torn);
  };
  const auto [needed, torn] = race("in-place", 20000);
  ASSERT_EQ(torn, 1) << "20,000 reads never found the in-place write torn";
  const int reads = std::max(1000, 4 * needed);
  EXPECT_EQ(race("temp-rename", reads), std::pair(reads, 0));
}

TEST_F(DirectoryKillWithin, OneInPlaceWriteFailsReaderConsistentInsideTheWrite) {
  const auto report = check("in-place", "reader");
  const auto& reader = report["properties"]["reader_consistent"];
  ASSERT_EQ(reader["verdict"], "fail") << reader.dump(2);
  for (const auto& f : reader["failures"])  // between calls data.bin is old or new: only states inside fail
    EXPECT_TRUE(f["case_id"].get<std::string>().starts_with("reader-within-")) << f.dump(2);
  EXPECT_EQ(reader["failing"], 15) << "15 page boundaries; the middle byte is one of them";
  EXPECT_TRUE(testing::has(report["notes"].dump(), "states inside calls: 15 of 15 page boundaries")) << report["notes"];
  // replay synthesizes the reader's state again, and the checker fails it again.
  const std::string id = reader["failures"][0]["case_id"];
  const auto again =
      testing::run_crashcheck({"replay", (dir_ / "out-in-place-reader-fast" / "report.json").string(), id});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_TRUE(testing::has(again.output, "a reader copies the directory during call")) << again.output;
}

TEST_F(DirectoryKillWithin, TheTempAndRenameTwinPassesReaderConsistentInsideItsWrites) {
  const auto report = check("temp-rename", "reader");
  const auto& reader = report["properties"]["reader_consistent"];
  EXPECT_EQ(reader["verdict"], "pass") << reader.dump(2);
  EXPECT_GT(reader["cases"].get<int>(), 15) << "the temp's write is cut too";
}

// One 1 MiB in-place write in which only 20 bytes change, across the page
// boundary at 409,600: of its 255 boundaries only that one tears, and the 16
// sampled are drawn from those a tear shows at (as in single-file mode; adv6
// 4: directory mode sampled all 255 and missed it ~94% of the time). Its
// temp + rename twin passes.
TEST(DirectoryWithin, TheOneTearingBoundaryOfALargeWriteIsAlwaysCut) {
  TempDir dir;
  std::string old_bytes(1 << 20, 'o'), new_bytes = old_bytes;
  new_bytes.replace(409590, 20, std::string(20, 'n'));
  testing::write_text(dir / "initial" / "data.bin", old_bytes);
  testing::write_text(dir / "old.bin", old_bytes);
  testing::write_text(dir / "new.bin", new_bytes);
  testing::write_text(dir / "checker.sh",
                      "cmp -s \"$1/data.bin\" \"$2/old.bin\" || cmp -s \"$1/data.bin\" \"$2/new.bin\"\n");
  for (const std::string mode : {"in-place", "temp-rename"}) {
    const auto report =
        check_one_big_write({dir / "initial", dir / "new.bin",
                             "/bin/sh " + (dir / "checker.sh").string() + " {dir} " + dir.path().string()},
                            mode, "kill,reader", "fast", dir / ("out-" + mode));
    for (const char* property : {"crash_consistent", "reader_consistent"}) {
      const auto& p = report["properties"][property];
      if (mode == "temp-rename") {
        EXPECT_EQ(p["verdict"], "pass") << property << p.dump(2);
        continue;
      }
      ASSERT_EQ(p["verdict"], "fail") << property << p.dump(2);
      EXPECT_TRUE(testing::has(p["failures"][0]["case_id"].get<std::string>(), "within-2-409600")) << p.dump(2);
    }
  }
}

}  // namespace
}  // namespace crashcheck::runner
