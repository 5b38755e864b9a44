// Case ids and `crashcheck replay` as issue 14 found them: power-loss
// counterexamples that shared an id, a replay that injected into whatever call
// now sat at the report's index, an unknown id answered with generic
// examples, a replay that printed one state and judged another, and a
// timeout message that printed "30.000000 s". Each test states the exact
// message a user reads.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "crashcheck/runner/cases.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using testing::has;

nlohmann::json load_json(const fs::path& file) { return nlohmann::json::parse(testing::read_text(file)); }

TEST(CaseIds, PowerLossStatesAreLettered) {
  EXPECT_EQ(power_loss_case_id(4, 0), "power-loss-4a");
  EXPECT_EQ(power_loss_case_id(4, 1), "power-loss-4b");
  EXPECT_EQ(power_loss_case_id(0, 25), "power-loss-0z");
  EXPECT_EQ(power_loss_case_id(12, 26), "power-loss-12aa");
  EXPECT_EQ(power_loss_case_id(12, 701), "power-loss-12zz");
  EXPECT_EQ(power_loss_case_id(12, 702), "power-loss-12aaa");
  const auto spec = parse_case_id("power-loss-4b");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->model, reports::Model::power_loss);
  EXPECT_EQ(spec->plan.call, 4u);
  EXPECT_EQ(spec->power_state, 1u);
  const auto bare = parse_case_id("power-loss-4");  // as reports wrote them before the letters
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->plan.call, 4u);
  EXPECT_FALSE(bare->power_state.has_value());
  for (const char* bad : {"power-loss-", "power-loss-b", "power-loss-4B", "power-loss-4b1", "power-loss-4-b",
                          "power-loss-4abcdefg", "power-loss-99999999999a"})
    EXPECT_FALSE(parse_case_id(bad).has_value()) << bad;
}

RC_GTEST_PROP(CaseIds, PowerLossIdsRoundTrip, ()) {
  const auto after = *rc::gen::arbitrary<std::uint32_t>();
  const auto state = *rc::gen::inRange<std::uint64_t>(0, 26ull * 26 * 26 * 26 * 26 * 26);
  const auto back = parse_case_id(power_loss_case_id(after, state));
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->model == reports::Model::power_loss);
  RC_ASSERT(back->plan.call == after);
  RC_ASSERT(back->power_state == std::optional<std::uint64_t>(state));
}

// An in-place writer: several failing power-loss states at each crash point.
const char* kInPlace = "cat {payload} > {target}";

// Every counterexample's id and what the report says of its state, per property.
std::map<std::string, std::vector<std::string>> failure_ids(const nlohmann::json& report) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, property] : report["properties"].items())
    for (const auto& f : property["failures"]) out[name].push_back(f["case_id"]);
  return out;
}

TEST(Replay, PowerLossIdsAreUniqueStableAndReplayTheStateTheyName) {
  testing::TempDir dir;
  const auto scenario = testing::shell_scenario(dir, kInPlace, ", \"models\": [\"power-loss\"]");
  ASSERT_EQ(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "one").string()}).status, 1);
  ASSERT_EQ(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "two").string()}).status, 1);
  const auto report = load_json(dir / "one" / "report.json");
  const auto ids = failure_ids(report);
  EXPECT_EQ(ids, failure_ids(load_json(dir / "two" / "report.json")));  // stable across reruns
  ASSERT_GE(ids.at("powerloss_atomic").size(), 2u);
  std::set<std::string> cell_ids;
  for (const auto& cell : report["cells"]) EXPECT_TRUE(cell_ids.insert(cell["case_id"]).second) << cell;
  std::set<std::uint32_t> points_with_two;
  std::map<std::uint32_t, int> per_point;
  for (const auto& [name, list] : ids)
    EXPECT_EQ(std::set<std::string>(list.begin(), list.end()).size(), list.size()) << name;  // unique
  for (const auto& f : report["properties"]["powerloss_atomic"]["failures"])
    if (const auto call = f["call_index"].get<std::uint32_t>(); ++per_point[call] == 2) points_with_two.insert(call);
  EXPECT_FALSE(points_with_two.empty()) << "the writer should list two states at one point, as in issue 14";

  // Each listed state, replayed: the printed state is the report's, and the
  // verdict line judges that same state.
  for (const auto& f : report["properties"]["powerloss_atomic"]["failures"]) {
    const std::string id = f["case_id"];
    SCOPED_TRACE(id);
    const auto r = testing::run_crashcheck_split({"replay", (dir / "one").string(), id});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const auto& t = f["target"];
    const std::string target_line = "target: " + t["matches"].get<std::string>() +
                                    (t["exists"].get<bool>() ? ", " + std::to_string(t["size"].get<std::uint64_t>()) +
                                                                   " bytes, mode " + t["mode"].get<std::string>()
                                                             : "");
    // (not the call: its descriptor numbers depend on what the caller left open)
    EXPECT_TRUE(has(r.out, "case " + id + ": " + f["fault"].get<std::string>() + " — ")) << r.out;
    EXPECT_TRUE(has(r.out, "\n" + target_line + "\n")) << r.out;
    EXPECT_TRUE(has(r.out, "\npowerloss_atomic: fail — " + f["detail"].get<std::string>() + "\n")) << r.out;
  }
  // A state that holds the new content replays as a pass, and says so.
  for (const auto& cell : report["cells"]) {
    if (cell["outcome"] != "new") continue;
    const auto r = testing::run_crashcheck_split({"replay", (dir / "one").string(), cell["case_id"]});
    EXPECT_TRUE(has(r.out, "\ntarget: new, ")) << r.out;
    EXPECT_TRUE(has(r.out, "\npowerloss_atomic: pass\n")) << r.out;
    break;
  }
}

