// One case of a directory-mode report again (`crashcheck replay`), so a
// failing state can be looked at, not only read about: the baseline is re-run
// and must still make the report's call at the case's index, then the case
// is run (kill, errno, disk-full) or its power-loss state recomputed from the
// re-run's trace, and the checker judges the whole directory it left, with
// CRASHCHECK_COMMITTED as the campaign set it. `--keep DIR` writes that
// directory into DIR. A kill or a reader inside a call (kill-within-N-B,
// reader-within-N-B) is synthesized from the re-run's trace, as the campaign
// did. Reader cases at call boundaries are read off a paused run; they are
// refused here with the reason.
#include <crashcheck/powerloss.hpp>

#include "../campaign/replay_guard.hpp"
#include "../campaign/work_dir.hpp"
#include "crashcheck/runner/executor.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "directory.hpp"

namespace crashcheck::runner {
namespace pl = crashcheck::powerloss;
using reports::Model;

namespace {

// The state a power loss just after call N leaves, as the campaign numbered it.
StateBook::Entries power_loss_state(const reports::Report& report, const CaseSpec& spec, const CaseResult& baseline,
                                    const RunOptions& options) {
  if (const auto unexplained = unexplained_by_trace(*baseline.trace, baseline.initial, baseline.final);
      !unexplained.empty())
    throw std::runtime_error("not checkable: trace self-check: " + describe_unexplained(unexplained));
  if (!spec.power_state) refuse_case(report, spec, "a directory-mode power-loss id names its state (power-loss-Nx)");
  pl::Options pl_options;
  pl_options.profile = pl::parse_profile(options.fs_profile).value_or(pl::Profile::posix);
  pl_options.only = pl::Options::StateRef{spec.plan.call, *spec.power_state};
  std::optional<StateBook::Entries> found;
  pl::for_each_state(*baseline.trace, power_loss_initial(baseline.initial), pl_options,
                     [&](const pl::Coverage& point, const pl::CrashState& state) {
                       if (point.after_seq == spec.plan.call && state.index() == *spec.power_state)
                         found = entries_of(state, baseline.initial);
                     });
  if (!found) refuse_case(report, spec, "the re-run leaves no such state after call " + std::to_string(spec.plan.call));
  return *found;
}

// The state a SIGKILL inside call N after its first B bytes leaves, or a
// reader then finds (kill-within-N-B, reader-within-N-B), synthesized from the re-run's trace as the campaign did.
StateBook::Entries kill_within_state(const reports::Report& report, const CaseSpec& spec, const CaseResult& baseline) {
  if (const auto unexplained = unexplained_by_trace(*baseline.trace, baseline.initial, baseline.final);
      !unexplained.empty())
    throw std::runtime_error("not checkable: trace self-check: " + describe_unexplained(unexplained));
  const faults::TraceRecord* record = baseline.trace->find(spec.plan.call);
  if (!record || record->op != faults::OpClass::write || spec.plan.byte_budget == 0 ||
      spec.plan.byte_budget >= record->data.size())
    refuse_case(report, spec,
                "call " + std::to_string(spec.plan.call) + " of the re-run is not a write whose first " +
                    std::to_string(spec.plan.byte_budget) + " bytes are only part of it");
  StateBook::Entries found;
  for_each_within_state(*baseline.trace, baseline.initial, "", {{spec.plan.call, spec.plan.byte_budget}},
                        [&](const WithinCut&, const Snapshot& seen) { found = seen.entries; });
  return found;
}

}  // namespace

DirectoryReplay replay_directory_case(const reports::Report& report, std::string_view id, const RunOptions& options,
                                      const std::filesystem::path& keep) {
  const CaseSpec spec = known_case(report, id);
  const bool within = spec.plan.kind == faults::FaultPlan::Kind::kill_within;
  if ((spec.model == Model::reader && !within) || spec.model == Model::concurrent)
    refuse_case(report, spec,
                "replay of a directory-mode report runs kill and reader cases inside a call, kill, errno, disk-full "
                "and power-loss cases");
  const Scenario scenario = scenario_from_subject(report.subject, "report");
  WorkDir work(options.work_root);
  const SubjectSetup setup = make_setup(
      scenario, {options.timeout_s, options.agent_library, options.backend, work.path(), work.backend_files()});
  const CaseResult baseline = execute_case(setup, {case_id(Model::baseline, {}), Model::baseline, {}, 0});
  if (!baseline.trace)
    throw std::runtime_error("not checkable: the re-run's trace cannot be read: " + baseline.trace_error);
  check_call_unchanged(report, spec, *baseline.trace);

  DirectoryReplay out;
  StateBook::Entries state;
  std::vector<bool> committed{false};
  if (spec.model == Model::power_loss) {
    state = power_loss_state(report, spec, baseline, options);
    out.fault = "power loss after call " + std::to_string(spec.plan.call);
    out.outcome = baseline.outcome.describe() + " (the re-run baseline; the state is computed from its trace)";
    if (spec.plan.call == baseline.trace->records.back().seq && baseline.outcome.succeeded()) committed.push_back(true);
  } else if (within) {
    state = kill_within_state(report, spec, baseline);
    out.fault = (spec.model == Model::reader ? "a reader copies the directory during call " : "SIGKILL inside call ") +
                std::to_string(spec.plan.call) + ", its first " + std::to_string(spec.plan.byte_budget) +
                " bytes applied";
    out.outcome = baseline.outcome.describe() + " (the re-run baseline; the state is synthesized from its trace)";
  } else {
    const CaseResult run = execute_case(setup, spec);
    state = run.final.entries;
    out.fault = "the case re-run";
    out.outcome = run.outcome.describe();
    committed = {spec.model != Model::kill && run.outcome.succeeded()};
  }
  for (const auto& [name, entry] : state) out.names.push_back(name);
  for (bool c : committed) {
    out.verdicts.emplace_back(c, check_state(setup, state, c, work.path() / ("replay-checker-" + std::to_string(c))));
    out.fails = out.fails || !out.verdicts.back().second.consistent;
  }
  if (!keep.empty()) materialise(state, keep);
  return out;
}

}  // namespace crashcheck::runner
