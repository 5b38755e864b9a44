#include "crashcheck/runner/campaign.hpp"

#include <diagnosis.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>

#include "crashcheck/runner/executor.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"

namespace crashcheck::runner {
namespace fs = std::filesystem;
using faults::OpClass;
using faults::Trace;
using faults::TraceRecord;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

constexpr std::size_t kMaxDiskFullBoundaries = 64;  // budgets around write boundaries, at most
constexpr std::size_t kDiskFullSamples = 8;         // seeded budgets between boundaries

// A private directory for one campaign's cases, removed with everything in it.
class WorkDir {
 public:
  explicit WorkDir(const fs::path& parent) {
    fs::path base = parent;
    if (base.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string pattern = (base / "crashcheck-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw std::system_error(errno, std::generic_category(), "mkdtemp in " + base.string());
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> chosen_models(const Scenario& scenario, const RunOptions& options) {
  const auto& wanted = !options.models.empty() ? options.models : scenario.models;
  std::vector<std::string> out;
  for (auto m : kModels)
    if (wanted.empty() || std::count(wanted.begin(), wanted.end(), std::string(m))) out.emplace_back(m);
  return out;
}

bool has(const std::vector<std::string>& models, Model m) {
  return std::find(models.begin(), models.end(), reports::model_name(m)) != models.end();
}

std::uint32_t last_seq(const Trace& trace) { return trace.records.empty() ? 0 : trace.records.back().seq; }

// --- baseline ---------------------------------------------------------------

std::optional<std::string> why_not_checkable(const CaseResult& base, const SubjectSetup& setup) {
  const auto& out = base.outcome;
  const std::string stderr_hint = base.stderr_tail.empty() ? "" : "; its stderr ends with: " + base.stderr_tail;
  if (out.end == SubjectOutcome::End::spawn_failed) return "the command could not start: " + out.describe();
  if (out.end == SubjectOutcome::End::timed_out)
    return "the baseline run (no fault) did not finish within " + std::to_string(setup.timeout.count() / 1000.0) + " s";
  if (!out.succeeded()) return "the baseline run (no fault) failed: " + out.describe() + stderr_hint;
  if (base.processes_seen == 0)
    return base.notes.empty()
               ? "the " + std::string(faults::backend_name(setup.backend.kind)) + " backend never saw the subject"
               : base.notes.front();
  if (!base.trace) return "the trace of the run cannot be read: " + base.trace_error;
  if (base.calls_counted == 0 || base.trace->records.empty())
    return "the " + std::string(faults::backend_name(setup.backend.kind)) +
           " backend saw no file-system call in the scratch directory (does the command write {target}?)";
  const auto state = describe_target(base.final.find(setup.scenario.target), setup.contents);
  if (!state.is(reports::Outcome::new_content))
    return "the baseline run exited 0 but the target does not hold the payload (it is " + state.matches + ")";
  return std::nullopt;
}

// --- planning ---------------------------------------------------------------

bool errno_worthy(OpClass op) {
  return op == OpClass::open || op == OpClass::write || op == OpClass::sync || op == OpClass::sync_all ||
         op == OpClass::close || op == OpClass::rename;
}

std::vector<CaseSpec> plan_errno(const Trace& trace) {
  std::vector<CaseSpec> out;
  for (const auto& r : trace.records) {
    const faults::CallInfo* info = faults::find_call(r.call);
    if (!info || !errno_worthy(r.op)) continue;
    for (int error : info->errnos) {
      faults::FaultPlan plan{Kind::fail_call, r.seq, error, 0};
      out.push_back({case_id(Model::errno_fault, plan), Model::errno_fault, plan, 0});
    }
  }
  return out;
}

std::vector<std::uint64_t> write_boundaries(const Trace& trace) {
  std::vector<std::uint64_t> out;
  std::uint64_t total = 0;
  for (const auto& r : trace.records)
    if (r.op == OpClass::write && r.result > 0) out.push_back(total += static_cast<std::uint64_t>(r.result));
  return out;
}

// 0, 1, one below and at each write boundary, payload size − 1, and a seeded
// sample between: deterministic, so a report's budgets can be replayed.
std::vector<std::uint64_t> disk_budgets(const Trace& trace, std::uint64_t payload_size) {
  auto boundaries = write_boundaries(trace);
  const std::uint64_t written = boundaries.empty() ? 0 : boundaries.back();
  std::set<std::uint64_t> budgets{0, 1};
  const std::size_t stride = std::max<std::size_t>(1, boundaries.size() / kMaxDiskFullBoundaries);
  for (std::size_t i = 0; i < boundaries.size(); i += stride) budgets.insert({boundaries[i] - 1, boundaries[i]});
  if (payload_size > 0) budgets.insert(payload_size - 1);
  std::mt19937_64 random(0x63726173u ^ written);
  for (std::size_t i = 0; written > 2 && i < kDiskFullSamples; ++i) budgets.insert(2 + random() % (written - 2));
  std::vector<std::uint64_t> out;
  for (auto b : budgets)
    if (b < written) out.push_back(b);  // a budget at or past what is written injects nothing
  return out;
}

// The write that runs out of space under `budget` in the baseline's sequence.
std::uint32_t write_at_budget(const Trace& trace, std::uint64_t budget) {
  std::uint64_t total = 0;
  for (const auto& r : trace.records) {
    if (r.op != OpClass::write || r.result <= 0) continue;
    total += static_cast<std::uint64_t>(r.result);
    if (total > budget) return r.seq;
  }
  return last_seq(trace);
}

std::vector<CaseSpec> plan_exact_kills(std::uint32_t calls) {
  std::vector<CaseSpec> out;
  for (std::uint32_t n = 1; n <= calls; ++n) {
    faults::FaultPlan plan{Kind::kill_before, n, 0, 0};
    out.push_back({case_id(Model::kill, plan), Model::kill, plan, 0});
  }
  faults::FaultPlan last{Kind::kill_after, calls, 0, 0};
  out.push_back({case_id(Model::kill, last), Model::kill, last, 0});
  return out;
}

// Fast kills and readers come from one paused run, and the baseline is that
// run: pausing changes timing only, so it is traced and ends like any other.
CaseSpec baseline_run(const std::vector<std::string>& models, KillMode mode) {
  const bool paused = (has(models, Model::kill) && mode == KillMode::fast) || has(models, Model::reader);
  const faults::FaultPlan plan{paused ? Kind::pause : Kind::none, 0, 0, 0};
  return {case_id(Model::baseline, {}), Model::baseline, plan, 0};
}

std::vector<CaseSpec> plan_cases(const Trace& trace, const std::vector<std::string>& models, KillMode mode,
                                 std::uint64_t payload_size) {
  std::vector<CaseSpec> out;
  if (has(models, Model::kill) && mode == KillMode::exact)
    for (auto& c : plan_exact_kills(last_seq(trace))) out.push_back(c);
  if (has(models, Model::errno_fault))
    for (auto& c : plan_errno(trace)) out.push_back(c);
  if (has(models, Model::disk_full))
    for (auto b : disk_budgets(trace, payload_size)) {
      faults::FaultPlan plan{Kind::disk_full, 0, 0, b};
      out.push_back({case_id(Model::disk_full, plan), Model::disk_full, plan, 0});
    }
  return out;
}

// --- observing ----------------------------------------------------------------

Observation observe_snapshot(const CaseSpec& spec, std::uint32_t call_index, const Snapshot& snapshot,
                             const Snapshot& initial, const SubjectSetup& setup) {
  Observation o;
  o.case_id = spec.id;
  o.model = spec.model;
  o.call_index = call_index;
  const Entry* target = snapshot.find(setup.scenario.target);
  o.target = describe_target(target, setup.contents);
  if (target && target->kind == Entry::Kind::file) o.target_bytes = target->content;
  for (const auto& name : snapshot.added_since(initial, setup.scenario.target))
    if (!initial.find(name)) o.leftovers.push_back(name);
  return o;
}

std::string fault_text(const CaseSpec& spec, std::uint32_t calls) {
  if (spec.model == Model::baseline) return "none";
  const std::string n = std::to_string(spec.plan.call);
  switch (spec.plan.kind) {
    case Kind::none:
      return "none";
    case Kind::kill_before:
      return "SIGKILL before call " + n;
    case Kind::kill_after:
      return "SIGKILL after call " + n + (spec.plan.call == calls ? ", the last" : "");
    case Kind::kill_within:
      return "SIGKILL inside call " + n + " after its first " + std::to_string(spec.plan.byte_budget) + " bytes";
    case Kind::fail_call:
      return "call " + n + " fails with " + faults::errno_name(spec.plan.error);
    case Kind::disk_full:
      return "disk full after " + std::to_string(spec.plan.byte_budget) + " bytes";
    case Kind::pause:
      return "a reader opens the target before call " + std::to_string(spec.reader_call);
  }
  return "";
}

std::uint32_t fault_call(const CaseSpec& spec, const Trace& baseline) {
  if (spec.plan.kind == Kind::disk_full) return write_at_budget(baseline, spec.plan.byte_budget);
  return spec.plan.kind == Kind::pause ? spec.reader_call : spec.plan.call;
}

Observation observe(const CaseSpec& spec, const Snapshot& state, const Snapshot& initial, const SubjectOutcome& end,
                    const SubjectSetup& setup, const Trace& baseline) {
  const std::uint32_t index = fault_call(spec, baseline);
  Observation o = observe_snapshot(spec, index, state, initial, setup);
  o.call = faults::describe_call(baseline, index);
  o.fault = fault_text(spec, last_seq(baseline));
  o.exit_status = end.status();
  o.timed_out = end.end == SubjectOutcome::End::timed_out;
  return o;
}

Observation observe_case(const CaseResult& r, const SubjectSetup& setup, const Trace& baseline) {
  return observe(r.spec, r.final, r.initial, r.outcome, setup, baseline);
}

// Kill and reader states from one paused run: before call N the directory is
// what a SIGKILL before call N leaves, and what a reader opening it finds.
// Returns the kill cases the run did not reach, to be run for real.
std::vector<CaseSpec> observe_paused(const CaseResult& paused, bool kills, bool readers, const SubjectSetup& setup,
                                     const Trace& baseline, std::vector<Observation>& out) {
  const std::uint32_t calls = last_seq(baseline);
  const SubjectOutcome killed{SubjectOutcome::End::signaled, SIGKILL};
  std::vector<CaseSpec> missing;
  for (auto& spec : plan_exact_kills(calls)) {
    const bool after_last = spec.plan.kind == Kind::kill_after;
    const auto pause = paused.pauses.find(spec.plan.call);
    const bool reached = after_last ? paused.outcome.succeeded() : pause != paused.pauses.end();
    if (readers && !after_last && reached) {
      const faults::FaultPlan plan{Kind::pause, 0, 0, 0};
      CaseSpec reader{case_id(Model::reader, plan, spec.plan.call), Model::reader, plan, spec.plan.call};
      out.push_back(observe(reader, pause->second, paused.initial, paused.outcome, setup, baseline));
      out.back().exit_status = 0;  // a reader case observes; the writer goes on
    }
    if (!kills) continue;
    if (!reached)
      missing.push_back(spec);
    else
      out.push_back(observe(spec, after_last ? paused.final : pause->second, paused.initial, killed, setup, baseline));
  }
  return missing;
}

// --- report -------------------------------------------------------------------

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
  subject.payload_size = setup.contents.new_bytes.size();
  subject.validator = s.validator.describe();
  subject.timeout_s = setup.timeout.count() / 1000.0;
  subject.backend = faults::backend_name(setup.backend.kind);
  return subject;
}

std::vector<reports::CallSummary> call_summaries(const Trace& trace) {
  std::vector<reports::CallSummary> out;
  for (const auto& r : trace.records) out.push_back({r.seq, r.call, faults::describe_call(r)});
  return out;
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

struct Collected {
  std::vector<Observation> observations;
  std::vector<std::string> notes;
  std::map<std::string, std::pair<std::size_t, std::string>> outside;  // path -> (cases, first case)
  std::size_t planned = 0, ran = 0;
};

// Files written outside scratch/, and the backend's notes, once each.
void note_case(const CaseResult& r, Collected& collected) {
  for (const auto& w : r.outside_writes) {
    auto& [count, first] = collected.outside[w];
    if (count++ == 0) first = r.spec.id;
  }
  for (const auto& note : r.notes)
    if (std::find(collected.notes.begin(), collected.notes.end(), note) == collected.notes.end())
      collected.notes.push_back(note);
}

// One note per path, however many cases wrote it.
void add_outside_notes(Collected& collected) {
  for (const auto& [path, seen] : collected.outside)
    collected.notes.push_back("the subject wrote outside its scratch directory: " + path + " (" +
                              std::to_string(seen.first) + " case(s), first " + seen.second + ")");
}

void run_planned(const std::vector<CaseSpec>& specs, const SubjectSetup& setup, const RunOptions& options,
                 const CaseResult& baseline, Collected& collected) {
  const Trace& trace = *baseline.trace;
  std::vector<std::optional<CaseResult>> results(specs.size());
  collected.planned += specs.size();
  collected.ran += run_parallel(
      specs.size(), options.jobs ? options.jobs : default_jobs(),
      [&](std::size_t i) { results[i] = execute_case(setup, specs[i]); },
      options.progress ? setup.scenario.name : std::string());
  for (auto& r : results) {
    if (!r || (r->outcome.end == SubjectOutcome::End::cancelled)) continue;
    note_case(*r, collected);
    collected.observations.push_back(observe_case(*r, setup, trace));
  }
}

// The baseline's own observation, and the kill and reader states of its
// pauses; returns the kill points its pauses did not reach.
std::vector<CaseSpec> observe_baseline(const CaseResult& baseline, const SubjectSetup& setup, const RunOptions& options,
                                       Collected& collected) {
  const Trace& trace = *baseline.trace;
  collected.observations.push_back(observe_case(baseline, setup, trace));
  note_case(baseline, collected);
  if (baseline.spec.plan.kind != Kind::pause) return {};
  auto lost = observe_paused(baseline, has(options.models, Model::kill) && options.kill_mode == KillMode::fast,
                             has(options.models, Model::reader), setup, trace, collected.observations);
  if (!lost.empty())
    collected.notes.push_back("the paused run stopped before call " + std::to_string(lost.front().plan.call) +
                              "; those kill points were run one by one instead");
  return lost;
}

// powerloss_atomic and durable, computed from the baseline's trace.
void add_power_loss(reports::Report& report, const CaseResult& baseline, const SubjectSetup& setup,
                    const RunOptions& options) {
  auto& atomic = report.properties["powerloss_atomic"];
  auto& durable = report.properties["durable"];
  if (!has(options.models, Model::power_loss)) {
    atomic.reason = durable.reason = "needs the power-loss model, which was not run";
    return;
  }
  if (options.shard && !options.shard->first()) {
    atomic.reason = durable.reason = "judged in shard 1 (computed from the baseline run)";
    return;
  }
  // The model replays the trace: where the trace does not explain what the
  // run really left, its states are not the writer's, so no verdict at all.
  if (const auto unexplained = unexplained_by_trace(*baseline.trace, baseline.initial, baseline.final);
      !unexplained.empty()) {
    atomic.reason = durable.reason = describe_unexplained(unexplained);
    report.notes.push_back("trace self-check: " + atomic.reason);
    return;
  }
  auto judged = judge_power_loss(*baseline.trace, baseline.initial, setup.contents, setup.scenario.target,
                                 baseline.outcome.succeeded(), options.fs_profile);
  atomic = std::move(judged.powerloss_atomic);
  durable = std::move(judged.durable);
  report.cells.insert(report.cells.end(), judged.cells.begin(), judged.cells.end());
  report.model_cases[std::string(reports::model_name(Model::power_loss))] = judged.states;
  report.notes.insert(report.notes.end(), judged.notes.begin(), judged.notes.end());
}

// A shard keeps its round-robin share of the planned cases; what is judged
// from the baseline run itself stays with shard 1 (shards.hpp).
std::optional<reports::Shard> take_slice(std::vector<CaseSpec>& cases, Collected& collected,
                                         const RunOptions& options) {
  if (!options.shard) return std::nullopt;
  const ShardSlice slice = *options.shard;
  std::string settings = "models=";
  for (const auto& m : options.models) settings += m + ",";
  settings += std::string(" kill-mode=") + (options.kill_mode == KillMode::fast ? "fast" : "exact");
  std::vector<std::string> planned{settings + " fs-profile=" + options.fs_profile};
  std::vector<CaseSpec> mine;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    planned.push_back(cases[i].id);
    if (slice.owns(i)) mine.push_back(std::move(cases[i]));
  }
  collected.notes.push_back("shard " + std::to_string(slice.index) + "/" + std::to_string(slice.count) + ": ran " +
                            std::to_string(mine.size()) + " of the " + std::to_string(cases.size()) +
                            " planned cases; the baseline run's own states and power-loss are judged in shard 1");
  if (!slice.first()) collected.observations.clear();
  cases = std::move(mine);
  return reports::Shard{slice.index, slice.count, plan_fingerprint(planned)};
}

std::map<std::string, std::uint64_t> count_models(const std::vector<Observation>& observations) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& o : observations) ++out[std::string(reports::model_name(o.model))];
  return out;
}

// Judges every observation and fills the report the renderers read.
reports::Report assemble_report(const Collected& collected, const CaseResult& baseline, const SubjectSetup& setup,
                                const RunOptions& options) {
  Judgement judgement = judge(collected.observations, setup.contents, options.models, make_content_validator(setup));
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
  add_power_loss(report, baseline, setup, options);
  report.diagnoses = diagnosis::diagnose(*baseline.trace, report);
  return report;
}

}  // namespace

CampaignResult run_campaigns(const Scenario& scenario, const RunOptions& given) {
  const auto started = std::chrono::steady_clock::now();
  RunOptions options = given;
  options.models = chosen_models(scenario, given);
  WorkDir work(options.work_root);
  const SubjectSetup setup =
      make_setup(scenario, {options.timeout_s, options.agent_library, options.backend, work.path()});
  CampaignResult result;
  const CaseResult baseline = execute_case(setup, baseline_run(options.models, options.kill_mode));
  if (cancel_requested().load()) {
    result.interrupted = true;
    result.report = empty_report(setup, options, "interrupted before the baseline finished");
    result.report.complete = false;
    return result;
  }
  if (auto why = why_not_checkable(baseline, setup)) {
    result.not_checkable = "not checkable: " + *why;
    result.report = empty_report(setup, options, *result.not_checkable);
    result.report.notes.push_back(*result.not_checkable);
    return result;
  }
  Collected collected;
  auto cases = observe_baseline(baseline, setup, options, collected);
  for (auto& c : plan_cases(*baseline.trace, options.models, options.kill_mode, setup.contents.new_bytes.size()))
    cases.push_back(std::move(c));
  const auto shard = take_slice(cases, collected, options);
  run_planned(cases, setup, options, baseline, collected);
  add_outside_notes(collected);

  result.interrupted = cancel_requested().load();
  result.report = assemble_report(collected, baseline, setup, options);
  reports::Report& report = result.report;
  if (result.interrupted) {
    report.complete = false;
    report.notes.push_back("interrupted: " + std::to_string(collected.ran) + " of " +
                           std::to_string(collected.planned) + " cases ran");
  }
  report.shard = shard;
  fill_replay_commands(report, options.report_file);
  report.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.observations = std::move(collected.observations);
  return result;
}

namespace {

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

void fill_replay_commands(reports::Report& report, const fs::path& report_file) {
  const std::string program = replay_program();
  for (auto& [name, property] : report.properties)
    for (auto& f : property.failures)
      f.replay = program + " replay " + reports::shell_quote(report_file.string()) + " " + f.case_id;
}

Scenario scenario_from_subject(const reports::Subject& subject, std::string_view source) {
  Scenario s;
  const std::string where = std::string(source) + ": subject";
  if (subject.command.empty() || subject.target.empty() || subject.payload_file.empty())
    throw InputError(where + ": command, target and payload_file are needed to replay");
  s.name = subject.name;
  s.command = subject.command;
  s.file = subject.scenario;
  s.target = subject.target;
  if (subject.had_old) s.old = OldFile{subject.old_file, parse_mode(subject.old_mode, where + ".old_mode")};
  s.payload = subject.payload_file;
  s.validator = Validator::from_description(subject.validator, where + ".validator");
  if (subject.timeout_s > 0) s.timeout_s = subject.timeout_s;
  if (!subject.backend.empty()) {  // replay with the backend the report's run used
    s.backend = faults::backend_from_name(subject.backend);
    if (!s.backend) throw InputError(where + ".backend: unknown backend \"" + subject.backend + "\"");
  }
  return s;
}

namespace {

// A power-loss case is computed, not run: re-run the baseline, recompute the
// crash states just after call N, and keep what they break.
ReplayResult replay_power_loss(const CaseResult& baseline, const SubjectSetup& setup, std::uint32_t after,
                               const RunOptions& options) {
  auto judged = judge_power_loss(*baseline.trace, baseline.initial, setup.contents, setup.scenario.target,
                                 baseline.outcome.succeeded(), options.fs_profile);
  ReplayResult result;
  result.outcome = baseline.outcome.describe();
  result.observation.case_id = power_loss_case_id(after);
  result.observation.model = Model::power_loss;
  result.observation.call_index = after;
  result.observation.fault = "power loss after call " + std::to_string(after);
  result.observation.call = faults::describe_call(*baseline.trace, after);
  result.observation.target = describe_target(baseline.final.find(setup.scenario.target), setup.contents);
  for (auto* property : {&judged.powerloss_atomic, &judged.durable}) {
    auto& failures = property->failures;
    failures.erase(std::remove_if(failures.begin(), failures.end(),
                                  [&](const reports::Failure& f) { return f.call_index != after; }),
                   failures.end());
    if (!failures.empty()) {
      property->verdict = reports::Verdict::fail;
      result.observation.target = failures.front().target;
      result.observation.leftovers = failures.front().leftovers;
      result.observation.fault = failures.front().fault;
    } else if (property->verdict == reports::Verdict::fail) {
      property->verdict = reports::Verdict::pass;  // fails elsewhere, not at this point
    }
  }
  result.properties["powerloss_atomic"] = judged.powerloss_atomic;
  result.properties["durable"] = judged.durable;
  result.fails = any_failed(result.properties);
  return result;
}

}  // namespace

ReplayResult replay_case(const reports::Report& report, std::string_view id, const RunOptions& options) {
  const std::string_view power_prefix = reports::model_info(Model::power_loss).case_prefix;
  const bool power_loss = id.substr(0, power_prefix.size()) == power_prefix;
  auto spec =
      power_loss ? std::optional<CaseSpec>(CaseSpec{std::string(id), Model::power_loss, {}, 0}) : parse_case_id(id);
  if (!spec) throw InputError("unknown case id \"" + std::string(id) + "\" (e.g. kill-before-3, errno-5-ENOSPC)");
  const Scenario scenario = scenario_from_subject(report.subject, "report");
  WorkDir work(options.work_root);
  const SubjectSetup setup =
      make_setup(scenario, {options.timeout_s, options.agent_library, options.backend, work.path()});
  const CaseResult baseline = execute_case(setup, {case_id(Model::baseline, {}), Model::baseline, {}, 0});
  if (auto why = why_not_checkable(baseline, setup)) throw std::runtime_error("not checkable: " + *why);
  if (power_loss) {
    const std::string n(id.substr(power_prefix.size()));
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
      throw InputError("unknown case id \"" + std::string(id) + "\"");
    return replay_power_loss(baseline, setup, static_cast<std::uint32_t>(std::stoul(n)), options);
  }
  const CaseResult run = execute_case(
      setup, spec->model == Model::reader ? CaseSpec{"paused-run", Model::reader, {Kind::pause, 0, 0, 0}, 0} : *spec);
  ReplayResult result;
  if (spec->model == Model::reader) {
    const auto pause = run.pauses.find(spec->reader_call);
    if (pause == run.pauses.end())
      throw std::runtime_error("the subject never reached call " + std::to_string(spec->reader_call));
    result.observation = observe(*spec, pause->second, run.initial, SubjectOutcome{SubjectOutcome::End::exited, 0},
                                 setup, *baseline.trace);
  } else {
    result.observation = observe_case(run, setup, *baseline.trace);
  }
  result.outcome = run.outcome.describe();
  std::vector<std::string> models{std::string(reports::model_name(spec->model))};
  auto judgement = judge({result.observation}, setup.contents, models, make_content_validator(setup));
  for (auto& [name, property] : judgement.properties)
    if (property.cases > 0) result.properties[name] = property;
  result.fails = any_failed(result.properties);
  return result;
}

}  // namespace crashcheck::runner
