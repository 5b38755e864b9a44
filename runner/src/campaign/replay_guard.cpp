// replay_guard.hpp: a replayed case must be one of the report's kind, and its
// call must still be the report's call, before anything is injected.
#include "replay_guard.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include "crashcheck/runner/scenario.hpp"

namespace crashcheck::runner {
using reports::Model;

namespace {

constexpr std::size_t kIdsListed = 10;  // a model can have hundreds of cases: name the first few

// The model whose case-id prefix `id` starts with (the longest one), if any.
std::optional<Model> model_of(std::string_view id) {
  std::optional<Model> best;
  std::size_t best_size = 0;
  for (const auto& info : reports::kModelTable)
    if (id.substr(0, info.case_prefix.size()) == info.case_prefix && info.case_prefix.size() > best_size)
      best = info.model, best_size = info.case_prefix.size();
  return best;
}

// Every case id of `model` the report names (cells, then failures), once each, in report order.
std::vector<std::string> report_ids(const reports::Report& report, std::optional<Model> model) {
  std::vector<std::string> ids;
  auto add = [&](const std::string& name, const std::string& id) {
    if ((!model || name == reports::model_name(*model)) && std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  };
  for (const auto& cell : report.cells) add(cell.model, cell.case_id);
  for (const auto& [property, result] : report.properties)
    for (const auto& f : result.failures) add(f.model, f.case_id);
  return ids;
}

// "; this report's kill cases: a, b, … and 3 more", or that it has none.
std::string listing(const reports::Report& report, std::optional<Model> model) {
  const auto ids = report_ids(report, model);
  const std::string what = model ? "this report's " + std::string(reports::model_name(*model)) + " cases"
                                 : std::string("this report's cases");
  if (ids.empty()) return model ? "; this report has no " + std::string(reports::model_name(*model)) + " cases" : "";
  std::string text = "; " + what + ": ";
  for (std::size_t i = 0; i < std::min(ids.size(), kIdsListed); ++i) text += (i ? ", " : "") + ids[i];
  if (ids.size() > kIdsListed) text += " … and " + std::to_string(ids.size() - kIdsListed) + " more";
  return text;
}

// A counted call as faults::describe_call wrote it, reduced to what must not
// change for a replay to hit the same call: its kind and the paths it names.
struct CallShape {
  std::string call;
  std::vector<std::string> paths;
};

std::string_view trimmed_write_size(std::string_view path) {
  // "fd 3 → t.json, 4096 bytes": the size is not a path
  const auto comma = path.rfind(", ");
  if (comma == std::string_view::npos || path.substr(path.size() - std::min<std::size_t>(6, path.size())) != " bytes")
    return path;
  return path.substr(0, comma);
}

// "<call>(<arguments>)[ = ERRNO]": writes, syncs, closes name "fd N → path",
// renames and links "from → to", every other call one path.
CallShape shape_of(std::string_view summary) {
  static constexpr std::string_view kArrow = " → ";
  const auto open = summary.find('(');
  const auto close = summary.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return {std::string(summary), {}};
  CallShape shape{std::string(summary.substr(0, open)), {}};
  std::string_view arguments = summary.substr(open + 1, close - open - 1);
  const auto arrow = arguments.find(kArrow);
  if (arguments.substr(0, 3) == "fd " && arrow != std::string_view::npos)
    shape.paths.emplace_back(trimmed_write_size(arguments.substr(arrow + kArrow.size())));
  else if (arrow != std::string_view::npos)
    shape.paths = {std::string(arguments.substr(0, arrow)), std::string(arguments.substr(arrow + kArrow.size()))};
  else
    shape.paths = {std::string(arguments)};
  return shape;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The same name, or a temporary name drawn at random again (mkstemp,
// tempfile: as long, differing only in letters, digits and '_'). The target
// itself must match exactly.
bool same_path(const std::string& a, const std::string& b, const std::string& target) {
  if (a == b) return true;
  if (a == target || b == target || a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && !(word_char(a[i]) && word_char(b[i]))) return false;
  return true;
}

bool same_call(const CallShape& a, const CallShape& b, const std::string& target) {
  if (a.call != b.call || a.paths.size() != b.paths.size()) return false;
  for (std::size_t i = 0; i < a.paths.size(); ++i)
    if (!same_path(a.paths[i], b.paths[i], target)) return false;
  return true;
}

const reports::CallSummary* report_call(const reports::Report& report, std::uint32_t seq) {
  const auto it = std::find_if(report.calls.begin(), report.calls.end(),
                               [&](const reports::CallSummary& c) { return c.seq == seq; });
  return it == report.calls.end() ? nullptr : &*it;
}

}  // namespace

CaseSpec known_case(const reports::Report& report, std::string_view id) {
  const auto spec = parse_case_id(id);
  if (!spec) throw InputError("unknown case id \"" + std::string(id) + "\"" + listing(report, model_of(id)));
  const std::uint32_t index = case_call(report, *spec);
  if (index > 0 && !report.calls.empty() && report_call(report, index) == nullptr)
    refuse_case(report, *spec,
                "the report has no call " + std::to_string(index) + " (its baseline made " +
                    std::to_string(report.calls.size()) + " counted calls)");
  return *spec;
}

void refuse_case(const reports::Report& report, const CaseSpec& spec, const std::string& what) {
  throw InputError("case " + spec.id + ": " + what + listing(report, spec.model));
}

std::uint32_t case_call(const reports::Report& report, const CaseSpec& spec) {
  switch (spec.model) {
    case Model::baseline:
      return 0;
    case Model::reader:
      return spec.reader_call;
    case Model::disk_full:  // the write the budget ran out in, as the report saw it
      for (const auto& cell : report.cells)
        if (cell.case_id == spec.id) return cell.call_index;
      return 0;
    default:  // kill, errno, power loss: the call is in the id
      return spec.plan.call;
  }
}

void check_call_unchanged(const reports::Report& report, const CaseSpec& spec, const faults::Trace& rerun) {
  const std::uint32_t index = case_call(report, spec);
  if (index == 0 || report.calls.empty()) return;  // no call to compare (or a report without its call list)
  const reports::CallSummary* recorded = report_call(report, index);
  if (recorded == nullptr) return;  // known_case refused it already
  const std::string was =
      "the writer changed: the report's call " + std::to_string(index) + " was " + recorded->summary + " but ";
  const faults::TraceRecord* now = rerun.find(index);
  if (now == nullptr)
    throw InputError(was + "the writer now makes only " + std::to_string(rerun.records.size()) +
                     " counted calls; re-run crashcheck");
  const std::string described = faults::describe_call(*now);
  if (!same_call(shape_of(recorded->summary), shape_of(described), report.subject.target))
    throw InputError(was + "call " + std::to_string(index) + " is now " + described + "; re-run crashcheck");
}

std::string first_changed_call(const faults::Trace& baseline, const faults::Trace& run, std::uint32_t upto,
                               const std::string& target, CallMatch match) {
  for (const faults::TraceRecord& now : run.records) {
    if (now.seq > upto) break;
    const faults::TraceRecord* was = baseline.find(now.seq);
    if (was != nullptr && match == CallMatch::name && was->call == now.call) continue;
    const std::string described = faults::describe_call(now);
    if (was == nullptr) return "the baseline made no call " + std::to_string(now.seq) + ", this run's is " + described;
    const std::string before = faults::describe_call(*was);
    if (match == CallMatch::name || !same_call(shape_of(before), shape_of(described), target))
      return "call " + std::to_string(now.seq) + " was " + before + " but is now " + described;
  }
  return "";
}

}  // namespace crashcheck::runner
