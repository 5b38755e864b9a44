#include "point.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace crashcheck::powerloss::detail {
namespace {

// Block `block` of `content`: a view into it when it holds the whole block.
BlockOption block_of(const std::shared_ptr<const std::string>& content, std::size_t block, std::uint32_t block_size) {
  BlockOption option;
  const std::size_t begin = block * block_size;
  if (begin + block_size <= content->size()) {
    option.bytes = std::string_view(*content).substr(begin, block_size);
    option.owner = content;
    return option;
  }
  auto bytes = std::make_shared<std::string>(block_size, '\0');
  if (begin < content->size()) std::memcpy(bytes->data(), content->data() + begin, content->size() - begin);
  option.bytes = *bytes;
  option.owner = std::move(bytes);
  return option;
}

// Block `block` of the version after `op`, from the block as it was: the
// op's bytes that fall in it, or zeros past a resize's new end (a block is
// zero-padded past its version's end, so a later extension reads zeros). A
// write that covers the whole block gives a view into its bytes.
BlockOption block_after(std::string_view was, const Op& op, std::size_t block, std::uint32_t block_size) {
  BlockOption option;
  const std::uint64_t begin = std::uint64_t{block} * block_size, end = begin + block_size;
  if (op.kind == Op::Kind::write && op.offset <= begin && op.offset + op.bytes.size() >= end) {
    option.bytes = op.bytes.substr(begin - op.offset, block_size);  // the trace outlives the model
    return option;
  }
  auto bytes = std::make_shared<std::string>(was);
  if (op.kind == Op::Kind::resize) {
    if (op.offset < end)
      std::memset(bytes->data() + (op.offset > begin ? op.offset - begin : 0), 0,
                  end - std::max<std::uint64_t>(op.offset, begin));
  } else {
    const std::uint64_t from = std::max<std::uint64_t>(begin, op.offset);
    const std::uint64_t to = std::min<std::uint64_t>(end, op.offset + op.bytes.size());
    if (from < to) std::memcpy(bytes->data() + (from - begin), op.bytes.data() + (from - op.offset), to - from);
  }
  option.bytes = *bytes;
  option.owner = std::move(bytes);
  return option;
}

// The one torn variant of a block: the first half of the bytes that changed
// between the durable and the newest version is new, the rest still old —
// as if the write stopped mid-block. One per block keeps the count bounded.
std::optional<BlockOption> torn_block(const BlockOption& durable_option, const BlockOption& newest_option) {
  const std::string_view durable = durable_option.bytes, newest = newest_option.bytes;
  std::size_t first = 0;
  while (first < durable.size() && durable[first] == newest[first]) ++first;
  if (first == durable.size()) return std::nullopt;
  std::size_t last = durable.size() - 1;
  while (durable[last] == newest[last]) --last;
  std::size_t keep = (last - first + 1) / 2;
  if (keep == 0) return std::nullopt;
  BlockOption torn;
  torn.bytes = durable;
  torn.owner = durable_option.owner;
  torn.newest = newest;
  torn.newest_owner = newest_option.owner;
  torn.torn = true;
  torn.torn_first = static_cast<std::uint32_t>(first);
  torn.torn_kept = static_cast<std::uint32_t>(keep);
  return torn;
}

std::uint32_t intern_block(std::vector<BlockOption>& options, BlockOption option) {
  for (std::uint32_t i = 0; i < options.size(); ++i) {
    if (options[i].bytes == option.bytes) return i;
  }
  option.hash = hash_bytes(option.bytes);
  options.push_back(std::move(option));
  return static_cast<std::uint32_t>(options.size() - 1);
}

template <class T>
std::uint32_t intern(std::vector<T>& values, T value) {
  auto it = std::find(values.begin(), values.end(), value);
  if (it != values.end()) return static_cast<std::uint32_t>(it - values.begin());
  values.push_back(value);
  return static_cast<std::uint32_t>(values.size() - 1);
}

// Same value whether the bytes come whole or block by block from options.
std::uint64_t hash_blockwise(std::string_view content, std::uint32_t block_size) {
  std::uint64_t terms = 0;
  for (std::size_t at = 0; at < content.size(); at += block_size) {
    terms += block_term(at / block_size, hash_bytes(content.substr(at, block_size)));
  }
  return file_hash(content.size(), terms);
}

}  // namespace

