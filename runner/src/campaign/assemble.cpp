// Assembling: observations → properties, cells, calls, model counts, notes,
// power loss and diagnoses; and the replay command of every failure.
#include "assemble.hpp"

#include "blind_spots.hpp"

#include <diagnosis.hpp>

#include <algorithm>
#include <ctime>
#include <map>

#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"
#include "plan.hpp"

namespace crashcheck::runner {
namespace fs = std::filesystem;
using faults::Trace;
using reports::Model;

namespace {

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

reports::Subject subject_section(const SubjectSetup& setup) {
  const Scenario& s = setup.scenario;
  reports::Subject subject;
  subject.name = s.name;
  subject.command = s.command;
  subject.scenario = s.file.string();
  subject.target = s.target;
  subject.had_old = s.old.has_value();
  subject.old_file = s.old ? s.old->file.string() : "";
  subject.old_mode = format_mode(s.old ? s.old->mode : setup.contents.old_mode);
  subject.payload_file = s.payload.string();
  subject.payload_size = setup.contents.new_bytes.size();  // without a payload: the baseline's own content
  subject.payload_given = setup.contents.from_payload;
  subject.compare = std::string(compare_name(setup.contents.compare));
  subject.payload_b_file = s.payload_b ? s.payload_b->string() : "";
  subject.validator = s.validator.describe();
  subject.timeout_s = setup.timeout.count() / 1000.0;
  subject.backend = faults::backend_name(setup.backend.kind);
  return subject;
}

// valid_content of the cases, joined by what the validator said of the
// power-loss states.
void add_validated(reports::PropertyResult& valid, reports::PropertyResult power_loss) {
  if (power_loss.verdict == reports::Verdict::not_run) return;
  const std::uint64_t failing_before = valid.failing != 0 ? valid.failing : valid.failures.size();
  valid.cases += power_loss.cases;
  if (power_loss.verdict == reports::Verdict::fail) {
    valid.verdict = reports::Verdict::fail;
    for (auto& f : power_loss.failures) valid.failures.push_back(std::move(f));
    valid.failing = failing_before + power_loss.failing;
  } else if (valid.verdict == reports::Verdict::not_run) {
    valid.verdict = reports::Verdict::pass;
  }
  if (valid.verdict != reports::Verdict::not_run) valid.reason.clear();
}

}  // namespace

BaselinePowerLoss judge_baseline_power_loss(const CaseResult& baseline, const Contents& own, const SubjectSetup& setup,
                                            const RunOptions& options, const ContentValidator& validator,
                                            const std::vector<Unexplained>& unexplained) {
  BaselinePowerLoss out;
  if (!has(options.models, Model::power_loss)) {
    out.reason = "needs the power-loss model, which was not run";
  } else if (options.shard && !options.shard->first()) {
    out.reason = "judged in shard 1 (computed from the baseline run)";
  } else if (!unexplained.empty()) {
    // The model replays the trace: where the trace does not explain what the
    // run really left, its states are not the writer's, so no verdict at all.
    out.reason = describe_unexplained(unexplained);
    out.note = "trace self-check: " + out.reason;
  } else {
    out.judged =
        judge_power_loss(*baseline.trace, baseline.initial, own, setup.scenario.target, baseline.outcome.succeeded(),
                         options.fs_profile, validator, nullptr, baseline.reported_after);
  }
  return out;
}

namespace {

// powerloss_atomic and durable (and valid_content on their states) as
// judge_baseline_power_loss found them.
void add_power_loss(reports::Report& report, BaselinePowerLoss power_loss) {
  auto& atomic = report.properties["powerloss_atomic"];
  auto& durable = report.properties["durable"];
  if (!power_loss.judged) {
    atomic.reason = durable.reason = power_loss.reason;
    if (!power_loss.note.empty()) report.notes.push_back(std::move(power_loss.note));
    return;
  }
  auto& judged = *power_loss.judged;
  atomic = std::move(judged.powerloss_atomic);
  durable = std::move(judged.durable);
  add_validated(report.properties["valid_content"], std::move(judged.valid_content));
  report.cells.insert(report.cells.end(), judged.cells.begin(), judged.cells.end());
  report.model_cases[std::string(reports::model_name(Model::power_loss))] = judged.states;
  report.notes.insert(report.notes.end(), judged.notes.begin(), judged.notes.end());
}

std::map<std::string, std::uint64_t> count_models(const std::vector<Observation>& observations) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& o : observations) ++out[std::string(reports::model_name(o.model))];
  return out;
}

bool on_path_as(const std::string& name, const fs::path& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  for (std::size_t at = 0; at <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', at), dirs.size());
    std::error_code ec;
    if (end > at && fs::equivalent(fs::path(dirs.substr(at, end - at)) / name, program, ec)) return true;
    at = end + 1;
  }
  return false;
}

