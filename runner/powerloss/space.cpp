#include "space.hpp"

#include <algorithm>
#include <limits>

namespace crashcheck::powerloss::detail {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::size_t count_below(const std::vector<std::size_t>& ids, std::size_t threshold) {
  return static_cast<std::size_t>(std::count_if(ids.begin(), ids.end(), [&](auto id) { return id < threshold; }));
}

// Op id below which ops persisted in prefix state k.
std::size_t prefix_threshold(const PointModel& model, std::size_t k) {
  const auto& all = model.pending();
  return k < all.size() ? all[k] : std::numeric_limits<std::size_t>::max();
}

// posix: any set of pending entry ops closed under "an earlier pending op on
// the same name" (per-name prefixes), and, independently, every block, the
// length and the mode of every file with unsynced data from any of its
// versions (or the torn variant).
class PosixSpace final : public Space {
 public:
  explicit PosixSpace(const PointModel& model) : model_(model) {
    const auto& snap = model.snapshot();
    const auto& ops = model.ops();
    entries_ = snap.pending_entries.size();
    predecessors_.resize(entries_);
    for (std::size_t i = 0; i < entries_; ++i) {
      auto names = touched_names(ops[snap.pending_entries[i]]);
      for (std::size_t j = 0; j < i; ++j) {
        for (const auto& name : touched_names(ops[snap.pending_entries[j]])) {
          if (std::find(names.begin(), names.end(), name) != names.end()) {
            predecessors_[i].push_back(j);
            break;
          }
        }
      }
    }
    for (std::size_t f = 0; f < model.file_count(); ++f) {
      const auto& file = model.file(f);
      file_dims_.push_back(sizes_.size());
      sizes_.push_back(static_cast<std::uint32_t>(file.sizes.size()));
      for (std::size_t b = 0; b < file.blocks(); ++b) sizes_.push_back(file.options(b));
    }
    mode_dims_ = sizes_.size();
    for (const auto& mode : model.modes()) sizes_.push_back(static_cast<std::uint32_t>(mode.modes.size()));
  }

  std::size_t dims() const override { return entries_ + sizes_.size(); }

  std::vector<Tail> tails() const override {
    std::vector<Tail> out;
    const std::uint64_t block = model_.block_size();
    for (std::size_t f = 0; f < model_.file_count(); ++f) {
      const auto& file = model_.file(f);
      Tail tail{f, entries_ + file_dims_[f], file.blocks(), {}};
      for (auto size : file.sizes) tail.blocks_within.push_back(static_cast<std::size_t>((size + block - 1) / block));
      out.push_back(std::move(tail));
    }
    return out;
  }
  std::uint32_t options(std::size_t dim) const override { return dim < entries_ ? 2 : sizes_[dim - entries_]; }
  bool constrained(std::size_t dim) const override { return dim < entries_; }

  bool allowed(std::size_t dim, std::uint32_t option, const Choice& earlier) const override {
    if (dim >= entries_ || option == 0) return true;
    return std::all_of(predecessors_[dim].begin(), predecessors_[dim].end(),
                       [&](std::size_t j) { return earlier[j] == 1; });
  }

  Count count() const override {
    Count total = count_entry_sets();
    for (auto size : sizes_) total.value = saturating_mul(total.value, size);
    if (total.value == kMax) total.exact = false;
    return total;
  }

  void prefix(std::size_t k, Choice& choice) const override {
    const auto& snap = model_.snapshot();
    const std::size_t threshold = prefix_threshold(model_, k);
    choice.clear();
    for (auto id : snap.pending_entries) choice.push_back(id < threshold ? 1 : 0);
    prefix_files_.resize(model_.file_count());
    for (std::size_t f = 0; f < model_.file_count(); ++f) {
      const auto& file = model_.file(f);
      auto& at = prefix_files_[f];  // the previous prefix's: only the blocks written since move
      model_.file_at_version(file, count_below(file.chain, threshold), at);
      choice.push_back(at.size);
      choice.insert(choice.end(), at.blocks.begin(), at.blocks.end());
    }
    for (const auto& mode : model_.modes()) {
      choice.push_back(static_cast<std::uint32_t>(count_below(mode.chain, threshold)));
    }
  }

  void decode_entries(std::span<const std::uint32_t> choice, Decoded& out) const override {
    out.entry_kept.resize(entries_);
    for (std::size_t i = 0; i < entries_; ++i) out.entry_kept[i] = choice[i] == 1 ? 1 : 0;
  }