std::string_view BlockOption::view(std::string& scratch) const {
  if (!torn) return bytes;
  scratch = bytes;
  std::memcpy(scratch.data() + torn_first, newest.data() + torn_first, torn_kept);
  return scratch;
}

std::uint32_t BlockHistory::at(std::size_t version) const {
  if (changes_.back().version <= version) return changes_.back().option;  // most lookups: the newest
  const auto after = std::upper_bound(changes_.begin(), changes_.end(), version,
                                      [](std::size_t v, const Change& c) { return v < c.version; });
  return std::prev(after)->option;
}

void BlockHistory::set(std::size_t version, std::uint32_t option) {
  if (changes_.back().version == version) {
    changes_.back().option = option;
  } else if (changes_.back().option != option) {
    changes_.push_back({version, option});
  }
}

bool BlockHistory::held_from(std::size_t from, std::size_t versions, std::uint32_t option) const {
  if (from >= versions) return false;
  // The change in force at `from`, then every later one.
  auto it = std::upper_bound(changes_.begin(), changes_.end(), from,
                             [](std::size_t v, const Change& c) { return v < c.version; });
  for (it = std::prev(it); it != changes_.end() && it->version < versions; ++it) {
    if (it->option == option) return true;
  }
  return false;
}

std::uint64_t hash_bytes(std::string_view bytes) { return std::hash<std::string_view>{}(bytes); }

std::uint64_t mix(std::uint64_t seed, std::uint64_t value) {
  // splitmix64 finaliser over the combination: order-sensitive, well spread.
  return finalise(seed ^ (value + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2)));
}

namespace {

// Appends version `chain.size() + 1` to a file model: the content after
// `op`, block by block from each block's newest version (the file's newest
// bytes are never held whole).
void extend(FileModel& file, std::size_t op_id, const Op& op, std::uint32_t block_size) {
  const std::uint64_t before = file.newest_size;
  file.newest_size =
      op.kind == Op::Kind::resize ? op.offset : std::max<std::uint64_t>(before, op.offset + op.bytes.size());
  file.chain.push_back(op_id);
  file.size_of_version.push_back(intern(file.sizes, file.newest_size));
  while (file.blocks() * block_size < file.newest_size) {
    // A block first reached now was zeros in every earlier version.
    if (!file.zeros) file.zeros = std::make_shared<const std::string>(block_size, '\0');
    file.versions.emplace_back();
    intern_block(file.versions.back(), block_of(file.zeros, 0, block_size));
    file.torn.emplace_back();
    file.block_of_version.emplace_back(0);
  }
  const std::size_t version = file.chain.size();
  const std::uint64_t lo = op.kind == Op::Kind::write ? op.offset : std::min<std::uint64_t>(before, op.offset);
  const std::uint64_t hi =
      op.kind == Op::Kind::write ? op.offset + op.bytes.size() : std::max<std::uint64_t>(before, op.offset);
  for (std::uint64_t b = lo / block_size; hi > lo && b <= (hi - 1) / block_size && b < file.blocks(); ++b) {
    auto& options = file.versions[b];
    const auto newest =
        intern_block(options, block_after(options[file.block_of_version[b].newest()].bytes, op, b, block_size));
    file.block_of_version[b].set(version, newest);
    file.torn[b] = torn_block(options[file.block_of_version[b].at(0)], options[newest]);
    if (file.torn[b]) {
      std::string scratch;
      const std::string_view torn = file.torn[b]->view(scratch);
      const bool is_a_version =
          std::any_of(options.begin(), options.end(), [&](const BlockOption& o) { return o.bytes == torn; });
      if (is_a_version) {
        file.torn[b].reset();
      } else {
        file.torn[b]->hash = hash_bytes(torn);
      }
    }
  }
}

std::shared_ptr<FileModel> version_zero(std::uint64_t inode, const InodeState& state, std::uint32_t block_size) {
  auto file = std::make_shared<FileModel>();
  file->inode = inode;
  file->base = state.base;
  file->newest_size = state.base->size();
  file->sizes = {state.base->size()};
  file->size_of_version = {0};
  const std::size_t blocks = (state.base->size() + block_size - 1) / block_size;
  file->versions.resize(blocks);
  file->torn.resize(blocks);
  file->block_of_version.assign(blocks, BlockHistory(0));
  for (std::size_t b = 0; b < blocks; ++b) intern_block(file->versions[b], block_of(state.base, b, block_size));
  return file;
}

}  // namespace

