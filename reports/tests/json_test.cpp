#include "crashcheck/report.hpp"
#include "sample_reports.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace crashcheck::reports {
namespace {

using nlohmann::json;
using testing::scratch_dir;
using testing::write_text;

TEST(ReportJson, PassingReportRoundTripsExactly) {
  const Report report = samples::passing_report();
  EXPECT_EQ(from_json(to_json(report), "mem"), report);
  EXPECT_EQ(from_json(json::parse(render_json(report)), "mem"), report);
}

TEST(ReportJson, InvalidUtf8IsStoredAsVisibleEscapes) {
  const Report report = samples::failing_report();
  const json document = to_json(report);
  EXPECT_EQ(document["subject"]["target"], "pipeline\\xff\\xfe_health.json");
  EXPECT_NO_THROW(document.dump());
  // Once stored, it round-trips exactly.
  EXPECT_EQ(to_json(from_json(document, "mem")), document);
}

TEST(ReportJson, ScriptsReadVerdictsWhereDesignSaysTheyAre) {
  const json document = to_json(samples::failing_report());
  EXPECT_EQ(document["schema"], "crashcheck-report/1");
  EXPECT_EQ(document["properties"]["crash_atomic"]["verdict"], "fail");
  EXPECT_EQ(document["properties"]["durable"]["verdict"], "not_run");
  EXPECT_EQ(
      document["properties"]["crash_atomic"]["failures"][0]["replay"].get<std::string>().rfind("crashcheck replay", 0),
      0u);
}

// What load_report says about `bytes` stored in a file.
struct Loaded {
  std::string file;
  std::string message;
};

Loaded load(const std::string& bytes) {
  const auto file = scratch_dir() / "report.json";
  write_text(file, bytes);
  try {
    load_report(file);
  } catch (const ReportError& e) {
    return {file.string(), e.what()};
  }
  return {file.string(), "(no error)"};
}

Loaded load(const json& document) { return load(document.dump()); }

// The message must be the file name followed by `problem`.
void expect_problem(const json& document, const std::string& problem) {
  const Loaded loaded = load(document);
  EXPECT_EQ(loaded.message, loaded.file + problem);
}

json valid() { return to_json(samples::failing_report()); }

// Found by fuzz_report: nlohmann throws out_of_range, not parse_error, for
// a number no double holds; it escaped as a harness failure (exit 3).
TEST(ReportJson, NumberTooLargeIsBadJson) {
  const Loaded loaded = load(std::string("{\"schema\": \"crashcheck-report/1\", \"duration_s\": 1e999}"));
  EXPECT_EQ(loaded.message.rfind(loaded.file + ": not valid JSON: ", 0), 0u) << loaded.message;
  EXPECT_NE(loaded.message.find("number overflow"), std::string::npos) << loaded.message;
}

TEST(ReportJson, BadJsonNamesFileAndPosition) {
  const Loaded loaded = load(std::string("{\"schema\": \"crashcheck-report/1\",,}"));
  EXPECT_EQ(loaded.message.rfind(loaded.file + ": not valid JSON: ", 0), 0u) << loaded.message;
  EXPECT_NE(loaded.message.find("line 1, column"), std::string::npos) << loaded.message;
}

TEST(ReportJson, TruncatedFileIsBadJson) {
  const std::string whole = valid().dump();
  EXPECT_NE(load(whole.substr(0, whole.size() / 2)).message.find("not valid JSON"), std::string::npos);
}

TEST(ReportJson, UnknownSchemaIsRefused) {
  json document = valid();
  document["schema"] = "crashcheck-report/2";
  expect_problem(document, ": unsupported schema 'crashcheck-report/2' (expected crashcheck-report/1)");
}

// The valid failing report with the value at `pointer` replaced (or added).
json with(const std::string& pointer, const json& value) {
  json document = valid();
  document[json::json_pointer(pointer)] = value;
  return document;
}

// The valid failing report with the member at `pointer` removed.
json without(const std::string& pointer) {
  json document = valid();
  const json::json_pointer where(pointer);
  document.at(where.parent_pointer()).erase(where.back());
  return document;
}

TEST(ReportJson, MissingFieldIsNamedByPointer) {
  expect_problem(without("/subject/name"), ": /subject/name: missing");
  expect_problem(without("/properties/crash_atomic/failures/1/target/size"),
                 ": /properties/crash_atomic/failures/1/target/size: missing");
  expect_problem(without("/properties/reader_safe"), ": /properties/reader_safe: missing");
}

TEST(ReportJson, WrongTypeIsNamedByPointer) {
  expect_problem(with("/properties/crash_atomic/cases", "40"),
                 ": /properties/crash_atomic/cases: expected a non-negative integer, got string");
  expect_problem(with("/cells/0/call_index", -1), ": /cells/0/call_index: expected a non-negative integer, got number");
  expect_problem(with("/complete", 1), ": /complete: expected true or false, got number");
  expect_problem(with("/subject/command/1", nullptr), ": /subject/command/1: expected a string, got null");
  expect_problem(json::array(), ": /: expected an object, got array");
}

TEST(ReportJson, InconsistentVerdictsAreRefused) {
  expect_problem(with("/properties/crash_atomic/verdict", "maybe"),
                 ": /properties/crash_atomic/verdict: unknown verdict 'maybe' (expected pass, fail or not_run)");
  expect_problem(with("/properties/crash_atomic/failures", json::array()),
                 ": /properties/crash_atomic/failures: verdict is fail but there is no counterexample");
  expect_problem(with("/properties/crash_atomic/verdict", "pass"),
                 ": /properties/crash_atomic/failures: counterexamples on a property whose verdict is not fail");
  expect_problem(with("/cells/2/outcome", "fine"), ": /cells/2/outcome: unknown outcome 'fine'");
}

// "failing" (every failing case, listed or not) was added within /1.
TEST(ReportJson, FailingCountIsReadWrittenAndChecked) {
  EXPECT_EQ(valid()["properties"]["crash_atomic"]["failing"], 3);  // written: as many as listed
  Report report = from_json(with("/properties/crash_atomic/failing", 12u), "r.json");
  EXPECT_EQ(failing_cases(report.properties.at("crash_atomic")), 12u);
  EXPECT_EQ(from_json(to_json(report), "again"), report);
  Report older = from_json(without("/properties/crash_atomic/failing"), "old.json");  // a report from before
  EXPECT_EQ(failing_cases(older.properties.at("crash_atomic")), 3u);
  expect_problem(with("/properties/crash_atomic/failing", 2u),
                 ": /properties/crash_atomic/failing: fewer failing cases (2) than counterexamples listed (3)");
}

TEST(ReportJson, NotCheckableRoundTripsAndIsAbsentOtherwise) {
  Report report = samples::passing_report();
  EXPECT_FALSE(to_json(report).contains("not_checkable"));
  report.not_checkable = "the baseline run (no fault) failed: exit 1";
  EXPECT_EQ(to_json(report)["not_checkable"], "the baseline run (no fault) failed: exit 1");
  EXPECT_EQ(from_json(to_json(report), "mem"), report);
}

TEST(ReportJson, ShardSectionRoundTripsAndIsAbsentOtherwise) {
  Report report = samples::passing_report();
  EXPECT_FALSE(to_json(report).contains("shard"));
  EXPECT_EQ(from_json(to_json(report), "mem").shard, std::nullopt);
  report.shard = Shard{2, 3, "00ff"};
  EXPECT_EQ(to_json(report)["shard"], (json{{"index", 2}, {"count", 3}, {"plan", "00ff"}}));
  EXPECT_EQ(from_json(to_json(report), "mem"), report);
}

TEST(ReportJson, DiagnosesRoundTripAndOlderReportsHaveNone) {
  const Report report = samples::failing_report();
  const json document = to_json(report);
  EXPECT_EQ(document["diagnoses"][0]["rule"], "write_temp_then_rename");
  EXPECT_EQ(document["diagnoses"][0]["fix"]["c"], "rename(tmp, path);");
  EXPECT_EQ(to_json(from_json(document, "mem")), document);  // the call holds invalid UTF-8, stored escaped
  EXPECT_EQ(from_json(document, "mem").diagnoses.size(), 1u);
  json older = document;
  older.erase("diagnoses");
  EXPECT_TRUE(from_json(older, "mem").diagnoses.empty());
  older["diagnoses"] = {{{"rule", "x"}}};
  EXPECT_THROW(from_json(older, "mem"), ReportError);
}

// Call sites came within /1: present where known, absent otherwise; a report
// without them reads as having none.
TEST(ReportJson, CallSitesRoundTripAndAreAbsentWhenUnknown) {
  const Report report = samples::failing_report();
  const json document = to_json(report);
  EXPECT_EQ(document["calls"][0]["site"], "/home/me/src/writer.py:12");
  EXPECT_FALSE(document["calls"][3].contains("site"));
  EXPECT_EQ(document["properties"]["crash_atomic"]["failures"][1]["site"], "/home/me/src/writer.py:14");
  EXPECT_FALSE(document["properties"]["error_safe"]["failures"][0].contains("site"));
  EXPECT_EQ(document["diagnoses"][0]["site"], "/home/me/src/writer.py:12");
  const Report back = from_json(document, "mem");
  for (std::size_t i = 0; i < report.calls.size(); ++i) EXPECT_EQ(back.calls[i].site, report.calls[i].site);
  EXPECT_EQ(back.diagnoses[0].site, report.diagnoses[0].site);
  EXPECT_EQ(back.properties.at("crash_atomic").failures[2].site, std::string(samples::kHostileSite));
  json older = document;
  older["calls"][0].erase("site");
  older["diagnoses"][0].erase("site");
  const Report read = from_json(older, "mem");
  EXPECT_EQ(read.calls[0].site, "");
  EXPECT_EQ(read.diagnoses[0].site, "");
}

TEST(ReportJson, FixSummaryShowsTheCallSite) {
  const auto lines = fix_summary(samples::failing_report());
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find(" At call 1 writer.py:12 openat("), std::string::npos) << lines[0];
}

