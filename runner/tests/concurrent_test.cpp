// The concurrent model: schedule encoding, which calls conflict, the plan
// (all interleavings, or a seeded sample said in a note), the default model
// set, the concurrent_safe checker, and ground truth without crashcheck: two
// real instances of scenarios/subjects/fixed_temp_writer.py, one held on a
// FIFO after its first half (racing them freely almost never hits the window:
// Python starts in tens of milliseconds, the window is microseconds; 300 free
// races here gave 0 mixes), leave a
// mix of both payloads; crashcheck's schedule of the same interleaving
// replays to exactly those bytes, every time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/campaign/concurrent.hpp"
#include "../src/campaign/plan.hpp"
#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/properties.hpp"
#include "support.hpp"

extern char** environ;

namespace crashcheck::runner {
namespace {

using faults::OpClass;
using faults::TraceRecord;
using reports::Verdict;

TEST(ConcurrentSchedule, RunLengthRoundTripAndRejects) {
  EXPECT_EQ(encode_schedule("AABBBA"), "A2B3A1");
  EXPECT_EQ(decode_schedule("A2B3A1"), std::optional<Schedule>("AABBBA"));
  EXPECT_EQ(decode_schedule("B12"), std::optional<Schedule>(std::string(12, 'B')));
  for (const char* bad : {"", "A", "A0", "C1", "A1B", "a1", "A1-", "A9999999"})
    EXPECT_FALSE(decode_schedule(bad)) << bad;
  EXPECT_EQ(schedule_of("concurrent-A1B2"), std::optional<Schedule>("ABB"));
  EXPECT_FALSE(schedule_of("concurrent-race-1"));
  EXPECT_TRUE(is_race("concurrent-race-1"));
  EXPECT_FALSE(is_race("concurrent-A1"));
  EXPECT_FALSE(is_concurrent_case("kill-before-1"));
}

TraceRecord call(std::uint32_t seq, OpClass op, std::string path, std::string path2 = "") {
  TraceRecord r;
  r.seq = seq;
  r.op = op;
  r.path = std::move(path);
  r.path2 = std::move(path2);
  return r;
}

// open, write, fsync, close of `temp`, rename onto t, open/fsync/close of ".".
faults::Trace writer_trace(const std::string& temp) {
  faults::Trace t;
  t.records = {call(1, OpClass::open, temp),  call(2, OpClass::write, temp),       call(3, OpClass::sync, temp),
               call(4, OpClass::close, temp), call(5, OpClass::rename, temp, "t"), call(6, OpClass::open, "."),
               call(7, OpClass::sync, "."),   call(8, OpClass::close, ".")};
  for (auto i : {5u, 6u, 7u}) t.records[i].is_directory = true;
  return t;
}

TEST(ConcurrentPlan, AFixedTempNameConflictsAUniqueOneOnlyAtTheRename) {
  EXPECT_EQ(conflicting_calls(writer_trace("t.tmp"), writer_trace("t.tmp")), (std::vector<std::uint32_t>{1, 2, 4, 5}));
  EXPECT_EQ(conflicting_calls(writer_trace("t.x1"), writer_trace("t.x2")), (std::vector<std::uint32_t>{5}));
}

TEST(ConcurrentPlan, EveryInterleavingUpToTheBoundThenASeededSampleSaidInANote) {
  const auto unique = plan_concurrent(writer_trace("t.x1"), writer_trace("t.x2"));
  std::vector<std::string> ids;
  for (const auto& c : unique.cases) ids.push_back(c.id);
  // A's rename first (the rest of A, then of B, after the merge), or B's first.
  EXPECT_EQ(ids, (std::vector<std::string>{"concurrent-A5B5A3B3", "concurrent-B5A8B3", "concurrent-race-1",
                                           "concurrent-race-2", "concurrent-race-3"}));
  ASSERT_EQ(unique.notes.size(), 1u);
  EXPECT_NE(unique.notes[0].find("all 2 interleavings"), std::string::npos) << unique.notes[0];

  faults::Trace chunked = writer_trace("t.tmp");  // six conflicting calls each: C(12, 6) = 924 > the bound
  chunked.records.insert(chunked.records.begin() + 2,
                         {call(0, OpClass::write, "t.tmp"), call(0, OpClass::write, "t.tmp")});
  for (std::size_t i = 0; i < chunked.records.size(); ++i) chunked.records[i].seq = static_cast<std::uint32_t>(i + 1);
  const auto sampled = plan_concurrent(chunked, chunked);
  EXPECT_EQ(sampled.cases.size(), kMaxInterleavings + kRaces);
  EXPECT_NE(sampled.notes.at(0).find("100 of their 924 interleavings"), std::string::npos) << sampled.notes[0];
  EXPECT_NE(sampled.notes.at(0).find("seed "), std::string::npos);
  const auto again = plan_concurrent(chunked, chunked);  // the same sample every time
  for (std::size_t i = 0; i < again.cases.size(); ++i) EXPECT_EQ(again.cases[i].id, sampled.cases[i].id);
  SamplingPolicy all;
  all.exhaustive = true;
  EXPECT_EQ(plan_concurrent(chunked, chunked, all).cases.size(), 924u + kRaces);  // --exhaustive: under its bound
  SamplingPolicy other;
  other.seed = 7;
  EXPECT_NE(plan_concurrent(chunked, chunked, other).cases[5].id, sampled.cases[5].id);  // --seed picks another
  for (const auto& c : sampled.cases) {
    const auto schedule = schedule_of(c.id);
    if (!schedule) continue;
    EXPECT_EQ(std::count(schedule->begin(), schedule->end(), 'A'), 10) << c.id;  // every call of each, once
    EXPECT_EQ(std::count(schedule->begin(), schedule->end(), 'B'), 10) << c.id;
  }
}

TEST(ConcurrentModel, IsOptIn) {
  Scenario scenario;
  const auto defaults = chosen_models(scenario, RunOptions{});
  EXPECT_EQ(std::count(defaults.begin(), defaults.end(), "concurrent"), 0);
  EXPECT_EQ(std::count(defaults.begin(), defaults.end(), "kill"), 1);
  scenario.models = {"concurrent"};
  EXPECT_EQ(chosen_models(scenario, RunOptions{}), std::vector<std::string>{"concurrent"});
  const auto judged = judge({}, Contents{}, defaults, {});
  EXPECT_EQ(judged.properties.at("concurrent_safe").verdict, Verdict::not_run);
  EXPECT_EQ(judged.properties.at("concurrent_safe").reason, "needs the concurrent model, which was not run");
}

TEST(ConcurrentModel, DerivedPayloadKeepsLengthAndJsonShape) {
  EXPECT_EQ(derive_payload_b(R"({"key": "Value\n\u00e9", "n": true})"), R"({"KEY": "vALUE\n\u00e9", "N": true})");
  EXPECT_EQ(derive_payload_b("plain text 1"), "PLAIN TEXT 1");
  EXPECT_EQ(derive_payload_b("123"), "123");  // nothing to vary: the stage says so and runs nothing
}

TEST(ConcurrentSafe, OldABOrNothingHappenedHoldsAMixOrALossDoesNot) {
  const Contents contents{std::string("old"), 0644, std::string("AAAA")};
  const auto observed = [&](const std::string& bytes, int exit_status, const std::string& matches) {
    Observation o;
    o.case_id = "concurrent-A1B1";
    o.model = reports::Model::concurrent;
    o.target.exists = true;
    o.target.matches = matches;  // observe_concurrent calls B's whole content "new" too
    o.target_bytes = bytes;
    o.exit_status = exit_status;
    return judge({o}, contents, {"concurrent"}, {}).properties.at("concurrent_safe");
  };
  EXPECT_EQ(observed("AAAA", 0, "new").verdict, Verdict::pass);
  EXPECT_EQ(observed("old", 1, "old").verdict, Verdict::pass);
  EXPECT_EQ(observed("old", 0, "old").verdict, Verdict::fail);  // both said success, neither landed
  EXPECT_EQ(observed("AABB", 0, "other").verdict, Verdict::fail);
  EXPECT_EQ(observed("AA", 1, "torn").verdict, Verdict::fail);
}

// --- ground truth ------------------------------------------------------------

const std::string kA(4000, 'a'), kB(4000, 'b');

pid_t spawn(const std::vector<std::string>& argv, const std::string& extra_env = "") {
  std::vector<char*> args, env;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (char** e = environ; *e; ++e) env.push_back(*e);
  if (!extra_env.empty()) env.push_back(const_cast<char*>(extra_env.c_str()));
  env.push_back(nullptr);
  pid_t pid = -1;
  return ::posix_spawn(&pid, argv[0].c_str(), nullptr, nullptr, args.data(), env.data()) == 0 ? pid : -1;
}

int exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Ended {
  int a = -1, b = -1;
  std::string target;
};

// A writes its first half and waits on the FIFO; B runs from start to end;
// then A goes on. Plain processes: no crashcheck, no debugger.
Ended a_held_while_b_runs(const testing::TempDir& dir, const std::string& mode) {
  const std::string script = testing::scenarios_dir() / "subjects" / "fixed_temp_writer.py";
  const auto target = dir / "t.json", gate = dir / "gate";
  testing::write_text(target, "old");
  testing::write_text(dir / "a", kA);
  testing::write_text(dir / "b", kB);
  EXPECT_EQ(::mkfifo(gate.c_str(), 0600), 0);
  const pid_t a = spawn({CRASHCHECK_PYTHON, script, mode, target, dir / "a"}, "CRASHCHECK_TEST_GATE=" + gate.string());
  const int fifo = ::open(gate.c_str(), O_WRONLY);  // returns once A opened it: A's first half is written
  Ended out;
  out.b = exit_code(spawn({CRASHCHECK_PYTHON, script, mode, target, dir / "b"}));
  EXPECT_EQ(::write(fifo, "x", 1), 1);
  ::close(fifo);
  out.a = exit_code(a);
  out.target = testing::read_text(target);
  return out;
}

TEST(ConcurrentGroundTruth, TwoFixedTempWritersLeaveAMixAndTheTwinDoesNot) {
  testing::TempDir dir, twin;
  const Ended fixed = a_held_while_b_runs(dir, "fixed");
  EXPECT_EQ(fixed.b, 0);
  EXPECT_NE(fixed.a, 0);  // B renamed the shared temp away: A's rename finds nothing
  EXPECT_EQ(fixed.target, kB.substr(0, 2000) + kA.substr(2000));  // B's first half, A's second: torn
  const Ended unique = a_held_while_b_runs(twin, "unique");
  EXPECT_EQ(unique.a, 0);
  EXPECT_EQ(unique.b, 0);
  EXPECT_EQ(unique.target, kA);  // the last rename wins, whole
}

TEST(ConcurrentGroundTruth, TheScheduleOfThatInterleavingReplaysToTheSameBytes) {
  testing::TempDir dir;
  testing::write_text(dir / "old", "old");
  testing::write_text(dir / "a", kA);
  testing::write_text(dir / "b", kB);
  reports::Report report;
  auto& s = report.subject;
  s.name = "fixed_temp";
  s.command = {CRASHCHECK_PYTHON, (testing::scenarios_dir() / "subjects" / "fixed_temp_writer.py").string(), "fixed",
               "{target}", "{payload}"};
  s.target = "t.json";
  s.had_old = true;
  s.old_file = (dir / "old").string();
  s.old_mode = "0644";
  s.payload_file = (dir / "a").string();
  s.payload_b_file = (dir / "b").string();
  s.timeout_s = 20;
  RunOptions options;
  options.work_root = dir.path();
  // A: open, first write; B: all six calls; A: second write, fsync, close, rename.
  for (int i = 0; i < 3; ++i) {
    const ReplayResult r = replay_case(report, "concurrent-A2B6A4", options);
    ASSERT_TRUE(r.observation.target_bytes);
    EXPECT_EQ(*r.observation.target_bytes, kB.substr(0, 2000) + kA.substr(2000));
    EXPECT_EQ(r.observation.exit_status, 1);
    EXPECT_TRUE(r.fails);
    EXPECT_EQ(r.properties.at("concurrent_safe").verdict, Verdict::fail);
  }
  const ReplayResult serial = replay_case(report, "concurrent-A6B6", options);
  EXPECT_EQ(serial.observation.target_bytes, std::optional<std::string>(kB));
  EXPECT_FALSE(serial.fails);
}

// --- a reader during the race -------------------------------------------------

// Ground truth without crashcheck: A holds after its first half; a reader
// then finds A's first half and the old second half.
TEST(ConcurrentReader, AReaderBetweenTwoHalvesFindsAMix) {
  testing::TempDir dir;
  const std::string script = testing::scenarios_dir() / "subjects" / "inplace_halves_writer.py";
  const auto target = dir / "t.json", gate = dir / "gate";
  testing::write_text(target, std::string(4000, 'o'));
  testing::write_text(dir / "a", kA);
  ASSERT_EQ(::mkfifo(gate.c_str(), 0600), 0);
  const pid_t a = spawn({CRASHCHECK_PYTHON, script, target, dir / "a"}, "CRASHCHECK_TEST_GATE=" + gate.string());
  const int fifo = ::open(gate.c_str(), O_WRONLY);  // returns once A opened it: its first half is written
  const std::string seen = testing::read_text(target);
  EXPECT_EQ(::write(fifo, "x", 1), 1);
  ::close(fifo);
  EXPECT_EQ(exit_code(a), 0);
  EXPECT_EQ(seen, kA.substr(0, 2000) + std::string(2000, 'o'));
  EXPECT_EQ(testing::read_text(target), kA);
}

// The model: some schedules end whole (A, then B), yet concurrent_safe
// fails, and the counterexample says a reader found the mix mid-race.
TEST(ConcurrentReader, AMixOnlyAReaderSawFailsConcurrentSafe) {
  testing::TempDir dir;
  testing::write_text(dir / "old", std::string(4000, 'o'));
  testing::write_text(dir / "a", kA);
  const auto r = testing::run_crashcheck(
      {"check", "--old", (dir / "old").string(), "--payload", (dir / "a").string(), "--target", "t.json", "--models",
       "concurrent", "--quiet", "-o", (dir / "out").string(), "--", CRASHCHECK_PYTHON,
       (testing::scenarios_dir() / "subjects" / "inplace_halves_writer.py").string(), "{target}", "{payload}"});
  EXPECT_EQ(r.status, 1) << r.output;
  const auto report = nlohmann::json::parse(testing::read_text(dir / "out" / "report.json"));
  const auto& safe = report["properties"]["concurrent_safe"];
  ASSERT_EQ(safe["verdict"], "fail") << safe.dump(2);
  bool reader_seen = false;
  for (const auto& f : safe["failures"])
    reader_seen |= f["fault"].get<std::string>().find("; but a reader after ") != std::string::npos;
  EXPECT_TRUE(reader_seen) << safe.dump(2);
}

}  // namespace
}  // namespace crashcheck::runner
