#include "crashcheck/powerloss.hpp"

#include "model.hpp"
#include "point.hpp"
#include "space.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <unordered_set>

namespace crashcheck::powerloss {
namespace {

using detail::Choice;
using detail::Decoded;
using detail::Directory;
using detail::PointModel;

// A state read lazily from its crash point's model.
class StateView final : public CrashState {
 public:
  // `complete`, when given, yields the state's full choice: a sampled choice
  // leaves the blocks past a file's length undrawn, and only what the state
  // lost depends on them.
  StateView(const PointModel& model, const Decoded& state, const Directory& overlay, std::uint64_t index,
            const std::function<Decoded()>* complete = nullptr)
      : model_(model), state_(state), overlay_(overlay), index_(index), complete_(complete) {}

  std::vector<std::string> names() const override { return model_.names(overlay_); }
  bool contains(std::string_view name) const override { return model_.find(overlay_, name) != nullptr; }
  std::optional<FileImage> file(std::string_view name) const override {
    const detail::Entry* entry = model_.find(overlay_, name);
    if (entry == nullptr) return std::nullopt;
    return FileImage{entry->is_directory, model_.mode(state_, entry->inode),
                     entry->is_directory ? std::string() : model_.content(state_, entry->inode)};
  }
  bool content_equals(std::string_view name, std::string_view expected) const override {
    const detail::Entry* entry = model_.find(overlay_, name);
    return entry != nullptr && !entry->is_directory && model_.content_equals(state_, entry->inode, expected);
  }
  std::string lost() const override { return complete_ != nullptr ? model_.lost((*complete_)()) : model_.lost(state_); }
  std::uint64_t index() const override { return index_; }

