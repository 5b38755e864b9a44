// "Did you mean": the closest known name to a mistyped verb or flag, by edit
// distance (insertions, deletions, substitutions and swaps of two adjacent
// characters each cost 1). main.cpp checks the command line against each
// verb's own flags before CLI11 parses it, so a typo is named, not reported
// as a missing required flag or a list of unexpected arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::runner {

// Optimal string alignment distance between a and b.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, if one is near enough to be a typo of it
// (distance at most a third of the word's length, and at least 1 allowed);
// ties go to the first candidate.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// "unknown flag --paylod for `crashcheck check` (did you mean --payload?)".
// `kind` is "flag" or "verb", `where` the command it was given to.
std::string unknown_name_message(std::string_view kind, std::string_view word, std::string_view where,
                                 const std::vector<std::string>& candidates);

}  // namespace crashcheck::runner
