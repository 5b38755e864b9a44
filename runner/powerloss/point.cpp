#include "point.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace crashcheck::powerloss::detail {
namespace {

std::string block_of(const std::string& content, std::size_t block, std::uint32_t block_size) {
  std::string bytes(block_size, '\0');
  std::size_t begin = block * block_size;
  if (begin < content.size()) {
    auto n = std::min<std::size_t>(block_size, content.size() - begin);
    std::memcpy(bytes.data(), content.data() + begin, n);
  }
  return bytes;
}

// The one torn variant of a block: the first half of the bytes that changed
// between the durable and the newest version is new, the rest still old —
// as if the write stopped mid-block. One per block keeps the count bounded.
std::optional<BlockOption> torn_block(const std::string& durable, const std::string& newest) {
  std::size_t first = 0;
  while (first < durable.size() && durable[first] == newest[first]) ++first;
  if (first == durable.size()) return std::nullopt;
  std::size_t last = durable.size() - 1;
  while (durable[last] == newest[last]) --last;
  std::size_t keep = (last - first + 1) / 2;
  if (keep == 0) return std::nullopt;
  BlockOption torn;
  torn.bytes = durable;
  std::memcpy(torn.bytes.data() + first, newest.data() + first, keep);
  torn.torn = true;
  torn.torn_kept = static_cast<std::uint32_t>(keep);
  return torn;
}

std::uint32_t intern_block(std::vector<BlockOption>& options, BlockOption candidate) {
  for (std::uint32_t i = 0; i < options.size(); ++i) {
    if (options[i].bytes == candidate.bytes) return i;
  }
  candidate.hash = hash_bytes(candidate.bytes);
  options.push_back(std::move(candidate));
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
  std::uint64_t h = mix(0x5eed, content.size());
  for (std::size_t at = 0; at < content.size(); at += block_size) {
    h = mix(h, hash_bytes(content.substr(at, block_size)));
  }
  return h;
}

}  // namespace

std::uint64_t hash_bytes(std::string_view bytes) { return std::hash<std::string_view>{}(bytes); }

std::uint64_t mix(std::uint64_t seed, std::uint64_t value) {
  // splitmix64 finaliser over the combination: order-sensitive, well spread.
  std::uint64_t z = seed ^ (value + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

PointModel::PointModel(Snapshot snapshot, std::uint32_t block_size)
    : snap_(std::move(snapshot)), block_size_(block_size) {
  for (const auto& [inode, state] : snap_.inodes) {
    if (!state.pending_data.empty()) {
      files_.push_back(build_file(inode, state));
    } else {
      static_hashes_[inode] = hash_blockwise(state.base, block_size_);
    }
    if (!state.pending_mode.empty()) {
      ModeModel mode{inode, state.pending_mode, {state.base_mode}};
      for (auto id : state.pending_mode) mode.modes.push_back(ops()[id].mode);
      modes_.push_back(std::move(mode));
    }
  }
}

FileModel PointModel::build_file(std::uint64_t inode, const InodeState& state) const {
  FileModel file;
  file.inode = inode;
  file.chain = state.pending_data;
  const std::size_t versions = file.chain.size() + 1;

  std::uint64_t max_size = state.base.size();
  std::string content = state.base;
  std::vector<std::uint64_t> size_by_version{content.size()};
  for (auto id : file.chain) {
    apply_data_op(ops()[id], content);
    size_by_version.push_back(content.size());
    max_size = std::max<std::uint64_t>(max_size, content.size());
  }
  for (auto size : size_by_version) file.size_of_version.push_back(intern(file.sizes, size));

  const std::size_t blocks = (max_size + block_size_ - 1) / block_size_;
  file.blocks.resize(blocks);
  file.block_of_version.assign(blocks, std::vector<std::uint32_t>(versions, 0));
  for (std::size_t b = 0; b < blocks; ++b) {
    intern_block(file.blocks[b], BlockOption{block_of(state.base, b, block_size_)});
  }
  content = state.base;
  for (std::size_t v = 1; v < versions; ++v) {
    const Op& op = ops()[file.chain[v - 1]];
    const std::uint64_t before = content.size();
    apply_data_op(op, content);
    std::uint64_t lo = op.kind == Op::Kind::write ? op.offset : std::min<std::uint64_t>(before, op.offset);
    std::uint64_t hi = op.kind == Op::Kind::write ? op.offset + op.bytes.size()
                                                  : std::max<std::uint64_t>(before, op.offset);
    for (std::size_t b = 0; b < blocks; ++b) file.block_of_version[b][v] = file.block_of_version[b][v - 1];
    for (std::uint64_t b = lo / block_size_; hi > lo && b <= (hi - 1) / block_size_ && b < blocks; ++b) {
      file.block_of_version[b][v] = intern_block(file.blocks[b], BlockOption{block_of(content, b, block_size_)});
    }
  }
  for (std::size_t b = 0; b < blocks; ++b) {
    auto& options = file.blocks[b];
    auto torn = torn_block(options[file.block_of_version[b][0]].bytes,
                           options[file.block_of_version[b][versions - 1]].bytes);
    if (torn) intern_block(options, std::move(*torn));
  }
  return file;
}

FileChoice PointModel::file_at_version(const FileModel& file, std::size_t version) const {
  FileChoice choice;
  choice.size = file.size_of_version[version];
  for (const auto& per_version : file.block_of_version) choice.blocks.push_back(per_version[version]);
  return choice;
}

Directory PointModel::directory(const Decoded& state) const {
  Directory dir = snap_.base_dir;
  for (std::size_t i = 0; i < snap_.pending_entries.size(); ++i) {
    if (state.entry_kept[i]) apply_entry_op(ops()[snap_.pending_entries[i]], dir);
  }
  return dir;
}

const FileModel* PointModel::file_model(std::uint64_t inode, const Decoded& state,
                                        const FileChoice** choice) const {
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].inode == inode) {
      *choice = &state.files[i];
      return &files_[i];
    }
  }
  return nullptr;
}

