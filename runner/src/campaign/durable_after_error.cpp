// durable_after_error.hpp says why; this is how.
#include "durable_after_error.hpp"

#include <functional>
#include <map>

#include <crashcheck/powerloss.hpp>

#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/validator.hpp"
#include "plan.hpp"

namespace crashcheck::runner {
using reports::Model;

namespace {

// Two traces that make the same successful calls on the same files give the
// same power-loss states (a failed call changes nothing, but for a failed
// fsync of a file: powerloss::failed_file_sync): judge them once.
// Paths are numbered in order of appearance, so random temp names do not
// tell runs apart. A case whose only difference from the baseline is a
// failed call it retried (EINTR) has the baseline's key and is not judged
// again; one that retried a failed fsync has not (F6, fsyncgate).
std::size_t trace_key(const faults::Trace& trace) {
  std::map<std::string, std::size_t> numbered;
  std::string key;
  for (const auto& r : trace.records) {
    if (r.error != 0 && !powerloss::failed_file_sync(r)) continue;
    const std::size_t path = numbered.emplace(r.path, numbered.size()).first->second;
    key += r.call + '\x1f' + std::to_string(path) + '\x1f' + std::to_string(r.result) + '\x1f' +
           std::to_string(r.offset) + '\x1f' + std::to_string(r.length) + '\x1e';
  }
  return std::hash<std::string>{}(key);
}

bool error_case(Model model) { return model == Model::errno_fault || model == Model::disk_full; }

// A power-loss state of an error case, named as that case: the injected
// error, the writer's exit 0, then the power loss.
void name_error_case(reports::Failure& failure, const Observation& seen) {
  failure.case_id = seen.case_id;
  failure.model = std::string(reports::model_name(seen.model));
  failure.call_index = seen.call_index;
  failure.call = seen.call;
  failure.fault = seen.fault + "; the writer exited 0; then " + failure.fault;
}

}  // namespace

DurableAfterError::DurableAfterError(const SubjectSetup& setup, const RunOptions& options,
                                     const faults::Trace& baseline)
    : setup_(setup),
      options_(options),
      enabled_(has(options.models, Model::power_loss)),
      validator_(make_content_validator(setup)) {
  traces_seen_.insert(trace_key(baseline));  // judged by the baseline's own power-loss analysis
}

void DurableAfterError::add(CaseResult& ended, const Observation& seen, Contents contents) {
  if (!enabled_ || !error_case(ended.spec.model) || !ended.outcome.succeeded() || !ended.trace) return;
  // The power-loss states are this run's: the bytes it left when they are
  // its new content (the same bytes, or JSON-equal with --compare json).
  const Entry* target = ended.final.find(setup_.scenario.target);
  if (target && seen.target.is(reports::Outcome::new_content) && target->content != contents.new_bytes.str())
    contents.new_bytes = target->content;  // else the payload's bytes stay shared
  {
    std::lock_guard lock(mutex_);
    ++exited_zero_;
    if (contents.unknown_new) return void(++unknown_new_);
    if (!traces_seen_.insert(trace_key(*ended.trace)).second) return;  // the same states were judged
  }
  auto judging = analysis_turn();
  if (const auto unexplained = unexplained_by_trace(*ended.trace, ended.initial, ended.final);
      !unexplained.empty()) {  // a replay: outside the lock
    std::lock_guard lock(mutex_);
    // The lowest case id, not the first to finish: the report is the same whatever the workers' order.
    if (unexplained_++ == 0 || seen.case_id < first_unexplained_case_) {
      first_unexplained_case_ = seen.case_id;
      first_unexplained_ = "case " + seen.case_id + ": " + describe_unexplained(unexplained);
    }
    return;
  }
  release_contents(ended.final, {});  // compared: new_bytes holds what the judge needs of them
  auto judged = judge_power_loss(*ended.trace, ended.initial, contents, setup_.scenario.target, true,
                                 options_.fs_profile, validator_, &validated_);
  judging.unlock();
  add_validated(judged.valid_content, seen);
  if (judged.durable.verdict != reports::Verdict::fail || judged.durable.failures.empty()) return;
  reports::Failure failure = judged.durable.failures.front();
  name_error_case(failure, seen);
  failure.detail = "the writer reported success after " + seen.call + " failed, and a power loss can still leave " +
                   "the target " + failure.target.matches + ": " + failure.detail;
  std::lock_guard lock(mutex_);
  failures_.push_back(std::move(failure));
}

// The validator's rejections, named as the durable failures are.
void DurableAfterError::add_validated(reports::PropertyResult& judged, const Observation& seen) {
  std::lock_guard lock(mutex_);
  valid_.cases += judged.cases;
  valid_.failing += judged.failing;
  for (auto& failure : judged.failures) {
    name_error_case(failure, seen);
    if (valid_.failures.size() < power_loss_listed()) valid_.failures.push_back(std::move(failure));
  }
}

// Only a fail adds to valid_content, as only a fail adds to durable's
// cases: a trace is judged once per process, so the shards of a run may
// each judge one that the whole run judged once, and a count of passing
// states would then depend on the sharding.
reports::PropertyResult DurableAfterError::validated() const {
  std::lock_guard lock(mutex_);
  if (valid_.failing == 0) return {};
  reports::PropertyResult out = valid_;
  out.verdict = reports::Verdict::fail;
  return out;
}

void DurableAfterError::apply(reports::PropertyResult& durable, std::vector<std::string>& notes) const {
  std::lock_guard lock(mutex_);
  if (exited_zero_ == 0) return;
  notes.push_back(
      "durable also judged after injected errors: " + std::to_string(exited_zero_) +
      " errno/disk-full case(s) exited 0, " + std::to_string(traces_seen_.size() - 1) +
      " distinct trace(s) besides the baseline's judged" +
      (unexplained_ ? ", " + std::to_string(unexplained_) + " skipped: their trace does not explain them"
                    : std::string()) +
      (unknown_new_ ? ", " + std::to_string(unknown_new_) + " skipped: their new content is unknown" : std::string()));
  if (failures_.empty()) {
    if (unexplained_ == 0 || durable.verdict != reports::Verdict::pass) return;
    durable.verdict = reports::Verdict::not_run;
    durable.reason = "not judged after injected errors: " + std::to_string(unexplained_) +
                     " errno/disk-full case(s) that exited 0 are not explained by their own trace, so their power-loss "
                     "states cannot be replayed; the first, " +
                     first_unexplained_;
    return;
  }
  durable.verdict = reports::Verdict::fail;
  durable.reason.clear();
  const std::uint64_t listed = durable.failing != 0 ? durable.failing : durable.failures.size();
  for (const auto& f : failures_)
    if (durable.failures.size() < power_loss_listed()) durable.failures.push_back(f);
  durable.failing = listed + failures_.size();  // every failing case, listed or not
  durable.cases += traces_seen_.size() - 1;     // the baseline's key is not a case of its own
}

}  // namespace crashcheck::runner