std::shared_ptr<const FileModel> FileModelCache::get(const std::vector<Op>& ops, std::uint64_t inode,
                                                     const InodeState& state, std::uint32_t block_size) {
  auto& cached = models_[inode];
  const bool extends = cached && cached->base == state.base && cached->chain.size() <= state.pending_data.size() &&
                       std::equal(cached->chain.begin(), cached->chain.end(), state.pending_data.begin());
  if (!extends) {
    cached = version_zero(inode, state, block_size);
  } else if (cached.use_count() > 1) {
    cached = std::make_shared<FileModel>(*cached);  // an earlier point still reads it
  }
  for (std::size_t i = cached->chain.size(); i < state.pending_data.size(); ++i) {
    extend(*cached, state.pending_data[i], ops[state.pending_data[i]], block_size);
  }
  return cached;
}

void FileModelCache::forget(std::uint64_t inode) { models_.erase(inode); }

std::uint64_t FileModelCache::durable_hash(std::uint64_t inode, const InodeState& state, std::uint32_t block_size) {
  auto& cached = durable_hashes_[inode];
  if (cached.bytes != state.base) cached = {state.base, hash_blockwise(*state.base, block_size)};
  return cached.hash;
}

PointModel::OptionHashes PointModel::flat_hashes(const FileModel& file) {
  OptionHashes flat;
  for (std::size_t b = 0; b < file.blocks(); ++b) {
    flat.option_at.push_back(static_cast<std::uint32_t>(flat.hashes.size()));
    for (std::uint32_t i = 0; i < file.options(b); ++i) flat.hashes.push_back(block_term(b, file.option(b, i).hash));
  }
  return flat;
}

PointModel::PointModel(Snapshot snapshot, std::uint32_t block_size, FileModelCache& cache)
    : snap_(std::move(snapshot)), pending_(snap_.pending_all()), block_size_(block_size) {
  durable_.reserve(snap_.inodes.size());
  for (const auto& [inode, state] : snap_.inodes) {
    durable_[inode].state = &state;
    if (!state.pending_data.empty()) {
      file_index_[inode] = files_.size();
      files_.push_back(cache.get(ops(), inode, state, block_size_));
      option_hashes_.push_back(flat_hashes(*files_.back()));
    } else {
      durable_[inode].hash = cache.durable_hash(inode, state, block_size_);
      cache.forget(inode);  // synced: its model is rebuilt from the new durable bytes if it is written again
    }
    if (!state.pending_mode.empty()) {
      ModeModel mode{inode, state.pending_mode, {state.base_mode}};
      for (auto id : state.pending_mode) mode.modes.push_back(ops()[id].mode);
      mode_index_[inode] = modes_.size();
      modes_.push_back(std::move(mode));
    }
  }
  for (auto id : snap_.pending_entries) {
    for (auto& name : touched_names(ops()[id])) touched_.push_back(std::move(name));
  }
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (const auto& name : touched_) by_name_.emplace(name, nullptr);
  for (const auto& [name, entry] : snap_.base_dir) by_name_.emplace(name, &entry);  // keeps touched names' nullptr
  const Decoded none;  // static entries do not depend on the state
  for (const auto& [name, entry] : snap_.base_dir) {
    if (touched(name)) {
      overlay_base_.set(name, entry);
    } else if (file_index_.count(entry.inode) != 0 || mode_index_.count(entry.inode) != 0) {
      dynamic_untouched_.push_back({entry, hash_bytes(name)});
    } else {
      static_sum_ += entry_hash(none, hash_bytes(name), entry);
    }
  }
}