// concurrent_safe and subject.payload_b_file came within /1 (issue 17).
TEST(ReportJson, ConcurrentFieldsRoundTripAndOlderReportsLackThem) {
  Report report = samples::passing_report();
  report.subject.payload_b_file = "/data/b.json";
  const json document = to_json(report);
  EXPECT_EQ(document["subject"]["payload_b_file"], "/data/b.json");
  EXPECT_EQ(from_json(document, "mem"), report);
  EXPECT_FALSE(to_json(samples::passing_report())["subject"].contains("payload_b_file"));
  json older = document;
  older["properties"].erase("concurrent_safe");
  older["subject"].erase("payload_b_file");
  const Report read = from_json(older, "mem");
  EXPECT_EQ(read.properties.at("concurrent_safe").verdict, Verdict::not_run);
  EXPECT_FALSE(read.properties.at("concurrent_safe").reason.empty());
  EXPECT_TRUE(read.subject.payload_b_file.empty());
  older["properties"].erase("durable");  // every other property is still required
  EXPECT_THROW(from_json(older, "mem"), ReportError);
}

TEST(ReportJson, FixLanguageFollowsTheCommand) {
  EXPECT_EQ(fix_language({"/usr/bin/python3", "save.py"}), "python");
  EXPECT_EQ(fix_language({"/usr/bin/env", "save.py"}), "python");
  EXPECT_EQ(fix_language({"node", "save.js"}), "node");
  EXPECT_EQ(fix_language({"/bin/sh", "-c", "cat > x"}), "sh");
  EXPECT_EQ(fix_language({"go", "run", "."}), "go");
  EXPECT_EQ(fix_language({"/opt/crashcheck-write", "{target}"}), "c");
}

