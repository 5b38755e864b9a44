// The CI gate: the policy (--require / --allow / --baseline, and the same in
// scenario files), sharding (--shard K/N) and `crashcheck merge`.
#include "crashcheck/runner/gate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <set>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/shards.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using reports::Verdict;
using testing::shell_scenario;
using testing::TempDir;

// A report whose properties have the given verdicts (the rest not_run).
reports::Report report_with(const std::map<std::string, Verdict>& verdicts) {
  reports::Report report;
  for (auto name : reports::kProperties) report.properties[std::string(name)].reason = "no case checked it";
  for (const auto& [name, verdict] : verdicts) {
    auto& p = report.properties.at(name);
    p.verdict = verdict;
    p.reason.clear();
    if (verdict != Verdict::fail) continue;
    reports::Failure failure;
    failure.case_id = "kill-before-2";
    failure.model = "kill";
    p.failures.push_back(failure);
  }
  return report;
}

GatePolicy policy(std::vector<std::string> require, std::vector<std::string> allow = {}) {
  GatePolicy p;
  p.require = std::move(require);
  p.allow = std::move(allow);
  return p;
}

GateDecision decide_plain(const reports::Report& report, const GatePolicy& policy, bool partial = false) {
  return decide(report, policy, std::nullopt, "r.json", partial);
}

TEST(GatePolicy, ByDefaultEveryPropertyThatRanDecides) {
  EXPECT_FALSE(decide_plain(report_with({{"crash_atomic", Verdict::pass}}), {}).fails);
  EXPECT_TRUE(decide_plain(report_with({{"crash_atomic", Verdict::pass}, {"durable", Verdict::fail}}), {}).fails);
}

TEST(GatePolicy, ARunThatJudgedNothingAboutTheContentFails) {
  const auto side_only = report_with({{"mode_preserved", Verdict::pass}, {"temp_clean", Verdict::pass}});
  const auto decision = decide_plain(side_only, {});
  EXPECT_TRUE(decision.fails);
  EXPECT_NE(decision.text.find("nothing about the target's content was judged (crash_atomic: no case checked it)"),
            std::string::npos)
      << decision.text;
  EXPECT_FALSE(decide_plain(side_only, policy({"mode_preserved"})).fails);  // the user's own choice
  EXPECT_FALSE(decide_plain(side_only, {}, /*partial=*/true).fails);        // a shard: merge decides
  EXPECT_FALSE(decide_plain(report_with({{"mode_preserved", Verdict::pass}, {"durable", Verdict::pass}}), {}).fails);
}

TEST(GatePolicy, RequireDecidesAloneAndMustHaveRun) {
  const auto report = report_with({{"crash_atomic", Verdict::pass}, {"durable", Verdict::fail}});
  EXPECT_FALSE(decide_plain(report, policy({"crash_atomic"})).fails);
  EXPECT_TRUE(decide_plain(report, policy({"crash_atomic", "durable"})).fails);
  const auto not_run = decide_plain(report, policy({"crash_atomic", "reader_safe"}));
  EXPECT_TRUE(not_run.fails);
  EXPECT_EQ(not_run.text, "required property reader_safe was not run: no case checked it\n");
  // One shard may not hold a required property's cases: the merged report decides.
  EXPECT_FALSE(decide_plain(report, policy({"crash_atomic", "reader_safe"}), true).fails);
}

TEST(GatePolicy, AllowedPropertiesMayFailAndAreNamed) {
  const auto report = report_with({{"crash_atomic", Verdict::pass}, {"durable", Verdict::fail}});
  const auto decision = decide_plain(report, policy({}, {"durable"}));
  EXPECT_FALSE(decision.fails);
  EXPECT_EQ(decision.text, "allowed to fail: durable (1 counterexample)\n");
}

