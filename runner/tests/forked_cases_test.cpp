// Forked cases (runner/src/campaign/forked.hpp) stand for the runs they
// replace. The bundled Python writers — the seed's defective writer and its
// fix, whose verdicts were established by real kills and real write errors
// (ground_truth_test.cpp) — and the reference writer are judged twice, once
// with every kill, errno and disk-full case forked from a template and once
// with each started anew (the default): every case must end in the same state,
// with the same exit status and the same leftovers, and the report must say
// it forked them. A writer reading its stdin before and after its first file
// call, and looking for strangers in its directory, shows that each case has
// its own offset and its own directory. What cannot be forked faithfully (a
// static binary, which cannot load the fork server) runs from the start, and
// the report says why.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "crashcheck/faults/backend.hpp"
#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/scenario.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using reports::Model;

bool forkable(Model model) { return model == Model::kill || model == Model::errno_fault || model == Model::disk_full; }

struct Judged {
  CampaignResult result;
  // per case of a forkable model: its end state, exit status and number of leftovers
  std::map<std::string, std::tuple<std::string, int, bool, std::size_t, bool>> ends;
};

Judged judge(const Scenario& scenario, bool fork_cases) {
  testing::TempDir work;
  RunOptions options;
  options.models = {"kill", "errno", "disk-full"};
  options.kill_mode = KillMode::exact;  // kill cases run for real, so they are forked too
  options.jobs = 2;
  options.progress = false;
  options.work_root = work.path();
  options.fork_cases = fork_cases;
  Judged j{run_campaigns(scenario, options), {}};
  EXPECT_FALSE(j.result.not_checkable) << *j.result.not_checkable;
  for (const auto& o : j.result.observations)
    if (forkable(o.model))
      j.ends[o.case_id] = {
          o.target.matches + " " + std::to_string(o.target.size) + " " + o.target.mode + " " + o.target.excerpt_hex,
          o.exit_status, o.timed_out, o.leftovers.size(), o.unjudged.has_value()};
  return j;
}

// "27 of 27 kill, errno and disk-full cases were forked …" → {27, 27}; {0, 0} when absent.
std::pair<int, int> forked_counts(const reports::Report& report) {
  static const std::regex counts(R"(^(\d+) of (\d+) kill, errno and disk-full cases were forked)");
  std::smatch m;
  for (const auto& note : report.notes)
    if (std::regex_search(note, m, counts)) return {std::stoi(m[1]), std::stoi(m[2])};
  return {0, 0};
}

std::string notes_of(const reports::Report& report) {
  std::string out;
  for (const auto& note : report.notes) out += note + "\n";
  return out;
}

class ForkedCases : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (auto why = faults::backend_unavailable(faults::BackendKind::seccomp)) GTEST_SKIP() << *why;
    if (::geteuid() != 0) GTEST_SKIP() << "forked cases need root (a mount namespace per case)";
  }
};

// A sanitizer build instruments the reference writer too, and an ASan
// program refuses a library preloaded before its runtime: its template ends
// at once and its cases run from the start (the note says so).
#ifdef __SANITIZE_ADDRESS__
constexpr bool kInstrumentedReference = true;
#else
constexpr bool kInstrumentedReference = false;
#endif

TEST_P(ForkedCases, EndInTheStatesOfCasesRunFromTheStart) {
  const Scenario scenario = load_scenario(testing::scenarios_dir() / GetParam());
  const Judged forked = judge(scenario, true);
  const Judged anew = judge(scenario, false);
  const auto [done, of] = forked_counts(forked.result.report);
  if (kInstrumentedReference && std::string(GetParam()) == "reference.json") {
    EXPECT_NE(notes_of(forked.result.report).find("ran from the start"), std::string::npos)
        << notes_of(forked.result.report);
  } else {
    EXPECT_GT(of, 0) << notes_of(forked.result.report);
    EXPECT_EQ(done, of) << notes_of(forked.result.report);
  }
  EXPECT_EQ(forked_counts(anew.result.report).second, 0) << "forked unasked:\n" << notes_of(anew.result.report);
  EXPECT_EQ(forked.result.report.model_cases, anew.result.report.model_cases);
  ASSERT_FALSE(forked.ends.empty());
  for (const auto& [id, end] : anew.ends) {
    auto it = forked.ends.find(id);
    ASSERT_NE(it, forked.ends.end()) << id << " was not run forked";
    EXPECT_EQ(it->second, end) << id << ": forked (state, exit, timed out, leftovers, unjudged) differs";
  }
  for (const auto& [name, property] : anew.result.report.properties)
    EXPECT_EQ(forked.result.report.properties.at(name).verdict, property.verdict) << name;
}

class ForkedCasesOf : public ForkedCases {};

INSTANTIATE_TEST_SUITE_P(Bundled, ForkedCases,
                         ::testing::Values("pipeline_health_original.json", "pipeline_health_fix.json",
                                           "reference.json"));

