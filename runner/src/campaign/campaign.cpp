// The campaign of one scenario, stage by stage: a baseline run, the plan
// derived from its trace (plan.hpp), the cases run and observed
// (observe.hpp), and the report assembled from what was seen
// (assemble.hpp). Replaying one case of a report is replay.cpp.
#include "crashcheck/runner/campaign.hpp"

#include <chrono>
#include <future>

#include "assemble.hpp"
#include "../directory/directory.hpp"
#include "concurrent.hpp"
#include "crashcheck/runner/executor.hpp"
#include "observe.hpp"
#include "plan.hpp"
#include "within.hpp"
#include "work_dir.hpp"

namespace crashcheck::runner {

namespace {

CampaignResult stopped_early(const SubjectSetup& setup, const RunOptions& options, const CaseResult& baseline) {
  CampaignResult result;
  if (cancel_requested().load()) {
    result.interrupted = true;
    result.report = empty_report(setup, options, "interrupted before the baseline finished");
    result.report.complete = false;
  } else if (auto why = why_not_checkable(baseline, setup)) {
    result.not_checkable = "not checkable: " + *why;
    result.report = empty_report(setup, options, *result.not_checkable);
    result.report.notes.push_back(*result.not_checkable);
    result.report.not_checkable = *why;
  }
  return result;
}

}  // namespace

CampaignResult run_campaigns(const Scenario& scenario, const RunOptions& given) {
  if (scenario.directory_mode) return run_directory_campaign(scenario, given);  // runner/src/directory/
  const auto started = std::chrono::steady_clock::now();
  const RunOptions options = campaign_options(scenario, given);
  WorkDir work(options.work_root);
  SubjectSetup setup = make_setup(
      scenario, {options.timeout_s, options.agent_library, options.backend, work.path(), work.backend_files()});
  PauseStates pauses(setup);
  Collected collected;
  auto templates = launch_templates(setup, options, collected);  // their start-up overlaps the baseline's run
  CaseResult baseline =
      execute_case(setup, baseline_run(options.models, options.kill_mode, setup.backend.kind), pauses.visitor());
  if (baseline.conflict && !given.backend && !scenario.backend && setup.backend.kind != faults::BackendKind::preload) {
    // the default backend cannot observe this subject: the whole run falls back, and says why
    RunOptions fallback = given;
    fallback.backend = faults::BackendKind::preload;
    CampaignResult result = run_campaigns(scenario, fallback);
    result.report.notes.push_back("backend: preload, because " + *baseline.conflict);
    return result;
  }
  if (CampaignResult early = stopped_early(setup, options, baseline); early.interrupted || early.not_checkable)
    return early;
  adopt_baseline_content(setup, baseline);  // no payload: what the baseline left is new
  pauses.settle();

  auto cases = observe_baseline(baseline, pauses, setup, options, collected);
  // The trace self-check is the last reader of the baseline's end state:
  // its file bytes go before the cases run (memory bounded by the file).
  // The power-loss model compares its states with the bytes this run left
  // at the target (own_contents), which may differ from the payload
  // (--compare json) or be the only new content (no payload): they are
  // taken now, sharing the payload's bytes when they are the same.
  collected.unexplained = unexplained_by_trace(*baseline.trace, baseline.initial, baseline.final);
  collected.pauses = pauses.prints().check(*baseline.trace, baseline.initial, baseline.final);
  if (collected.pauses.checked < collected.pauses.pauses)
    collected.notes.push_back("the paused run's snapshots were compared with its trace at " +
                              std::to_string(collected.pauses.checked) + " of " +
                              std::to_string(collected.pauses.pauses) + " pauses, spread evenly");
  collected.baseline_contents = own_contents(baseline, setup);
  release_contents(baseline.final, {});
  for (auto& c : observe_within(baseline, setup, options, collected)) cases.push_back(std::move(c));
  Plan plan = plan_cases(*baseline.trace, options.models, options.kill_mode, setup.contents.new_bytes.size(),
                         options.sampling, initial_sizes(baseline.initial));
  for (auto& c : plan.cases) cases.push_back(std::move(c));
  for (auto& n : plan.notes) collected.notes.push_back(std::move(n));
  collected.sampled = std::move(plan.sampled);
  const auto shard = take_slice(cases, collected.notes, options);
  if (shard && !options.shard->first()) collected.observations.clear();  // the baseline's states are shard 1's
  DurableAfterError after_errors(setup, options, *baseline.trace);
  // The baseline's power-loss analysis needs nothing the cases find: it
  // runs beside them, not after them (the subjects leave a core idle while
  // they wait on the supervisor), taking its turn among the error cases'.
  const ContentValidator validator = make_content_validator(setup);
  const Contents& own = *collected.baseline_contents;
  auto power_loss = std::async(std::launch::async, [&] {
    const auto turn = after_errors.analysis_turn();
    return judge_baseline_power_loss(baseline, own, setup, options, validator, collected.unexplained);
  });
  run_planned(cases, setup, options, baseline, collected, after_errors, std::move(templates));
  if (has(options.models, reports::Model::concurrent)) {  // not sliced: shard 1 runs it whole
    if (!shard || options.shard->first())
      run_concurrent_stage(baseline, setup, options, collected);
    else
      collected.notes.push_back("concurrent: the whole model runs in shard 1");
  }
  add_outside_notes(collected);

  CampaignResult result;
  result.interrupted = cancel_requested().load();
  result.report = assemble_report(collected, baseline, setup, options, after_errors, power_loss.get(), validator);
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

}  // namespace crashcheck::runner
