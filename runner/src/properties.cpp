#include "crashcheck/runner/properties.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace crashcheck::runner {
namespace {

using reports::Model;
using reports::Outcome;
using reports::PropertyResult;
using reports::Verdict;

// nullopt: the observation does not bear on the property; "": it holds;
// otherwise one sentence saying why it breaks.
using Check = std::function<std::optional<std::string>(const Observation&)>;

// The models whose observations count for a property come from
// reports::kModelTable (its `judges` column).
struct Checker {
  std::string_view property;
  std::string_view none_reason;  // not_run reason when no case counted
  Check check;
  bool needs_new = true;  // judges states as old or new: an unjudged state (Observation::unjudged) cannot count
};

std::vector<Model> models_judging(std::string_view property) {
  std::vector<Model> out;
  for (const auto& m : reports::kModelTable)
    if (reports::judges(m.model, property)) out.push_back(m.model);
  return out;
}

bool reported_failure(const Observation& o) { return o.exit_status != 0 && !o.timed_out; }

std::string state_words(const reports::FileState& s) {
  if (s.is(Outcome::torn)) return "a torn prefix (" + std::to_string(s.size) + " bytes)";
  if (s.is(Outcome::other)) return "content that is neither old nor new (" + std::to_string(s.size) + " bytes)";
  if (s.is(Outcome::missing)) return "no file at all";
  return "the " + s.matches + " content";
}

reports::Failure failure_of(const Observation& o, std::string detail) {
  reports::Failure f;
  f.case_id = o.case_id;
  f.model = reports::model_name(o.model);
  f.call_index = o.call_index;
  f.call = o.call;
  f.fault = o.fault;
  f.target = o.target;
  f.leftovers = o.leftovers;
  f.exit_status = o.exit_status;
  f.detail = std::move(detail);
  return f;
}

PropertyResult apply(const Checker& checker, const std::vector<Observation>& observations,
                     const std::vector<std::string>& models_run) {
  PropertyResult result;
  std::size_t unjudged = 0;
  std::string example;
  for (const auto& o : observations) {
    if (!reports::judges(o.model, checker.property)) continue;
    if (o.unjudged && (checker.needs_new || o.off_plan)) {
      if (unjudged++ == 0) example = o.case_id + ": " + *o.unjudged;
      continue;
    }
    const auto outcome = checker.check(o);
    if (!outcome) continue;
    ++result.cases;
    if (!outcome->empty()) result.failures.push_back(failure_of(o, *outcome));
  }
  // Never a pass on what was not seen: one unjudged state withholds it.
  const std::string withheld = std::to_string(unjudged) + " state(s) not judged, e.g. " + example;
  if (unjudged > 0 && result.failures.empty()) return {Verdict::not_run, result.cases, {}, withheld, {}};
  if (unjudged > 0) result.notes.push_back(withheld);
  if (result.cases == 0) {
    const auto models = models_judging(checker.property);
    const bool model_ran = std::any_of(models.begin(), models.end(), [&](Model m) {
      return m != Model::baseline &&
             std::find(models_run.begin(), models_run.end(), reports::model_name(m)) != models_run.end();
    });
    result.reason = model_ran
                        ? std::string(checker.none_reason)
                        : "needs the " + std::string(reports::model_name(models.back())) + " model, which was not run";
    return result;
  }
  result.verdict = result.failures.empty() ? Verdict::pass : Verdict::fail;
  return result;
}

// A name with each run of digits as '#' ("t.json.bak-1796589848976502890"
// -> "t.json.bak-#"), or with its length too ("t.json.bak-#19"). A file a
// writer keeps by design (a backup, a log) is often named per run, by time
// or pid, so names alone do not match.
std::string name_shape(const std::string& name, bool with_lengths) {
  std::string out;
  std::size_t run = 0;
  const auto end_run = [&] {
    if (run > 0 && with_lengths) out += std::to_string(run);
    run = 0;
  };
  for (char c : name) {
    if (c >= '0' && c <= '9') {
      if (run++ == 0) out += '#';
      continue;
    }
    end_run();
    out += c;
  }
  end_run();
  return out;
}

// How many files of each shape the baseline (a successful run) left beside
// the target: the writer keeps that many on every run, so they are not
// temps. Counted, so a temp that looks like a kept file (a pid-named temp
// beside a time-named backup) is still one too many.
struct KeptByDesign {
  std::map<std::string, std::size_t> exact, loose;  // shapes with and without digit-run lengths
};

KeptByDesign kept_by_design(const std::vector<Observation>& observations) {
  KeptByDesign out;
  for (const auto& o : observations)
    if (o.model == Model::baseline)
      for (const auto& name : o.leftovers) {
        ++out.exact[name_shape(name, true)];
        ++out.loose[name_shape(name, false)];
      }
  return out;
}

// The leftovers beyond what the baseline keeps: those of the same shape
// with the same digit-run lengths are matched first.
std::vector<std::string> temps_left(const Observation& o, const KeptByDesign& kept) {
  auto exact = kept.exact, loose = kept.loose;
  std::vector<char> forgiven(o.leftovers.size(), 0);
  for (std::size_t i = 0; i < o.leftovers.size(); ++i) {
    auto& same_lengths = exact[name_shape(o.leftovers[i], true)];
    auto& same_shape = loose[name_shape(o.leftovers[i], false)];
    if (same_lengths == 0 || same_shape == 0) continue;
    --same_lengths, --same_shape;
    forgiven[i] = 1;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < o.leftovers.size(); ++i) {
    if (forgiven[i]) continue;
    if (auto& n = loose[name_shape(o.leftovers[i], false)]; n > 0)
      --n;
    else
      out.push_back(o.leftovers[i]);
  }
  return out;
}

std::vector<Checker> checkers(const Contents& contents, const ContentValidator& validator, const KeptByDesign& kept) {
  const auto old_or_new = [&contents](const Observation& o) { return is_old_or_new(o.target, contents); };
  std::vector<Checker> list;
  list.push_back({"crash_atomic", "no crash point", [=](const Observation& o) -> std::optional<std::string> {
                    if (old_or_new(o)) return "";
                    return "after the kill the target holds " + state_words(o.target);
                  }});
  list.push_back({"reader_safe", "no call boundary", [=](const Observation& o) -> std::optional<std::string> {
                    if (old_or_new(o)) return "";
                    return "a concurrent reader finds " + state_words(o.target);
                  }});
  list.push_back({"error_safe", "no injected error", [=](const Observation& o) -> std::optional<std::string> {
                    if (o.timed_out) return "the writer did not finish within the timeout after the injected error";
                    if (o.exit_status == 0 && !o.target.is(Outcome::new_content))
                      return "the writer exited 0 (success) but the target holds " + state_words(o.target);
                    // Non-zero with the new content is accepted: after a rename an
                    // fsync of the directory can still fail and nothing can undo it.
                    if (o.exit_status != 0 && !old_or_new(o))
                      return "the writer reported failure and left " + state_words(o.target);
                    return "";
                  }});
  list.push_back({"temp_clean", "no injected fault made the writer report a failure",
                  [kept](const Observation& o) -> std::optional<std::string> {
                    if (!reported_failure(o)) return std::nullopt;
                    const auto left = temps_left(o, kept);
                    if (left.empty()) return "";
                    return "the writer reported failure and left " + std::to_string(left.size()) +
                           " file(s) behind, e.g. " + left.front();
                  },
                  false});
  list.push_back({"mode_preserved", "no case replaced the file",
                  [&contents](const Observation& o) -> std::optional<std::string> {
                    if (!contents.old_bytes || !o.target.is(Outcome::new_content)) return std::nullopt;
                    const std::string want = format_mode(contents.old_mode);
                    if (o.target.mode == want) return "";
                    return "the replaced file has mode " + o.target.mode + ", the old one had " + want;
                  },
                  false});
  list.push_back({"concurrent_safe", "no concurrent case ran", [=](const Observation& o) -> std::optional<std::string> {
                    if (o.timed_out)
                      return "an instance did not finish within the timeout (do the two wait on each other?)";
                    if (o.target.is(Outcome::other))
                      return "the target holds a mix: neither the old content nor A's nor B's (" +
                             std::to_string(o.target.size) + " bytes; the fault says when)";
                    if (!old_or_new(o)) return "the target holds " + state_words(o.target) + " (the fault says when)";
                    // Old is fine when an instance reported failure; when both
                    // exited 0, one of their writes must have landed.
                    if (o.exit_status == 0 && o.target.is(Outcome::old_content))
                      return "both instances exited 0 but the target holds the old content: both writes were lost";
                    return "";
                  }});
  if (!validator) return list;
  list.push_back({"valid_content", "no state to validate",
                  [validator, &contents](const Observation& o) -> std::optional<std::string> {
                    // Old and new states keep no bytes (observe.cpp): they are the contents'.
                    const std::string* bytes = o.target_bytes ? &*o.target_bytes : nullptr;
                    if (!bytes && o.target.is(Outcome::old_content) && contents.old_bytes) bytes = &*contents.old_bytes;
                    if (!bytes && o.target.is(Outcome::new_content)) bytes = &contents.new_bytes.str();
                    if (!bytes) return std::nullopt;
                    if (validator(*bytes)) return "";
                    return "the validator rejects " + state_words(o.target);
                  },
                  false});
  return list;
}

// A temp file left by a SIGKILL is no writer's fault: note it, don't fail.
void note_kill_leftovers(PropertyResult& temp_clean, const std::vector<Observation>& observations,
                         const KeptByDesign& kept) {
  std::size_t count = 0;
  std::string example;
  for (const auto& o : observations) {
    if (o.model != Model::kill) continue;
    const auto left = temps_left(o, kept);
    if (!left.empty() && count++ == 0) example = o.case_id + " left " + left.front();
  }
  if (count > 0)
    temp_clean.notes.push_back(std::to_string(count) +
                               " kill case(s) left temporary files (no writer can clean up after SIGKILL), e.g. " +
                               example);
}

void note_kept_by_design(PropertyResult& temp_clean, const KeptByDesign& kept) {
  if (kept.loose.empty()) return;
  std::string names;
  for (const auto& [shape, count] : kept.loose) names += (names.empty() ? "" : ", ") + shape;
  temp_clean.notes.push_back(
      "files a successful run leaves too are kept by design, not counted (# stands for any number; no more "
      "of each than that run leaves): " +
      names);
}

std::string cell_outcome(const Observation& o, const Contents& contents) {
  const auto name = [](Outcome outcome) { return std::string(reports::outcome_name(outcome)); };
  if (o.timed_out) return name(Outcome::timeout);
  if (o.model == Model::errno_fault || o.model == Model::disk_full) {
    if (o.exit_status == 0)
      return name(o.target.is(Outcome::new_content) ? Outcome::new_content : Outcome::wrong_success);
    if (is_old_or_new(o.target, contents)) return name(Outcome::error_ok);
  }
  return o.target.matches;
}

}  // namespace

