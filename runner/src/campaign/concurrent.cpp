// The concurrent model's stage in a campaign: instance B's content, B's solo
// run (its trace tells which names both instances touch), the plan, the
// cases run in parallel, their observations, and the replay of one case.
#include <crashcheck/reference.hpp>

#include <algorithm>
#include <cctype>

#include "concurrent.hpp"
#include "crashcheck/runner/executor.hpp"

namespace crashcheck::runner {
using reports::Model;
using reports::Outcome;

namespace {

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char swap_case(char c) { return static_cast<char>(c ^ 0x20); }

// Swaps the case of the ASCII letters inside JSON string literals (escapes
// such as \n and \u00e9 kept); returns whether any letter changed.
bool swap_in_strings(std::string& text) {
  bool in_string = false, changed = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string) {
      in_string = c == '"';
    } else if (c == '\\') {
      i += (i + 1 < text.size() && text[i + 1] == 'u') ? 5 : 1;
    } else if (c == '"') {
      in_string = false;
    } else if (ascii_letter(c)) {
      text[i] = swap_case(c);
      changed = true;
    }
  }
  return changed;
}

// Old, A's content ("new"), B's content ("new" too: each is a whole write),
// else what describe_target makes of it against A, or a torn prefix of B.
reports::FileState classify(const Entry* target, const SubjectSetup& setup, const Contents& as_b) {
  reports::FileState state = describe_target(target, setup.contents);
  if (state.is(Outcome::new_content) || state.is(Outcome::old_content) || state.is(Outcome::missing)) return state;
  reports::FileState b = describe_target(target, as_b);
  return b.is(Outcome::new_content) || b.is(Outcome::torn) ? b : state;
}

std::string whose(const Entry* target, const SubjectSetup& setup, const std::string& payload_b) {
  if (!target) return "no target";
  if (same_content(target->content, setup.contents.new_bytes, setup.contents.compare)) return "A's content";
  if (same_content(target->content, payload_b, setup.contents.compare)) return "B's content";
  if (setup.contents.old_bytes && target->content == *setup.contents.old_bytes) return "the old content";
  if (target->content.empty()) return "an empty file";
  return "a mix (neither old, A's nor B's content)";
}

std::string schedule_words(const CaseSpec& spec, const ConcurrentRun& run) {
  const auto planned = schedule_of(spec.id);
  if (!planned) return "free-running race (no pauses; not reproducible call by call)";
  std::string out = "schedule " + encode_schedule(*planned) + " (A<n>/B<n>: the next n counted calls of A or B)";
  if (run.executed != *planned) out += ", ran as " + encode_schedule(run.executed);
  return out;
}

}  // namespace

std::string derive_payload_b(std::string_view payload) {
  std::string out(payload);
  if (swap_in_strings(out)) return out;
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return ascii_letter(c) ? swap_case(c) : c; });
  return out;
}

std::string payload_b_bytes(const SubjectSetup& setup) {
  if (!setup.scenario.payload_b) return derive_payload_b(setup.contents.new_bytes);
  auto bytes = read_file(*setup.scenario.payload_b);
  if (!bytes) throw InputError(setup.scenario.payload_b->string() + ": cannot be read (payload_b)");
  return *bytes;
}

Contents instance_b(const SubjectSetup& setup, const SharedBytes& payload_b) {
  Contents as_b = setup.contents;
  as_b.new_bytes = payload_b;  // shared, not copied
  return as_b;
}

Observation observe_concurrent(const CaseSpec& spec, const ConcurrentRun& run, const SubjectSetup& setup,
                               const Contents& as_b, bool keep_bytes) {
  const std::string& payload_b = as_b.new_bytes;
  const std::string& name = setup.scenario.target;
  const Entry* target = run.final.find(name);  // or, below, what a reader found during the race
  Entry read;                                  // that reader's view; outlives the block that fills it
  Observation o;
  o.case_id = spec.id;
  o.model = Model::concurrent;
  o.call = schedule_words(spec, run);
  o.fault = "two instances write the target at once (A: payload, B: payload_b); A " + run.a.describe() + ", B " +
            run.b.describe() + "; the target holds " + whose(target, setup, payload_b);
  o.target = classify(target, setup, as_b);
  if (run.reader_found && (o.target.is(Outcome::old_content) || o.target.is(Outcome::new_content))) {
    // The end is fine, but a reader during the race was not: that is the counterexample.
    const auto& seen = *run.reader_found;
    // A reader sees bytes, not modes: the mode shown is the file's at the end.
    read = Entry{Entry::Kind::file, target ? target->mode : 0, seen.bytes.value_or(""), 0};
    const Entry* found = seen.bytes ? &read : nullptr;
    o.fault += "; but a reader after " + encode_schedule(seen.after) + " found " + whose(found, setup, payload_b);
    o.target = classify(found, setup, as_b);
    target = found;
  }
  // No property reads them (concurrent_safe judges the state): only a
  // replay keeps them, to show the exact bytes; a campaign of a few hundred
  // cases would otherwise hold a copy of the file per case.
  if (keep_bytes && target && target->kind == Entry::Kind::file) o.target_bytes = target->content;
  for (const auto& left : run.final.added_since(run.initial, name))
    if (!run.initial.find(left)) o.leftovers.push_back(left);
  o.exit_status = run.a.status() != 0 ? run.a.status() : run.b.status();
  o.timed_out = run.a.end == SubjectOutcome::End::timed_out || run.b.end == SubjectOutcome::End::timed_out;
  return o;
}

