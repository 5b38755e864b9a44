// powerloss_atomic and durable, judged on the states for_each_state visits.
#include "crashcheck/powerloss.hpp"

#include <algorithm>

namespace crashcheck::powerloss {
namespace {

// Counterexamples listed per crash point, so the listed ones show different
// moments rather than many states of the first failing one.
constexpr std::size_t kFailuresPerPoint = 2;

std::string what_target_holds(const CrashState& state, const std::string& target, bool had_old,
                              const std::string& old_content) {
  auto file = state.file(target);
  if (!file) return had_old ? "the target is missing although an old file existed" : "the target is missing";
  if (file->is_directory) return "the target is a directory";
  if (had_old && file->content == old_content) return "the target still holds the old content";
  if (file->content.empty()) return "the target is empty";
  return "the target holds " + std::to_string(file->content.size()) +
         " bytes that are neither the old nor the new content";
}

class Judge {
 public:
  Judge(const Subject& subject, const InitialState& initial, const Options& options, std::uint32_t last_seq)
      : subject_(subject), options_(options), last_seq_(last_seq) {
    auto old = std::find_if(initial.files.begin(), initial.files.end(),
                            [&](const InitialFile& f) { return f.name == subject.target && !f.is_directory; });
    if (old != initial.files.end()) old_ = old->content;
  }

  void visit(const Coverage& point, const CrashState& state, Verdicts& out) {
    if (options_.only && (point.after_seq != options_.only->after_seq || state.index() != options_.only->index)) return;
    // Where every state of the point holds the same target (the old file
    // before a rename is pending), compare it once per point, not per state.
    Answers fresh{point.after_seq, point.call, std::nullopt, std::nullopt};
    const bool fixed = state.same_in_every_state(subject_.target);
    if (fixed && (!fixed_ || fixed_->after_seq != point.after_seq || fixed_->call != point.call)) fixed_ = fresh;
    Answers& answers = fixed ? *fixed_ : fresh;
    if (!answers.is_new) answers.is_new = state.content_equals(subject_.target, subject_.new_content);
    const bool is_new = *answers.is_new;
    const auto old = [&] {
      if (!answers.is_old) answers.is_old = is_old(state);
      return *answers.is_old;
    };
    ++out.powerloss_atomic.cases;
    if (!is_new && !old()) record(point, state, out.powerloss_atomic, "");
    if (subject_.exited_zero && point.after_seq >= durable_from()) {
      ++out.durable.cases;
      if (!is_new) record(point, state, out.durable, durable_lead(point, old()));
    }
  }

 private:
  // The target's answers at one crash point whose states all hold the same target.
  struct Answers {
    std::uint32_t after_seq = 0;
    std::string call;  // with after_seq, names the point
    std::optional<bool> is_new, is_old;
  };
  std::optional<Answers> fixed_;

  bool is_old(const CrashState& state) const {
    return old_ ? state.content_equals(subject_.target, *old_) : !state.contains(subject_.target);
  }

  // The first crash point after the success report: the subject's exit,
  // which calls of processes it left running may follow.
  std::uint32_t durable_from() const { return std::min(subject_.reported_after.value_or(last_seq_), last_seq_); }

  // `old`: the state still holds the old content — success was reported
  // before the commit (a rename handed to a background job).
  std::string durable_lead(const Coverage& point, bool old) const {
    if (durable_from() == last_seq_) return "after the subject exited 0, a power loss can leave this: ";
    return "the subject reported success (its first process exited 0) after call " + std::to_string(durable_from()) +
           (old ? ", before the commit" : "") + "; processes it left running made calls " +
           std::to_string(durable_from() + 1) + "–" + std::to_string(last_seq_) + ", and a power loss after call " +
           std::to_string(point.after_seq) + " can leave this: ";
  }