 private:
  const PointModel& model_;
  const Decoded& state_;
  const Directory& overlay_;  // entries of the names pending entry ops touched
  std::uint64_t index_;
  const std::function<Decoded()>* complete_;
};

void check_options(const Options& options) {
  if (options.block_size == 0) throw std::invalid_argument("power-loss block size must be positive");
  if (options.max_states_per_point < 2) {
    throw std::invalid_argument(
        "max states per crash point must be at least 2 (the last-synced and the fully persisted state)");
  }
}

// Choices are enumerated in full when there are at most this many times the
// budget: the distinct states are then known exactly, and a sample of them
// is drawn; above it, seeded random choices are drawn directly.
constexpr std::uint64_t kEnumerableFactor = 16;

// A distinct state, kept as its choice (decoded again, in place, when
// visited), in the crash point's arena.
struct Found {
  std::pmr::vector<std::uint32_t> choice;
  const Directory* overlay;             // shared by every state that kept the same entry ops
  std::optional<detail::Rng> drawn_by;  // sampled: the generator before its draw (redraws it in full)
};

// Seeded Fisher-Yates with our own index draw: the same seed gives the same
// sample with any standard library.
template <class It>
void seeded_shuffle(It first, It last, detail::Rng& rng) {
  for (auto n = last - first; n > 1; --n)
    std::iter_swap(first + (n - 1), first + static_cast<std::ptrdiff_t>(rng() % n));
}

// Visits the distinct states of one crash point: first the "prefix" states
// (the first k unsynced ops persisted: k = 0 is the last-synced state, k = all
// the fully persisted one), then the rest of the reachable states, or, when
// there are more than the budget, a seeded sample of them.
Coverage explore_point(const detail::Replay& replay, detail::FileModelCache& cache, Coverage coverage,
                       const Options& options, const StateVisitor& visit) {
  PointModel model(replay.snapshot(), options.block_size, cache);
  auto space = detail::make_space(model, options.profile);
  const auto count = space->count();
  const std::uint64_t budget = options.max_states_per_point;

  // What one crash point keeps lives and dies with it: one arena, no
  // allocation per state.
  std::pmr::monotonic_buffer_resource arena;
  std::pmr::unordered_set<std::uint64_t> seen(&arena);
  std::vector<Found> found;
  auto kept = [&](const Choice& choice) {
    return std::pmr::vector<std::uint32_t>(choice.begin(), choice.end(), &arena);
  };
  // The overlay depends only on which pending entry ops persisted, and a
  // crash point has few of those: build each once, not once per state.
  std::map<std::vector<bool>, Directory> overlays;
  Decoded state;  // decoded in place: a choice already seen costs no allocation
  // The overlay of the state `choice` makes if that state was not seen yet, else nullptr.
  auto if_new = [&](const Choice& choice) -> const Directory* {
    space->decode(choice, state);
    auto overlay = overlays.find(state.entry_kept);
    if (overlay == overlays.end()) overlay = overlays.emplace(state.entry_kept, model.overlay(state)).first;
    return seen.insert(model.hash(state, overlay->second)).second ? &overlay->second : nullptr;
  };
  auto keep_if_new = [&](const Choice& choice) {
    if (const Directory* overlay = if_new(choice)) found.push_back({kept(choice), overlay, std::nullopt});
  };
  const std::size_t pending = model.pending().size();
  const std::size_t prefixes = std::min<std::size_t>(pending + 1, std::max<std::uint64_t>(2, budget / 2));
  for (std::size_t i = 0; i < prefixes; ++i) {
    keep_if_new(space->prefix(prefixes == 1 ? 0 : i * pending / (prefixes - 1)));
  }
  const auto canonical = static_cast<std::ptrdiff_t>(found.size());

  detail::Rng rng(detail::mix(options.seed, coverage.after_seq));
  detail::Shape shape;  // sampling only
  if (count.exact && count.value <= kEnumerableFactor * budget) {
    detail::for_each_choice(*space, keep_if_new);
    coverage.total = found.size();
    coverage.total_exact = true;
    coverage.sampled = found.size() > budget;
    if (coverage.sampled) {
      seeded_shuffle(found.begin() + canonical, found.end(), rng);
      found.resize(budget);
    }
  } else {
    // Too many to enumerate: `total` counts combinations of choices, an
    // upper bound on distinct states.
    coverage.sampled = true;
    coverage.total = count.value;
    coverage.total_exact = false;
    shape = detail::shape_of(*space);
    Choice choice;
    std::vector<detail::Deferred> deferred;
    for (std::uint64_t attempt = 0; attempt < 8 * budget && found.size() < budget; ++attempt) {
      const detail::Rng before = rng;
      detail::random_choice(*space, shape, rng, choice, deferred);
      if (const Directory* overlay = if_new(choice)) found.push_back({kept(choice), overlay, before});
    }
  }
  coverage.explored = found.size();
  const Found* visiting = nullptr;
  const std::function<Decoded()> redraw = [&] {  // the visited sampled state, every dimension drawn
    detail::Rng again = *visiting->drawn_by;
    Choice full;
    std::vector<detail::Deferred> deferred;
    detail::random_choice(*space, shape, again, full, deferred);
    detail::draw_deferred(shape, deferred, full);
    Decoded decoded;
    space->decode(full, decoded);
    return decoded;
  };
  for (std::size_t i = 0; i < found.size(); ++i) {
    visiting = &found[i];
    space->decode(found[i].choice, state);
    visit(coverage, StateView(model, state, *found[i].overlay, i, found[i].drawn_by ? &redraw : nullptr));
  }
  return coverage;
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view text) {
  if (text == "posix") return Profile::posix;
  if (text == "ext4-ordered") return Profile::ext4_ordered;
  return std::nullopt;
}

std::string_view profile_name(Profile profile) noexcept {
  return profile == Profile::ext4_ordered ? "ext4-ordered" : "posix";
}

std::string Coverage::describe() const {
  std::string text = after_seq == 0 ? "before the first call" : "after #" + std::to_string(after_seq) + " " + call;
  text += ": " + std::to_string(explored) + " of ";
  // The count saturates at 2^64 - 1: printed, that number would read as a
  // real count, so a saturated one says only how large it is at least.
  if (total == std::numeric_limits<std::uint64_t>::max())
    text += "more than 10^19";
  else
    text += total_exact ? std::to_string(total) : "at most " + std::to_string(total);
  text += " states";
  if (sampled) text += " (sampled)";
  return text;
}

std::vector<Coverage> for_each_state(const faults::Trace& trace, const InitialState& initial, const Options& options,
                                     const StateVisitor& visit) {
  check_options(options);
  detail::Replay replay(initial, options.profile);
  detail::FileModelCache cache;
  std::vector<Coverage> points{explore_point(replay, cache, Coverage{}, options, visit)};
  for (const auto& record : trace.records) {
    replay.apply(record);
    Coverage start;
    start.after_seq = record.seq;
    start.call = record.call;
    points.push_back(explore_point(replay, cache, start, options, visit));
  }
  return points;
}

std::map<std::string, FileImage> visible_state(const faults::Trace& trace, const InitialState& initial) {
  // the profile shapes what survives, not what is seen
  detail::Replay replay(initial, Profile::posix, detail::Replay::Visible::bytes);
  for (const auto& record : trace.records) replay.apply(record);
  return replay.take_visible();
}

std::vector<CrashPoint> enumerate(const faults::Trace& trace, const InitialState& initial, const Options& options) {
  std::vector<CrashPoint> points;
  auto coverage = for_each_state(trace, initial, options, [&](const Coverage& point, const CrashState& state) {
    if (points.empty() || points.back().coverage.after_seq != point.after_seq ||
        points.back().coverage.call != point.call) {
      points.push_back(CrashPoint{point, {}});
    }
    DirectoryState materialised;
    for (const auto& name : state.names()) materialised.entries.emplace(name, *state.file(name));
    materialised.lost = state.lost();
    points.back().states.push_back(std::move(materialised));
  });
  for (std::size_t i = 0; i < coverage.size(); ++i) points[i].coverage = coverage[i];
  return points;
}

}  // namespace crashcheck::powerloss
