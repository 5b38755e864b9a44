#include "crashcheck/runner/shards.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <iterator>

#include "crashcheck/runner/scenario.hpp"

namespace crashcheck::runner {
namespace {

using reports::PropertyResult;
using reports::Report;
using reports::Verdict;

std::string shard_name(const reports::Shard& s) { return std::to_string(s.index) + "/" + std::to_string(s.count); }

std::optional<std::uint32_t> parse_count(std::string_view digits) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

// What must be equal for two reports to judge the same subject. Absolute
// paths may differ between CI machines, so they are left out. Without a
// payload the size is each shard's own baseline's, which may differ.
bool same_subject(const reports::Subject& a, const reports::Subject& b) {
  return a.name == b.name && a.command == b.command && a.target == b.target && a.had_old == b.had_old &&
         a.old_mode == b.old_mode && a.payload_given == b.payload_given && a.compare == b.compare &&
         (!a.payload_given || a.payload_size == b.payload_size) && a.validator == b.validator;
}

// Refuses anything that is not exactly the N shards of one run.
void check_complete_set(const std::vector<ShardFile>& shards) {
  const ShardFile& first = shards.front();
  std::vector<const ShardFile*> seen;
  for (const ShardFile& s : shards) {
    const std::string file = s.file.string();
    if (!s.report.shard)
      throw InputError(file +
                       ": not a shard report (no \"shard\" section; shards are written by crashcheck run --shard K/N)");
    const reports::Shard& shard = *s.report.shard;
    if (shard.plan.empty())
      throw InputError(file + ": shard " + shard_name(shard) +
                       " planned no cases (its subject was not checkable or it was interrupted): " +
                       (s.report.notes.empty() ? std::string("see its notes") : s.report.notes.front()));
    if (seen.empty()) seen.assign(shard.count, nullptr);
    const reports::Shard& reference = *first.report.shard;
    if (shard.count != reference.count)
      throw InputError(file + ": shard " + shard_name(shard) + ", but " + first.file.string() + " is shard " +
                       shard_name(reference) + ": they come from runs split differently");
    if (!same_subject(s.report.subject, first.report.subject))
      throw InputError(file + ": judges another subject (\"" + s.report.subject.name + "\") than " +
                       first.file.string() + " (\"" + first.report.subject.name + "\")");
    if (shard.plan != reference.plan)
      throw InputError(
          file + ": planned other cases than " + first.file.string() +
          " (different --models, --kill-mode or --fs-profile, or a subject whose calls change from run to run)");
    if (const ShardFile* twice = seen[shard.index - 1])
      throw InputError(file + ": shard " + shard_name(shard) + " is given twice (also " + twice->file.string() + ")");
    seen[shard.index - 1] = &s;
  }
  std::string missing;
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) missing += (missing.empty() ? "" : ", ") + std::to_string(i + 1) + "/" + std::to_string(seen.size());
  if (!missing.empty()) throw InputError("merge: shard report(s) missing: " + missing);
}

template <typename T>
void append_new(std::vector<T>& into, const std::vector<T>& more) {
  for (const auto& item : more)
    if (std::find(into.begin(), into.end(), item) == into.end()) into.push_back(item);
}

void merge_property(PropertyResult& into, const PropertyResult& shard) {
  into.cases += shard.cases;
  into.failures.insert(into.failures.end(), shard.failures.begin(), shard.failures.end());
  append_new(into.notes, shard.notes);
  if (into.verdict == Verdict::fail || shard.verdict == Verdict::fail)
    into.verdict = Verdict::fail;
  else if (into.verdict == Verdict::pass || shard.verdict == Verdict::pass)
    into.verdict = Verdict::pass;
  if (into.verdict != Verdict::not_run) into.reason.clear();
}

// Cases in the order an unsharded report lists them: by model, then call.
int model_rank(const std::string& model) {
  const auto known = reports::model_from_name(model);
  return known ? reports::model_info(*known).list_rank : static_cast<int>(reports::kModelTable.size());
}

template <typename T>
void sort_by_model_and_call(std::vector<T>& items) {
  std::stable_sort(items.begin(), items.end(), [](const T& a, const T& b) {
    return std::pair(model_rank(a.model), a.call_index) < std::pair(model_rank(b.model), b.call_index);
  });
}

bool shard_note(const std::string& note) { return note.rfind("shard ", 0) == 0; }

}  // namespace

ShardSlice parse_shard(std::string_view text, std::string_view where) {
  const auto slash = text.find('/');
  const auto k = parse_count(text.substr(0, slash));
  const auto n = slash == std::string_view::npos ? std::nullopt : parse_count(text.substr(slash + 1));
  if (!k || !n || *k < 1 || *k > *n)
    throw InputError(std::string(where) + ": expected K/N with 1 <= K <= N (e.g. 2/4), got \"" + std::string(text) +
                     "\"");
  return {*k, *n};
}

std::string plan_fingerprint(const std::vector<std::string>& planned) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a: stable across builds, unlike std::hash
  for (const auto& item : planned) {
    for (unsigned char c : item) hash = (hash ^ c) * 0x100000001b3ull;
    hash = (hash ^ '\n') * 0x100000001b3ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

Report merge_shards(const std::vector<ShardFile>& shards) {
  if (shards.empty()) throw InputError("merge: no shard report given");
  check_complete_set(shards);
  std::vector<const Report*> ordered(shards.size());
  for (const auto& s : shards) ordered[s.report.shard->index - 1] = &s.report;

  Report merged = *ordered.front();  // shard 1 holds the baseline's states and power-loss
  merged.shard.reset();
  std::erase_if(merged.notes, shard_note);
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    const Report& r = *ordered[i];
    merged.complete = merged.complete && r.complete;
    merged.created = std::min(merged.created, r.created);
    merged.duration_s = std::max(merged.duration_s, r.duration_s);  // the jobs ran side by side
    for (const auto& [name, property] : r.properties) merge_property(merged.properties[name], property);
    for (const auto& [model, cases] : r.model_cases) merged.model_cases[model] += cases;
    merged.cells.insert(merged.cells.end(), r.cells.begin(), r.cells.end());
    std::vector<std::string> notes;
    std::copy_if(r.notes.begin(), r.notes.end(), std::back_inserter(notes),
                 [](const auto& n) { return !shard_note(n); });
    append_new(merged.notes, notes);
  }
  for (auto& [name, property] : merged.properties) sort_by_model_and_call(property.failures);
  sort_by_model_and_call(merged.cells);
  merged.notes.push_back("merged from " + std::to_string(shards.size()) + " shard reports");
  return merged;
}

}  // namespace crashcheck::runner
