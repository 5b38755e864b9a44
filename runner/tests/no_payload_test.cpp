// Issue 13, "check their writer as it is": a writer that builds its own
// content (a timestamp in it, no payload) is judged per run, and
// `--compare json` accepts a writer that only re-formats the payload.
//
// The writers are the bundled live pipeline step and its in-place twin
// (scenarios/subjects/pipeline_health_live.py). What a crash, an error or a
// power loss can do to each is first established without crashcheck: strace
// kills or fails the writer's first write to a file in the directory, and
// lists its fsync and rename calls. Then crashcheck must agree, on both
// backends.
//
// The strace ground truth skips itself where ptrace is not allowed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <crashcheck/report.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>

#include "crashcheck/runner/new_content.hpp"
#include "crashcheck/runner/properties.hpp"
#include "support.hpp"

namespace crashcheck::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::has;
using testing::read_text;
using testing::run_crashcheck;
using testing::shell;
using testing::strace_works;
using testing::TempDir;
using testing::write_text;

fs::path live_writer() { return testing::scenarios_dir() / "subjects" / "pipeline_health_live.py"; }
std::string old_report() { return read_text(testing::scenarios_dir() / "data" / "pipeline_health.old.json"); }

// The live writer run directly on DIR/t.json (holding the old report), under
// `strace_options` when given.
struct DirectRun {
  int status = -1;
  std::optional<std::string> target;
  std::string strace;  // strace's log
};
DirectRun run_directly(const TempDir& dir, const std::string& mode, const std::string& strace_options = "") {
  write_text(dir / "t.json", old_report());
  const std::string writer = std::string(CRASHCHECK_PYTHON) + " " + reports::shell_quote(live_writer().string()) + " " +
                             reports::shell_quote((dir / "t.json").string()) + " " + mode;
  const std::string log = (dir / "strace.log").string();
  // The interpreter itself writes nothing before the script's first write.
  const std::string traced =
      strace_options.empty() ? writer
                             : "strace -f -qq -o " + reports::shell_quote(log) + " " + strace_options + " " + writer;
  DirectRun run;
  run.status = shell(traced + " 2>/dev/null");
  if (fs::exists(dir / "t.json")) run.target = read_text(dir / "t.json");
  if (fs::exists(log)) run.strace = read_text(log);
  return run;
}

TEST(NoPayloadGroundTruth, EachRunWritesDifferentBytesOfTheSameShape) {
  TempDir a, b;
  const auto first = run_directly(a, ""), second = run_directly(b, "");
  ASSERT_EQ(first.status, 0);
  ASSERT_TRUE(first.target && second.target);
  EXPECT_NE(*first.target, *second.target);  // the timestamps: no payload could name the new content
  EXPECT_EQ(json::parse(*first.target)["stages"].size(), json::parse(*second.target)["stages"].size());
}

TEST(NoPayloadGroundTruth, TheInPlaceTwinLeavesATornFileWhenKilledOrFailedAndNeverSyncs) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  const auto killed = run_directly(dir, "--in-place", "-e trace=write -e inject=write:signal=KILL:when=1");
  EXPECT_EQ(killed.status, 128 + SIGKILL);
  EXPECT_EQ(killed.target, std::string());  // truncated, neither old nor new: what a crash or a reader sees
  const auto failed = run_directly(dir, "--in-place", "-e trace=write -e inject=write:error=ENOSPC");
  EXPECT_NE(failed.status, 0);
  EXPECT_EQ(failed.target, std::string());  // a full disk: reported the error and left it empty
  // One failed write is retried when Python drops the file object: the whole
  // new content lands, and the writer still exits 1 (errno-2-ENOSPC: "new").
  const auto once = run_directly(dir, "--in-place", "-e trace=write -e inject=write:error=ENOSPC:when=1");
  EXPECT_EQ(once.status, 1);
  ASSERT_TRUE(once.target);
  EXPECT_EQ(json::parse(*once.target)["stages"].size(), 6u);
  const auto calls = run_directly(dir, "--in-place", "-e trace=fsync,fdatasync,rename,renameat,renameat2");
  EXPECT_EQ(calls.status, 0);
  EXPECT_FALSE(has(calls.strace, "fsync(")) << calls.strace;  // nothing makes it durable
}

