// Internal: the choices a power loss makes at one crash point, per profile.
// A state is a vector of option indices, one per dimension; a dimension's
// allowed options may depend only on earlier dimensions, so a depth-first
// walk enumerates exactly the reachable choices and a left-to-right random
// pick samples them.
#pragma once

#include "point.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace crashcheck::powerloss::detail {

using Choice = std::vector<std::uint32_t>;

// splitmix64: a seeded, fast, portable bit generator. Sampling draws one
// number per block of every file, so std::mt19937_64 was the hot spot.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t operator()() { return finalise(state_ += kStep); }
  // Skips n draws. The generator is a counter, so a draw does not depend on
  // the ones before it: skipped draws can be made later, with a copy taken
  // before the skip, and come out the same.
  void skip(std::uint64_t n) { state_ += n * kStep; }

 private:
  static constexpr std::uint64_t kStep = 0x9e3779b97f4a7c15ull;
  std::uint64_t state_;
};

class Space {
 public:
  struct Count {
    std::uint64_t value = 0;
    bool exact = true;
  };
  virtual ~Space() = default;
  virtual std::size_t dims() const = 0;
  virtual std::uint32_t options(std::size_t dim) const = 0;
  virtual bool allowed(std::size_t dim, std::uint32_t option, const Choice& earlier) const = 0;
  // False when every option of `dim` is always allowed (a fast path for sampling).
  virtual bool constrained(std::size_t dim) const = 0;
  // Runs of dimensions no state's content depends on once an earlier one is
  // chosen: the blocks of a file past the length it was given. Sampling draws
  // them only for states that turn out new.
  struct Tail {
    std::size_t file = 0;        // PointModel::file(file)
    std::size_t length_dim = 0;  // the blocks follow it
    std::size_t blocks = 0;
    std::vector<std::size_t> blocks_within;  // per option of length_dim
  };
  virtual std::vector<Tail> tails() const { return {}; }
  // Reachable choices (saturating; not exact when only an upper bound is known).
  virtual Count count() const = 0;
  // The state where exactly the first k pending ops (trace order) persisted,
  // the rest lost: k = 0 is the last-synced state, k = all the fully persisted one.
  // Written into `out`; cheapest asked for in ascending k.
  virtual void prefix(std::size_t k, Choice& out) const = 0;
  // Writes into `out`, reusing its storage: most sampled choices turn out to
  // be states already seen, and those should cost no allocation.
  virtual void decode(std::span<const std::uint32_t> choice, Decoded& out) const = 0;
  // Only `out.entry_kept`, from a choice drawn as far as the first tail's length.
  virtual void decode_entries(std::span<const std::uint32_t> choice, Decoded& out) const = 0;
};

std::unique_ptr<Space> make_space(const PointModel& model, Profile profile);

// Every reachable choice, depth first.
void for_each_choice(const Space& space, const std::function<void(const Choice&)>& visit);
// Option counts and constraint flags of every dimension, asked once per crash point.
// Sampling draws one number per dimension of every attempt (a dimension per
// block of every unsynced file), so the loop over them must stay tight.
struct Shape {
  std::vector<std::uint32_t> options;
  std::vector<std::size_t> constrained;  // dimensions whose options depend on earlier ones, ascending
  std::vector<Space::Tail> tails;        // ascending, never constrained
};
Shape shape_of(const Space& space);
// Dimensions of a random choice left undrawn: `count` dimensions from
// `first`, drawn by `rng` as it stands.
struct Deferred {
  std::size_t first = 0;
  std::size_t count = 0;
  Rng rng{0};
};
// One reachable choice, each dimension picked uniformly among what is
// allowed, written into `chosen` (reused between draws: no allocation). The
// tails past each file's chosen length are left 0 and listed in `deferred`:
// the choice's state (hash, contents) is already known; draw_deferred
// completes the choice exactly as if they had been drawn in order.
// With `named`, a tail whose file it says no entry of the state names (given
// the choice so far) is left undrawn whole, its length too: nothing of the
// state depends on it.
using Named = std::function<bool(std::size_t file, const Choice& earlier)>;
void random_choice(const Space& space, const Shape& shape, Rng& rng, Choice& chosen, std::vector<Deferred>& deferred,
                   const Named* named = nullptr);
void draw_deferred(const Shape& shape, const std::vector<Deferred>& deferred, Choice& chosen);

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b);

}  // namespace crashcheck::powerloss::detail
