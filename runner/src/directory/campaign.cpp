// The directory-mode campaign, stage by stage: the baseline run (paused at
// every call when kills or readers are read off it), the errno, disk-full
// (and exact kill) cases run in parallel, the kill states inside large writes
// (synthesized from the trace), the power-loss states enumerated
// from the baseline's trace, the checker on every distinct state, and the
// report. Each model's cases point at StateBook jobs, so a state many cases
// share is checked once.
#include <crashcheck/powerloss.hpp>
#include <diagnosis.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <csignal>
#include <set>

#include "../campaign/assemble.hpp"
#include "../campaign/plan.hpp"
#include "../campaign/within.hpp"
#include "../campaign/work_dir.hpp"
#include "crashcheck/runner/executor.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "directory.hpp"

namespace crashcheck::runner {
namespace pl = crashcheck::powerloss;
using reports::Model;
using Kind = faults::FaultPlan::Kind;

namespace {

constexpr std::size_t kListed = 16;  // counterexamples listed per property

// One state a case left (or a pause, or a power loss), and the job judging it.
struct DirCase {
  std::string id;
  Model model = Model::baseline;
  std::uint32_t call = 0;
  std::string fault;
  int exit_status = 0;
  std::size_t job = 0;
  std::vector<std::string> leftovers;  // temp_clean: names neither the initial nor the baseline's final directory has
};

// What the stages collect for the report.
struct DirRun {
  StateBook book;
  std::map<std::string, std::vector<DirCase>> by_property;  // property -> the cases that bear on it
  std::map<Model, std::set<std::size_t>> jobs_per_model;    // distinct states checked per model
  std::vector<std::string> notes;
  // property -> why it is not judged: a pass of it, or its having no cases, becomes not_run with that reason
  std::map<std::string, std::string> unjudged;
};

void add(DirRun& run, const std::string& property, DirCase c) {
  run.jobs_per_model[c.model].insert(c.job);
  run.by_property[property].push_back(std::move(c));
}

// The paused baseline: before call N the directory is what a SIGKILL there
// leaves and what a reader opening it then would copy.
struct Pauses {
  std::map<std::uint32_t, std::size_t> jobs;  // call -> job (COMMITTED=0)
};

CaseResult run_baseline(const SubjectSetup& setup, const RunOptions& options, DirRun& run, Pauses& pauses) {
  const CaseSpec spec = baseline_run(options.models, options.kill_mode, setup.backend.kind);
  return execute_case(setup, spec, [&](std::uint32_t call, const Snapshot& now, const Snapshot&) {
    pauses.jobs[call] = run.book.add(now.entries, false);
  });
}

std::optional<std::string> why_not_checkable(const CaseResult& base) {
  if (base.conflict) return *base.conflict + " (try --backend preload)";
  if (!base.outcome.succeeded())
    return "the baseline run (no fault) failed: " + base.outcome.describe() +
           (base.stderr_tail.empty() ? "" : "; its stderr ends with: " + base.stderr_tail);
  if (!base.trace) return "the trace of the run cannot be read: " + base.trace_error;
  if (base.trace->records.empty())
    return "the backend saw no file-system call in the scratch directory (does the command write {dir}?)";
  return std::nullopt;
}

std::vector<std::string> new_names(const Snapshot& state, const Snapshot& initial, const Snapshot& final) {
  std::vector<std::string> out;
  for (const auto& [name, _] : state.entries)
    if (!initial.find(name) && !final.find(name)) out.push_back(name);
  return out;
}

// Whether a crash before call `call` comes after the writer reported
// success: its first process exited 0 after call `reported_after` while
// what it started went on (CaseResult::reported_after). The checker is then
// told CRASHCHECK_COMMITTED=1 (issue 15's adversarial pass: a background
// rename after exit 0 passed `durable`).
bool after_report(const CaseResult& base, std::uint32_t call) {
  return base.outcome.succeeded() && base.reported_after && call > *base.reported_after;
}

// Kill and reader cases off the pauses; the kill points the run did not
// reach (or every one, in exact mode) are returned to be run for real.
std::vector<CaseSpec> cases_from_pauses(const CaseResult& base, const Pauses& pauses, const RunOptions& options,
                                        DirRun& run) {
  const bool kills = has(options.models, Model::kill), readers = has(options.models, Model::reader);
  const auto& trace = *base.trace;
  std::vector<CaseSpec> missing;
  for (const auto& spec : plan_exact_kills(trace)) {
    const std::uint32_t call = spec.plan.call;
    const auto seen = pauses.jobs.find(call);
    const bool after_last = spec.plan.kind == Kind::kill_after;
    if (readers && !after_last && seen != pauses.jobs.end())
      add(run, "reader_consistent",
          {case_id(Model::reader, {Kind::pause, 0, 0, 0}, call),
           Model::reader,
           call,
           "a reader copies the directory before call " + std::to_string(call),
           0,
           seen->second,
           {}});
    if (!kills) continue;
    if (after_last)
      add(run, "crash_consistent",
          {spec.id,
           Model::kill,
           call,
           "SIGKILL after call " + std::to_string(call) + ", the last",
           -SIGKILL,
           run.book.add(base.final.entries, false),
           {}});
    else if (seen != pauses.jobs.end() && options.kill_mode == KillMode::fast) {
      add(run, "crash_consistent",
          {spec.id, Model::kill, call, "SIGKILL before call " + std::to_string(call), -SIGKILL, seen->second, {}});
      if (after_report(base, call))
        add(run, "crash_consistent",
            {spec.id,
             Model::kill,
             call,
             "SIGKILL before call " + std::to_string(call) + ", after the writer exited 0 (CRASHCHECK_COMMITTED=1)",
             -SIGKILL,
             run.book.add(run.book.entries(seen->second), true),
             {}});
    } else
      missing.push_back(spec);
  }
  if (kills)  // the writer exited 0: what it committed must be there
    add(run, "crash_consistent",
        {"baseline",
         Model::baseline,
         trace.records.back().seq,
         "none: the writer exited 0 (CRASHCHECK_COMMITTED=1)",
         0,
         run.book.add(base.final.entries, true),
         {}});
  return missing;
}

std::string fault_text(const CaseSpec& spec) {
  const std::string n = std::to_string(spec.plan.call);
  switch (spec.plan.kind) {
    case Kind::kill_before:
      return "SIGKILL before call " + n;
    case Kind::fail_call:
      return "call " + n + " fails with " + faults::errno_name(spec.plan.error);
    case Kind::disk_full:
      return "disk full after " + std::to_string(spec.plan.byte_budget) + " bytes";
    case Kind::kill_within:
      return "SIGKILL inside call " + n + " after its first " + std::to_string(spec.plan.byte_budget) +
             " bytes (a real kill)";
    default:
      return spec.id;
  }
}

// Errno, disk-full and unreached kill cases, run in parallel; each final
// directory goes to the book (COMMITTED=1 when the writer exited 0).
void run_cases(const std::vector<CaseSpec>& specs, const SubjectSetup& setup, const RunOptions& options,
               const CaseResult& base, DirRun& run) {
  std::vector<std::optional<DirCase>> ended(specs.size());
  std::vector<char> committed_too(specs.size(), 0);  // a kill after the writer reported success (after_report)
  run_parallel(specs.size(), options.jobs ? options.jobs : default_jobs(), [&](std::size_t i) {
    const CaseResult r = execute_case(setup, specs[i]);
    if (r.outcome.end == SubjectOutcome::End::cancelled) return;
    const bool killed = specs[i].model == Model::kill;
    const std::uint32_t call = specs[i].plan.call;  // a disk-full case's: its budget's crossing write (plan.cpp)
    ended[i] = DirCase{specs[i].id,
                       specs[i].model,
                       call,
                       fault_text(specs[i]),
                       r.outcome.status(),
                       run.book.add(r.final.entries, !killed && r.outcome.succeeded()),
                       new_names(r.final, r.initial, base.final)};
    committed_too[i] = killed && after_report(base, call);
  });
  for (std::size_t i = 0; i < ended.size(); ++i) {
    auto& c = ended[i];
    if (!c) continue;
    if (c->model == Model::kill) {
      if (committed_too[i]) {
        DirCase committed = *c;
        committed.fault += ", after the writer exited 0 (CRASHCHECK_COMMITTED=1)";
        committed.job = run.book.add(run.book.entries(c->job), true);
        add(run, "crash_consistent", std::move(committed));
      }
      add(run, "crash_consistent", std::move(*c));
      continue;
    }
    if (c->exit_status != 0) add(run, "temp_clean", *c);  // as for one file: after a reported failure
    add(run, "error_consistent", std::move(*c));
  }
}

// States inside one write (campaign/within.hpp says why): a SIGKILL inside
// a large write leaves a page-aligned prefix of it applied, and a reader
// copying the directory meanwhile finds such a prefix, or any write half
// applied (it copies bytes, not pages). Each is the whole directory at that
// cut, synthesized from the baseline's trace and judged with
// CRASHCHECK_COMMITTED=0. In exact mode on seccomp, one real kill inside
// each such call is run instead of its synthesized state (the supervisor
// performs the first B bytes, then SIGKILL): `real` names those cases.
struct WithinStage {
  WithinPlan plan;
  std::vector<CaseSpec> real;  // exact mode: run with the other cases
};

WithinStage plan_within_stage(const CaseResult& base, const RunOptions& options, const SubjectSetup& setup) {
  const bool kills = has(options.models, Model::kill), readers = has(options.models, Model::reader);
  WithinStage stage;
  if (!kills && !readers) return stage;
  stage.plan = plan_within(*base.trace, base.initial, "", options.sampling);
  if (!readers) std::erase_if(stage.plan.cuts, [](const WithinCut& cut) { return cut.reader_only; });
  if (kills && options.kill_mode == KillMode::exact && setup.backend.kind == faults::BackendKind::seccomp)
    stage.real = real_within_kills(stage.plan, *base.trace);
  return stage;
}

std::string within_fault(const WithinCut& cut, Model model) {
  return (model == Model::kill ? "SIGKILL inside call " : "a reader copies the directory during call ") +
         std::to_string(cut.call) + ", its first " + std::to_string(cut.bytes) +
         " bytes applied (synthesized from the trace)";
}

void within_states(const CaseResult& base, const RunOptions& options, const WithinStage& stage, bool explained,
                   DirRun& run) {
  const WithinPlan& plan = stage.plan;
  if (plan.cuts.empty()) return;
  if (!explained) {
    const std::string why =
        "its states inside write-class calls (a SIGKILL or a reader mid-write) were not modelled: they are replayed "
        "from the trace, and the trace does not explain the run (trace self-check)";
    run.notes.push_back("kill and reader states inside calls not modelled: " + why.substr(why.find("they are")));
    const bool kill_cut =
        std::any_of(plan.cuts.begin(), plan.cuts.end(), [](const WithinCut& c) { return !c.reader_only; });
    if (kill_cut && has(options.models, Model::kill)) run.unjudged["crash_consistent"] = why;
    if (has(options.models, Model::reader)) run.unjudged["reader_consistent"] = why;
    return;
  }
  std::set<std::string> real;
  for (const auto& spec : stage.real) real.insert(spec.id);
  const bool kills = has(options.models, Model::kill), readers = has(options.models, Model::reader);
  for_each_within_state(*base.trace, base.initial, "", plan.cuts, [&](const WithinCut& cut, const Snapshot& seen) {
    for (Model model : {Model::kill, Model::reader}) {
      const CaseSpec spec = within_case(model, cut);
      if (!(model == Model::kill ? kills && !cut.reader_only : readers) || real.count(spec.id)) continue;
      add(run, model == Model::kill ? "crash_consistent" : "reader_consistent",
          {spec.id,
           model,
           cut.call,
           within_fault(cut, model),
           model == Model::kill ? -SIGKILL : 0,
           run.book.add(seen.entries, false),
           {}});
    }
  });
  std::set<std::uint32_t> calls;
  std::size_t middles = 0;
  for (const auto& cut : plan.cuts) {
    calls.insert(cut.call);
    middles += cut.reader_only;
  }
  run.notes.push_back(
      "states inside calls: " + std::to_string(plan.cuts.size() - middles) + " of " + std::to_string(plan.possible) +
      " page boundaries" + (middles ? " and " + std::to_string(middles) + " middle byte(s), for readers," : "") +
      " inside " + std::to_string(calls.size()) +
      " write-class call(s), each directory state synthesized from the trace (a SIGKILL or a reader finds a write's "
      "bytes applied up to a page boundary, the rest not; a reader copies bytes, not pages, so it also finds a write "
      "half applied)" +
      (stage.real.empty() ? std::string()
                          : "; exact mode also killed " + std::to_string(stage.real.size()) +
                                " real subject(s) inside a call (one per call), instead of synthesizing that state") +
      "; `--exhaustive` models all");
}

// Stores through a shared writable mapping are seen only by their bytes at
// the msync/munmap that ends their window: a page changed and put back in
// between (a buffer cleared and refilled) leaves kill, reader and power-loss
// states no model offers. Single-file mode withholds the passes that rest on
// them (blind_spots.cpp); directory mode says so in a note instead, because
// SQLite keeps its WAL index (-shm) mapped for the whole session and every
// WAL verdict would go (runner/README.md, "Directory mode").
void note_mapped_windows(const faults::Trace& trace, DirRun& run) {
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> spans;  // file -> first and last call of its windows
  for (const auto& window : pl::store_windows(trace)) {
    const auto& stores = trace.records[window.record];
    if (window.opens_after >= window.record || faults::outside_scope(stores.path)) continue;  // spans no call
    const std::uint32_t from = window.opens_after == 0 ? 0 : trace.records[window.opens_after - 1].seq;
    auto [it, fresh] = spans.emplace(stores.path, std::pair(from, stores.seq));
    if (!fresh) it->second.second = stores.seq;
  }
  for (const auto& [file, span] : spans)
    run.notes.push_back("stores through a shared writable mapping of `" + file + "` between " +
                        (span.first == 0 ? std::string("the start") : "call " + std::to_string(span.first)) +
                        " and call " + std::to_string(span.second) +
                        " are judged by their bytes at the calls that show them, not one by one: a page changed and "
                        "put back in between is not modelled (runner/README.md)");
}

// Distinct power-loss states the checker judges, before they are sampled
// (seeded; --exhaustive judges all): those with CRASHCHECK_COMMITTED=0
// (powerloss_consistent) and, apart, the few after the last call with
// CRASHCHECK_COMMITTED=1 (durable), so a sample never leaves durable out.
// Power loss over several files multiplies states (a SQLite WAL commit:
// ~1,800 distinct ones under posix), and each costs one run of the checker.
constexpr std::size_t kPowerLossStates = 256;
constexpr std::size_t kCommittedStates = 64;

// The power-loss states, deduplicated in a book of their own first, so the
// sample is drawn from distinct states.
struct StagedPowerLoss {
  StateBook book;
  std::vector<DirCase> cases;  // job: in `book`
};

// The staged jobs with CRASHCHECK_COMMITTED `committed`, at most `cap` of them
// (a seeded sample, and a note) unless the run is exhaustive.
std::vector<std::size_t> sample_jobs(const StateBook& book, bool committed, std::size_t cap, const RunOptions& options,
                                     DirRun& run) {
  std::vector<std::size_t> jobs;
  for (std::size_t job = 0; job < book.size(); ++job)
    if (book.committed(job) == committed) jobs.push_back(job);
  if (options.sampling.exhaustive || jobs.size() <= cap) return jobs;
  const std::size_t all = jobs.size();
  std::mt19937_64 random(options.sampling.seed);
  std::shuffle(jobs.begin(), jobs.end(), random);
  jobs.resize(cap);
  run.notes.push_back(std::string(committed ? "durable" : "powerloss_consistent") + ": " + std::to_string(cap) +
                      " of " + std::to_string(all) +
                      " distinct power-loss directory states judged by the checker: sampled, seed " +
                      std::to_string(options.sampling.seed) + "; `--exhaustive` judges all");
  return jobs;
}

void judge_staged(StagedPowerLoss& staged, const RunOptions& options, DirRun& run) {
  std::map<std::size_t, std::size_t> job_in_run;  // staged job -> run.book job
  for (bool committed : {false, true})
    for (std::size_t job :
         sample_jobs(staged.book, committed, committed ? kCommittedStates : kPowerLossStates, options, run))
      job_in_run[job] = run.book.add(staged.book.entries(job), committed);
  for (auto& c : staged.cases) {
    const auto found = job_in_run.find(c.job);
    if (found == job_in_run.end()) continue;  // not in the sample
    const bool committed = staged.book.committed(c.job);
    c.job = found->second;
    add(run, committed ? "durable" : "powerloss_consistent", std::move(c));
  }
}

// Every power-loss state of the baseline's trace (sampled per crash point
// as the model samples, seeded): COMMITTED=0 for powerloss_consistent, and at
// the last crash point, the writer having exited 0, COMMITTED=1 for durable.
void power_loss_states(const CaseResult& base, const RunOptions& options, const std::string& unexplained, DirRun& run) {
  if (!unexplained.empty()) {
    run.notes.push_back("trace self-check: " + unexplained + "; powerloss_consistent and durable not judged");
    run.unjudged["powerloss_consistent"] = run.unjudged["durable"] =
        "the power-loss states are replayed from the trace, and " + unexplained;
    return;
  }
  pl::Options pl_options;
  pl_options.profile = pl::parse_profile(options.fs_profile).value_or(pl::Profile::posix);
  pl_options.seed = options.sampling.seed;
  const std::uint32_t last = base.trace->records.back().seq;
  // A crash after call P with P + 1 > reported_after is after the success report (after_report).
  const std::uint32_t reported = base.reported_after.value_or(last);
  std::uint64_t visited = 0;
  StagedPowerLoss staged;
  const auto coverage = pl::for_each_state(*base.trace, power_loss_initial(base.initial), pl_options,
                                           [&](const pl::Coverage& point, const pl::CrashState& state) {
                                             ++visited;
                                             const StateBook::Entries entries = entries_of(state, base.initial);
                                             DirCase c{power_loss_case_id(point.after_seq, state.index()),
                                                       Model::power_loss,
                                                       point.after_seq,
                                                       "power loss after call " + std::to_string(point.after_seq) +
                                                           (state.lost().empty() ? "" : "; " + state.lost()),
                                                       0,
                                                       staged.book.add(entries, false),
                                                       {}};
                                             if (base.outcome.succeeded() && !base.report_point_unknown &&
                                                 (point.after_seq == last || point.after_seq + 1 > reported)) {
                                               DirCase committed = c;
                                               committed.job = staged.book.add(entries, true);
                                               staged.cases.push_back(std::move(committed));
                                             }
                                             staged.cases.push_back(std::move(c));
                                           });
  if (base.outcome.succeeded() && base.report_point_unknown)
    run.notes.push_back(
        "durable not judged: a process outlived the writer, and a run without pauses cannot place the writer's exit "
        "among the calls");
  std::size_t sampled = 0;
  for (const auto& point : coverage) sampled += point.sampled ? 1 : 0;
  run.notes.push_back(
      "power loss judged on the " + std::string(pl::profile_name(pl_options.profile)) +
      " profile: " + std::to_string(visited) + " states at " + std::to_string(coverage.size()) + " crash points" +
      (sampled ? ", " + std::to_string(sampled) + " of them sampled (seed " + std::to_string(pl_options.seed) + ")"
               : ""));
  judge_staged(staged, options, run);
}

reports::Failure failure_of(const DirCase& c, const StateBook& book, const faults::Trace& trace,
                            const std::string& property) {
  reports::Failure f;
  f.case_id = c.id;
  f.model = reports::model_name(c.model);
  f.call_index = c.call;
  f.call = faults::describe_call(trace, c.call);
  f.fault = c.fault;
  f.exit_status = c.exit_status;
  // No one target: `target` stays empty, and renderers show the names instead.
  for (const auto& [name, _] : book.entries(c.job)) f.leftovers.push_back(name);  // every name of the state
  const CheckerVerdict& v = book.verdict(c.job);
  if (property == "temp_clean") {
    std::string names;
    for (const auto& n : c.leftovers) names += (names.empty() ? "" : ", ") + n;
    f.detail = "left " + names + ", which neither the initial directory nor the finished run holds";
  } else {
    f.detail = std::string("the checker (CRASHCHECK_COMMITTED=") + (book.committed(c.job) ? "1" : "0") + ") " +
               (v.timed_out ? v.outcome + ": a state it cannot judge is not consistent" : "ended " + v.outcome) +
               (v.output.empty() ? "" : "; its output ends with: " + v.output);
  }
  return f;
}

reports::PropertyResult judge_property(const std::string& property, const std::vector<DirCase>& cases,
                                       const StateBook& book, const faults::Trace& trace) {
  reports::PropertyResult result;
  for (const auto& c : cases) {
    const CheckerVerdict& v = book.verdict(c.job);
    if (property != "temp_clean" && v.outcome.empty()) continue;  // interrupted before its checker ran
    ++result.cases;
    const bool bad = property == "temp_clean" ? !c.leftovers.empty() : !v.consistent;
    if (!bad) continue;
    ++result.failing;
    if (result.failures.size() < kListed) result.failures.push_back(failure_of(c, book, trace, property));
  }
  result.verdict = result.cases == 0     ? reports::Verdict::not_run
                   : result.failing == 0 ? reports::Verdict::pass
                                         : reports::Verdict::fail;
  if (result.failing > result.failures.size())
    result.notes.push_back(std::to_string(result.failing - result.failures.size()) + " more failing states not listed");
  return result;
}

// The model whose absence leaves `property` without cases.
std::string missing_reason(const std::string& property, const RunOptions& options) {
  for (const auto& m : reports::kModelTable)
    if (m.model != Model::baseline && reports::judges(m.model, property) &&
        std::find(options.models.begin(), options.models.end(), std::string(m.name)) == options.models.end())
      return "needs the " + std::string(m.name) + " model, which was not run";
  return "no case produced a state for it";
}

reports::Report assemble(const DirRun& run, const CaseResult& base, const SubjectSetup& setup,
                         const RunOptions& options) {
  reports::Report report = empty_report(setup, options, "");
  for (auto name : reports::kProperties)
    if (!reports::judged_in_directory_mode(name))
      report.properties[std::string(name)].reason = "judged in single-file mode only (old + payload)";
  for (auto name : reports::kDirectoryProperties) {
    const std::string property(name);
    const auto found = run.by_property.find(property);
    auto& result = report.properties[property];
    if (found != run.by_property.end()) result = judge_property(property, found->second, run.book, *base.trace);
    const auto why = run.unjudged.find(property);
    const bool unseen = result.verdict == reports::Verdict::not_run && result.reason.empty();
    if (why != run.unjudged.end() && (result.verdict == reports::Verdict::pass || unseen)) {
      result.verdict = reports::Verdict::not_run;  // never a pass on what was not seen
      result.reason = "not judged: " + why->second;
    } else if (unseen) {
      result.reason = missing_reason(property, options);
    }
  }
  report.subject.initial_dir = setup.scenario.directory_mode->initial.string();
  report.subject.checker = setup.scenario.directory_mode->checker;
  report.calls = call_summaries(*base.trace);
  std::string per_model;
  for (const auto& [model, jobs] : run.jobs_per_model) {
    if (model == Model::baseline) continue;
    std::uint64_t cases = 0;
    std::set<std::string> ids;
    for (const auto& [_, list] : run.by_property)
      for (const auto& c : list)
        if (c.model == model) ids.insert(c.id);
    cases = ids.size();
    report.model_cases[std::string(reports::model_name(model))] = cases;
    per_model +=
        (per_model.empty() ? "" : ", ") + std::string(reports::model_name(model)) + " " + std::to_string(jobs.size());
  }
  report.notes.push_back("directory mode: the checker judged " + std::to_string(run.book.size()) +
                         " distinct directory states (per model: " + per_model + ")");
  report.notes.insert(report.notes.end(), run.notes.begin(), run.notes.end());
  // The same rule table as single-file mode (runner/diagnosis/README.md, "Directory mode").
  report.diagnoses = diagnosis::diagnose(*base.trace, report);
  attach_sites(report);
  return report;
}

// Sharded: a state several models share is checked once, so the whole
// campaign runs in shard 1 and the others plan nothing (merge adds nothing).
reports::Shard shard_of(const RunOptions& options) {
  return {options.shard->index, options.shard->count,
          plan_fingerprint({"directory mode, whole in shard 1", options.fs_profile})};
}

CampaignResult other_shard(const SubjectSetup& setup, const RunOptions& options) {
  CampaignResult result;
  result.report = empty_report(setup, options, "directory mode: every state is judged in shard 1");
  result.report.shard = shard_of(options);
  result.report.notes.push_back("shard " + std::to_string(options.shard->index) + "/" +
                                std::to_string(options.shard->count) +
                                ": directory mode runs whole in shard 1; nothing planned here");
  return result;
}

// Every case as an Observation (tests, and what a caller counts): the
// checker's verdict stands where a single file's content would.
std::vector<Observation> observations(const DirRun& run, const faults::Trace& trace) {
  std::vector<Observation> out;
  std::set<std::string> seen;
  for (const auto& [property, cases] : run.by_property)
    for (const auto& c : cases) {
      if (property == "temp_clean" || !seen.insert(c.id + (run.book.committed(c.job) ? "+" : "")).second) continue;
      Observation o;
      o.case_id = c.id;
      o.model = c.model;
      o.call_index = c.call;
      o.call = faults::describe_call(trace, c.call);
      o.fault = c.fault;
      o.exit_status = c.exit_status;
      o.target.matches = reports::outcome_name(reports::Outcome::other);
      o.target.excerpt = "checker: " + run.book.verdict(c.job).outcome;
      for (const auto& [name, _] : run.book.entries(c.job)) o.leftovers.push_back(name);
      out.push_back(std::move(o));
    }
  return out;
}

}  // namespace

CampaignResult run_directory_campaign(const Scenario& scenario, const RunOptions& given) {
  const auto started = std::chrono::steady_clock::now();
  const RunOptions options = campaign_options(scenario, given);
  WorkDir work(options.work_root);
  const SubjectSetup setup = make_setup(
      scenario, {options.timeout_s, options.agent_library, options.backend, work.path(), work.backend_files()});
  if (options.shard && !options.shard->first()) return other_shard(setup, options);
  DirRun run;
  Pauses pauses;
  const CaseResult base = run_baseline(setup, options, run, pauses);
  CampaignResult result;
  if (cancel_requested().load() || why_not_checkable(base)) {
    result.interrupted = cancel_requested().load();
    const std::string why =
        result.interrupted ? "interrupted before the baseline finished" : "not checkable: " + *why_not_checkable(base);
    if (!result.interrupted) result.not_checkable = why;
    result.report = empty_report(setup, options, why);
    result.report.complete = !result.interrupted;
    result.report.notes.push_back(why);
    return result;
  }
  if (base.outcome.succeeded() && base.report_point_unknown)
    run.unjudged["crash_consistent"] =
        "a process the writer started outlived it, and this run (no pauses) cannot place the writer's exit among "
        "the calls, so a kill after its success report cannot be judged with CRASHCHECK_COMMITTED=1 (add the reader "
        "model, or fast kills, to pause the baseline)";
  std::vector<CaseSpec> specs = cases_from_pauses(base, pauses, options, run);
  Plan plan = plan_cases(*base.trace, options.models, KillMode::fast, 0, options.sampling, initial_sizes(base.initial));
  for (auto& c : plan.cases) specs.push_back(std::move(c));
  run.notes.insert(run.notes.end(), plan.notes.begin(), plan.notes.end());
  const std::string unexplained = describe_unexplained(unexplained_by_trace(*base.trace, base.initial, base.final));
  const WithinStage within = plan_within_stage(base, options, setup);
  note_mapped_windows(*base.trace, run);
  if (unexplained.empty()) specs.insert(specs.end(), within.real.begin(), within.real.end());
  run_cases(specs, setup, options, base, run);
  within_states(base, options, within, unexplained.empty(), run);
  if (has(options.models, Model::power_loss)) power_loss_states(base, options, unexplained, run);
  run.book.judge(setup, options.jobs);
  result.interrupted = cancel_requested().load();
  result.report = assemble(run, base, setup, options);
  note_sampled_passes(result.report, plan.sampled);
  result.report.complete = !result.interrupted;
  if (options.shard) result.report.shard = shard_of(options);
  result.observations = observations(run, *base.trace);
  result.report.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace crashcheck::runner