// A writer whose child commits after it exits ("early") is waited for by a
// case run from the start; a forked case would be cut short at the writer's
// exit, so it runs from the start again, and the two campaigns agree. Its
// "wait" twin's cases are forked, but for those that kill the writer before
// its child ends.
TEST_F(ForkedCasesOf, AWriterThatLeavesItsCommitToAChildAgreesWithCasesRunFromTheStart) {
  for (const char* mode : {"early", "wait"}) {
    testing::TempDir dir;
    testing::write_text(dir / "old", "old\n");
    testing::write_text(dir / "new", "new content\n");
    const nlohmann::json doc = {{"name", std::string("background-") + mode},
                                {"target", "t.txt"},
                                {"old", {{"file", (dir / "old").string()}}},
                                {"payload", {{"file", (dir / "new").string()}}},
                                {"command",
                                 {CRASHCHECK_PYTHON, std::string(CRASHCHECK_WRITERS_DIR) + "/commits_in_background.py",
                                  "{target}", "{payload}", mode}}};
    testing::write_text(dir / "s.json", doc.dump());
    const Scenario scenario = load_scenario(dir / "s.json");
    const Judged forked = judge(scenario, true);
    const Judged anew = judge(scenario, false);
    for (const auto& [id, end] : anew.ends) {
      auto it = forked.ends.find(id);
      ASSERT_NE(it, forked.ends.end()) << mode << ": " << id;
      EXPECT_EQ(it->second, end) << mode << ": " << id;
    }
    const std::string notes = notes_of(forked.result.report);
    if (std::string(mode) == "early")
      EXPECT_NE(notes.find("could not be forked and ran from the start: its subject left processes running"),
                std::string::npos)
          << notes;
    else  // forked, but for the kill cases (the killed writer's child is left: those run from the start)
      EXPECT_GT(forked_counts(forked.result.report).first, 0) << notes;
  }
}

class ForkedCase : public ForkedCases {};

TEST_F(ForkedCase, HasItsOwnStdinOffsetAndItsOwnDirectory) {
  testing::TempDir dir;
  testing::write_text(dir / "new", std::string(20000, 'n') + "end\n");
  testing::write_text(dir / "old", "old\n");
  const fs::path out = dir / "out";
  const auto result = testing::run_crashcheck(
      {"check", "--old", (dir / "old").string(), "--payload", (dir / "new").string(), "--models", "errno,disk-full",
       "-j", "2", "--fork", "-o", out.string(), "--quiet", "--", CRASHCHECK_PYTHON,
       std::string(CRASHCHECK_WRITERS_DIR) + "/reads_stdin_first.py", "{target}"});
  const auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
  std::string notes;
  for (const auto& n : report["notes"]) notes += n.get<std::string>() + "\n";
  EXPECT_TRUE(std::regex_search(notes, std::regex(R"((\d+) of \1 kill, errno and disk-full cases were forked)")))
      << notes;
  for (const char* p : {"error_safe", "temp_clean", "mode_preserved"})
    EXPECT_EQ(report["properties"][p]["verdict"], "pass") << p << ": " << report["properties"][p].dump() << "\n"
                                                          << result.output;
  EXPECT_EQ(result.status, 0) << result.output;
}

// dd opens its input before its output (its first counted call): forked
// cases would share the input's offset (a real SIGKILL at dd's fsync leaves
// every byte; a case reading on from where another stopped would not), so
// they run from the start, and say why.
TEST_F(ForkedCase, AFileHeldOpenOutsideItsDirectoryIsNotShared) {
  testing::TempDir dir;
  testing::write_text(dir / "src", "new content, 25 bytes.\n");
  testing::write_text(dir / "old", "old\n");
  const fs::path out = dir / "out";
  testing::run_crashcheck({"check",
                           "--old",
                           (dir / "old").string(),
                           "--payload",
                           (dir / "src").string(),
                           "--target",
                           "t.txt",
                           "--models",
                           "kill,errno",
                           "--kill-mode",
                           "exact",
                           "--fork",
                           "-o",
                           out.string(),
                           "--quiet",
                           "--",
                           "dd",
                           "if=" + (dir / "src").string(),
                           "of={target}",
                           "bs=4",
                           "conv=fsync"});
  const auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
  std::string notes;
  for (const auto& n : report["notes"]) notes += n.get<std::string>() + "\n";
  EXPECT_NE(notes.find("not forked from a template run: the subject held " + (dir / "src").string() + " open"),
            std::string::npos)
      << notes;
  EXPECT_GT(report["model_cases"]["errno"].get<int>(), 0);
}

#ifdef CRASHCHECK_STATIC_WRITER
TEST_F(ForkedCase, AStaticBinaryRunsFromTheStartAndTheReportSaysWhy) {
  testing::TempDir dir;
  testing::write_text(dir / "new", "new content\n");
  const fs::path out = dir / "out";
  testing::run_crashcheck({"check", "--payload", (dir / "new").string(), "--target", "t.txt", "--models", "errno",
                           "--fork", "-o", out.string(), "--quiet", "--", CRASHCHECK_STATIC_WRITER, "{payload}",
                           "{target}"});
  const auto report = nlohmann::json::parse(testing::read_text(out / "report.json"));
  std::string notes;
  for (const auto& n : report["notes"]) notes += n.get<std::string>() + "\n";
  EXPECT_NE(notes.find("ran from the start, not forked from a template run: the fork server library was not loaded"),
            std::string::npos)
      << notes;
  EXPECT_GT(report["model_cases"]["errno"].get<int>(), 0);
}
#endif

}  // namespace
}  // namespace crashcheck::runner
