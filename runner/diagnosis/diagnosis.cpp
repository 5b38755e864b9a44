// The engine: every rule of the table against one report (diagnosis.hpp).
#include "diagnosis.hpp"

#include "rules.hpp"

namespace crashcheck::diagnosis {
namespace {

std::map<std::string, std::string> fix_map(const Fix& fix) {
  return {{"python", std::string(fix.python)}, {"node", std::string(fix.node)}, {"c", std::string(fix.c)},
          {"cpp", std::string(fix.cpp)},       {"go", std::string(fix.go)},     {"sh", std::string(fix.sh)}};
}

// The baseline call's summary as the report lists it, else its symbol.
std::string call_text(const Evidence& e, std::uint32_t seq) {
  for (const auto& c : e.report().calls)
    if (c.seq == seq) return c.summary.empty() ? c.call : c.summary;
  const TraceRecord* r = e.at(seq);
  return r ? r->call : std::string();
}

}  // namespace

std::vector<RuleInfo> rules() {
  std::vector<RuleInfo> out;
  for (const Rule& rule : rule_table()) {
    RuleInfo info{rule.id, {}, rule.advisory, rule.hint};
    for (const auto property : rule.properties)
      if (!property.empty()) info.properties.push_back(property);
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<reports::Diagnosis> diagnose(const faults::Trace& baseline, const reports::Report& report) {
  const Evidence evidence(baseline, report);
  std::vector<reports::Diagnosis> out;
  for (const Rule& rule : rule_table()) {
    const auto call = rule.match(evidence);
    if (!call) continue;
    const auto add = [&](std::string_view property) {
      out.push_back({std::string(rule.id), std::string(property), *call, call_text(evidence, *call),
                     std::string(rule.hint), fix_map(rule.fix)});
    };
    bool explained = false;
    for (const auto property : rule.properties) {
      if (property.empty() || !evidence.failed(property)) continue;
      add(property);
      explained = true;
    }
    if (rule.advisory && !explained) add(rule.properties.front());
  }
  return out;
}

}  // namespace crashcheck::diagnosis