TEST(GatePolicy, BaselineFailsOnlyWhereTheSubjectGotWorse) {
  const Baseline imperfect{"base.json",
                           report_with({{"crash_atomic", Verdict::fail}, {"mode_preserved", Verdict::pass}})};
  const auto same = report_with({{"crash_atomic", Verdict::fail}, {"mode_preserved", Verdict::pass}});
  const auto worse = report_with({{"crash_atomic", Verdict::fail}, {"mode_preserved", Verdict::fail}});
  const auto lost = report_with({{"crash_atomic", Verdict::pass}});  // mode_preserved no longer checked
  EXPECT_FALSE(decide(same, {}, imperfect, "new.json", false).fails);
  const auto decision = decide(worse, {}, imperfect, "new.json", false);
  EXPECT_TRUE(decision.fails);
  EXPECT_NE(decision.text.find("falls short on:\n  mode_preserved: pass -> fail (1 counterexample)\n"),
            std::string::npos)
      << decision.text;
  EXPECT_TRUE(decide(lost, {}, imperfect, "new.json", false).fails);
  const auto allowed = decide(worse, policy({}, {"mode_preserved"}), imperfect, "new.json", false);
  EXPECT_FALSE(allowed.fails);
  EXPECT_NE(allowed.text.find("allowed to get worse: mode_preserved"), std::string::npos);
  EXPECT_FALSE(decide(worse, policy({"crash_atomic"}), imperfect, "new.json", false).fails);
}

TEST(GatePolicy, FlagsOverrideTheScenarioAndConflictsAreBadInput) {
  Scenario s;
  s.require = {"crash_atomic"};
  s.allow = {"durable"};
  EXPECT_EQ(policy_for(s, {}).require, (std::vector<std::string>{"crash_atomic"}));
  EXPECT_EQ(policy_for(s, policy({"error_safe"})).require, (std::vector<std::string>{"error_safe"}));
  EXPECT_EQ(policy_for(s, policy({"error_safe"})).allow, (std::vector<std::string>{"durable"}));
  EXPECT_THROW(policy_for(s, policy({"durable"})), InputError);
  EXPECT_THROW(parse_properties("crash_atomic,atomicity", "--require"), InputError);
  EXPECT_EQ(parse_properties("durable,durable", "--require"), (std::vector<std::string>{"durable"}));
}

TEST(Shards, SliceSyntaxIsValidated) {
  const ShardSlice s = parse_shard("2/5", "--shard");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  for (const char* bad : {"0/3", "4/3", "1/0", "3", "/3", "a/b", "1/3x", "-1/3", ""}) {
    EXPECT_THROW(parse_shard(bad, "--shard"), InputError) << bad;
  }
  // Round-robin: every planned case belongs to exactly one shard.
  for (std::size_t i = 0; i < 20; ++i) {
    int owners = 0;
    for (std::uint32_t k = 1; k <= 3; ++k) owners += ShardSlice{k, 3}.owns(i);
    EXPECT_EQ(owners, 1);
  }
}

constexpr const char* kInPlace = "cat {payload} > {target}";
constexpr const char* kAtomic = "cat {payload} > {dir}/.t.tmp && chmod 0640 {dir}/.t.tmp && mv {dir}/.t.tmp {target}";