bool PointModel::touched(std::string_view name) const {
  return std::binary_search(touched_.begin(), touched_.end(), name, std::less<>());
}

std::pair<std::size_t, std::size_t> PointModel::blocks_written(const FileModel& file, std::size_t version) const {
  // As extend() found them: a write its range, a resize the span between the old and the new length.
  const Op& op = ops()[file.chain[version - 1]];
  const std::uint64_t before = file.sizes[file.size_of_version[version - 1]];
  const std::uint64_t lo = op.kind == Op::Kind::write ? op.offset : std::min<std::uint64_t>(before, op.offset);
  const std::uint64_t hi =
      op.kind == Op::Kind::write ? op.offset + op.bytes.size() : std::max<std::uint64_t>(before, op.offset);
  if (hi <= lo) return {0, 0};
  const std::size_t first = std::min<std::uint64_t>(lo / block_size_, file.blocks());
  return {first, std::max<std::size_t>(first, std::min<std::uint64_t>((hi - 1) / block_size_ + 1, file.blocks()))};
}

void PointModel::file_at_version(const FileModel& file, std::size_t version, FileChoice& out) const {
  out.size = file.size_of_version[version];
  const auto set = [&](std::size_t b) { out.blocks[b] = file.block_of_version[b].at(version); };
  std::size_t moved = 0;  // blocks to look up when moving from out.version: worth it only below every block
  const std::size_t from = std::min(out.version, version), to = std::max(out.version, version);
  const bool incremental =
      out.version != FileChoice::kNoVersion && out.blocks.size() == file.blocks() && to - from <= file.blocks() && [&] {
        for (std::size_t v = from + 1; v <= to && moved <= file.blocks(); ++v) {
          const auto [first, last] = blocks_written(file, v);
          moved += last - first;
        }
        return moved + out.patched <= file.blocks();
      }();
  if (incremental) {
    for (std::size_t b = out.patched_from; b < out.patched_from + out.patched; ++b) set(b);
    for (std::size_t v = from + 1; v <= to; ++v) {
      const auto [first, last] = blocks_written(file, v);
      for (std::size_t b = first; b < last; ++b) set(b);
    }
  } else {
    out.blocks.resize(file.blocks());
    for (std::size_t b = 0; b < out.blocks.size(); ++b) set(b);
  }
  out.version = version;
  out.patched = 0;
}

Overlay PointModel::overlay(const Decoded& state) const {
  Overlay out{overlay_base_, {}, std::vector<bool>(files_.size(), false)};
  for (std::size_t i = 0; i < snap_.pending_entries.size(); ++i) {
    if (state.entry_kept[i]) apply_entry_op(ops()[snap_.pending_entries[i]], out.dir);
  }
  const auto name = [&](std::uint64_t inode) {
    if (auto found = file_index_.find(inode); found != file_index_.end()) out.named[found->second] = true;
  };
  for (const auto& [entry_name, entry] : out.dir) {
    out.name_hashes.push_back(hash_bytes(entry_name));
    name(entry.inode);
  }
  for (const auto& dynamic : dynamic_untouched_) name(dynamic.entry.inode);
  return out;
}

const PointModel::ByName* PointModel::by_name(std::string_view name) const {
  if (last_found_ == nullptr || name != last_found_->first) {
    auto found = by_name_.find(name);
    if (found == by_name_.end()) return nullptr;
    last_found_ = &*found;
  }
  return last_found_;
}

