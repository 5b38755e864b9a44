// `compare`: where OTHER falls short of BASELINE, property by property.
// Verdicts rank pass > not_run > fail: a property that was shown to hold
// and now was not checked has lost its evidence, so that counts as worse too.
#include "crashcheck/report.hpp"
#include "text.hpp"

#include <algorithm>

namespace crashcheck::reports {
namespace {

int rank(Verdict v) {
  switch (v) {
    case Verdict::pass:
      return 2;
    case Verdict::not_run:
      return 1;
    case Verdict::fail:
      return 0;
  }
  return 0;
}

std::string side(Verdict verdict, std::uint64_t failures) {
  std::string out(verdict_name(verdict));
  if (verdict == Verdict::fail)
    out += " (" + std::to_string(failures) + " counterexample" + (failures == 1 ? ")" : "s)");
  return out;
}

}  // namespace

bool Comparison::worse() const {
  return std::any_of(changes.begin(), changes.end(), [](const PropertyChange& c) { return c.worse; });
}

bool Comparison::better() const {
  return std::any_of(changes.begin(), changes.end(), [](const PropertyChange& c) { return c.better; });
}

Comparison compare(const Report& baseline, const Report& other) {
  Comparison comparison;
  std::vector<std::string> names = text::property_order(baseline);
  for (const auto& name : text::property_order(other)) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const auto& name : names) {
    const PropertyResult& b = text::result_of(baseline, name);
    const PropertyResult& o = text::result_of(other, name);
    comparison.changes.push_back({name, b.verdict, o.verdict, rank(o.verdict) < rank(b.verdict),
                                  rank(o.verdict) > rank(b.verdict), failing_cases(b), failing_cases(o)});
  }
  return comparison;
}

std::string render_comparison(const Comparison& comparison, std::string_view baseline_name,
                              std::string_view other_name) {
  const std::string other = text::displayable(other_name), baseline = text::displayable(baseline_name);
  std::string worse, better, same;
  for (const PropertyChange& c : comparison.changes) {
    const std::string line = "  " + c.property + ": " + side(c.baseline, c.baseline_failures) + " -> " +
                             side(c.other, c.other_failures) + "\n";
    (c.worse ? worse : c.better ? better : same) += line;
  }
  std::string out = "comparing " + other + " against baseline " + baseline + "\n";
  out += worse.empty() ? "falls short on no property\n" : "falls short on:\n" + worse;
  if (!better.empty()) out += "does better on:\n" + better;
  if (!same.empty()) out += "same verdict on:\n" + same;
  return out;
}

}  // namespace crashcheck::reports