TEST(NoPayloadGroundTruth, TheAtomicWriterLeavesTheOldFileWhenKilledOrFailedAndSyncsAroundTheRename) {
  if (!strace_works()) GTEST_SKIP() << "strace cannot trace here";
  TempDir dir;
  const auto killed = run_directly(dir, "", "-e trace=write -e inject=write:signal=KILL:when=1");
  EXPECT_EQ(killed.status, 128 + SIGKILL);
  EXPECT_EQ(killed.target, old_report());
  const auto failed = run_directly(dir, "", "-e trace=write -e inject=write:error=ENOSPC");
  EXPECT_NE(failed.status, 0);
  EXPECT_EQ(failed.target, old_report());
  const auto calls = run_directly(dir, "", "-e trace=fsync,rename");
  EXPECT_EQ(calls.status, 0);
  const auto rename = calls.strace.find("rename(");
  ASSERT_NE(rename, std::string::npos) << calls.strace;
  EXPECT_NE(calls.strace.rfind("fsync(", rename), std::string::npos) << calls.strace;  // the file, before
  EXPECT_NE(calls.strace.find("fsync(", rename), std::string::npos) << calls.strace;   // the directory, after
}

// crashcheck check, no payload, under kill, errno, disk-full (strace's
// every-write ENOSPC), power loss and reader.
json check_live(const TempDir& dir, const std::string& mode, const std::string& backend) {
  write_text(dir / "old.json", old_report());
  std::vector<std::string> args{"check",
                                "--old",
                                (dir / "old.json").string(),
                                "--compare",
                                "json",
                                "--models",
                                "kill,errno,disk-full,power-loss,reader",
                                "--backend",
                                backend,
                                "-o",
                                (dir / ("out-" + backend + mode)).string(),
                                "--quiet",
                                "--",
                                CRASHCHECK_PYTHON,
                                live_writer().string(),
                                "{target}"};
  if (!mode.empty()) args.push_back(mode);
  const auto r = run_crashcheck(args);
  EXPECT_LE(r.status, 1) << r.output;
  return json::parse(read_text(dir / ("out-" + backend + mode) / "report.json"));
}

std::string verdict(const json& report, const char* property) { return report["properties"][property]["verdict"]; }

TEST(NoPayload, ATimestampWriterIsCheckedAsItIsOnBothBackends) {
  for (const char* backend : {"seccomp", "preload"}) {
    SCOPED_TRACE(backend);
    TempDir dir;
    const json atomic = check_live(dir, "", backend);
    EXPECT_EQ(atomic["subject"]["payload_given"], false);
    EXPECT_EQ(atomic["subject"]["compare"], "json");
    EXPECT_FALSE(atomic.contains("not_checkable"));
    for (const char* p : {"crash_atomic", "error_safe", "reader_safe", "powerloss_atomic", "durable", "temp_clean"})
      EXPECT_EQ(verdict(atomic, p), "pass") << p << ": " << atomic["properties"][p].dump();
    EXPECT_GT(atomic["properties"]["error_safe"]["cases"].get<int>(), 10);

    const json in_place = check_live(dir, "--in-place", backend);
    for (const char* p : {"crash_atomic", "error_safe", "reader_safe", "powerloss_atomic", "durable"})
      EXPECT_EQ(verdict(in_place, p), "fail") << p;
    // The truncated file strace showed is what crashcheck names.
    const auto& kills = in_place["properties"]["crash_atomic"]["failures"];
    ASSERT_FALSE(kills.empty());  // (indexing an empty array would abort and leave the temp directory)
    EXPECT_EQ(kills[0]["target"]["matches"], "torn");
    EXPECT_EQ(kills[0]["target"]["size"], 0);
    // Replay re-runs the writer, which writes new timestamps: judged against its own again.
    const auto replay = run_crashcheck({"replay", (dir / ("out-" + std::string(backend) + "--in-place")).string(),
                                        kills[0]["case_id"].get<std::string>()});
    EXPECT_EQ(replay.status, 1) << replay.output;
    EXPECT_TRUE(has(replay.output, "still fails")) << replay.output;
  }
}

