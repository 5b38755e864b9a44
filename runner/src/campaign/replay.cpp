// Stage 4, replaying: re-runs one case of a report, as its subject section
// describes, and judges that case alone. Power-loss cases are computed, not
// run: the baseline is re-run and its crash states recomputed.
#include <algorithm>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"
#include "concurrent.hpp"
#include "observe.hpp"
#include "work_dir.hpp"

namespace crashcheck::runner {
using Kind = faults::FaultPlan::Kind;
using reports::Model;

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

// A reader case is a pause: run paused and observe the directory at its call.
Observation observe_reader(const CaseSpec& spec, const SubjectSetup& setup, const CaseResult& baseline,
                           CaseResult& run) {
  const auto pause = run.pauses.find(spec.reader_call);
  if (pause == run.pauses.end())
    throw std::runtime_error("the subject never reached call " + std::to_string(spec.reader_call));
  return observe(spec, pause->second, run.initial, SubjectOutcome{SubjectOutcome::End::exited, 0}, setup,
                 *baseline.trace);
}

}  // namespace

ReplayResult replay_case(const reports::Report& report, std::string_view id, const RunOptions& options) {
  const std::string_view power_prefix = reports::model_info(Model::power_loss).case_prefix;
  const bool power_loss = id.substr(0, power_prefix.size()) == power_prefix;
  auto spec =
      power_loss ? std::optional<CaseSpec>(CaseSpec{std::string(id), Model::power_loss, {}, 0}) : parse_case_id(id);
  const bool concurrent = is_concurrent_case(id);
  if (!spec && !concurrent)
    throw InputError("unknown case id \"" + std::string(id) + "\" (e.g. kill-before-3, errno-5-ENOSPC)");
  const Scenario scenario = scenario_from_subject(report.subject, "report");
  WorkDir work(options.work_root);
  const SubjectSetup setup =
      make_setup(scenario, {options.timeout_s, options.agent_library, options.backend, work.path()});
  if (concurrent) return replay_concurrent(setup, id);  // two instances, no baseline needed
  const CaseResult baseline = execute_case(setup, {case_id(Model::baseline, {}), Model::baseline, {}, 0});
  if (auto why = why_not_checkable(baseline, setup)) throw std::runtime_error("not checkable: " + *why);
  if (power_loss) {
    const std::string n(id.substr(power_prefix.size()));
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
      throw InputError("unknown case id \"" + std::string(id) + "\"");
    return replay_power_loss(baseline, setup, static_cast<std::uint32_t>(std::stoul(n)), options);
  }
  CaseResult run = execute_case(
      setup, spec->model == Model::reader ? CaseSpec{"paused-run", Model::reader, {Kind::pause, 0, 0, 0}, 0} : *spec);
  ReplayResult result;
  result.observation = spec->model == Model::reader ? observe_reader(*spec, setup, baseline, run)
                                                    : observe_case(run, setup, *baseline.trace);
  result.outcome = run.outcome.describe();
  std::vector<std::string> models{std::string(reports::model_name(spec->model))};
  auto judgement = judge({result.observation}, setup.contents, models, make_content_validator(setup));
  for (auto& [name, property] : judgement.properties)
    if (property.cases > 0) result.properties[name] = property;
  result.fails = any_failed(result.properties);
  return result;
}

}  // namespace crashcheck::runner
