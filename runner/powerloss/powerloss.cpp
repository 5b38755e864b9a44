#include "powerloss.hpp"

#include "model.hpp"
#include "point.hpp"
#include "space.hpp"

#include <algorithm>
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
  StateView(const PointModel& model, const Decoded& state, const Directory& dir)
      : model_(model), state_(state), dir_(dir) {}

  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, entry] : dir_) out.push_back(name);
    return out;
  }
  bool contains(std::string_view name) const override { return dir_.find(name) != nullptr; }
  std::optional<FileImage> file(std::string_view name) const override {
    const detail::Entry* entry = dir_.find(name);
    if (entry == nullptr) return std::nullopt;
    return FileImage{entry->is_directory, model_.mode(state_, entry->inode),
                     entry->is_directory ? std::string() : model_.content(state_, entry->inode)};
  }
  bool content_equals(std::string_view name, std::string_view expected) const override {
    const detail::Entry* entry = dir_.find(name);
    return entry != nullptr && !entry->is_directory && model_.content_equals(state_, entry->inode, expected);
  }
  std::string lost() const override { return model_.lost(state_); }

 private:
  const PointModel& model_;
  const Decoded& state_;
  const Directory& dir_;
};

void check_options(const Options& options) {
  if (options.block_size == 0) throw std::invalid_argument("power-loss block size must be positive");
  if (options.max_states_per_point < 2) {
    throw std::invalid_argument("max states per crash point must be at least 2 (the last-synced and the fully persisted state)");
  }
}

// Visits the distinct states of one crash point: first the "prefix" states
// (the first k unsynced ops persisted: k = 0 is the last-synced state, k = all
// the fully persisted one), then every reachable choice when there are few
// enough, else seeded random ones until the budget is spent.
Coverage explore_point(const detail::Replay& replay, Coverage coverage, const Options& options,
                       const StateVisitor& visit) {
  PointModel model(replay.snapshot(), options.block_size);
  auto space = detail::make_space(model, options.profile);
  const auto count = space->count();
  const std::uint64_t budget = options.max_states_per_point;
  coverage.sampled = !(count.exact && count.value <= budget);
  coverage.total = count.value;
  coverage.total_exact = count.exact && !coverage.sampled;

  std::unordered_set<std::uint64_t> seen;
  auto consider = [&](const Choice& choice) {
    if (coverage.explored >= budget) return;
    Decoded state = space->decode(choice);
    Directory dir = model.directory(state);
    if (!seen.insert(model.hash(state, dir)).second) return;
    ++coverage.explored;
    visit(coverage, StateView(model, state, dir));
  };

  const std::size_t pending = model.snapshot().pending_all().size();
  const std::size_t prefixes = std::min<std::size_t>(pending + 1, std::max<std::uint64_t>(2, budget / 2));
  for (std::size_t i = 0; i < prefixes; ++i) {
    consider(space->prefix(prefixes == 1 ? 0 : i * pending / (prefixes - 1)));
  }
  if (!coverage.sampled) {
    detail::for_each_choice(*space, consider);
    coverage.total = coverage.explored;
    return coverage;
  }
  std::mt19937_64 rng(detail::mix(options.seed, coverage.after_seq));
  for (std::uint64_t attempt = 0; attempt < 8 * budget && coverage.explored < budget; ++attempt) {
    consider(detail::random_choice(*space, rng));
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
  text += total_exact ? std::to_string(total) : "at most " + std::to_string(total);
  text += " states";
  if (sampled) text += " (sampled)";
  return text;
}

std::vector<Coverage> for_each_state(const faults::Trace& trace, const InitialState& initial,
                                     const Options& options, const StateVisitor& visit) {
  check_options(options);
  detail::Replay replay(initial, options.profile);
  std::vector<Coverage> points{explore_point(replay, Coverage{}, options, visit)};
  for (const auto& record : trace.records) {
    replay.apply(record);
    Coverage start;
    start.after_seq = record.seq;
    start.call = record.call;
    points.push_back(explore_point(replay, start, options, visit));
  }
  return points;
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