TEST(NoPayload, CompareJsonAcceptsAWriterThatOnlyReformatsThePayloadAndBytesDoesNot) {
  TempDir dir;
  write_text(dir / "new.json", "{\"a\": 1, \"b\": [true, null]}");
  const std::string reformat =
      "printf '{\\n    \"b\": [\\n        true,\\n        null\\n    ],\\n    \"a\": 1\\n}' > "
      "{dir}/t.tmp && mv {dir}/t.tmp {target}";
  // Ground truth: the writer's bytes differ from the payload, its value does not.
  ASSERT_EQ(shell("cd " + reports::shell_quote(dir.path().string()) + " && printf '{\\n    \"b\": [\\n        " +
                  "true,\\n        null\\n    ],\\n    \"a\": 1\\n}' > written.json"),
            0);
  ASSERT_NE(read_text(dir / "written.json"), read_text(dir / "new.json"));
  ASSERT_EQ(json::parse(read_text(dir / "written.json")), json::parse(read_text(dir / "new.json")));
  for (const char* backend : {"seccomp", "preload"}) {
    SCOPED_TRACE(backend);
    const auto out = dir / (std::string("json-") + backend);
    const auto as_json = run_crashcheck({"check", "--payload", (dir / "new.json").string(), "--compare", "json",
                                         "--target", "t.json", "--models", "kill,errno,power-loss", "--backend",
                                         backend, "-o", out.string(), "--quiet", "--", "/bin/sh", "-c", reformat});
    const json report = json::parse(read_text(out / "report.json"));
    EXPECT_FALSE(report.contains("not_checkable")) << report["not_checkable"];
    EXPECT_EQ(report["subject"]["payload_given"], true);
    EXPECT_EQ(verdict(report, "crash_atomic"), "pass");
    EXPECT_EQ(verdict(report, "error_safe"), "pass");
    // mv syncs nothing: a power loss can leave the target empty or missing
    // (the power-loss model's own tests hold it to that); found, as JSON.
    EXPECT_EQ(verdict(report, "powerloss_atomic"), "fail");
    EXPECT_EQ(verdict(report, "durable"), "fail");

    const auto bytes_out = dir / (std::string("bytes-") + backend);
    const auto as_bytes = run_crashcheck({"check", "--payload", (dir / "new.json").string(), "--compare", "bytes",
                                          "--target", "t.json", "--models", "kill", "--backend", backend, "-o",
                                          bytes_out.string(), "--quiet", "--", "/bin/sh", "-c", reformat});
    EXPECT_EQ(as_bytes.status, 3) << as_bytes.output;
    const std::string why = json::parse(read_text(bytes_out / "report.json"))["not_checkable"];
    EXPECT_TRUE(has(why, "the target does not hold the payload")) << why;
    EXPECT_TRUE(has(why, "; as JSON values they are equal: --compare json (\"compare\": \"json\") accepts this writer"))
        << why;
  }
}