namespace {

// B's solo run, and the plan from both solo traces; nullopt (with a note)
// when B alone cannot be observed. B's run is dropped here, before the cases.
std::optional<ConcurrentPlan> plan_with_b_alone(const CaseResult& baseline, const SubjectSetup& setup,
                                                const Contents& as_b, const RunOptions& options, Collected& collected) {
  SubjectSetup solo = setup;
  solo.contents = as_b;
  const std::string solo_id = std::string(reports::model_info(Model::concurrent).case_prefix) + "b-alone";
  const CaseResult alone = execute_case(solo, {solo_id, Model::baseline, {}, 0});
  if (auto why = why_not_checkable(alone, solo)) {
    collected.notes.push_back("concurrent: not run: instance B alone (payload_b): " + *why);
    return std::nullopt;
  }
  return plan_concurrent(*baseline.trace, *alone.trace, options.sampling);
}

}  // namespace

void run_concurrent_stage(const CaseResult& baseline, const SubjectSetup& setup, const RunOptions& options,
                          Collected& collected) {
  // A and B are told apart by the content each was given; a writer that
  // builds its own content gives them nothing to tell apart.
  if (!setup.contents.from_payload)
    return collected.notes.push_back(
        "concurrent: not run: it needs a payload (instance B writes a variant of it); none was given");
  const SharedBytes payload_b(payload_b_bytes(setup));
  if (payload_b.str() == setup.contents.new_bytes.str())
    return collected.notes.push_back(
        "concurrent: not run: instance B's payload equals A's (no ASCII letter to vary); give \"payload_b\"");
  faults::share_known_bytes(payload_b.buffer());  // B's traces and snapshots share it, as A's share the payload
  const Contents as_b = instance_b(setup, payload_b);
  auto planned = plan_with_b_alone(baseline, setup, as_b, options, collected);
  if (!planned) return;
  ConcurrentPlan& plan = *planned;
  collected.notes.insert(collected.notes.end(), plan.notes.begin(), plan.notes.end());
  // Observed in the worker, as run_planned does: memory follows -j.
  std::vector<std::optional<std::pair<Observation, std::vector<std::string>>>> ended(plan.cases.size());
  collected.planned += plan.cases.size();
  const auto progress = progress_for(plan.cases, setup, options);
  collected.ran += run_parallel(
      plan.cases.size(), options.jobs ? options.jobs : default_jobs(),
      [&](std::size_t i) {
        ConcurrentRun run = run_concurrent_case(setup, payload_b, plan.cases[i]);
        if (run.a.end == SubjectOutcome::End::cancelled || run.b.end == SubjectOutcome::End::cancelled) return;
        ended[i].emplace(observe_concurrent(plan.cases[i], run, setup, as_b, false), std::move(run.notes));
      },
      progress.get());
  for (auto& e : ended) {
    if (!e) continue;
    for (const auto& note : e->second) collected.add_note(note);
    collected.observations.push_back(std::move(e->first));
  }
}

ReplayResult replay_concurrent(const SubjectSetup& setup, std::string_view case_id) {
  if (!setup.contents.from_payload) throw InputError("a concurrent case needs a payload; the report gave none");
  const auto schedule = schedule_of(case_id);
  if (!schedule && !is_race(case_id))
    throw InputError("unknown case id \"" + std::string(case_id) + "\" (e.g. concurrent-A3B4A1, concurrent-race-1)");
  const SharedBytes payload_b(payload_b_bytes(setup));
  const CaseSpec spec{std::string(case_id),
                      Model::concurrent,
                      {schedule ? faults::FaultPlan::Kind::pause : faults::FaultPlan::Kind::none, 0, 0, 0},
                      0};
  const ConcurrentRun run = run_concurrent_case(setup, payload_b, spec);
  ReplayResult result;
  result.observation = observe_concurrent(spec, run, setup, instance_b(setup, payload_b), true);
  result.outcome = "A " + run.a.describe() + ", B " + run.b.describe();
  const std::vector<std::string> models{std::string(reports::model_name(Model::concurrent))};
  for (auto& [name, property] : judge({result.observation}, setup.contents, models, {}).properties)
    if (property.cases > 0) result.properties[name] = property;
  result.fails = any_failed(result.properties);
  return result;
}

}  // namespace crashcheck::runner