TEST(Replay, UnknownIdListsTheReportsOwnIdsOfThatModel) {
  testing::TempDir dir;
  const auto scenario = testing::shell_scenario(dir, kInPlace, ", \"models\": [\"kill\", \"power-loss\"]");
  ASSERT_EQ(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string()}).status, 1);
  const auto report = load_json(dir / "out" / "report.json");
  // The report's ids of each model as replay lists them: its cells, then its failures, once each.
  std::map<std::string, std::vector<std::string>> of_model;
  const auto add = [&](const nlohmann::json& item) {
    auto& list = of_model[item["model"].get<std::string>()];
    if (std::find(list.begin(), list.end(), item["case_id"]) == list.end()) list.push_back(item["case_id"]);
  };
  for (const auto& cell : report["cells"]) add(cell);
  for (const auto& [name, property] : report["properties"].items())
    for (const auto& f : property["failures"]) add(f);
  const auto& kills = of_model["kill"];
  const auto& powers = of_model["power-loss"];
  ASSERT_FALSE(kills.empty());
  ASSERT_GT(powers.size(), 10u);
  std::string kill_list;
  for (const auto& id : kills) kill_list += (kill_list.empty() ? "" : ", ") + id;
  const auto sideways = testing::run_crashcheck_split({"replay", (dir / "out").string(), "kill-sideways-2"});
  EXPECT_EQ(sideways.status, 2);
  EXPECT_EQ(sideways.err,
            "crashcheck: unknown case id \"kill-sideways-2\"; this report's kill cases: " + kill_list + "\n");
  std::string power_list;
  for (std::size_t i = 0; i < 10; ++i) power_list += (i ? ", " : "") + powers[i];
  const auto beyond = testing::run_crashcheck_split({"replay", (dir / "out").string(), "power-loss-99a"});
  EXPECT_EQ(beyond.status, 2);
  EXPECT_EQ(beyond.err, "crashcheck: case power-loss-99a: the report has no call 99 (its baseline made " +
                            std::to_string(report["calls"].size()) +
                            " counted calls); this report's power-loss cases: " + power_list + " … and " +
                            std::to_string(powers.size() - 10) + " more\n");
  const auto none = testing::run_crashcheck_split({"replay", (dir / "out").string(), "reader-x"});
  EXPECT_EQ(none.err, "crashcheck: unknown case id \"reader-x\"; this report has no reader cases\n");
  const auto state = testing::run_crashcheck_split({"replay", (dir / "out").string(), "power-loss-1zz"});
  EXPECT_EQ(state.status, 2);
  EXPECT_TRUE(has(state.err, "crashcheck: case power-loss-1zz: the re-run leaves ")) << state.err;
  EXPECT_TRUE(has(state.err, " states after call 1 (power-loss-1a to power-loss-1")) << state.err;
}

// The subject runs a script the test rewrites between the run and the replay.
fs::path script_scenario(const testing::TempDir& dir, const std::string& script, const std::string& models) {
  testing::write_text(dir / "w.sh", script);
  return testing::shell_scenario(dir, "/bin/sh " + (dir / "w.sh").string() + " {payload} {target}",
                                 ", \"models\": [\"" + models + "\"]");
}