  void decode(std::span<const std::uint32_t> choice, Decoded& out) const override {
    decode_entries(choice, out);
    out.files.resize(model_.file_count());
    for (std::size_t f = 0; f < model_.file_count(); ++f) {
      const std::size_t at = entries_ + file_dims_[f];
      out.files[f].size = choice[at];
      out.files[f].blocks.assign(choice.begin() + static_cast<std::ptrdiff_t>(at + 1),
                                 choice.begin() + static_cast<std::ptrdiff_t>(at + 1 + model_.file(f).blocks()));
      out.files[f].version = FileChoice::kNoVersion;
    }
    out.mode_version.resize(model_.modes().size());
    for (std::size_t m = 0; m < model_.modes().size(); ++m) out.mode_version[m] = choice[entries_ + mode_dims_ + m];
  }

 private:
  // Sets closed under predecessors. Operations on disjoint names are
  // independent, so each group linked by shared names is counted depth first
  // on its own and the counts multiply; past a budget a group claims only
  // the bound 2^size.
  Count count_entry_sets() const {
    std::vector<std::size_t> group(entries_);
    for (std::size_t i = 0; i < entries_; ++i) {
      group[i] = i;
      for (auto j : predecessors_[i]) {
        const auto from = group[j], to = group[i];
        for (auto& g : group) g = g == from ? to : g;  // few ops: a plain relabel is enough
      }
    }
    Count total{1, true};
    std::vector<bool> counted(entries_, false);
    for (std::size_t i = 0; i < entries_; ++i) {
      if (counted[group[i]]) continue;
      counted[group[i]] = true;
      std::vector<std::size_t> members;
      for (std::size_t j = 0; j < entries_; ++j) {
        if (group[j] == group[i]) members.push_back(j);
      }
      Count part = count_group(members);
      total.value = saturating_mul(total.value, part.value);
      total.exact = total.exact && part.exact;
    }
    return total;
  }

  Count count_group(const std::vector<std::size_t>& members) const {
    constexpr std::uint64_t kBudget = 1u << 16;
    std::uint64_t found = 0, steps = 0;
    Choice chosen(entries_, 0);
    std::function<void(std::size_t)> walk = [&](std::size_t at) {
      if (++steps > kBudget) return;
      if (at == members.size()) {
        ++found;
        return;
      }
      for (std::uint32_t option = 0; option < 2; ++option) {
        if (!allowed(members[at], option, chosen)) continue;
        chosen[members[at]] = option;
        walk(at + 1);
      }
      chosen[members[at]] = 0;
    };
    walk(0);
    if (steps <= kBudget) return {found, true};
    return {members.size() >= 64 ? kMax : (std::uint64_t{1} << members.size()), false};
  }

  const PointModel& model_;
  std::size_t entries_ = 0;
  std::vector<std::vector<std::size_t>> predecessors_;
  std::vector<std::uint32_t> sizes_;    // non-entry dimensions
  std::vector<std::size_t> file_dims_;  // first (length) dimension of each file, in sizes_
  std::size_t mode_dims_ = 0;
  // Each file as the last prefix() left it: prefixes are asked for in
  // ascending k, and the next one moves only the blocks written in between.
  mutable std::vector<FileChoice> prefix_files_;
};

// ext4 data=ordered: metadata (entry ops, truncates, chmods) persists as a
// prefix in trace order (the journal); each file's data persists as a prefix
// of its own pending ops, a multi-block write possibly cut at a block
// boundary. A committed truncate implies the data before it, and a committed
// rename over an existing file implies the renamed file's data before it
// (auto_da_alloc).
class Ext4OrderedSpace final : public Space {
 public:
  struct Position {
    std::uint32_t version = 0;  // ops of the file's chain persisted whole
    std::uint32_t blocks = 0;   // and this many leading blocks of the next write
  };
  struct Requirement {
    std::size_t rank = 0;       // metadata rank of the committing op
    std::uint32_t version = 0;  // the file's data must reach this version if it is committed
    bool exact = false;         // a truncate: committed iff the data reached it
  };

  explicit Ext4OrderedSpace(const PointModel& model) : model_(model) {
    const auto& snap = model.snapshot();
    const auto& ops = model.ops();
    metadata_ = snap.pending_entries;
    for (std::size_t f = 0; f < model.file_count(); ++f) {
      for (auto id : model.file(f).chain) {
        if (ops[id].kind == Op::Kind::resize) metadata_.push_back(id);
      }
    }
    for (const auto& mode : model.modes()) metadata_.insert(metadata_.end(), mode.chain.begin(), mode.chain.end());
    std::sort(metadata_.begin(), metadata_.end());
    for (std::size_t f = 0; f < model.file_count(); ++f) add_file(model.file(f));
  }

  std::size_t dims() const override { return 1 + positions_.size(); }
  std::uint32_t options(std::size_t dim) const override {
    return dim == 0 ? static_cast<std::uint32_t>(metadata_.size() + 1)
                    : static_cast<std::uint32_t>(positions_[dim - 1].size());
  }