const Entry* PointModel::find(const Directory& overlay, std::string_view name) const {
  const ByName* found = by_name(name);
  if (found == nullptr) return nullptr;
  return found->second != nullptr ? found->second : overlay.find(name);
}

bool PointModel::same_in_every_state(std::string_view name) const {
  const ByName* found = by_name(name);
  if (found == nullptr) return true;   // no state holds it
  const Entry* entry = found->second;  // a durable entry no pending op touches, or
  if (entry == nullptr) return false;  // a name pending entry ops touch: the overlay decides
  return entry->is_directory || (file_index_.count(entry->inode) == 0 && mode_index_.count(entry->inode) == 0);
}

std::vector<std::string> PointModel::names(const Directory& overlay) const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : snap_.base_dir) {
    if (!touched(name)) out.push_back(name);
  }
  for (const auto& [name, entry] : overlay) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

const InodeState* PointModel::durable(std::uint64_t inode) const {
  auto found = durable_.find(inode);
  return found != durable_.end() ? found->second.state : nullptr;
}

const FileModel* PointModel::file_model(std::uint64_t inode, const Decoded& state, const FileChoice** choice) const {
  auto found = file_index_.find(inode);
  if (found == file_index_.end()) return nullptr;
  *choice = &state.files[found->second];
  return files_[found->second].get();
}

std::uint64_t PointModel::content_hash(const Decoded& state, std::uint64_t inode) const {
  auto found = file_index_.find(inode);
  if (found == file_index_.end()) {
    auto known = durable_.find(inode);
    return known != durable_.end() ? known->second.hash : hash_blockwise("", block_size_);
  }
  const FileModel& file = *files_[found->second];
  const FileChoice& choice = state.files[found->second];
  const OptionHashes& flat = option_hashes_[found->second];
  const std::uint64_t size = file.sizes[choice.size];
  const std::uint64_t whole = size / block_size_;
  std::uint64_t terms = 0;
  for (std::uint64_t b = 0; b < whole; ++b) terms += flat.hashes[flat.option_at[b] + choice.blocks[b]];
  if (whole * block_size_ < size) {
    std::string scratch;
    const auto bytes = file.option(whole, choice.blocks[whole]).view(scratch);
    terms += block_term(whole, hash_bytes(bytes.substr(0, size - whole * block_size_)));
  }
  return file_hash(size, terms);
}

std::uint64_t PointModel::entry_hash(const Decoded& state, std::uint64_t name_hash, const Entry& entry) const {
  std::uint64_t h = mix(name_hash, entry.is_directory ? 1 : content_hash(state, entry.inode));
  return mix(h, mode(state, entry.inode));
}

std::uint64_t PointModel::hash(const Decoded& state, const Overlay& overlay) const {
  // A sum of per-entry hashes: names are unique, so order does not matter and
  // the static part is added once per crash point, not once per state.
  std::uint64_t h = static_sum_;
  std::size_t i = 0;
  for (const auto& [name, entry] : overlay.dir) h += entry_hash(state, overlay.name_hashes[i++], entry);
  for (const auto& dynamic : dynamic_untouched_) h += entry_hash(state, dynamic.name_hash, dynamic.entry);
  return h;
}

std::string PointModel::content(const Decoded& state, std::uint64_t inode) const {
  const FileChoice* choice = nullptr;
  const FileModel* file = file_model(inode, state, &choice);
  if (file == nullptr) {
    const InodeState* found = durable(inode);
    return found != nullptr ? *found->base : std::string();
  }
  const std::uint64_t size = file->sizes[choice->size];
  std::string bytes, scratch;
  bytes.reserve(size);
  for (std::uint64_t b = 0; b * block_size_ < size; ++b) {
    bytes += file->option(b, choice->blocks[b]).view(scratch);
  }
  bytes.resize(size);
  return bytes;
}