TEST(ReportJson, BadShardSectionIsRefused) {
  Report report = samples::failing_report();
  report.shard = Shard{1, 2, "ab"};
  json document = to_json(report);
  document["shard"]["index"] = 3u;
  EXPECT_THROW(from_json(document, "mem"), ReportError);
  try {
    from_json(document, "f.json");
  } catch (const ReportError& e) {
    EXPECT_EQ(std::string(e.what()), "f.json: /shard: expected 1 <= index <= count, got 3/2");
  }
  document["shard"].erase("plan");
  EXPECT_THROW(from_json(document, "mem"), ReportError);
}

TEST(ReportJson, PointerEscapesSlashAndTilde) {
  expect_problem(with("/model_cases/a~1b~0c", "x"),
                 ": /model_cases/a~1b~0c: expected a non-negative integer, got string");
}

TEST(ReportJson, UnreadableFileIsNamed) {
  const auto file = scratch_dir() / "absent.json";
  try {
    load_report(file);
    FAIL() << "no error";
  } catch (const ReportError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file.string() + ": cannot open: ", 0), 0u) << e.what();
  }
}

// ---- round trip of generated reports ------------------------------------

rc::Gen<FileState> gen_state() {
  return rc::gen::build<FileState>(
      rc::gen::set(&FileState::exists), rc::gen::set(&FileState::size), rc::gen::set(&FileState::mode),
      rc::gen::set(&FileState::matches,
                   rc::gen::elementOf(std::vector<std::string>{"old", "new", "torn", "other", "missing"})),
      rc::gen::set(&FileState::excerpt), rc::gen::set(&FileState::excerpt_hex));
}