  bool constrained(std::size_t dim) const override { return dim != 0; }

  bool allowed(std::size_t dim, std::uint32_t option, const Choice& earlier) const override {
    if (dim == 0) return true;
    return position_allowed(dim - 1, positions_[dim - 1][option], earlier[0]);
  }

  Count count() const override {
    Count total{0, true};
    for (std::uint32_t m = 0; m <= metadata_.size(); ++m) {
      std::uint64_t product = 1;
      for (std::size_t f = 0; f < positions_.size(); ++f) {
        auto n = std::count_if(positions_[f].begin(), positions_[f].end(),
                               [&](const Position& p) { return position_allowed(f, p, m); });
        product = saturating_mul(product, static_cast<std::uint64_t>(n));
      }
      total.value = total.value > kMax - product ? kMax : total.value + product;
    }
    total.exact = total.value != kMax;
    return total;
  }

  void prefix(std::size_t k, Choice& choice) const override {
    const std::size_t threshold = prefix_threshold(model_, k);
    choice.assign(1, static_cast<std::uint32_t>(count_below(metadata_, threshold)));
    for (std::size_t f = 0; f < positions_.size(); ++f) {
      auto version = static_cast<std::uint32_t>(count_below(model_.file(f).chain, threshold));
      auto& list = positions_[f];
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const Position& p) { return p.version == version && p.blocks == 0; });
      choice.push_back(static_cast<std::uint32_t>(it - list.begin()));
    }
  }

  void decode_entries(std::span<const std::uint32_t> choice, Decoded& out) const override {
    const auto& pending = model_.snapshot().pending_entries;
    const std::size_t below = committed_below(choice);
    out.entry_kept.resize(pending.size());
    for (std::size_t i = 0; i < pending.size(); ++i) out.entry_kept[i] = pending[i] < below ? 1 : 0;
  }

  void decode(std::span<const std::uint32_t> choice, Decoded& out) const override {
    decode_entries(choice, out);
    const std::size_t committed_below = this->committed_below(choice);
    out.files.resize(positions_.size());
    for (std::size_t f = 0; f < positions_.size(); ++f) {
      file_choice(model_.file(f), positions_[f][choice[f + 1]], out.files[f]);
    }
    out.mode_version.resize(model_.modes().size());
    for (std::size_t m = 0; m < model_.modes().size(); ++m) {
      out.mode_version[m] = static_cast<std::uint32_t>(count_below(model_.modes()[m].chain, committed_below));
    }
  }

 private:
  // Op id below which metadata committed.
  std::size_t committed_below(std::span<const std::uint32_t> choice) const {
    return choice[0] < metadata_.size() ? metadata_[choice[0]] : SIZE_MAX;
  }

  std::size_t rank(std::size_t op_id) const {
    return static_cast<std::size_t>(std::lower_bound(metadata_.begin(), metadata_.end(), op_id) - metadata_.begin());
  }

  void add_file(const FileModel& file) {
    const auto& ops = model_.ops();
    const std::uint32_t block = model_.block_size();
    std::vector<Position> list;
    std::vector<Requirement> needs;
    for (std::uint32_t v = 0; v <= file.chain.size(); ++v) {
      list.push_back({v, 0});
      if (v == file.chain.size()) break;
      const Op& op = ops[file.chain[v]];
      if (op.kind == Op::Kind::resize) {
        needs.push_back({rank(file.chain[v]), v + 1, true});
      } else if (!op.bytes.empty()) {
        auto first = op.offset / block, last = (op.offset + op.bytes.size() - 1) / block;
        for (std::uint32_t b = 1; b <= last - first; ++b) list.push_back({v, b});
      }
    }
    for (auto id : model_.snapshot().pending_entries) {
      const Op& op = ops[id];
      if (op.kind != Op::Kind::rename || !op.replaces_existing || op.inode != file.inode) continue;
      needs.push_back({rank(id), static_cast<std::uint32_t>(count_below(file.chain, id)), false});
    }
    positions_.push_back(std::move(list));
    requirements_.push_back(std::move(needs));
  }

  bool position_allowed(std::size_t file, const Position& p, std::uint32_t committed) const {
    for (const auto& need : requirements_[file]) {
      const bool is_committed = need.rank < committed;
      if (is_committed && p.version < need.version) return false;
      if (need.exact && !is_committed && p.version >= need.version) return false;
    }
    return true;
  }

  void file_choice(const FileModel& file, const Position& p, FileChoice& choice) const {
    model_.file_at_version(file, p.version, choice);
    if (p.blocks == 0) return;
    // Write-back of the next write reached its first p.blocks blocks; the
    // length moves only once the whole write is back (ordered mode never
    // exposes blocks that were not written).
    const Op& op = model_.ops()[file.chain[p.version]];
    const auto first = op.offset / model_.block_size();
    for (std::uint32_t b = 0; b < p.blocks; ++b) {
      choice.blocks[first + b] = file.block_of_version[first + b].at(p.version + 1);
    }
    choice.patched_from = first;
    choice.patched = p.blocks;
  }

  const PointModel& model_;
  std::vector<std::size_t> metadata_;             // pending metadata op ids, trace order
  std::vector<std::vector<Position>> positions_;  // per file
  std::vector<std::vector<Requirement>> requirements_;
};

}  // namespace

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kMax / a) return kMax;
  return a * b;
}

