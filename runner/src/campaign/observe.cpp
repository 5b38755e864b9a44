// Observing: runs cases, reads their end states (or the baseline's pauses)
// into Observations, and collects the backend's notes once each.
#include "observe.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "crashcheck/runner/executor.hpp"
#include "forked.hpp"
#include "plan.hpp"
#include "replay_guard.hpp"

namespace crashcheck::runner {
using faults::Trace;
using Kind = faults::FaultPlan::Kind;
using reports::Model;

namespace {

// What `snapshot` shows, whichever fault left it: the target's state, its
// bytes when a validator needs them, and what was left beside it.
Observation seen_in(const Snapshot& snapshot, const Snapshot& initial, const SubjectSetup& setup,
                    const Contents& contents) {
  Observation o;
  const Entry* target = snapshot.find(setup.scenario.target);
  o.target = describe_target(target, contents);
  if (new_unknown(o.target, contents)) o.unjudged = *contents.unknown_new;
  // Old and new are judged from the contents; only other states keep their
  // bytes, and only for a validator, so memory does not grow with the cases.
  // Without a payload a new state keeps them too: each run's new is its own.
  const bool validated = setup.scenario.validator.kind != Validator::Kind::none;
  if (validated && target && target->kind == Entry::Kind::file &&
      (!is_old_or_new(o.target, contents) || !contents.from_payload))
    o.target_bytes = target->content;
  for (const auto& name : snapshot.added_since(initial, setup.scenario.target))
    if (!initial.find(name)) o.leftovers.push_back(name);
  return o;
}

// The first call up to its fault where case `r` left the baseline's path
// ("" when none did): its fault then hit another call than its id says.
// A disk-full budget names no call: nothing to compare.
std::string changed_before_fault(const CaseResult& r, const Trace& baseline, const std::string& target) {
  if (r.spec.model != Model::kill && r.spec.model != Model::errno_fault) return "";
  return first_changed_call(baseline, *r.trace, r.spec.plan.call, target);
}

// What the run wrote, into `contents`: its new content when whole and what
// the target holds; else why not, and the bytes it did write. A file the
// run created at the target and wrote nothing into is an empty prefix of
// whatever it meant to write, when the baseline wrote something there.
void take_written(WrittenContent written, const Entry& target, bool created, bool succeeded, Contents& contents) {
  if (!written.wrote) {
    contents.unknown_new = "this run wrote nothing into the file at its target";  // else it holds what it held: old
    contents.partial_is_prefix = created && !contents.new_bytes.empty();
  } else if (written.complete && (written.left_instead ? *written.left_instead : *written.complete) != target.content) {
    contents.unknown_new = "this run's trace does not explain what its target holds";
  } else if (written.complete) {
    contents.new_bytes = std::move(*written.complete);
  } else {
    contents.unknown_new = std::move(written.why);
    contents.partial_new = std::move(written.partial);
    contents.partial_is_prefix = written.partial_is_prefix;
    contents.short_yet_succeeded = succeeded && written.came_up_short;
  }
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
      if (spec.model == Model::reader)
        return "a reader opens the target while call " + n + " has applied only its first " +
               std::to_string(spec.plan.byte_budget) + " bytes";
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

// Why a kill or errno case's fault hit another call than its id names: its
// run made, before its fault, a call the baseline did not make under that
// number (a file the baseline created outside the scope numbered calls that
// no later run makes, so every later call of the run is numbered off the
// baseline's). Only the call's name is compared: paths drawn at random
// (temp names of another length) and the faulted call's own record differ
// between faithful runs. What such a run shows bears on no call the report
// names, for any property.
std::optional<std::string> off_plan(const CaseResult& r, const Trace& baseline, const std::string& target) {
  if (!r.trace || (r.spec.model != Model::kill && r.spec.model != Model::errno_fault) || r.spec.plan.call == 0)
    return std::nullopt;
  const std::string changed = first_changed_call(baseline, *r.trace, r.spec.plan.call - 1, target, CallMatch::name);
  if (changed.empty()) return std::nullopt;
  return "this run's calls are numbered off the baseline's, so the fault hit another call than its id names: " +
         changed;
}

// Why a kill or errno case's state is not the one its id names: the run
// ended before its kill point, or never made the call its error was meant
// for (its path left the baseline's, or it stopped earlier). Its end state
// is another run's, and must not be judged as that crash or that error.
std::optional<std::string> fault_not_reached(const CaseResult& r) {
  const auto& plan = r.spec.plan;
  const std::string n = std::to_string(plan.call);
  const bool kill = plan.kind == Kind::kill_before || plan.kind == Kind::kill_after || plan.kind == Kind::kill_within;
  if (r.outcome.end == SubjectOutcome::End::timed_out || r.outcome.end == SubjectOutcome::End::cancelled)
    return std::nullopt;  // said otherwise
  if (r.spec.model == Model::kill && kill && r.outcome.end == SubjectOutcome::End::exited)
    return "the run ended (" + r.outcome.describe() + ") before its kill point at call " + n +
           ": the crash there was not seen";
  // counted calls, not records: a record of a file outside the scope waits for a rename that may never come
  if (r.spec.model == Model::errno_fault && plan.kind == Kind::fail_call && r.calls_counted < plan.call)
    return "the run never made call " + n + " (" + r.outcome.describe() + "): its error was not injected";
  return std::nullopt;
}

// Up to 24 bytes from `at`, escaped for reading (escape_bytes).
std::string excerpt(const std::string& bytes, std::size_t at) {
  return escape_bytes(std::string_view(bytes).substr(at, 24)) + (bytes.size() > at + 24 ? "…" : "");
}

// "; they first differ at byte 12: the target has "…" where the payload has
// "…"": what a user needs to see why a writer's output is not the payload.
std::string first_difference(const std::string& left, const std::string& payload) {
  std::size_t at = 0;
  while (at < left.size() && at < payload.size() && left[at] == payload[at]) ++at;
  const std::string has = at < left.size() ? "\"" + excerpt(left, at) + "\"" : "nothing more";
  const std::string wants = at < payload.size() ? "\"" + excerpt(payload, at) + "\"" : "nothing more";
  return "; they first differ at byte " + std::to_string(at) + ": the target has " + has + " where the payload has " +
         wants;
}

std::uint32_t fault_call(const CaseSpec& spec, const Trace& baseline) {
  if (spec.plan.kind == Kind::disk_full)  // planned: its call; replayed from an id: the budget's
    return spec.plan.call ? spec.plan.call : write_at_budget(baseline, spec.plan.byte_budget);
  return spec.plan.kind == Kind::pause ? spec.reader_call : spec.plan.call;
}

// Kill and reader states from one paused run: before call N the directory is
// what a SIGKILL before call N leaves, and what a reader opening it finds.
// Returns the kill cases the run did not reach, to be run for real.
std::vector<CaseSpec> observe_paused(const CaseResult& paused, const PauseStates& states, bool kills, bool readers,
                                     const SubjectSetup& setup, const Trace& baseline, std::vector<Observation>& out) {
  const SubjectOutcome killed{SubjectOutcome::End::signaled, SIGKILL};
  std::vector<CaseSpec> missing;
  for (auto& spec : plan_exact_kills(baseline)) {
    const bool after_last = spec.plan.kind == Kind::kill_after;
    const Observation* seen = after_last ? nullptr : states.at(spec.plan.call);
    const bool reached = after_last ? paused.outcome.succeeded() : seen != nullptr;
    if (readers && !after_last && reached) {
      const faults::FaultPlan plan{Kind::pause, 0, 0, 0};
      CaseSpec reader{case_id(Model::reader, plan, spec.plan.call), Model::reader, plan, spec.plan.call};
      out.push_back(as_case(reader, *seen, paused.outcome, baseline));
      out.back().exit_status = 0;  // a reader case observes; the writer goes on
    }
    if (!kills) continue;
    if (!reached)
      missing.push_back(spec);
    else
      out.push_back(after_last ? observe(spec, paused.final, paused.initial, killed, setup, baseline)
                               : as_case(spec, *seen, killed, baseline));
  }
  return missing;
}

// Files written outside scratch/, and the backend's notes, once each.
void note_case(const std::string& id, const std::vector<std::string>& outside_writes,
               const std::vector<std::string>& notes, Collected& collected) {
  for (const auto& w : outside_writes) {
    auto& [count, first] = collected.outside[w];
    if (count++ == 0) first = id;
  }
  for (const auto& note : notes) collected.add_note(note);
}

// The limit that was applied, and why it is not --timeout when it is not.
std::string timed_out_text(const CaseResult& base, const SubjectSetup& setup) {
  const double seconds = std::chrono::duration<double>(setup.timeout).count();
  if (base.spec.plan.kind != Kind::pause)
    return "the baseline run (no fault) did not finish within " + seconds_text(seconds) +
           " (the case timeout, --timeout)";
  return "the baseline run (no fault) did not finish within " + seconds_text(seconds * kPausedTimeoutFactor) + " (" +
         std::to_string(kPausedTimeoutFactor) + " × the " + seconds_text(seconds) +
         " case timeout: the baseline may take " + std::to_string(kPausedTimeoutFactor) +
         " × --timeout because it pauses at every call)";
}

// Without a payload the baseline's target is the new content: it must be a
// file, and parse when states are compared as JSON.
std::optional<std::string> without_payload(const Entry* target, const SubjectSetup& setup) {
  if (!target || target->kind != Entry::Kind::file)
    return "the baseline run exited 0 but left no file at the target (" + setup.scenario.target +
           "), and without a payload its content is the new content";
  if (setup.contents.compare == Compare::json && !same_content(target->content, target->content, Compare::json))
    return "the baseline run left a target that is not valid JSON, so --compare json cannot judge it (it begins \"" +
           excerpt(target->content, 0) + "\")";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> why_not_checkable(const CaseResult& base, const SubjectSetup& setup) {
  const auto& out = base.outcome;
  std::string stderr_hint = base.stderr_tail.empty() ? "" : "; its stderr ends with: " + base.stderr_tail;
  for (const auto& note : base.notes) stderr_hint += "; the backend noted: " + note;  // e.g. a refused call
  if (base.conflict) return *base.conflict + " (try --backend preload)";
  if (out.end == SubjectOutcome::End::spawn_failed) return "the command could not start: " + out.describe();
  if (out.end == SubjectOutcome::End::timed_out) return timed_out_text(base, setup);
  if (!out.succeeded()) return "the baseline run (no fault) failed: " + out.describe() + stderr_hint;
  if (base.processes_seen == 0)
    return base.notes.empty()
               ? "the " + std::string(faults::backend_name(setup.backend.kind)) + " backend never saw the subject"
               : base.notes.front();
  if (!base.trace) return "the trace of the run cannot be read: " + base.trace_error;
  if (base.calls_counted == 0 || base.trace->records.empty())
    return "the " + std::string(faults::backend_name(setup.backend.kind)) +
           " backend saw no file-system call in the scratch directory (does the command write {target}?)";
  const Entry* target = base.final.find(setup.scenario.target);
  if (!setup.contents.from_payload) return without_payload(target, setup);
  const auto state = describe_target(target, setup.contents);
  if (!state.is(reports::Outcome::new_content))
    return "the baseline run exited 0 but the target does not hold the payload (it is " + state.matches + ")" +
           (target ? first_difference(target->content, setup.contents.new_bytes) : "") +
           (target && same_content(target->content, setup.contents.new_bytes, Compare::json)
                ? "; as JSON values they are equal: --compare json (\"compare\": \"json\") accepts this writer"
                : "");
  return std::nullopt;
}

Observation as_case(const CaseSpec& spec, Observation seen, const SubjectOutcome& end, const Trace& baseline) {
  seen.case_id = spec.id;
  seen.model = spec.model;
  seen.call_index = fault_call(spec, baseline);
  seen.call = faults::describe_call(baseline, seen.call_index);
  seen.fault = fault_text(spec, last_seq(baseline));
  seen.exit_status = end.status();
  seen.timed_out = end.end == SubjectOutcome::End::timed_out;
  return seen;
}

Observation observe(const CaseSpec& spec, const Snapshot& state, const Snapshot& initial, const SubjectOutcome& end,
                    const SubjectSetup& setup, const Trace& baseline, const Contents& contents) {
  return as_case(spec, seen_in(state, initial, setup, contents), end, baseline);
}

Observation observe(const CaseSpec& spec, const Snapshot& state, const Snapshot& initial, const SubjectOutcome& end,
                    const SubjectSetup& setup, const Trace& baseline) {
  return observe(spec, state, initial, end, setup, baseline, setup.contents);
}

PauseStates::PauseStates(const SubjectSetup& setup) : setup_(setup), prints_(setup.scenario.target) {}

PauseVisitor PauseStates::visitor() {
  return [this](std::uint32_t call, const Snapshot& now, const Snapshot& initial) {
    seen_[call] = seen_in(now, initial, setup_, setup_.contents);
    prints_.add(call, now);
    // Without a payload the new content is known only when the run ends:
    // keep the target of every pause that is not the old file, to judge it
    // then (settle). This holds one copy per such pause, as target_bytes
    // does for a validator.
    const Entry* target = now.find(setup_.scenario.target);
    if (!setup_.contents.from_payload && target && !seen_[call].target.is(reports::Outcome::old_content))
      unsettled_[call] = *target;
  };
}

void PauseStates::settle() {
  for (auto& [call, target] : unsettled_) {
    Observation& o = seen_[call];
    o.target = describe_target(&target, setup_.contents);
    o.target_bytes.reset();
    if (setup_.scenario.validator.kind != Validator::Kind::none && target.kind == Entry::Kind::file)
      o.target_bytes = target.content;
  }
  unsettled_.clear();
}

const Observation* PauseStates::at(std::uint32_t call) const {
  const auto found = seen_.find(call);
  return found == seen_.end() ? nullptr : &found->second;
}

Observation observe_case(const CaseResult& r, const SubjectSetup& setup, const Trace& baseline) {
  return observe(r.spec, r.final, r.initial, r.outcome, setup, baseline, case_contents(r, setup, baseline));
}

Contents own_contents(const CaseResult& run, const SubjectSetup& setup) {
  Contents contents = setup.contents;
  const Entry* target = run.final.find(setup.scenario.target);
  const bool is_new = !contents.from_payload || describe_target(target, contents).is(reports::Outcome::new_content);
  if (target && target->kind == Entry::Kind::file && is_new && target->content != contents.new_bytes.str())
    contents.new_bytes = target->content;  // else the payload's bytes stay shared
  return contents;
}

void adopt_baseline_content(SubjectSetup& setup, const CaseResult& baseline) {
  if (setup.contents.from_payload) return;
  const Entry* target = baseline.final.find(setup.scenario.target);
  if (!target) return;  // not checkable (why_not_checkable)
  setup.contents.new_bytes = target->content;
  faults::share_known_bytes(setup.contents.new_bytes.buffer());  // the cases' traces and snapshots share it
  const Entry* old = baseline.initial.find(setup.scenario.target);
  auto made = content_recipe(*baseline.trace, setup.scenario.target, target->inode, old ? old->inode : 0,
                             setup.contents.old_bytes, target->content);
  setup.recipe = std::move(made.recipe);
  setup.no_recipe = std::move(made.why);
}

// The faithful choice for a run a fault cut short or turned aside is what
// its own trace wrote into the file at its target, and only when that write
// is whole: its final target alone would make a torn or half-written file
// "new" by definition, and the baseline's bytes are another run's (another
// timestamp). Whole means no write to it failed or came up short without a
// retry; for a kill, the baseline's recipe had no step left at the kill
// point; for an errno or disk-full run, its calls made the target the way
// the baseline's did (not an error path's own rewrite, which may even exit 0). Up to its fault
// a case must make the baseline's calls, or its id names another run. When
// it is not whole, a state that is neither old nor a prefix of what was
// written is left unjudged (Observation::unjudged), never passed.
Contents case_contents(const CaseResult& r, const SubjectSetup& setup, const Trace& baseline) {
  Contents contents = setup.contents;
  if (contents.from_payload || r.spec.model == Model::baseline) return contents;
  const Entry* target = r.final.find(setup.scenario.target);
  const Entry* old = r.initial.find(setup.scenario.target);
  if (!setup.recipe) {
    contents.unknown_new = "the new content of a run other than the baseline cannot be rebuilt: " + setup.no_recipe;
    return contents;
  }
  if (!r.trace) {
    contents.unknown_new = "this run's trace cannot be read: " + r.trace_error;
    return contents;
  }
  if (const std::string changed = changed_before_fault(r, baseline, setup.scenario.target); !changed.empty()) {
    contents.unknown_new = "this run's calls are not the baseline's up to its fault: " + changed;
    return contents;
  }
  if (!target || target->kind != Entry::Kind::file) return contents;  // missing or not a file: no bytes to compare
  const bool starts_as_old = old && old->inode == target->inode;
  WrittenContent written =
      written_content(*r.trace, setup.scenario.target, target->inode, starts_as_old, contents.old_bytes);
  if (r.spec.model == Model::kill)
    cut_short(written, *setup.recipe, baseline,
              r.spec.plan.kind == faults::FaultPlan::Kind::kill_after ? r.spec.plan.call + 1 : r.spec.plan.call);
  else
    check_shape(written, *setup.recipe);
  take_written(std::move(written), *target, !starts_as_old, r.outcome.succeeded(), contents);
  return contents;
}

std::unique_ptr<ForkedCases> launch_templates(const SubjectSetup& setup, const RunOptions& options,
                                              Collected& collected) {
  if (!options.fork_cases || (!has(options.models, Model::kill) && !has(options.models, Model::errno_fault) &&
                              !has(options.models, Model::disk_full)))
    return nullptr;
  if (auto why = ForkedCases::unforkable(setup)) {
    collected.add_note("kill, errno and disk-full cases ran from the start, not forked from a template run: " + *why);
    return nullptr;
  }
  return ForkedCases::launch(setup, options.jobs ? options.jobs : default_jobs());
}

void Collected::add_note(const std::string& note) {
  if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
}

std::unique_ptr<Progress> progress_for(const std::vector<CaseSpec>& specs, const SubjectSetup& setup,
                                       const RunOptions& options) {
  if (!options.progress) return nullptr;
  std::vector<std::string> models;
  for (const auto& spec : specs) models.emplace_back(reports::model_name(spec.model));
  return Progress::to_stderr(setup.scenario.name, std::move(models));
}

void add_outside_notes(Collected& collected) {
  for (const auto& [path, seen] : collected.outside)
    collected.notes.push_back("the subject wrote outside its scratch directory: " + path + " (" +
                              std::to_string(seen.first) + " case(s), first " + seen.second + ")");
}

// Each case is observed in its worker as soon as it ends, so no case's
// snapshots outlive it: memory follows -j, not the number of cases.
void run_planned(const std::vector<CaseSpec>& specs, const SubjectSetup& setup, const RunOptions& options,
                 const CaseResult& baseline, Collected& collected, DurableAfterError& after_errors,
                 std::unique_ptr<ForkedCases> from) {
  const Trace& trace = *baseline.trace;
  struct Ended {  // what a case leaves for the report; its snapshots are dropped
    Observation observation;
    std::vector<std::string> outside_writes, notes;
  };
  std::vector<std::optional<Ended>> ended(specs.size());
  collected.planned += specs.size();
  const auto forkable = static_cast<std::size_t>(std::count_if(specs.begin(), specs.end(), ForkedCases::forkable));
  if (from && forkable == 0) from.reset();
  if (auto why = from ? from->ready() : std::nullopt) {
    collected.add_note("kill, errno and disk-full cases ran from the start, not forked from a template run: " + *why);
    from.reset();
  }
  const auto progress = progress_for(specs, setup, options);
  collected.ran += run_parallel(
      specs.size(), options.jobs ? options.jobs : default_jobs(),
      [&](std::size_t i) {
        const auto taken_up = std::chrono::steady_clock::now();
        std::optional<CaseResult> forked;
        if (from && ForkedCases::forkable(specs[i])) forked = from->execute(setup, specs[i]);
        const bool was_forked = forked.has_value();
        CaseResult r = forked ? std::move(*forked) : execute_case(setup, specs[i]);
        if (r.outcome.end == SubjectOutcome::End::cancelled) return;
        const Contents contents = case_contents(r, setup, trace);
        Observation o = observe(r.spec, r.final, r.initial, r.outcome, setup, trace, contents);
        if (auto missed = fault_not_reached(r)) {
          if (!o.unjudged) o.unjudged = std::move(missed);
        } else if (auto off = off_plan(r, trace, setup.scenario.target)) {
          if (!o.unjudged) o.unjudged = std::move(off);
          o.off_plan = true;
        }
        if (r.outliving.killed > 0) {  // its end state lacks what they would still have written
          o.unjudged = "processes the subject started were killed at the case timeout: " + r.outliving.named.front();
          r.notes.push_back(
              "processes the subject started were still running at the case timeout in some cases and were "
              "killed; those cases' states were not judged");
        }
        after_errors.add(r, o, contents);
        ended[i] = Ended{std::move(o), std::move(r.outside_writes), std::move(r.notes)};
        if (options.case_timings)
          options.case_timings->add(was_forked, std::chrono::steady_clock::now() - taken_up, r.subject_wall);
      },
      progress.get());
  if (from) {
    for (auto& note : from->notes(forkable)) collected.add_note(note);
    from.reset();
  }
  for (std::size_t i = 0; i < ended.size(); ++i) {
    auto& e = ended[i];
    if (!e) continue;
    note_case(specs[i].id, e->outside_writes, e->notes, collected);
    collected.observations.push_back(std::move(e->observation));
  }
}

std::vector<CaseSpec> observe_baseline(const CaseResult& baseline, const PauseStates& states, const SubjectSetup& setup,
                                       const RunOptions& options, Collected& collected) {
  const Trace& trace = *baseline.trace;
  collected.observations.push_back(observe_case(baseline, setup, trace));
  note_case(baseline.spec.id, baseline.outside_writes, baseline.notes, collected);
  if (baseline.spec.plan.kind != Kind::pause) return {};
  auto lost = observe_paused(baseline, states, has(options.models, Model::kill) && options.kill_mode == KillMode::fast,
                             has(options.models, Model::reader), setup, trace, collected.observations);
  if (!lost.empty())
    collected.notes.push_back("the paused run stopped before call " + std::to_string(lost.front().plan.call) +
                              "; those kill points were run one by one instead");
  return lost;
}

}  // namespace crashcheck::runner