  void record(const Coverage& point, const CrashState& state, PropertyOutcome& outcome, const std::string& lead) {
    ++outcome.failing;
    auto& listed = listed_per_point_[&outcome];
    if (listed.first != point.after_seq) listed = {point.after_seq, 0};
    if (outcome.failures.size() >= options_.max_failures || listed.second >= kFailuresPerPoint) return;
    ++listed.second;
    Failure failure = describe_state(point, state, subject_.target);
    auto holds = what_target_holds(state, subject_.target, old_.has_value(), old_.value_or(""));
    failure.detail = lead.empty() ? holds : lead + holds;
    outcome.failures.push_back(std::move(failure));
  }

  const Subject& subject_;
  const Options& options_;
  std::uint32_t last_seq_;
  std::optional<std::string> old_;
  std::map<const PropertyOutcome*, std::pair<std::uint32_t, std::size_t>> listed_per_point_;
};

// `only_last`: the property judges crash points from `only_seq` on.
void conclude(PropertyOutcome& outcome, const std::vector<Coverage>& coverage, std::uint32_t only_seq, bool only_last) {
  outcome.verdict = outcome.failing > 0 ? Verdict::fail : Verdict::pass;
  if (outcome.failing > outcome.failures.size()) {
    outcome.notes.push_back(std::to_string(outcome.failing) + " failing states; the first " +
                            std::to_string(outcome.failures.size()) + " are listed");
  }
  std::size_t sampled = 0;
  const Coverage* least = nullptr;
  for (const auto& point : coverage) {
    if (only_last && point.after_seq < only_seq) continue;
    if (!point.sampled) continue;
    ++sampled;
    if (least == nullptr || point.explored * 1.0 / point.total < least->explored * 1.0 / least->total) least = &point;
  }
  if (least != nullptr) {
    outcome.notes.push_back(
        std::to_string(sampled) +
        " crash point(s) had more states than the bound and were sampled; least covered: " + least->describe());
  }
}

// Writes whose bytes or offset the trace lacks: the model cannot know the
// file's content, so nothing can be judged (never a pass by omission).
std::size_t writes_without_bytes(const faults::Trace& trace) {
  return static_cast<std::size_t>(std::count_if(trace.records.begin(), trace.records.end(), [](const auto& r) {
    return r.op == faults::OpClass::write && r.error == 0 && r.result > 0 &&
           (r.offset < 0 || r.data.size() != static_cast<std::uint64_t>(r.result));
  }));
}

}  // namespace

Failure describe_state(const Coverage& point, const CrashState& state, const std::string& target) {
  Failure failure;
  failure.after_seq = point.after_seq;
  failure.index = state.index();
  failure.call = point.call;
  failure.lost = state.lost();
  if (auto file = state.file(target)) {
    failure.target_exists = true;
    failure.target_content = file->content;
    failure.target_mode = file->mode;
  }
  failure.entries = state.names();
  return failure;
}

Verdicts check_properties(const faults::Trace& trace, const InitialState& initial, const Subject& subject,
                          const Options& options, const StateVisitor& also_visit) {
  Verdicts out;
  if (trace.records.empty()) {
    out.powerloss_atomic.reason = out.durable.reason =
        "the trace has no counted calls: the agent saw no file-system call in the scratch directory";
    return out;
  }
  if (auto gaps = writes_without_bytes(trace); gaps > 0) {
    out.powerloss_atomic.reason = out.durable.reason =
        "the trace lacks the bytes or offset of " + std::to_string(gaps) +
        " successful write(s), so the states a power loss leaves cannot be computed";
    return out;
  }
  const std::uint32_t last_seq = trace.records.back().seq;
  Judge judge(subject, initial, options, last_seq);
  out.coverage = for_each_state(trace, initial, options, [&](const Coverage& point, const CrashState& state) {
    judge.visit(point, state, out);
    if (also_visit) also_visit(point, state);
  });
  conclude(out.powerloss_atomic, out.coverage, 0, false);
  if (subject.exited_zero) {
    conclude(out.durable, out.coverage, std::min(subject.reported_after.value_or(last_seq), last_seq), true);
  } else {
    out.durable.reason = "the subject did not exit 0: durable judges only writes that reported success";
  }
  return out;
}

}  // namespace crashcheck::powerloss