TEST(Replay, RefusesWhenTheWritersCallAtTheCasesIndexChanged) {
  testing::TempDir dir;
  const auto scenario = script_scenario(dir, "cp \"$1\" \"$2.tmp\" && mv \"$2.tmp\" \"$2\"\n", "errno");
  ASSERT_LE(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "before").string()}).status, 1);
  // The writer is edited: it now rewrites the target in place.
  testing::write_text(dir / "w.sh", "cat \"$1\" > \"$2\"\n");
  ASSERT_LE(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "after").string()}).status, 1);
  const auto before = load_json(dir / "before" / "report.json");
  const auto after = load_json(dir / "after" / "report.json");
  const auto first_errno_at = [&](std::uint32_t call) {
    for (const auto& cell : before["cells"])
      if (cell["model"] == "errno" && cell["call_index"] == call) return cell["case_id"].get<std::string>();
    return std::string();
  };
  // Call 1 was an open of the temporary file; now it opens the target.
  const std::string was = before["calls"][0]["summary"], now = after["calls"][0]["summary"];
  ASSERT_NE(was, now);
  const auto shifted = testing::run_crashcheck_split({"replay", (dir / "before").string(), first_errno_at(1)});
  EXPECT_EQ(shifted.status, 2);
  EXPECT_EQ(shifted.out, "");  // nothing was injected
  EXPECT_EQ(shifted.err, "crashcheck: the writer changed: the report's call 1 was " + was + " but call 1 is now " +
                             now + "; re-run crashcheck\n");
  // The old writer's last call is past the new writer's end.
  const auto last = before["calls"].size();
  ASSERT_GT(last, after["calls"].size());
  const auto gone = testing::run_crashcheck_split({"replay", (dir / "before").string(), first_errno_at(last)});
  EXPECT_EQ(gone.status, 2);
  EXPECT_EQ(gone.err, "crashcheck: the writer changed: the report's call " + std::to_string(last) + " was " +
                          before["calls"][last - 1]["summary"].get<std::string>() + " but the writer now makes only " +
                          std::to_string(after["calls"].size()) + " counted calls; re-run crashcheck\n");
}

TEST(Replay, ATemporaryNameDrawnAgainIsTheSameCall) {
  testing::TempDir dir;
  const auto scenario = script_scenario(
      dir, "t=$(mktemp \"$(dirname \"$2\")/tmp.XXXXXX\") && cat \"$1\" > \"$t\" && mv \"$t\" \"$2\"\n", "errno");
  ASSERT_LE(testing::run_crashcheck({"run", scenario.string(), "-o", (dir / "out").string()}).status, 1);
  const auto report = load_json(dir / "out" / "report.json");
  std::string rename_case;
  for (const auto& cell : report["cells"])
    if (cell["model"] == "errno" &&
        has(report["calls"][cell["call_index"].get<std::size_t>() - 1]["call"].get<std::string>(), "rename"))
      rename_case = cell["case_id"];
  ASSERT_FALSE(rename_case.empty());
  const auto r = testing::run_crashcheck_split({"replay", (dir / "out").string(), rename_case});
  EXPECT_LE(r.status, 1) << r.err;  // replayed, whatever the verdict: the random name is no change of writer
  EXPECT_TRUE(has(r.out, "case " + rename_case + ": ")) << r.out << r.err;
}

// A subject that never finishes: the message states the limit applied.
TEST(Timeout, MessageStatesTheLimitThatWasApplied) {
  testing::TempDir dir;
  testing::write_text(dir / "payload", "data\n");
  const auto hang = [&](const std::string& models) {
    return testing::run_crashcheck_split({"check", "--payload", (dir / "payload").string(), "--timeout", "0.25",
                                          "--models", models, "-o", (dir / "out").string(), "--", "/bin/sh", "-c",
                                          "exec sleep 600"});
  };
  const auto paused = hang("kill");  // fast kill mode: the baseline pauses at every call
  EXPECT_EQ(paused.status, 3);
  EXPECT_TRUE(has(paused.err,
                  "check: not checkable: the baseline run (no fault) did not finish within 0.75 s (3 × the 0.25 s "
                  "case timeout: the baseline may take 3 × --timeout because it pauses at every call)\n"))
      << paused.err;
  const auto plain = hang("errno");
  EXPECT_EQ(plain.status, 3);
  EXPECT_TRUE(has(plain.err,
                  "check: not checkable: the baseline run (no fault) did not finish within 0.25 s (the case "
                  "timeout, --timeout)\n"))
      << plain.err;
}

}  // namespace
}  // namespace crashcheck::runner
