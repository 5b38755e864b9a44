// The rule table's row type (rules.cpp holds the one table).
#pragma once

#include "evidence.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace crashcheck::diagnosis {

// The fix, one snippet per language a subject can be written in.
struct Fix {
  std::string_view python, node, c, cpp, go, sh;
};

// The call the diagnosis points at, when the rule matches.
using Matcher = std::optional<std::uint32_t> (*)(const Evidence&);

struct Rule {
  std::string_view id;
  std::array<std::string_view, 8> properties;  // the properties it explains; unused slots empty
  bool advisory;                               // reported whatever the property's verdict (diagnosis.hpp)
  Matcher match;
  std::string_view hint;
  Fix fix;
};

std::span<const Rule> rule_table();

}  // namespace crashcheck::diagnosis