// The replay command must run as printed: plain "crashcheck" when that is
// this program on PATH (an install), else this program's absolute path (a
// build tree). Code linked into other programs (tests) says "crashcheck".
std::string replay_program() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec || self.filename() != "crashcheck" || on_path_as("crashcheck", self)) return "crashcheck";
  return reports::shell_quote(self.string());
}

}  // namespace

std::vector<reports::CallSummary> call_summaries(const Trace& trace) {
  std::vector<reports::CallSummary> out;
  for (const auto& r : trace.records) out.push_back({r.seq, r.call, faults::describe_call(r), r.site});
  return out;
}

// Every counterexample and diagnosis names a baseline call: it shows that
// call's site next to it (runner/README.md, "Call sites").
void attach_sites(reports::Report& report) {
  std::map<std::uint32_t, std::string> sites;
  for (const auto& c : report.calls)
    if (!c.site.empty()) sites[c.seq] = c.site;
  if (sites.empty()) return;
  const auto site_of = [&](std::uint32_t seq) {
    const auto it = sites.find(seq);
    return it == sites.end() ? std::string() : it->second;
  };
  for (auto& [name, property] : report.properties)
    for (auto& f : property.failures) f.site = site_of(f.call_index);
  for (auto& d : report.diagnoses) d.site = site_of(d.call_index);
}

reports::Report empty_report(const SubjectSetup& setup, const RunOptions& options, const std::string& reason) {
  reports::Report report;
  report.tool_version = CRASHCHECK_VERSION;
  report.created = now_iso8601();
  report.subject = subject_section(setup);
  for (auto name : reports::kProperties) report.properties[std::string(name)].reason = reason;
  if (setup.backend.note) report.notes.push_back(*setup.backend.note);
  if (options.shard) report.shard = reports::Shard{options.shard->index, options.shard->count, ""};  // planned nothing
  return report;
}

reports::Report assemble_report(const Collected& collected, const CaseResult& baseline, const SubjectSetup& setup,
                                const RunOptions& options, const DurableAfterError& after_errors,
                                BaselinePowerLoss power_loss, const ContentValidator& validator) {
  Judgement judgement = judge(collected.observations, setup.contents, options.models, validator);
  reports::Report report = empty_report(setup, options, "");
  report.properties = std::move(judgement.properties);
  report.cells = std::move(judgement.cells);
  report.calls = call_summaries(*baseline.trace);
  report.model_cases = count_models(collected.observations);
  report.model_cases.erase(std::string(reports::model_name(Model::baseline)));
  if (has(options.models, Model::kill))
    report.notes.push_back(options.kill_mode == KillMode::fast
                               ? "kill points explored fast (snapshots from one paused run)"
                               : "kill points explored exactly (one SIGKILL run each)");
  report.notes.insert(report.notes.end(), collected.notes.begin(), collected.notes.end());
  // The trace self-check (run once, before the cases) serves both its users.
  const auto& unexplained = collected.unexplained;
  add_power_loss(report, std::move(power_loss));
  after_errors.apply(report.properties["durable"], report.notes);
  add_validated(report.properties["valid_content"], after_errors.validated());
  withhold_blind_passes(report, blind_spots(unexplained, collected.pauses));
  const Entry* old_target = baseline.initial.find(setup.scenario.target);
  withhold_blind_passes(
      report, mapped_window_spots(*baseline.trace, setup.scenario.target, old_target ? old_target->inode : 0));
  withhold_blind_passes(report, stream_spots(*baseline.trace));
  const auto outliving = outliving_spots(baseline);
  withhold_blind_passes(report, outliving);
  for (const auto& spot : outliving)  // said even when no pass was withheld
    if (std::none_of(report.notes.begin(), report.notes.end(),
                     [&](const std::string& n) { return n.find(spot.reason) != std::string::npos; }))
      report.notes.push_back(spot.reason);
  // The model and the run disagree: said whatever the verdicts, since a
  // fail's counterexample rebuilt from the trace near there may be one the
  // run could not leave (the fail itself rests on what was seen).
  if (!collected.pauses.unexplained.empty())
    report.notes.push_back("the trace and the run disagree: " + collected.pauses.unexplained +
                           "; states rebuilt from the trace near there (inside calls, power loss) may not be ones "
                           "this run could leave");
  if (!collected.pauses.unseen_write.empty())
    report.notes.push_back("the trace and the run disagree: " + collected.pauses.unseen_write);
  note_sampled_passes(report, collected.sampled);
  report.diagnoses = diagnosis::diagnose(*baseline.trace, report);
  attach_sites(report);
  return report;
}

void fill_replay_commands(reports::Report& report, const fs::path& report_file) {
  const std::string program = replay_program();
  for (auto& [name, property] : report.properties)
    for (auto& f : property.failures)
      f.replay = program + " replay " + reports::shell_quote(report_file.string()) + " " + f.case_id;
}

}  // namespace crashcheck::runner