bool PointModel::content_equals(const Decoded& state, std::uint64_t inode, std::string_view expected) const {
  const FileChoice* choice = nullptr;
  const FileModel* file = file_model(inode, state, &choice);
  if (file == nullptr) {
    const InodeState* found = durable(inode);
    return found != nullptr ? *found->base == expected : expected.empty();
  }
  const std::uint64_t size = file->sizes[choice->size];
  if (size != expected.size()) return false;
  std::string scratch;
  for (std::uint64_t b = 0; b * block_size_ < size; ++b) {
    const std::uint64_t in_block = std::min<std::uint64_t>(block_size_, size - b * block_size_);
    const auto bytes = file->option(b, choice->blocks[b]).view(scratch);
    if (std::memcmp(bytes.data(), expected.data() + b * block_size_, in_block) != 0) return false;
  }
  return true;
}

std::uint32_t PointModel::mode(const Decoded& state, std::uint64_t inode) const {
  auto found = mode_index_.find(inode);
  if (found != mode_index_.end() && !state.mode_version.empty()) {
    return modes_[found->second].modes[state.mode_version[found->second]];
  }
  const InodeState* kept = durable(inode);
  return kept != nullptr ? kept->base_mode : 0;
}

void PointModel::describe_file(const FileModel& file, const FileChoice& choice, std::vector<std::string>& out) const {
  const std::size_t versions = file.chain.size() + 1;
  // Op j (version j) persisted in a slot when the slot holds what version j or a later one held.
  auto kept_from = [&](const std::vector<std::uint32_t>& by_version, std::uint32_t chosen, std::size_t j) {
    return std::find(by_version.begin() + static_cast<std::ptrdiff_t>(j), by_version.end(), chosen) != by_version.end();
  };
  for (std::size_t j = 1; j < versions; ++j) {
    const Op& op = ops()[file.chain[j - 1]];
    const bool size_kept = kept_from(file.size_of_version, choice.size, j);
    std::size_t touched = 0, kept = 0, torn_at = SIZE_MAX;
    if (op.kind == Op::Kind::write && !op.bytes.empty()) {
      for (std::uint64_t b = op.offset / block_size_; b <= (op.offset + op.bytes.size() - 1) / block_size_; ++b) {
        ++touched;
        if (file.block_of_version[b].held_from(j, versions, choice.blocks[b])) ++kept;
        if (file.option(b, choice.blocks[b]).torn && torn_at == SIZE_MAX) torn_at = b;
      }
    }
    if (kept == touched && size_kept) continue;
    std::string text = op.describe();
    if (torn_at != SIZE_MAX) {
      const auto& torn = file.option(torn_at, choice.blocks[torn_at]);
      out.push_back("torn " + text + ": block " + std::to_string(torn_at) + " keeps the first " +
                    std::to_string(torn.torn_kept) + " changed bytes");
    } else if (kept == 0 && (touched > 0 || !size_kept)) {
      out.push_back("lost " + text);
    } else if (kept < touched) {
      out.push_back("partly lost " + text + ": " + std::to_string(kept) + " of " + std::to_string(touched) +
                    " blocks kept");
    } else {
      out.push_back("cut " + text + ": file length " + std::to_string(file.sizes[choice.size]));
    }
  }
}

std::string PointModel::lost(const Decoded& state) const {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < snap_.pending_entries.size(); ++i) {
    if (!state.entry_kept[i]) parts.push_back("dropped " + ops()[snap_.pending_entries[i]].describe());
  }
  for (std::size_t i = 0; i < files_.size(); ++i) describe_file(*files_[i], state.files[i], parts);
  for (std::size_t i = 0; i < modes_.size(); ++i) {
    for (std::size_t j = state.mode_version[i]; j < modes_[i].chain.size(); ++j) {
      parts.push_back("dropped " + ops()[modes_[i].chain[j]].describe());
    }
  }
  if (parts.empty()) return "nothing lost: every operation persisted";
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

}  // namespace crashcheck::powerloss::detail
