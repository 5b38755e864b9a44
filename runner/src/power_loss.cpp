// power_loss.hpp: the power-loss model's verdicts in the report's vocabulary.
#include "crashcheck/runner/power_loss.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sys/stat.h>

#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/scenario.hpp"

#include <crashcheck/powerloss.hpp>

namespace crashcheck::runner {

namespace {

namespace pl = crashcheck::powerloss;

pl::InitialState initial_state(const Snapshot& initial) { return power_loss_initial(initial); }

reports::Verdict verdict_of(pl::Verdict v) {
  return v == pl::Verdict::pass   ? reports::Verdict::pass
         : v == pl::Verdict::fail ? reports::Verdict::fail
                                  : reports::Verdict::not_run;
}

reports::Failure failure_of(const pl::Failure& f, const faults::Trace& trace, const Snapshot& initial,
                            const Contents& contents, const std::string& target) {
  reports::Failure out;
  out.case_id = power_loss_case_id(f.after_seq, f.index);
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
  out.failing = o.failing;
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

// Crash point → outcome → the first state (lowest index) that showed it.
using Outcomes = std::map<std::uint32_t, std::map<std::string, std::uint64_t>>;

// The report's picture: the distinct outcomes found at each crash point,
// each cell naming the first state that shows it, so it can be replayed.
std::vector<reports::Cell> cells_of(const Outcomes& outcomes) {
  std::vector<reports::Cell> cells;
  for (const auto& [seq, seen] : outcomes) {
    std::map<std::uint64_t, std::string> by_state;  // listed in state order: a, b, …
    for (const auto& [outcome, index] : seen) by_state.emplace(index, outcome);
    for (const auto& [index, outcome] : by_state)
      cells.push_back(
          {std::string(reports::model_name(reports::Model::power_loss)), seq, outcome, power_loss_case_id(seq, index)});
  }
  return cells;
}

// One note per sampled crash point while they are few; past three, the
// first, the last and how many, so a long run of writes does not bury the
// report's other notes.
void add_sampling_notes(const std::vector<pl::Coverage>& coverage, std::vector<std::string>& notes) {
  std::vector<const pl::Coverage*> sampled;
  for (const auto& point : coverage)
    if (point.sampled) sampled.push_back(&point);
  if (sampled.size() <= 3) {
    for (const auto* point : sampled) notes.push_back("power loss " + point->describe());
    return;
  }
  notes.push_back("power loss: at " + std::to_string(sampled.size()) + " crash points the states were sampled, from " +
                  sampled.front()->describe() + " to " + sampled.back()->describe());
}

// valid_content on power-loss states: each distinct target content once
// (old and new from the contents, others materialised only when met). With
// `verdicts` shared across judgements, the validator runs once per content
// for all of them; each judgement still counts its own contents, so the
// counts do not depend on which judgements share (shards).
class StateValidation {
 public:
  StateValidation(const ContentValidator& validator, const Contents& contents, const std::string& target,
                  ValidatedContents* verdicts)
      : validator_(validator), contents_(contents), target_(target), verdicts_(verdicts) {}

  // The state as a failure when the validator rejects its target; nullopt otherwise.
  std::optional<pl::Failure> check(const pl::Coverage& point, const pl::CrashState& state) {
    if (!validator_) return std::nullopt;
    const std::string* bytes = nullptr;
    std::optional<pl::FileImage> image;
    if (state.content_equals(target_, contents_.new_bytes)) {
      bytes = &contents_.new_bytes.str();
    } else if (contents_.old_bytes && state.content_equals(target_, *contents_.old_bytes)) {
      bytes = &*contents_.old_bytes;
    } else if ((image = state.file(target_)) && !image->is_directory) {
      bytes = &image->content;
    }
    if (!bytes) return std::nullopt;  // no target: nothing to validate
    const std::pair key{bytes->size(), std::hash<std::string>{}(*bytes)};
    if (!seen_.insert(key).second || accepts(key, *bytes)) return std::nullopt;
    pl::Failure failure = pl::describe_state(point, state, target_);
    failure.detail = "after a power loss the validator rejects the target";
    return failure;
  }
  void failed(reports::Failure failure) {
    ++failing_;
    if (result_.failures.size() < power_loss_listed()) result_.failures.push_back(std::move(failure));
  }
  reports::PropertyResult result() const {
    reports::PropertyResult out = result_;
    out.cases = seen_.size();
    out.failing = failing_;
    out.verdict = !validator_ ? reports::Verdict::not_run
                  : failing_  ? reports::Verdict::fail
                              : (seen_.empty() ? reports::Verdict::not_run : reports::Verdict::pass);
    if (out.verdict == reports::Verdict::not_run) out.reason = validator_ ? "no power-loss state holds a target" : "";
    return out;
  }

 private:
  const ContentValidator& validator_;
  const Contents& contents_;
  const std::string& target_;
  bool accepts(const std::pair<std::size_t, std::size_t>& key, const std::string& bytes) {
    if (!verdicts_) return validator_(bytes);
    const auto [it, fresh] = verdicts_->try_emplace(key, false);
    if (fresh) it->second = validator_(bytes);
    return it->second;
  }

  ValidatedContents* verdicts_;
  std::set<std::pair<std::size_t, std::size_t>> seen_;  // (size, hash) of the contents validated
  std::uint64_t failing_ = 0;
  reports::PropertyResult result_;
};

pl::Options options_for(const std::string& profile) {
  pl::Options options;
  options.profile = pl::parse_profile(profile).value_or(pl::Profile::posix);
  return options;
}

}  // namespace

pl::InitialState power_loss_initial(const Snapshot& initial) {
  pl::InitialState state;
  state.directory_inode = initial.directory_inode;
  state.umask = subject_umask();
  for (const auto& [name, entry] : initial.entries)
    state.files.push_back({name, entry.content, entry.mode, entry.inode, entry.kind == Entry::Kind::directory});
  return state;
}

Entry::Kind replayed_kind(const Snapshot& initial, const std::string& name, bool is_directory,
                          std::string_view content) {
  if (is_directory) return Entry::Kind::directory;
  const Entry* was = initial.find(name);
  return was && was->kind == Entry::Kind::symlink && content == was->content.str() ? Entry::Kind::symlink
                                                                                   : Entry::Kind::file;
}

std::size_t power_loss_listed() noexcept { return pl::Options{}.max_failures; }

PowerLossJudgement judge_power_loss(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                    const std::string& target, bool exited_zero, const std::string& profile,
                                    const ContentValidator& validator, ValidatedContents* validated,
                                    std::optional<std::uint32_t> reported_after) {
  const pl::Options options = options_for(profile);
  const pl::InitialState start = initial_state(initial);
  Outcomes outcomes;
  StateValidation validation(validator, contents, target, validated);
  const pl::Verdicts verdicts =
      pl::check_properties(trace, start, {target, contents.new_bytes, exited_zero, reported_after}, options,
                           [&](const pl::Coverage& point, const pl::CrashState& state) {
                             outcomes[point.after_seq].emplace(outcome_of(state, contents, target), state.index());
                             if (auto bad = validation.check(point, state))
                               validation.failed(failure_of(*bad, trace, initial, contents, target));
                           });
  PowerLossJudgement out;
  out.valid_content = validation.result();
  out.powerloss_atomic = property_of(verdicts.powerloss_atomic, trace, initial, contents, target);
  out.durable = property_of(verdicts.durable, trace, initial, contents, target);
  out.cells = cells_of(outcomes);
  out.states = verdicts.powerloss_atomic.cases;
  out.notes.push_back("power loss judged on the " + std::string(pl::profile_name(options.profile)) +
                      " file-system profile");
  add_sampling_notes(verdicts.coverage, out.notes);
  return out;
}

PowerLossState judge_power_loss_state(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                      const std::string& target, bool exited_zero, const std::string& profile,
                                      std::uint32_t after, std::uint64_t index,
                                      std::optional<std::uint32_t> reported_after) {
  pl::Options options = options_for(profile);
  options.only = pl::Options::StateRef{after, index};
  PowerLossState out;
  const pl::Verdicts verdicts = pl::check_properties(
      trace, initial_state(initial), {target, contents.new_bytes, exited_zero, reported_after}, options,
      [&](const pl::Coverage& point, const pl::CrashState& state) {
        if (point.after_seq != after) return;
        out.states_at_point = std::max(out.states_at_point, state.index() + 1);
        if (state.index() != index) return;
        out.found = true;
        out.seen = failure_of(pl::describe_state(point, state, target), trace, initial, contents, target);
      });
  out.reason = verdicts.powerloss_atomic.reason;
  for (const auto& [name, outcome] :
       {std::pair{"powerloss_atomic", &verdicts.powerloss_atomic}, std::pair{"durable", &verdicts.durable}})
    if (out.found && outcome->cases > 0) out.properties[name] = property_of(*outcome, trace, initial, contents, target);
  return out;
}

namespace {

std::string size_text(std::uint64_t bytes) {
  if (bytes >= 10 * 1024) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

std::string mode_text(std::uint32_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", mode & 07777u);
  return buffer;
}

// The first differing byte range of two contents, and how many bytes differ in all.
std::optional<Unexplained> compare_content(const std::string& name, const std::string& real,
                                           const std::string& traced) {
  const std::size_t common = std::min(real.size(), traced.size());
  std::size_t first = 0;
  while (first < common && real[first] == traced[first]) ++first;
  if (first == common && real.size() == traced.size()) return std::nullopt;
  std::size_t end = std::max(real.size(), traced.size());
  if (real.size() == traced.size())
    while (end > first && real[end - 1] == traced[end - 1]) --end;
  std::string what = "bytes " + std::to_string(first) + "–" + std::to_string(end - 1) + " differ";
  if (real.size() != traced.size())
    what += " (the file has " + size_text(real.size()) + ", its trace " + size_text(traced.size()) + ")";
  return Unexplained{name, what, end - first};
}

std::optional<Unexplained> compare_entry(const std::string& name, const Entry* real, const pl::FileImage* traced) {
  if (!real && !traced) return std::nullopt;
  if (!traced) return Unexplained{name, "it exists, but no traced call made it", real->content.size()};
  if (!real) return Unexplained{name, "it is gone, but no traced call removed it", traced->content.size()};
  if ((real->kind == Entry::Kind::directory) != traced->is_directory)
    return Unexplained{name,
                       traced->is_directory ? "it is not a directory, though its trace made one"
                                            : "it is a directory, though its trace made a file",
                       0};
  if (real->kind == Entry::Kind::file)
    if (auto differs = compare_content(name, real->content, traced->content)) return differs;
  if ((real->mode & 07777u) != (traced->mode & 07777u))
    return Unexplained{name, "it has mode " + mode_text(real->mode) + ", its trace says " + mode_text(traced->mode), 0};
  return std::nullopt;
}

// A rename of a directory that holds (or will hold) files in scope: the
// model keeps one name per file, so it does not move them with it.
std::optional<Unexplained> directory_rename(const faults::Trace& trace, const Snapshot& initial) {
  for (const auto& r : trace.records) {
    if (r.op != faults::OpClass::rename || r.error != 0 || r.path2.empty()) continue;
    const Entry* was = initial.find(r.path);
    const bool directory = r.is_directory || (was && was->kind == Entry::Kind::directory) ||
                           std::any_of(trace.records.begin(), trace.records.end(), [&](const faults::TraceRecord& o) {
                             return o.path.starts_with(r.path + "/") || o.path.starts_with(r.path2 + "/");
                           });
    if (directory)
      return Unexplained{r.path,
                         "call " + std::to_string(r.seq) + ", which renames the directory `" + r.path + "` to `" +
                             r.path2 + "` with what it holds",
                         0, true};
  }
  return std::nullopt;
}

}  // namespace

std::vector<Unexplained> unexplained_by_trace(const faults::Trace& trace, const Snapshot& initial,
                                              const Snapshot& final) {
  const auto traced = pl::visible_state(trace, initial_state(initial));
  std::set<std::string> names;
  for (const auto& [name, entry] : final.entries) names.insert(name);
  for (const auto& [name, image] : traced) names.insert(name);
  std::vector<Unexplained> out;
  for (const auto& name : names) {
    const auto image = traced.find(name);
    if (auto differs = compare_entry(name, final.find(name), image == traced.end() ? nullptr : &image->second))
      out.push_back(std::move(*differs));
  }
  if (!out.empty())
    if (auto renamed = directory_rename(trace, initial)) out.insert(out.begin(), std::move(*renamed));
  return out;
}

void for_each_within_state(const faults::Trace& trace, const Snapshot& initial, const std::string& target,
                           const std::vector<WithinCut>& cuts,
                           const std::function<void(const WithinCut& cut, const Snapshot& seen)>& visit) {
  std::vector<pl::Cut> at;
  std::map<std::pair<std::uint32_t, std::uint64_t>, const WithinCut*> by_place;  // each cut as given (reader_only)
  for (const auto& c : cuts) at.push_back({c.call, c.bytes}), by_place.emplace(std::pair(c.call, c.bytes), &c);
  // One snapshot, refilled at each cut.
  Snapshot seen;
  seen.directory_inode = initial.directory_inode;
  pl::for_each_cut(trace, initial_state(initial), at, [&](const pl::Cut& cut, const auto& images) {
    std::erase_if(seen.entries, [&](const auto& e) { return !images.count(e.first); });
    for (const auto& [name, image] : images) {
      if (faults::outside_scope(name)) continue;  // a temp in $TMPDIR: not in the directory judged
      Entry& entry = seen.entries[name];
      entry.kind = replayed_kind(initial, name, image.is_directory, image.content.get());
      entry.mode = static_cast<mode_t>(image.mode);
      // The target's bytes are a view of the replay's, not a copy: `seen` lives only as long as the
      // callback. An empty target (directory mode, whose StateBook keeps the states) copies every file's.
      if (target.empty())
        entry.content = SharedBytes(std::string(image.content.get()));
      else if (name == target)
        entry.content = SharedBytes::borrow(image.content.get());
    }
    const auto given = by_place.find({cut.seq, cut.bytes});
    visit(given != by_place.end() ? *given->second : WithinCut{cut.seq, cut.bytes}, seen);
  });
}

// Read from /proc, not with umask(2): setting and restoring the mask would
// race with the threads that create case directories at the same moment.
std::uint32_t subject_umask() noexcept {
  static const std::uint32_t mask = [] {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Umask:", 0) == 0) return static_cast<std::uint32_t>(std::stoul(line.substr(6), nullptr, 8));
    return 022u;  // /proc not mounted: the usual default
  }();
  return mask;
}

std::string describe_unexplained(const std::vector<Unexplained>& found) {
  if (found.empty()) return "";
  const Unexplained& first = found.front();
  if (first.unmodelled)
    return "the replay of the trace does not follow " + first.what + " (" + std::to_string(found.size() - 1) +
           " file(s) differ from it, e.g. `" + (found.size() > 1 ? found[1].name : first.name) +
           "`): the power-loss model keeps one name per file and does not move a directory's entries with it yet "
           "(a known limit, not a blind spot)";
  std::string text = "the trace does not explain ";
  text += first.bytes ? size_text(first.bytes) + " of `" + first.name + "`" : "`" + first.name + "`";
  text += " (" + first.what + ")";
  if (found.size() > 1) text += " nor " + std::to_string(found.size() - 1) + " other file(s)";
  return text +
         ": writes or changes the harness could not see (a store through a shared mapping? a call it does "
         "not intercept?)";
}

}  // namespace crashcheck::runner