TEST(NoPayloadCli, BadCompareAndMissingFilesAreExitTwoNamingTheFlagOrFile) {
  TempDir dir;
  write_text(dir / "new.txt", "not json");
  const auto compare = run_crashcheck({"check", "--payload", (dir / "new.txt").string(), "--compare", "yaml", "-o",
                                       (dir / "out").string(), "--", "/bin/true"});
  EXPECT_EQ(compare.status, 2);
  EXPECT_TRUE(has(compare.output, "crashcheck: --compare: expected bytes or json, got \"yaml\"")) << compare.output;
  const auto missing = run_crashcheck(
      {"check", "--payload", (dir / "nope.json").string(), "-o", (dir / "out").string(), "--", "/bin/true"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_TRUE(has(missing.output, "crashcheck: --payload: no such file: " + (dir / "nope.json").string()))
      << missing.output;
  const auto not_json = run_crashcheck({"check", "--payload", (dir / "new.txt").string(), "--compare", "json", "-o",
                                        (dir / "out").string(), "--", "/bin/sh", "-c", "cat > {target}"});
  EXPECT_EQ(not_json.status, 2);
  EXPECT_TRUE(has(not_json.output, "crashcheck: " + (dir / "new.txt").string() +
                                       ": the payload is not valid JSON, so --compare json cannot use it"))
      << not_json.output;
  const auto no_target = run_crashcheck({"check", "-o", (dir / "out").string(), "--", "/bin/true"});
  EXPECT_EQ(no_target.status, 2);
  EXPECT_TRUE(has(no_target.output,
                  "crashcheck: --target: needed without --old and --payload (the file name the writer writes)"))
      << no_target.output;
}

TEST(NoPayloadCli, WithoutAPayloadTheWriterReadsAnEmptyStdin) {
  TempDir dir;
  const auto out = dir / "out";
  const auto r =
      run_crashcheck({"check", "--target", "t.txt", "--models", "kill", "-o", out.string(), "--verbose", "--",
                      "/bin/sh", "-c", "{ echo stdin:; cat; } > {dir}/t.tmp && mv {dir}/t.tmp {target}"});
  EXPECT_LE(r.status, 1) << r.output;
  EXPECT_TRUE(has(r.output, ", new content: each run's own (no payload) compared as bytes, reports → ")) << r.output;
  const json report = json::parse(read_text(out / "report.json"));
  EXPECT_EQ(report["subject"]["payload_size"], 7);  // "stdin:\n" and nothing more
  EXPECT_EQ(verdict(report, "crash_atomic"), "pass");
}

TEST(NoPayloadCli, ATargetThatIsNotJsonIsNotCheckableUnderCompareJson) {
  TempDir dir;
  const auto out = dir / "out";
  const auto r = run_crashcheck({"check", "--target", "t.txt", "--compare", "json", "--models", "kill", "-o",
                                 out.string(), "--quiet", "--", "/bin/sh", "-c", "echo hello > {target}"});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_EQ(json::parse(read_text(out / "report.json"))["not_checkable"],
            "the baseline run left a target that is not valid JSON, so --compare json cannot judge it (it begins "
            "\"hello\\n\")");
}

TEST(SameContent, JsonComparesValuesAndAParseFailureIsNeverNew) {
  EXPECT_TRUE(same_content("{\"a\":1}", "{\"a\":1}", Compare::bytes));
  EXPECT_FALSE(same_content("{\"a\": 1}", "{\"a\":1}", Compare::bytes));
  EXPECT_TRUE(same_content("{\n  \"a\": 1\n}", "{\"a\":1}", Compare::json));
  EXPECT_FALSE(same_content("{\"a\": 2}", "{\"a\":1}", Compare::json));
  EXPECT_FALSE(same_content("{\"a\": 1", "{\"a\": 1", Compare::json));  // equal bytes, but no JSON value
  EXPECT_FALSE(same_content("", "", Compare::json));
}

faults::TraceRecord write_record(std::uint32_t seq, std::int64_t offset, const std::string& data, std::uint64_t length,
                                 int error = 0) {
  faults::TraceRecord r;
  r.seq = seq;
  r.call = "write";
  r.op = faults::OpClass::write;
  r.inode = 7;
  r.offset = offset;
  r.length = length;
  r.result = error ? -1 : static_cast<std::int64_t>(data.size());
  r.error = error;
  r.data = data;
  return r;
}

TEST(WrittenContent, ARetriedWriteIsWholeAndAShortOneIsATornPrefix) {
  const faults::Trace retried{{write_record(1, 0, "", 5, EINTR), write_record(2, 0, "hello", 5)}};
  EXPECT_EQ(written_content(retried, "t.json", 7, false, std::nullopt).complete, "hello");
  const faults::Trace short_write{{write_record(1, 0, "he", 5)}};
  const auto cut = written_content(short_write, "t.json", 7, false, std::nullopt);
  EXPECT_FALSE(cut.complete);
  EXPECT_EQ(cut.partial, "he");
  EXPECT_TRUE(cut.partial_is_prefix);
  EXPECT_EQ(cut.why, "this run's new content is unknown: call 1 write wrote 2 of 5 bytes and nothing wrote the rest");
}

// shutil.copyfile asks sendfile for 8 MiB at a time and stops on a call
// that copies nothing: the file is whole. A copy cut short by an error is not.
TEST(WrittenContent, AKernelCopyEndsWhereItsSourceEnds) {
  auto copied = write_record(1, 0, "{\"a\": 1}", 8388608);
  copied.call = "sendfile";
  auto end = write_record(2, 8, "", 8388608);
  end.call = "sendfile";
  EXPECT_EQ(written_content(faults::Trace{{copied, end}}, "t.json", 7, false, std::nullopt).complete, "{\"a\": 1}");
  auto failed = write_record(2, 8, "", 8388608, ENOSPC);
  failed.call = "sendfile";
  const auto cut = written_content(faults::Trace{{copied, failed}}, "t.json", 7, false, std::nullopt);
  EXPECT_FALSE(cut.complete);
  EXPECT_TRUE(cut.came_up_short);
  // the same short result from a plain write is owed until something covers it
  EXPECT_FALSE(
      written_content(faults::Trace{{write_record(1, 0, "ab", 4)}}, "t.json", 7, false, std::nullopt).complete);
  const faults::Trace covered{{write_record(1, 0, "ab", 4), write_record(2, 0, "abcd", 4)}};
  EXPECT_EQ(written_content(covered, "t.json", 7, false, std::nullopt).complete, "abcd");
}

faults::TraceRecord truncating_open(std::uint32_t seq, const std::string& path) {
  faults::TraceRecord open;
  open.seq = seq, open.call = "openat", open.op = faults::OpClass::open, open.inode = 7, open.fd = 3;
  open.flags = O_WRONLY | O_CREAT | O_TRUNC, open.path = path;
  return open;
}

// An error handler that empties the target (open(t, "w")) after the
// baseline's path was temp + write + rename: a torn prefix, not new. One
// that writes other bytes into the target itself is unknown, never new.
TEST(CheckShape, AFailedRunThatMadeItsTargetByOtherCallsHasNoNewContent) {
  ContentRecipe recipe;
  recipe.shape = {{faults::OpClass::open, false}, {faults::OpClass::write, false}};
  auto emptied = written_content(faults::Trace{{truncating_open(7, "t.json")}}, "t.json", 7, true, std::string("old"));
  ASSERT_TRUE(emptied.complete);
  check_shape(emptied, recipe);
  EXPECT_FALSE(emptied.complete);
  EXPECT_TRUE(emptied.partial_is_prefix);
  EXPECT_EQ(emptied.why,
            "this run made its target by other calls than the baseline's (a truncating open "
            "of the target, where the baseline made a truncating open, writes): what it wrote is not its new content");
  auto rewritten = written_content(faults::Trace{{truncating_open(7, "t.json"), write_record(8, 0, "{}", 2)}}, "t.json",
                                   7, true, std::string("old"));
  check_shape(rewritten, recipe);
  EXPECT_FALSE(rewritten.complete);
  EXPECT_FALSE(rewritten.partial_is_prefix);
  auto same = written_content(faults::Trace{{truncating_open(3, "t.json.tmp"), write_record(4, 0, "{}", 2)}}, "t.json",
                              7, false, std::nullopt);
  check_shape(same, recipe);
  EXPECT_EQ(same.complete, "{}");  // an error after the rename (the directory fsync): the target is new
}

TEST(SameContent, UnderJsonAStateCutShortIsTornEvenWhenItsValueIsEqual) {
  const std::string whole = "0.12345678901234567891";
  EXPECT_FALSE(same_content(whole.substr(0, whole.size() - 1), whole, Compare::json));  // the same double
  EXPECT_TRUE(same_content("{\"a\": 1}", "{\"a\": 1}\n", Compare::json));  // only the trailing newline missing
}

// A failed call may name no inode (the seccomp backend's injected errors):
// its descriptor, opened on the file, says it was for that file.
TEST(WrittenContent, AFailedWriteWithoutAnInodeCountsByItsDescriptor) {
  faults::TraceRecord open;
  open.seq = 1, open.call = "openat", open.op = faults::OpClass::open, open.inode = 7, open.fd = 3;
  open.flags = O_WRONLY | O_TRUNC;
  auto failed = write_record(2, 0, "", 5, ENOSPC);
  failed.inode = 0, failed.fd = 3;
  const auto written = written_content(faults::Trace{{open, failed}}, "t.json", 7, true, std::string("old"));
  EXPECT_TRUE(written.wrote);  // the truncating open
  EXPECT_FALSE(written.complete);
  EXPECT_EQ(written.partial, "");
  EXPECT_TRUE(written.partial_is_prefix);
}

TEST(WrittenContent, AStateNeitherOldNorAPrefixOfAnUnknownNewIsNotJudgedAndWithholdsThePass) {
  Contents contents{std::string("old"), 0644, ""};
  contents.unknown_new = "this run's new content is unknown: call 3 write failed (EIO) and nothing wrote the rest";
  contents.partial_new = "par";
  contents.partial_is_prefix = true;
  const Entry torn{Entry::Kind::file, 0644, "pa", 0}, strange{Entry::Kind::file, 0644, "zzz", 0};
  EXPECT_TRUE(describe_target(&torn, contents).is(reports::Outcome::torn));
  const auto state = describe_target(&strange, contents);
  EXPECT_TRUE(new_unknown(state, contents));
  Observation passing, unjudged;
  passing.case_id = "errno-1-EIO", passing.model = reports::Model::errno_fault, passing.exit_status = 1;
  passing.target = describe_target(nullptr, contents);
  passing.target.matches = "old";
  unjudged.case_id = "errno-3-EIO", unjudged.model = reports::Model::errno_fault, unjudged.exit_status = 1;
  unjudged.target = state;
  unjudged.unjudged = *contents.unknown_new;
  const auto j = judge({passing, unjudged}, contents, {"errno"}, {});
  const auto& error_safe = j.properties.at("error_safe");
  EXPECT_EQ(error_safe.verdict, reports::Verdict::not_run);
  EXPECT_EQ(error_safe.reason, "1 state(s) not judged, e.g. errno-3-EIO: " + *contents.unknown_new);
  EXPECT_EQ(j.properties.at("temp_clean").verdict, reports::Verdict::pass);  // needs no new content
}

}  // namespace
}  // namespace crashcheck::runner
