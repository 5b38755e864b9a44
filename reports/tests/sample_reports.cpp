#include "sample_reports.hpp"

#include <string>

namespace crashcheck::reports::samples {
namespace {

Subject subject(std::string name, std::vector<std::string> command, std::string target) {
  return {std::move(name),
          std::move(command),
          "/work/scenarios/" + target + ".json",
          std::move(target),
          true,
          "/work/scenarios/old.json",
          "0640",
          "/work/scenarios/new.json",
          5300,
          "json",
          10,
          "preload"};
}

void add_cells(Report& report, std::string model, std::uint32_t first, std::uint32_t last, std::string outcome) {
  for (std::uint32_t call = first; call <= last; ++call) {
    report.cells.push_back({model, call, outcome, model + "-" + std::to_string(call) + "-" + outcome});
  }
}

Report base(Subject s) {
  Report report;
  report.tool_version = "0.1.0";
  report.created = "2026-11-26T15:08:02Z";
  report.duration_s = 12.5;
  report.subject = std::move(s);
  for (const auto name : kProperties) report.properties[std::string(name)] = {Verdict::pass, 40, {}, {}, {}};
  report.model_cases = {{"kill", 12}, {"errno", 9}, {"disk-full", 4}, {"power-loss", 60}, {"reader", 6}};
  return report;
}

Failure failure(std::string id, std::string model, std::uint32_t call, std::string fault, FileState state,
                std::string detail) {
  Failure f;
  f.case_id = id;
  f.model = std::move(model);
  f.call_index = call;
  f.call = "write(fd 3 → " + std::string(kHostileTarget) + ", 4096 bytes)";
  f.fault = std::move(fault);
  f.target = std::move(state);
  f.leftovers = {"<tmp> & \"friends\""};
  f.exit_status = -9;
  f.detail = std::move(detail);
  f.replay = "crashcheck replay 'out/report.json' " + id + " && echo \"<done>\"";
  return f;
}

}  // namespace

Report passing_report() {
  Report report = base(subject("reference-writer", {"build/reference/crashcheck-write", "{target}", "{payload}"},
                               "pipeline_health.json"));
  report.properties["valid_content"] = {Verdict::not_run, 0, {}, "no validator configured", {}};
  const char* calls[][2] = {{"openat", "openat(.pipeline_health.json.tmp-1, O_CREAT|O_EXCL) → fd 3"},
                            {"write", "write(fd 3, 5300 bytes)"},
                            {"fchmod", "fchmod(fd 3, 0640)"},
                            {"fsync", "fsync(fd 3)"},
                            {"close", "close(fd 3)"},
                            {"rename", "rename(.pipeline_health.json.tmp-1 → pipeline_health.json)"},
                            {"open", "open(., O_DIRECTORY) → fd 3"},
                            {"fsync", "fsync(fd 3 → .)"},
                            {"close", "close(fd 3)"}};
  std::uint32_t seq = 0;
  for (const auto& call : calls) report.calls.push_back({++seq, call[0], call[1]});
  add_cells(report, "kill", 1, 6, "old");
  add_cells(report, "kill", 6, 9, "new");
  add_cells(report, "errno", 1, 6, "error_ok");
  add_cells(report, "disk-full", 2, 2, "error_ok");
  add_cells(report, "power-loss", 1, 8, "old");
  add_cells(report, "power-loss", 8, 9, "new");
  add_cells(report, "reader", 1, 6, "old");
  add_cells(report, "reader", 7, 9, "new");
  return report;
}

Report failing_report() {
  Report report = base(subject(std::string(kHostileName), {"/usr/bin/python3", "writer.py", "{target}", "--name=a b"},
                               std::string(kHostileTarget)));
  report.calls = {{1, "openat", "openat(" + std::string(kHostileTarget) + ", O_WRONLY|O_CREAT|O_TRUNC) → fd 3"},
                  {2, "write", "write(fd 3, 4096 bytes)"},
                  {3, "write", "write(fd 3, 1204 bytes)"},
                  {4, "close", "close(fd 3)"}};
  // call sites: the writer's own lines, one from a file whose name is markup; call 4 has none
  report.calls[0].site = std::string(kSiteDir) + "writer.py:12";
  report.calls[1].site = std::string(kSiteDir) + "writer.py:14";
  report.calls[2].site = std::string(kHostileSite);
  add_cells(report, "kill", 1, 1, "old");
  add_cells(report, "kill", 1, 3, "torn");
  add_cells(report, "kill", 4, 4, "new");
  add_cells(report, "errno", 2, 3, "torn");
  add_cells(report, "errno", 4, 4, "wrong_success");
  add_cells(report, "disk-full", 2, 3, "torn");
  add_cells(report, "power-loss", 1, 4, "missing");
  add_cells(report, "power-loss", 2, 4, "torn");
  add_cells(report, "power-loss", 4, 4, "other");
  add_cells(report, "reader", 1, 1, "old");
  add_cells(report, "reader", 2, 4, "torn");
  add_cells(report, "reader", 4, 4, "timeout");

  const FileState torn{true, 4096, "0640", "torn", std::string(kHostileExcerpt), "7b2273746174"};
  auto& crash = report.properties["crash_atomic"];
  crash.verdict = Verdict::fail;
  for (std::uint32_t call = 1; call <= 3; ++call) {
    crash.failures.push_back(failure("kill-after-" + std::to_string(call), "kill", call,
                                     "SIGKILL after call " + std::to_string(call), torn,
                                     "the target holds 4096 of 5300 new bytes: a reader gets truncated JSON"));
    crash.failures.back().site = report.calls[call - 1].site;
  }
  auto& errors = report.properties["error_safe"];
  errors.verdict = Verdict::fail;
  Failure wrong = failure("errno-4-EIO", "errno", 4, "close fails with EIO", torn, "exit 0 but the target is torn");
  wrong.exit_status = 0;
  errors.failures.push_back(wrong);
  // crash_atomic is explained, error_safe is not ("no known pattern").
  report.diagnoses.push_back({"write_temp_then_rename",
                              "crash_atomic",
                              1,
                              report.calls[0].summary,
                              "The target is rewritten in place <b>&</b>.",
                              {{"python", "os.replace(tmp, path)  # `atomic`"}, {"c", "rename(tmp, path);"}},
                              report.calls[0].site});
  report.properties["durable"] = {Verdict::not_run, 0, {}, "power-loss model skipped: <no trace>", {}};
  report.properties["temp_clean"].notes = {"temp file left after SIGKILL: .tmp & co"};
  report.notes = {"sampling: power-loss states capped at 60 per call", "bytes \xc3\x28 from the subject"};
  return report;
}

Report not_checkable_report() {
  Report report = passing_report();
  for (auto& [name, result] : report.properties) {
    result = PropertyResult{};
    result.reason = "not checkable";
  }
  report.not_checkable = "the baseline run (no fault) failed: exit 1";
  return report;
}

}  // namespace crashcheck::reports::samples