std::uint64_t PointModel::content_hash(const Decoded& state, std::uint64_t inode) const {
  const FileChoice* choice = nullptr;
  const FileModel* file = file_model(inode, state, &choice);
  if (file == nullptr) {
    auto found = static_hashes_.find(inode);
    return found != static_hashes_.end() ? found->second : hash_blockwise("", block_size_);
  }
  const std::uint64_t size = file->sizes[choice->size];
  std::uint64_t h = mix(0x5eed, size);
  for (std::uint64_t b = 0; b * block_size_ < size; ++b) {
    const BlockOption& block = file->blocks[b][choice->blocks[b]];
    const std::uint64_t in_block = std::min<std::uint64_t>(block_size_, size - b * block_size_);
    h = mix(h, in_block == block_size_ ? block.hash : hash_bytes(std::string_view(block.bytes).substr(0, in_block)));
  }
  return h;
}

std::uint64_t PointModel::hash(const Decoded& state, const Directory& dir) const {
  std::uint64_t h = 0;
  for (const auto& [name, entry] : dir) {
    h = mix(h, hash_bytes(name));
    h = mix(h, entry.is_directory ? 1 : content_hash(state, entry.inode));
    h = mix(h, mode(state, entry.inode));
  }
  return h;
}

std::string PointModel::content(const Decoded& state, std::uint64_t inode) const {
  const FileChoice* choice = nullptr;
  const FileModel* file = file_model(inode, state, &choice);
  if (file == nullptr) {
    auto found = snap_.inodes.find(inode);
    return found != snap_.inodes.end() ? found->second.base : std::string();
  }
  const std::uint64_t size = file->sizes[choice->size];
  std::string bytes;
  bytes.reserve(size);
  for (std::uint64_t b = 0; b * block_size_ < size; ++b) {
    bytes += file->blocks[b][choice->blocks[b]].bytes;
  }
  bytes.resize(size);
  return bytes;
}

bool PointModel::content_equals(const Decoded& state, std::uint64_t inode, std::string_view expected) const {
  const FileChoice* choice = nullptr;
  const FileModel* file = file_model(inode, state, &choice);
  if (file == nullptr) {
    auto found = snap_.inodes.find(inode);
    return found != snap_.inodes.end() ? found->second.base == expected : expected.empty();
  }
  const std::uint64_t size = file->sizes[choice->size];
  if (size != expected.size()) return false;
  for (std::uint64_t b = 0; b * block_size_ < size; ++b) {
    const std::uint64_t in_block = std::min<std::uint64_t>(block_size_, size - b * block_size_);
    const auto& bytes = file->blocks[b][choice->blocks[b]].bytes;
    if (std::memcmp(bytes.data(), expected.data() + b * block_size_, in_block) != 0) return false;
  }
  return true;
}

std::uint32_t PointModel::mode(const Decoded& state, std::uint64_t inode) const {
  for (std::size_t i = 0; i < modes_.size(); ++i) {
    if (modes_[i].inode == inode) return modes_[i].modes[state.mode_version[i]];
  }
  auto found = snap_.inodes.find(inode);
  return found != snap_.inodes.end() ? found->second.base_mode : 0;
}

void PointModel::describe_file(const FileModel& file, const FileChoice& choice, std::vector<std::string>& out) const {
  const std::size_t versions = file.chain.size() + 1;
  // Op j (version j) persisted in a slot when the slot holds what version j or a later one held.
  auto kept_from = [&](const std::vector<std::uint32_t>& by_version, std::uint32_t chosen, std::size_t j) {
    for (std::size_t v = j; v < versions; ++v) {
      if (by_version[v] == chosen) return true;
    }
    return false;
  };
  for (std::size_t j = 1; j < versions; ++j) {
    const Op& op = ops()[file.chain[j - 1]];
    const bool size_kept = kept_from(file.size_of_version, choice.size, j);
    std::size_t touched = 0, kept = 0, torn_at = SIZE_MAX;
    if (op.kind == Op::Kind::write && !op.bytes.empty()) {
      for (std::uint64_t b = op.offset / block_size_; b <= (op.offset + op.bytes.size() - 1) / block_size_; ++b) {
        ++touched;
        if (kept_from(file.block_of_version[b], choice.blocks[b], j)) ++kept;
        if (file.blocks[b][choice.blocks[b]].torn && torn_at == SIZE_MAX) torn_at = b;
      }
    }
    if (kept == touched && size_kept) continue;
    std::string text = op.describe();
    if (torn_at != SIZE_MAX) {
      const auto& torn = file.blocks[torn_at][choice.blocks[torn_at]];
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
  for (std::size_t i = 0; i < files_.size(); ++i) describe_file(files_[i], state.files[i], parts);
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
