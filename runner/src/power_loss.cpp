// power_loss.hpp: the power-loss model's verdicts in the report's vocabulary.
#include "crashcheck/runner/power_loss.hpp"

#include <set>

#include "crashcheck/runner/scenario.hpp"

#include <crashcheck/powerloss.hpp>

namespace crashcheck::runner {

namespace {

namespace pl = crashcheck::powerloss;

pl::InitialState initial_state(const Snapshot& initial) {
  pl::InitialState state;
  state.directory_inode = initial.directory_inode;
  for (const auto& [name, entry] : initial.entries)
    state.files.push_back({name, entry.content, entry.mode, entry.inode, entry.kind == Entry::Kind::directory});
  return state;
}

reports::Verdict verdict_of(pl::Verdict v) {
  return v == pl::Verdict::pass   ? reports::Verdict::pass
         : v == pl::Verdict::fail ? reports::Verdict::fail
                                  : reports::Verdict::not_run;
}

reports::Failure failure_of(const pl::Failure& f, const faults::Trace& trace, const Snapshot& initial,
                            const Contents& contents, const std::string& target) {
  reports::Failure out;
  out.case_id = power_loss_case_id(f.after_seq);
  out.model = reports::model_name(reports::Model::power_loss);
  out.call_index = f.after_seq;
  out.call = faults::describe_call(trace, f.after_seq);
  out.fault = "power loss after call " + std::to_string(f.after_seq) + (f.lost.empty() ? "" : "; " + f.lost);
  const Entry state{Entry::Kind::file, f.target_mode, f.target_content, 0};
  out.target = describe_target(f.target_exists ? &state : nullptr, contents);
  for (const auto& name : f.entries)
    if (name != target && !initial.find(name)) out.leftovers.push_back(name);
  out.detail = f.detail;
  return out;
}

reports::PropertyResult property_of(const pl::PropertyOutcome& o, const faults::Trace& trace, const Snapshot& initial,
                                    const Contents& contents, const std::string& target) {
  reports::PropertyResult out;
  out.verdict = verdict_of(o.verdict);
  out.cases = o.cases;
  out.reason = o.reason;
  out.notes = o.notes;
  for (const auto& f : o.failures) out.failures.push_back(failure_of(f, trace, initial, contents, target));
  return out;
}

// One cell per distinct outcome at each crash point: a split cell shows a
// point where the old and the new content can both survive.
// Most states hold exactly old or new: compare those in place and copy the
// target (up to the whole payload) only for the rare torn or other state.
std::string outcome_of(const pl::CrashState& state, const Contents& contents, const std::string& target) {
  if (state.content_equals(target, contents.new_bytes)) return std::string(outcome_name(reports::Outcome::new_content));
  if (contents.old_bytes && state.content_equals(target, *contents.old_bytes))
    return std::string(outcome_name(reports::Outcome::old_content));
  const auto image = state.file(target);
  const Entry entry{Entry::Kind::file, image ? image->mode : 0, image ? image->content : std::string(), 0};
  return describe_target(image && !image->is_directory ? &entry : nullptr, contents).matches;
}

// The report's picture: the distinct outcomes found at each crash point.
std::vector<reports::Cell> cells_of(const std::map<std::uint32_t, std::set<std::string> >& outcomes) {
  std::vector<reports::Cell> cells;
  for (const auto& [seq, seen] : outcomes)
    for (const auto& outcome : seen)
      cells.push_back(
          {std::string(reports::model_name(reports::Model::power_loss)), seq, outcome, power_loss_case_id(seq)});
  return cells;
}

}  // namespace

std::string power_loss_case_id(std::uint32_t after) {
  return std::string(reports::model_info(reports::Model::power_loss).case_prefix) + std::to_string(after);
}

PowerLossJudgement judge_power_loss(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                    const std::string& target, bool exited_zero, const std::string& profile) {
  pl::Options options;
  options.profile = pl::parse_profile(profile).value_or(pl::Profile::posix);
  const pl::InitialState start = initial_state(initial);
  std::map<std::uint32_t, std::set<std::string> > outcomes;
  const pl::Verdicts verdicts =
      pl::check_properties(trace, start, {target, contents.new_bytes, exited_zero}, options,
                           [&](const pl::Coverage& point, const pl::CrashState& state) {
                             outcomes[point.after_seq].insert(outcome_of(state, contents, target));
                           });
  PowerLossJudgement out;
  out.powerloss_atomic = property_of(verdicts.powerloss_atomic, trace, initial, contents, target);
  out.durable = property_of(verdicts.durable, trace, initial, contents, target);
  out.cells = cells_of(outcomes);
  out.states = verdicts.powerloss_atomic.cases;
  out.notes.push_back("power loss judged on the " + std::string(pl::profile_name(options.profile)) +
                      " file-system profile");
  for (const auto& point : verdicts.coverage)
    if (point.sampled) out.notes.push_back("power loss " + point.describe());
  return out;
}

}  // namespace crashcheck::runner