TEST(GateScenario, RequireAndAllowFieldsAreReadAndValidated) {
  TempDir dir;
  const auto s =
      load_scenario(shell_scenario(dir, kInPlace, ", \"require\": [\"crash_atomic\"], \"allow\": [\"durable\"]"));
  EXPECT_EQ(s.require, (std::vector<std::string>{"crash_atomic"}));
  EXPECT_EQ(s.allow, (std::vector<std::string>{"durable"}));
  auto error_of = [&](const std::string& extra) {
    try {
      load_scenario(shell_scenario(dir, kInPlace, extra));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string file = (dir / "scenario.json").string();
  EXPECT_EQ(error_of(", \"require\": [\"atomic\"]").rfind(file + ": field \"require\": unknown property \"atomic\"", 0),
            0u);
  EXPECT_EQ(error_of(", \"allow\": \"durable\""), file + ": field \"allow\": expected a non-empty array of strings");
  EXPECT_EQ(error_of(", \"require\": [\"durable\"], \"allow\": [\"durable\"]"),
            file + ": field \"allow\": property \"durable\" is both required and allowed to fail");
}

TEST(GateCli, PolicyFlagsDecideTheExitStatus) {
  TempDir dir;
  const auto bad = shell_scenario(dir, kInPlace, ", \"models\": [\"kill\"]").string();
  const std::string out = (dir / "out").string();
  EXPECT_EQ(testing::run_crashcheck({"run", bad, "-o", out}).status, 1);
  EXPECT_EQ(testing::run_crashcheck({"run", bad, "-o", out, "--allow", "crash_atomic"}).status, 0);
  EXPECT_EQ(testing::run_crashcheck({"run", bad, "-o", out, "--require", "mode_preserved"}).status, 0);
  EXPECT_EQ(testing::run_crashcheck({"run", bad, "-o", out, "--require", "crash_atomic,mode_preserved"}).status, 1);
  const auto not_run = testing::run_crashcheck({"run", bad, "-o", out, "--require", "mode_preserved,durable"});
  EXPECT_EQ(not_run.status, 1);
  EXPECT_NE(not_run.output.find("required property durable was not run"), std::string::npos) << not_run.output;
  for (const std::vector<std::string>& usage : {std::vector<std::string>{"--require", "atomicity"},
                                                {"--require", "durable", "--allow", "durable"},
                                                {"--expect", "--allow", "durable"},
                                                {"--shard", "0/2"},
                                                {"--shard", "3/2"},
                                                {"--shard", "two"},
                                                {"--shard", "1/2", "--baseline", bad},
                                                {"--shard", "2/2", "--expect"}}) {
    std::vector<std::string> args{"run", bad, "-o", out};
    args.insert(args.end(), usage.begin(), usage.end());
    EXPECT_EQ(testing::run_crashcheck(args).status, 2) << usage.front() << " " << usage.back();
  }
  const auto allowed_by_file = shell_scenario(dir, kInPlace, ", \"models\": [\"kill\"], \"allow\": [\"crash_atomic\"]");
  const auto by_file = testing::run_crashcheck({"run", allowed_by_file.string(), "-o", out});
  EXPECT_EQ(by_file.status, 0) << by_file.output;
  EXPECT_NE(by_file.output.find("allowed to fail: crash_atomic"), std::string::npos) << by_file.output;
}

// A writer the preload backend cannot see write (its target named through
// /proc/self/cwd: writers/through_proc_cwd.py, truth in its docstring): the
// trace self-check withholds every property about the content, and the one
// left (mode_preserved passes) must not make the gate green. The seccomp
// backend sees it and fails it; --require is the user's own choice.
TEST(GateCli, NothingJudgedAboutTheContentFailsTheGate) {
  TempDir dir;
  testing::write_text(dir / "old.txt", "old\n");
  testing::write_text(dir / "new.txt", "new content\n");
  const auto check = [&](std::vector<std::string> flags) {
    std::vector<std::string> args{
        "check", "--old", (dir / "old.txt").string(), "--payload", (dir / "new.txt").string(), "--target",
        "t.txt", "-o",    (dir / "out").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    for (const std::string part : {"--", CRASHCHECK_PYTHON, CRASHCHECK_WRITERS_DIR "/through_proc_cwd.py"})
      args.push_back(part);
    args.insert(args.end(), {"{target}", "{payload}"});
    return testing::run_crashcheck(args);
  };
  const auto blind = check({"--backend", "preload"});
  EXPECT_EQ(blind.status, 1) << blind.output;
  EXPECT_NE(blind.output.find("nothing about the target's content was judged (crash_atomic: "), std::string::npos)
      << blind.output;
  const auto report = reports::load_report(dir / "out/report.json");
  EXPECT_EQ(report.properties.at("mode_preserved").verdict, Verdict::pass);
  EXPECT_TRUE(reports::content_unjudged(report).has_value());
  EXPECT_NE(testing::read_text(dir / "out/report.md").find("nothing judged about the content"), std::string::npos);
  EXPECT_EQ(check({"--backend", "preload", "--require", "mode_preserved"}).status, 0);
  const auto seen = check({"--backend", "seccomp"});
  EXPECT_EQ(seen.status, 1) << seen.output;
  EXPECT_EQ(reports::load_report(dir / "out/report.json").properties.at("crash_atomic").verdict, Verdict::fail);
}

TEST(GateCli, BaselineFailsOnlyWhereTheWriterGotWorse) {
  TempDir bad_dir, good_dir;
  const auto bad = shell_scenario(bad_dir, kInPlace, ", \"models\": [\"kill\"]").string();
  const auto good = shell_scenario(good_dir, kAtomic, ", \"models\": [\"kill\"]").string();
  const fs::path bad_out = bad_dir / "out", good_out = good_dir / "out";
  ASSERT_EQ(testing::run_crashcheck({"run", bad, "-o", bad_out.string()}).status, 1);
  ASSERT_EQ(testing::run_crashcheck({"run", good, "-o", good_out.string()}).status, 0);
  // Code that starts out imperfect: the same failures again pass the gate.
  const auto again =
      testing::run_crashcheck({"run", bad, "-o", (bad_dir / "again").string(), "--baseline", bad_out.string()});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("falls short on no property"), std::string::npos) << again.output;
  const auto regressed = testing::run_crashcheck(
      {"run", bad, "-o", (bad_dir / "regressed").string(), "--baseline", (good_out / "report.json").string()});
  EXPECT_EQ(regressed.status, 1);
  EXPECT_NE(regressed.output.find("falls short on:\n  crash_atomic: pass -> fail"), std::string::npos)
      << regressed.output;
  EXPECT_EQ(testing::run_crashcheck({"run", bad, "-o", (bad_dir / "x").string(), "--baseline",
                                     (good_out / "report.json").string(), "--allow", "crash_atomic"})
                .status,
            0);
  EXPECT_EQ(testing::run_crashcheck(
                {"run", bad, "-o", (bad_dir / "x").string(), "--baseline", (bad_dir / "missing.json").string()})
                .status,
            2);
}

// --- sharding -------------------------------------------------------------------

// A free-running race (concurrent-race-N) is the one case whose outcome is up
// to the scheduler: it may find a mix in one run and not in the next.
bool race(const reports::Failure& f) { return f.case_id.rfind("concurrent-race-", 0) == 0; }

std::map<std::string, std::set<std::string>> failure_ids(const reports::Report& report) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [name, p] : report.properties)
    for (const auto& f : p.failures)
      if (!race(f)) out[name].insert(f.case_id);
  return out;
}

