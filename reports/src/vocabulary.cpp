// report.hpp's tables, Model and Outcome (and which mode judges a property), looked up by value and by name.
#include <algorithm>

#include "crashcheck/report.hpp"

namespace crashcheck::reports {

const ModelInfo& model_info(Model model) noexcept {
  return *std::find_if(kModelTable.begin(), kModelTable.end(), [&](const ModelInfo& m) { return m.model == model; });
}

std::string_view model_name(Model model) noexcept { return model_info(model).name; }

std::optional<Model> model_from_name(std::string_view name) noexcept {
  for (const auto& m : kModelTable)
    if (m.name == name) return m.model;
  return std::nullopt;
}

bool judges(Model model, std::string_view property) noexcept {
  const auto& list = model_info(model).judges;
  return !property.empty() && std::find(list.begin(), list.end(), property) != list.end();
}

bool judged_in_file_mode(std::string_view property) noexcept {
  const auto end = kProperties.begin() + kFileModeProperties;
  return std::find(kProperties.begin(), end, property) != end;
}

bool judged_in_directory_mode(std::string_view property) noexcept {
  return std::find(kDirectoryProperties.begin(), kDirectoryProperties.end(), property) != kDirectoryProperties.end();
}

std::string_view outcome_name(Outcome outcome) noexcept {
  for (const auto& o : kOutcomeTable)
    if (o.outcome == outcome) return o.name;
  return "unknown";
}

std::optional<Outcome> outcome_from_name(std::string_view name) noexcept {
  for (const auto& o : kOutcomeTable)
    if (o.name == name) return o.outcome;
  return std::nullopt;
}

}  // namespace crashcheck::reports