Judgement judge(const std::vector<Observation>& observations, const Contents& contents,
                const std::vector<std::string>& models_run, const ContentValidator& validator) {
  Judgement j;
  for (auto name : reports::kProperties) {
    j.properties[std::string(name)].reason = reports::judged_in_file_mode(name)
                                                 ? "the power-loss model is not part of this run"
                                                 : "judged in directory mode only (initial.dir and a checker)";
  }
  const auto kept = kept_by_design(observations);
  for (const auto& checker : checkers(contents, validator, kept))
    j.properties[std::string(checker.property)] = apply(checker, observations, models_run);
  if (!contents.old_bytes) j.properties["mode_preserved"].reason = "no old file: there is no mode to preserve";
  if (!validator) j.properties["valid_content"] = {Verdict::not_run, 0, {}, "no validator given", {}};
  note_kill_leftovers(j.properties["temp_clean"], observations, kept);
  note_kept_by_design(j.properties["temp_clean"], kept);
  for (const auto& o : observations)
    if (o.model != Model::baseline && reports::model_info(o.model).picture_row >= 0 &&  // concurrent: no call column
        !o.unjudged)                                                                    // no outcome to draw
      j.cells.push_back(
          {std::string(reports::model_name(o.model)), o.call_index, cell_outcome(o, contents), o.case_id});
  return j;
}

bool any_failed(const std::map<std::string, reports::PropertyResult>& properties) {
  return std::any_of(properties.begin(), properties.end(),
                     [](const auto& p) { return p.second.verdict == Verdict::fail; });
}

}  // namespace crashcheck::runner