std::size_t failures_but_races(const reports::PropertyResult& p) {
  return static_cast<std::size_t>(
      std::count_if(p.failures.begin(), p.failures.end(), [](const auto& f) { return !race(f); }));
}

void expect_same_judgement(const reports::Report& merged, const reports::Report& whole) {
  for (auto name : reports::kProperties) {
    const auto& m = merged.properties.at(std::string(name));
    const auto& w = whole.properties.at(std::string(name));
    EXPECT_EQ(m.verdict, w.verdict) << name;
    EXPECT_EQ(m.cases, w.cases) << name;
    EXPECT_EQ(failures_but_races(m), failures_but_races(w)) << name;
  }
  EXPECT_EQ(failure_ids(merged), failure_ids(whole));
  EXPECT_EQ(merged.model_cases, whole.model_cases);
  EXPECT_EQ(merged.cells.size(), whole.cells.size());
  // The calls' summaries hold scratch paths and temp names that differ from run to run.
  auto call_names = [](const reports::Report& r) {
    std::vector<std::string> out;
    for (const auto& c : r.calls) out.push_back(std::to_string(c.seq) + " " + c.call);
    return out;
  };
  EXPECT_EQ(call_names(merged), call_names(whole));
}

TEST(Shards, MergedShardsEqualTheUnshardedRunOnEveryBundledScenario) {
  constexpr std::uint32_t kShards = 3;
  for (const auto& file : testing::bundled_scenario_files()) {
    if (testing::differs_run_to_run(file)) continue;
    const Scenario scenario = load_scenario(file);
    if (scenario.command.front().find("node") != std::string::npos && std::string(CRASHCHECK_NODE).empty()) continue;
    SCOPED_TRACE(scenario.name);
    RunOptions options;
    options.jobs = 2;
    options.progress = false;
    const auto whole = run_campaigns(scenario, options);
    ASSERT_FALSE(whole.not_checkable) << *whole.not_checkable;
    std::vector<ShardFile> shards;
    for (std::uint32_t k = kShards; k >= 1; --k) {  // any order
      options.shard = ShardSlice{k, kShards};
      shards.push_back({"shard-" + std::to_string(k) + ".json", run_campaigns(scenario, options).report});
      ASSERT_TRUE(shards.back().report.shard);
      EXPECT_EQ(shards.back().report.shard->plan, shards.front().report.shard->plan);
    }
    const reports::Report merged = merge_shards(shards);
    EXPECT_FALSE(merged.shard);
    expect_same_judgement(merged, whole.report);
  }
}

TEST(Shards, ExactKillPointsAreDealtToo) {
  TempDir dir;
  const Scenario scenario = load_scenario(shell_scenario(dir, kInPlace, ", \"models\": [\"kill\", \"errno\"]"));
  RunOptions options;
  options.jobs = 2;
  options.progress = false;
  options.kill_mode = KillMode::exact;
  const auto whole = run_campaigns(scenario, options);
  std::vector<ShardFile> shards;
  for (std::uint32_t k = 1; k <= 2; ++k) {
    options.shard = ShardSlice{k, 2};
    shards.push_back({"s" + std::to_string(k), run_campaigns(scenario, options).report});
  }
  EXPECT_GT(shards[1].report.model_cases["kill"], 0u);  // shard 2 ran kill cases of its own
  expect_same_judgement(merge_shards(shards), whole.report);
}

