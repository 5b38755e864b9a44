// What "the new content" is for one run, and when a state holds it. With a
// payload the new content is the payload; without one (a writer that builds
// its own content: timestamps, ids) each run is judged against the content
// that run wrote (runner/README.md, "Without a payload"): the baseline's
// states against the target the baseline left, a separately run case's
// states against the bytes its own trace wrote into the file at its target,
// when that write is known to be whole. `--compare json` compares parsed
// values, so a writer that re-serialises passes.
//
// Every comparison of a state with the new content goes through
// same_content, so the way contents are held can change in one place.
#pragma once

#include <crashcheck/faults.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::runner {

// How a state is compared with the new content (--compare, "compare").
enum class Compare { bytes, json };
std::string_view compare_name(Compare compare) noexcept;
std::optional<Compare> compare_from_name(std::string_view name) noexcept;

// Whether `state` is the new content `expected`: byte for byte, or as JSON
// values (formatting ignored). Text that does not parse is never new.
bool same_content(std::string_view state, std::string_view expected, Compare compare);
// Whether `bytes` parse as one JSON value (--compare json needs the payload to).
bool parses_as_json(std::string_view bytes);

// One kind of call that made a file's content. Consecutive writes count as
// one: how many there are varies with the content's size and with retries.
struct ContentStep {
  faults::OpClass op = faults::OpClass::write;
  bool at_target = false;  // a truncating open of the target's own name (in place), not of a temporary
  bool operator==(const ContentStep&) const = default;
};
using ContentShape = std::vector<ContentStep>;

// The calls of the baseline's trace that made the content of the file that
// became the target: every write, truncate and truncating open of it, in
// order, starting from empty or (rewritten in place) from the old content.
struct ContentRecipe {
  bool starts_as_old = false;        // the file was the old target (rewritten in place)
  std::vector<std::uint32_t> steps;  // calls that change its bytes
  ContentShape shape;                // their kinds
};

// The recipe of the target the baseline left (its inode `target_inode`), or
// the reason there is none. A trace that does not rebuild `final_bytes` is
// refused: it would not rebuild a case's content either.
struct RecipeOrWhy {
  std::optional<ContentRecipe> recipe;
  std::string why;
};
RecipeOrWhy content_recipe(const faults::Trace& baseline, const std::string& target, std::uint64_t target_inode,
                           std::uint64_t old_target_inode, const std::optional<std::string>& old_bytes,
                           const std::string& final_bytes);

// What one run wrote into the file at its target (inode `file`), rebuilt
// from its own trace: `complete` when every write to it did all it asked for
// (a failed or short write counts only when a later write covering its
// offset made up for it, as a retry does; a kernel copy that stops short
// is the source ending); otherwise the bytes written, and why the rest is
// unknown.
struct WrittenContent {
  std::optional<std::string> complete;
  // What the trace leaves in the file when it is not `complete`: a truncate
  // failed and nothing redid it (complete: the content it asked for).
  std::optional<std::string> left_instead;
  std::string partial;             // what was written, when `complete` is unknown
  bool partial_is_prefix = false;  // what is missing was to be appended: `partial` is a proper prefix of what was meant
  bool came_up_short = false;      // a write failed or came up short and nothing made up for it
  std::string why;                 // why `complete` is unknown
  bool wrote = false;              // some call changed the file's bytes (else it holds what it held)
  ContentShape shape;              // the kinds of the calls that did
};
WrittenContent written_content(const faults::Trace& run, const std::string& target, std::uint64_t file,
                               bool starts_as_old, const std::optional<std::string>& old_bytes);

// A run a fault turned aside made its target by other calls than the
// baseline did (an error path that truncates or rewrites it, whether it then
// reports failure or swallows the error): what it wrote is not its new
// content. When its calls are
// the first of the recipe's kinds and the recipe goes on writing, what it
// wrote is a proper prefix of what was meant (torn); otherwise unknown.
void check_shape(WrittenContent& written, const ContentRecipe& recipe);

// A run killed before call `stopped_before` (its calls numbered as the
// baseline's, no fault having changed them) made only the recipe's steps
// before it: when the recipe has a step at or after it, what the run wrote
// is partial.
void cut_short(WrittenContent& written, const ContentRecipe& recipe, const faults::Trace& baseline,
               std::uint32_t stopped_before);

}  // namespace crashcheck::runner
