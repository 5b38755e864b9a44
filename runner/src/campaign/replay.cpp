// Stage 4, replaying: re-runs one case of a report, as its subject section
// describes, and judges that case alone. The re-run baseline must still make
// the report's call at the case's index (replay_guard.hpp). Power-loss cases
// are computed, not run: the baseline is re-run, its crash states
// recomputed, and the one state the id names judged. States inside a call
// (kill-within, reader-within) are synthesized from the re-run's trace, but
// for a kill on the seccomp backend, which stops a real write midway.
#include <algorithm>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"
#include "concurrent.hpp"
#include "observe.hpp"
#include "replay_guard.hpp"
#include "within.hpp"
#include "work_dir.hpp"

namespace crashcheck::runner {
using Kind = faults::FaultPlan::Kind;
using reports::Model;

Scenario scenario_from_subject(const reports::Subject& subject, std::string_view source) {
  Scenario s;
  const std::string where = std::string(source) + ": subject";
  const bool directory = !subject.initial_dir.empty();  // directory mode: a checker, no one target
  if (subject.command.empty() || (directory ? subject.checker.empty() : subject.target.empty()) ||
      (subject.payload_given && subject.payload_file.empty()))
    throw InputError(where + ": command, " + (directory ? "checker" : "target") +
                     " and payload_file are needed to replay");
  s.name = subject.name;
  s.command = subject.command;
  s.file = subject.scenario;
  s.target = subject.target;
  if (directory) s.directory_mode = DirectoryMode{subject.initial_dir, subject.checker};
  if (subject.had_old) s.old = OldFile{subject.old_file, parse_mode(subject.old_mode, where + ".old_mode")};
  if (subject.payload_given) s.payload = subject.payload_file;
  const auto compare = compare_from_name(subject.compare);
  if (!compare) throw InputError(where + ".compare: expected \"bytes\" or \"json\", got \"" + subject.compare + "\"");
  s.compare = *compare;
  if (!subject.payload_b_file.empty()) s.payload_b = subject.payload_b_file;
  s.validator = Validator::from_description(subject.validator, where + ".validator");
  if (subject.timeout_s > 0) s.timeout_s = subject.timeout_s;
  if (!subject.backend.empty()) {  // replay with the backend the report's run used
    s.backend = faults::backend_from_name(subject.backend);
    if (!s.backend) throw InputError(where + ".backend: unknown backend \"" + subject.backend + "\"");
  }
  return s;
}

namespace {

// A bare power-loss-N (a report from before the letters): the first state at
// that point that fails a property, else its first state.
std::uint64_t legacy_power_state(const CaseResult& baseline, const SubjectSetup& setup, std::uint32_t after,
                                 const RunOptions& options) {
  const auto judged =
      judge_power_loss(*baseline.trace, baseline.initial, own_contents(baseline, setup), setup.scenario.target,
                       baseline.outcome.succeeded(), options.fs_profile, {}, nullptr, baseline.reported_after);
  std::optional<std::uint64_t> first;
  for (const auto* property : {&judged.powerloss_atomic, &judged.durable})
    for (const auto& f : property->failures)
      if (auto spec = parse_case_id(f.case_id); spec && f.call_index == after && spec->power_state)
        first = std::min(first.value_or(*spec->power_state), *spec->power_state);
  return first.value_or(0);
}

// A power-loss case is computed, not run: re-run the baseline, recompute the
// crash states just after call N, and judge the one the id names. What is
// printed and what is judged are that same state.
ReplayResult replay_power_loss(const reports::Report& report, const CaseSpec& spec, const CaseResult& baseline,
                               const SubjectSetup& setup, const RunOptions& options) {
  if (const auto unexplained = unexplained_by_trace(*baseline.trace, baseline.initial, baseline.final);
      !unexplained.empty())
    throw std::runtime_error("not checkable: trace self-check: " + describe_unexplained(unexplained));
  const std::uint32_t after = spec.plan.call;
  const std::uint64_t index = spec.power_state.value_or(legacy_power_state(baseline, setup, after, options));
  auto state =
      judge_power_loss_state(*baseline.trace, baseline.initial, own_contents(baseline, setup), setup.scenario.target,
                             baseline.outcome.succeeded(), options.fs_profile, after, index, baseline.reported_after);
  if (!state.reason.empty()) throw std::runtime_error("not checkable: " + state.reason);
  if (!state.found)
    refuse_case(report, spec,
                "the re-run leaves " + std::to_string(state.states_at_point) + " states after call " +
                    std::to_string(after) + " (" + power_loss_case_id(after, 0) + " to " +
                    power_loss_case_id(after, state.states_at_point == 0 ? 0 : state.states_at_point - 1) + ")");
  ReplayResult result;
  result.outcome = baseline.outcome.describe();
  Observation& o = result.observation;
  o.case_id = state.seen.case_id;
  o.model = Model::power_loss;
  o.call_index = after;
  o.fault = state.seen.fault;
  o.call = state.seen.call;
  o.target = state.seen.target;
  o.leftovers = state.seen.leftovers;
  result.properties = std::move(state.properties);
  result.fails = any_failed(result.properties);
  return result;
}

// A reader case is a pause: run paused and observe the directory at its call.
Observation observe_reader(const CaseSpec& spec, const SubjectSetup& setup, const CaseResult& baseline,
                           CaseResult& run) {
  const auto pause = run.pauses.find(spec.reader_call);
  if (pause == run.pauses.end())
    throw std::runtime_error("the subject never reached call " + std::to_string(spec.reader_call));
  // The paused run is a clean run of its own: without a payload, its own end state is its new content.
  return observe(spec, pause->second, run.initial, SubjectOutcome{SubjectOutcome::End::exited, 0}, setup,
                 *baseline.trace, own_contents(run, setup));
}

// Judges `result.observation` alone, on the properties its model bears on.
void judge_alone(ReplayResult& result, const SubjectSetup& setup) {
  std::vector<std::string> models{std::string(reports::model_name(result.observation.model))};
  auto judgement = judge({result.observation}, setup.contents, models, make_content_validator(setup));
  for (auto& [name, property] : judgement.properties)
    if (property.cases > 0) result.properties[name] = property;
  result.fails = any_failed(result.properties);
}

// A state inside a call, synthesized from the re-run baseline's trace as the
// campaign did (within.hpp): the real run only says the writer ended.
ReplayResult replay_within(const reports::Report& report, const CaseSpec& spec, const CaseResult& baseline,
                           const SubjectSetup& setup) {
  WithinState state = synthesize_within(spec, baseline, setup);
  if (!state.observation) refuse_case(report, spec, state.why_not);
  ReplayResult result;
  result.observation = std::move(*state.observation);
  result.outcome = spec.model == Model::kill ? "killed inside the call (synthesized from the re-run's trace; the "
                                               "re-run itself: " +
                                                   baseline.outcome.describe() + ")"
                                             : "goes on (the re-run: " + baseline.outcome.describe() + ")";
  judge_alone(result, setup);
  return result;
}

}  // namespace

ReplayResult replay_case(const reports::Report& report, std::string_view id, const RunOptions& options) {
  const bool concurrent = is_concurrent_case(id);  // its schedule is in the id: replay_concurrent checks it
  const CaseSpec spec = concurrent ? CaseSpec{} : known_case(report, id);
  const Scenario scenario = scenario_from_subject(report.subject, "report");
  WorkDir work(options.work_root);
  SubjectSetup setup = make_setup(
      scenario, {options.timeout_s, options.agent_library, options.backend, work.path(), work.backend_files()});
  if (concurrent) return replay_concurrent(setup, id);  // two instances, no baseline needed
  // A power-loss state is judged from the writer's exit on (durable): the
  // re-run pauses at every call, as the campaign's did, to place that exit.
  const bool place_exit = spec.model == Model::power_loss;
  const CaseResult baseline = execute_case(
      setup, {case_id(Model::baseline, {}), Model::baseline, {place_exit ? Kind::pause : Kind::none, 0, 0, 0}, 0},
      [](std::uint32_t, const Snapshot&, const Snapshot&) {});
  if (auto why = why_not_checkable(baseline, setup)) throw std::runtime_error("not checkable: " + *why);
  adopt_baseline_content(setup, baseline);  // no payload: the re-run baseline's content is new
  check_call_unchanged(report, spec, *baseline.trace);
  if (spec.model == Model::power_loss) return replay_power_loss(report, spec, baseline, setup, options);
  // Only the seccomp supervisor can stop a real write midway (it performs the first bytes itself, then SIGKILL).
  const bool real_within = spec.model == Model::kill && setup.backend.kind == faults::BackendKind::seccomp &&
                           !synthesized_only(spec, *baseline.trace);
  if (is_within_case(spec) && !real_within) return replay_within(report, spec, baseline, setup);
  CaseResult run = execute_case(
      setup, spec.model == Model::reader ? CaseSpec{"paused-run", Model::reader, {Kind::pause, 0, 0, 0}, 0} : spec);
  ReplayResult result;
  result.observation = spec.model == Model::reader ? observe_reader(spec, setup, baseline, run)
                                                   : observe_case(run, setup, *baseline.trace);
  result.outcome = run.outcome.describe();
  judge_alone(result, setup);
  return result;
}

}  // namespace crashcheck::runner