std::string merge_error(const std::vector<ShardFile>& shards) {
  try {
    merge_shards(shards);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Shards, MergeRefusesAnythingButAllShardsOfOneRun) {
  reports::Report one = report_with({{"crash_atomic", Verdict::pass}});
  one.subject.name = "w";
  one.shard = reports::Shard{1, 3, "abc"};
  reports::Report two = one, three = one;
  two.shard->index = 2;
  three.shard->index = 3;
  EXPECT_EQ(merge_error({{"a", one}, {"b", two}, {"c", three}}), "no error");
  EXPECT_EQ(merge_error({{"a", one}, {"c", three}}), "merge: shard report(s) missing: 2/3");
  EXPECT_EQ(merge_error({{"a", one}, {"b", two}, {"b2", two}, {"c", three}}), "b2: shard 2/3 is given twice (also b)");
  reports::Report whole = one;
  whole.shard.reset();
  EXPECT_EQ(merge_error({{"a", one}, {"w", whole}}).rfind("w: not a shard report", 0), 0u);
  reports::Report other_subject = two;
  other_subject.subject.name = "v";
  EXPECT_EQ(merge_error({{"a", one}, {"v", other_subject}, {"c", three}}),
            "v: judges another subject (\"v\") than a (\"w\")");
  reports::Report other_count = two;
  other_count.shard->count = 4;
  EXPECT_EQ(merge_error({{"a", one}, {"n", other_count}}).rfind("n: shard 2/4, but a is shard 1/3", 0), 0u);
  reports::Report other_plan = two;
  other_plan.shard->plan = "abd";
  EXPECT_EQ(merge_error({{"a", one}, {"p", other_plan}, {"c", three}}).rfind("p: planned other cases than a", 0), 0u);
  EXPECT_EQ(merge_error({}), "merge: no shard report given");
}

TEST(MergeCli, ShardsRunSeparatelyMergeIntoTheUnshardedVerdicts) {
  TempDir dir;
  const auto bad = shell_scenario(dir, kInPlace, ", \"models\": [\"kill\", \"errno\", \"disk-full\"]").string();
  const auto whole = testing::run_crashcheck({"run", bad, "-o", (dir / "whole").string()});
  ASSERT_EQ(whole.status, 1) << whole.output;
  std::vector<std::string> merge{"merge", "-o", (dir / "merged").string()};
  for (const char* k : {"1/2", "2/2"}) {
    const std::string out = (dir / ("shard" + std::string(1, k[0]))).string();
    const auto shard = testing::run_crashcheck({"run", bad, "-o", out, "--shard", k});
    EXPECT_TRUE(shard.status == 0 || shard.status == 1) << shard.output;
    merge.push_back(out + "/report.json");
  }
  const auto merged = testing::run_crashcheck(merge);
  EXPECT_EQ(merged.status, 1) << merged.output;
  const auto a = reports::load_report(dir / "whole" / "report.json");
  const auto b = reports::load_report(dir / "merged" / "report.json");
  expect_same_judgement(b, a);
  for (const auto& [name, p] : b.properties)
    for (const auto& f : p.failures)
      EXPECT_NE(f.replay.find((dir / "merged" / "report.json").string()), std::string::npos) << f.replay;
  // The merge job applies the policy to the whole.
  merge.insert(merge.end(), {"--allow", "crash_atomic,error_safe"});
  EXPECT_EQ(testing::run_crashcheck(merge).status, 0);
  merge.resize(merge.size() - 2);
  merge.insert(merge.end(), {"--baseline", (dir / "whole").string()});
  EXPECT_EQ(testing::run_crashcheck(merge).status, 0);
  // A missing shard names itself; an unsharded report is refused by name.
  const auto missing = testing::run_crashcheck({"merge", merge[3]});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("missing: 2/2"), std::string::npos) << missing.output;
  const auto unsharded = testing::run_crashcheck({"merge", merge[3], (dir / "whole" / "report.json").string()});
  EXPECT_EQ(unsharded.status, 2);
  EXPECT_NE(unsharded.output.find((dir / "whole" / "report.json").string() + ": not a shard report"),
            std::string::npos);
}

}  // namespace
}  // namespace crashcheck::runner