std::unique_ptr<Space> make_space(const PointModel& model, Profile profile) {
  if (profile == Profile::ext4_ordered) return std::make_unique<Ext4OrderedSpace>(model);
  return std::make_unique<PosixSpace>(model);
}

void for_each_choice(const Space& space, const std::function<void(const Choice&)>& visit) {
  Choice chosen(space.dims(), 0);
  std::function<void(std::size_t)> walk = [&](std::size_t dim) {
    if (dim == space.dims()) {
      visit(chosen);
      return;
    }
    for (std::uint32_t option = 0; option < space.options(dim); ++option) {
      if (!space.allowed(dim, option, chosen)) continue;
      chosen[dim] = option;
      walk(dim + 1);
    }
  };
  walk(0);
}

Shape shape_of(const Space& space) {
  Shape shape;
  for (std::size_t dim = 0; dim < space.dims(); ++dim) {
    shape.options.push_back(space.options(dim));
    if (space.constrained(dim)) shape.constrained.push_back(dim);
  }
  shape.tails = space.tails();
  return shape;
}

namespace {

// Lemire's multiply-shift: an unbiased-enough draw in [0, n) without a division.
std::uint32_t draw(Rng& rng, std::size_t n) { return static_cast<std::uint32_t>(((rng() >> 32) * n) >> 32); }

}  // namespace

void random_choice(const Space& space, const Shape& shape, Rng& rng, Choice& chosen, std::vector<Deferred>& deferred,
                   const Named* named) {
  const std::size_t dims = shape.options.size();
  chosen.assign(dims, 0);
  deferred.clear();
  auto next_constrained = shape.constrained.begin();
  auto next_tail = shape.tails.begin();
  for (std::size_t dim = 0; dim < dims;) {
    const std::size_t constrained_at = next_constrained == shape.constrained.end() ? dims : *next_constrained;
    const std::size_t length_at = next_tail == shape.tails.end() ? dims : next_tail->length_dim;
    for (const std::size_t free_until = std::min(constrained_at, length_at); dim < free_until; ++dim) {
      chosen[dim] = draw(rng, shape.options[dim]);
    }
    if (dim == dims) break;
    if (dim == length_at) {
      const auto& tail = *next_tail++;
      if (named != nullptr && !(*named)(tail.file, chosen)) {
        deferred.push_back({dim, 1 + tail.blocks, rng});
        rng.skip(1 + tail.blocks);
        dim += 1 + tail.blocks;
        continue;
      }
      chosen[dim] = draw(rng, shape.options[dim]);
      const std::size_t blocks_end = dim + 1 + tail.blocks;
      const std::size_t within_end = dim + 1 + std::min(tail.blocks, tail.blocks_within[chosen[dim]]);
      for (++dim; dim < within_end; ++dim) chosen[dim] = draw(rng, shape.options[dim]);
      if (within_end < blocks_end) {
        deferred.push_back({within_end, blocks_end - within_end, rng});
        rng.skip(blocks_end - within_end);
        dim = blocks_end;
      }
      continue;
    }
    // Count the allowed options, draw the index of one, then find it (no
    // list to allocate). Some option is always allowed: the constraints of a
    // prefix of the journal, or of a set closed under predecessors, never contradict.
    std::uint32_t allowed = 0;
    for (std::uint32_t option = 0; option < shape.options[dim]; ++option)
      allowed += space.allowed(dim, option, chosen) ? 1 : 0;
    chosen[dim] = 0;
    if (allowed > 0) {
      for (std::uint32_t option = 0, skip = draw(rng, allowed);; ++option) {
        if (space.allowed(dim, option, chosen) && skip-- == 0) {
          chosen[dim] = option;
          break;
        }
      }
    }
    ++next_constrained;
    ++dim;
  }
}

void draw_deferred(const Shape& shape, const std::vector<Deferred>& deferred, Choice& chosen) {
  for (const auto& run : deferred) {
    Rng rng = run.rng;
    for (std::size_t dim = run.first; dim < run.first + run.count; ++dim) chosen[dim] = draw(rng, shape.options[dim]);
  }
}

}  // namespace crashcheck::powerloss::detail