rc::Gen<Failure> gen_failure() {
  return rc::gen::build<Failure>(
      rc::gen::set(&Failure::case_id), rc::gen::set(&Failure::model), rc::gen::set(&Failure::call_index),
      rc::gen::set(&Failure::call), rc::gen::set(&Failure::fault), rc::gen::set(&Failure::target, gen_state()),
      rc::gen::set(&Failure::leftovers), rc::gen::set(&Failure::exit_status), rc::gen::set(&Failure::detail),
      rc::gen::set(&Failure::replay), rc::gen::set(&Failure::site));
}

rc::Gen<PropertyResult> gen_property() {
  return rc::gen::mapcat(rc::gen::element(Verdict::pass, Verdict::fail, Verdict::not_run), [](Verdict verdict) {
    auto failures = verdict == Verdict::fail
                        ? rc::gen::nonEmpty(rc::gen::container<std::vector<Failure>>(gen_failure()))
                        : rc::gen::just(std::vector<Failure>{});
    return rc::gen::build<PropertyResult>(rc::gen::set(&PropertyResult::verdict, rc::gen::just(verdict)),
                                          rc::gen::set(&PropertyResult::cases),
                                          rc::gen::set(&PropertyResult::failures, failures),
                                          rc::gen::set(&PropertyResult::reason), rc::gen::set(&PropertyResult::notes));
  });
}

rc::Gen<Report> gen_report() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::arbitrary<std::string>(), rc::gen::arbitrary<std::vector<std::string>>(),
                     rc::gen::container<std::vector<PropertyResult>>(kProperties.size(), gen_property()),
                     rc::gen::arbitrary<std::map<std::string, std::uint64_t>>(),
                     rc::gen::arbitrary<std::vector<std::string>>()),
      [](auto parts) {
        auto [name, command, properties, model_cases, notes] = std::move(parts);
        Report report;
        report.subject.name = name;
        report.subject.command = command;
        for (std::size_t i = 0; i < kProperties.size(); ++i)
          report.properties[std::string(kProperties[i])] = properties[i];
        report.model_cases = model_cases;
        report.notes = notes;
        return report;
      });
}

RC_GTEST_PROP(ReportJsonProperty, StoredFormRoundTrips, ()) {
  const Report report = *gen_report();
  const json document = to_json(report);
  const std::string text = document.dump();  // never throws: strings were made valid
  RC_ASSERT(to_json(from_json(json::parse(text), "generated")) == document);
}

}  // namespace
}  // namespace crashcheck::reports
