// The sampled campaign against the exhaustive one, end to end: a writer that
// ignores the result of one write among 64 identical ones (chunk_writer.c).
// Sampling must find a defect at the first or the last write of the run,
// find one in the middle exactly when the seeded sample holds that write,
// say in its notes that it sampled, and replay the same cases for the same
// seed; --exhaustive must find all and run the count the note promised. A
// pass that rests on a sample says so in the property's own entry. And on
// every bundled scenario the sample fails what --exhaustive fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "crashcheck/runner/scenario.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

constexpr int kChunks = 64;
constexpr int kChunk = 512;

struct Judged {
  nlohmann::json report;
  std::string output;
};

Judged check_chunked(int ignored, const std::vector<std::string>& extra = {}) {
  testing::TempDir dir;
  testing::write_text(dir / "old", "old\n");
  testing::write_text(dir / "new", std::string(kChunks * kChunk, 'n'));
  std::vector<std::string> args{
      "check",   "--old", (dir / "old").string(), "--payload", (dir / "new").string(), "--models", "errno",
      "--quiet", "-o",    (dir / "out").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const std::vector<std::string> writer{"--",        CRASHCHECK_CHUNK_WRITER, std::to_string(ignored), "{target}",
                                        "{payload}", std::to_string(kChunk)};
  args.insert(args.end(), writer.begin(), writer.end());
  const auto result = testing::run_crashcheck(args);
  EXPECT_TRUE(result.status == 0 || result.status == 1) << result.output;
  return {nlohmann::json::parse(testing::read_text(dir / "out" / "report.json")), result.output};
}

std::string verdict(const Judged& j) { return j.report["properties"]["error_safe"]["verdict"]; }

std::set<std::string> case_ids(const Judged& j) {
  std::set<std::string> ids;
  for (const auto& cell : j.report["cells"]) ids.insert(cell["case_id"].get<std::string>());
  return ids;
}

// The calls that got at least one errno case.
std::set<unsigned> injected_calls(const Judged& j) {
  std::set<unsigned> calls;
  for (const auto& cell : j.report["cells"]) calls.insert(cell["call_index"].get<unsigned>());
  return calls;
}

// "errno: 1,315 possible cases, 70 run: …" → {1315, 70}; {0, 0} when absent.
std::pair<long, long> sampling_counts(const Judged& j) {
  const std::regex note("^errno: ([0-9,]+) possible cases, ([0-9,]+) run: repeated calls sampled, seed [0-9]+; .*");
  auto number = [](std::string text) {
    std::erase(text, ',');
    return std::stol(text);
  };
  for (const auto& n : j.report["notes"]) {
    std::smatch m;
    const std::string text = n.get<std::string>();
    if (std::regex_match(text, m, note)) return {number(m[1]), number(m[2])};
  }
  return {0, 0};
}

// Whether error_safe's own entry says its pass rests on a sample (so a
// reader of that property alone is not told more than was seen).
bool says_sampled(const Judged& j) {
  for (const auto& n : j.report["properties"]["error_safe"]["notes"])
    if (n.get<std::string>().rfind("passed on a sample of repeated calls: errno: ", 0) == 0) return true;
  return false;
}

unsigned failing_call(const Judged& j) {
  return j.report["properties"]["error_safe"]["failures"].at(0)["call_index"].get<unsigned>();
}

TEST(SampledCampaign, TheCorrectTwinPassesAndTheNoteCountsWhatExhaustiveRuns) {
  const Judged sampled = check_chunked(0);
  const Judged exhaustive = check_chunked(0, {"--exhaustive"});
  EXPECT_EQ(verdict(sampled), "pass") << sampled.output;
  EXPECT_EQ(verdict(exhaustive), "pass") << exhaustive.output;
  const auto [possible, run] = sampling_counts(sampled);
  EXPECT_GT(possible, run);
  EXPECT_EQ(static_cast<long>(case_ids(sampled).size()), run);
  EXPECT_EQ(static_cast<long>(case_ids(exhaustive).size()), possible);
  EXPECT_EQ(sampling_counts(exhaustive), std::make_pair(0L, 0L)) << "an exhaustive run has nothing to note";
  EXPECT_TRUE(says_sampled(sampled)) << sampled.report["properties"]["error_safe"].dump();
  EXPECT_FALSE(says_sampled(exhaustive)) << exhaustive.report["properties"]["error_safe"].dump();
}

TEST(SampledCampaign, DefectsAtTheEndsOfARunAreAlwaysFound) {
  for (int ignored : {1, 2, kChunks}) {
    const Judged sampled = check_chunked(ignored);
    EXPECT_EQ(verdict(sampled), "fail") << "ignored write " << ignored << "\n" << sampled.output;
  }
}

// Seeds 1 and 3 are one of each (the sample is a pure function of trace and
// seed); the last assertion says when a change of the sampler needs others.
TEST(SampledCampaign, AMiddleDefectIsFoundExactlyWhenTheSampleHoldsItsWrite) {
  const Judged exhaustive = check_chunked(kChunks / 2, {"--exhaustive"});
  ASSERT_EQ(verdict(exhaustive), "fail");
  std::set<bool> seen;
  for (const std::string seed : {"1", "3"}) {
    const Judged sampled = check_chunked(kChunks / 2, {"--seed", seed});
    const bool sampled_it = injected_calls(sampled).count(failing_call(exhaustive)) > 0;
    EXPECT_EQ(verdict(sampled), sampled_it ? "fail" : "pass") << "seed " << seed;
    EXPECT_GT(sampling_counts(sampled).first, 0) << "a sampled run says so in its notes";
    // the pass that missed it says, in error_safe's own entry, that it rests on a sample
    EXPECT_EQ(says_sampled(sampled), !sampled_it) << "seed " << seed;
    seen.insert(sampled_it);
  }
  EXPECT_EQ(seen.size(), 2u) << "pick seeds whose sample holds the middle write and one whose does not";
}

TEST(SampledCampaign, TheSameSeedRunsTheSameCasesAndAnotherSeedOthers) {
  const Judged first = check_chunked(0, {"--seed", "11"});
  const Judged again = check_chunked(0, {"--seed", "11"});
  const Judged other = check_chunked(0, {"--seed", "12"});
  EXPECT_EQ(case_ids(first), case_ids(again));
  EXPECT_NE(case_ids(first), case_ids(other));
}

// Every bundled scenario, judged with its sample and with --exhaustive, fails
// the same properties: the sample loses no failure the bundled writers have.
// A scenario whose run sampled nothing plans the same cases either way, so
// only those that sampled are run again.
class SampledBundled : public ::testing::TestWithParam<std::filesystem::path> {};

std::set<std::string> failing(const nlohmann::json& report) {
  std::set<std::string> out;
  for (const auto& [name, property] : report["properties"].items())
    if (property["verdict"] == "fail") out.insert(name);
  return out;
}

// Whether a note says that --exhaustive would run or judge more (repeated
// calls, directory states, interleavings; not power loss's per-point bound).
bool sampled_anything(const nlohmann::json& report) {
  for (const auto& note : report["notes"])
    if (testing::has(note.get<std::string>(), "--exhaustive") ||
        testing::has(note.get<std::string>(), "(a sample, seed"))
      return true;
  return false;
}

nlohmann::json run_bundled(const std::filesystem::path& scenario, const std::vector<std::string>& extra) {
  testing::TempDir dir;
  std::vector<std::string> args{"run", scenario.string(), "-o", (dir / "out").string(), "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto result = testing::run_crashcheck(args);
  EXPECT_TRUE(result.status == 0 || result.status == 1) << result.output;
  return nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
}

// When errno cases were sampled, a pass of the properties they judge says so
// in its own entry, in single-file and in directory mode alike.
void expect_sampled_passes_say_so(const nlohmann::json& report) {
  bool errno_sampled = false;
  for (const auto& note : report["notes"])
    errno_sampled |= note.get<std::string>().rfind("errno: ", 0) == 0 &&
                     testing::has(note.get<std::string>(), "repeated calls sampled");
  if (!errno_sampled) return;
  for (const char* name : {"error_safe", "error_consistent"}) {
    const auto& property = report["properties"][name];
    if (property["verdict"] != "pass") continue;
    bool says = false;
    for (const auto& note : property["notes"])
      says |= note.get<std::string>().rfind("passed on a sample of repeated calls: errno: ", 0) == 0;
    EXPECT_TRUE(says) << name << ": " << property.dump();
  }
}

TEST_P(SampledBundled, FailsWhatTheExhaustiveRunFails) {
  if (testing::has(load_scenario(GetParam()).command.front(), "node") && std::string(CRASHCHECK_NODE).empty())
    GTEST_SKIP() << "node is not installed";
  const auto sampled = run_bundled(GetParam(), {});
  if (!sampled_anything(sampled)) GTEST_SKIP() << "nothing was sampled: --exhaustive plans the same cases";
  expect_sampled_passes_say_so(sampled);
  const auto exhaustive = run_bundled(GetParam(), {"--exhaustive"});
  EXPECT_EQ(failing(sampled), failing(exhaustive)) << sampled["notes"].dump();
}

INSTANTIATE_TEST_SUITE_P(Bundled, SampledBundled, ::testing::ValuesIn(testing::bundled_scenario_files()),
                         [](const auto& info) { return info.param.stem().string(); });

}  // namespace
}  // namespace crashcheck::runner
