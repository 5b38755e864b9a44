// Internal: one crash point's model. What each file with unsynced data may
// hold (block by block), what each unsynced mode may be, and how a choice
// among those becomes a directory state: its hash (for deduplication), its
// bytes (only when asked) and the text naming what it lost.
#pragma once

#include "model.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace crashcheck::powerloss::detail {

// One possible content of one block of a file.
struct BlockOption {
  std::string bytes;          // block_size bytes, zero-padded past the version's end
  std::uint64_t hash = 0;
  bool torn = false;          // a prefix of the newest bytes over the durable ones
  std::uint32_t torn_kept = 0;  // torn: how many changed bytes it keeps
};

// A file with unsynced data. Version 0 is its durable content, version v the
// content after the v-th pending data op (`chain`).
struct FileModel {
  std::uint64_t inode = 0;
  std::vector<std::size_t> chain;                        // pending data op ids
  std::vector<std::uint64_t> sizes;                      // distinct sizes
  std::vector<std::uint32_t> size_of_version;            // version -> index into sizes
  std::vector<std::vector<BlockOption>> blocks;          // per block: distinct options
  std::vector<std::vector<std::uint32_t>> block_of_version;  // per block: version -> option
};

// An inode with unsynced chmods: mode of version v (0: durable).
struct ModeModel {
  std::uint64_t inode = 0;
  std::vector<std::size_t> chain;     // pending chmod op ids
  std::vector<std::uint32_t> modes;   // chain.size() + 1 entries
};

// What one file holds in one state.
struct FileChoice {
  std::uint32_t size = 0;                // index into FileModel::sizes
  std::vector<std::uint32_t> blocks;     // per block: index into its options
};

// A state, as choices: which pending entry ops persisted, what each file
// with unsynced data holds, which mode version each inode has.
struct Decoded {
  std::vector<bool> entry_kept;           // per Snapshot::pending_entries
  std::vector<FileChoice> files;          // per PointModel::files
  std::vector<std::uint32_t> mode_version;  // per PointModel::modes
};

class PointModel {
 public:
  PointModel(Snapshot snapshot, std::uint32_t block_size);

  const Snapshot& snapshot() const { return snap_; }
  const std::vector<Op>& ops() const { return *snap_.ops; }
  const std::vector<FileModel>& files() const { return files_; }
  const std::vector<ModeModel>& modes() const { return modes_; }
  std::uint32_t block_size() const { return block_size_; }

  // The choice of a file for "its first `version` pending ops persisted".
  FileChoice file_at_version(const FileModel& file, std::size_t version) const;

  Directory directory(const Decoded& state) const;
  std::uint64_t hash(const Decoded& state, const Directory& dir) const;
  std::string content(const Decoded& state, std::uint64_t inode) const;
  bool content_equals(const Decoded& state, std::uint64_t inode, std::string_view expected) const;
  std::uint32_t mode(const Decoded& state, std::uint64_t inode) const;
  std::string lost(const Decoded& state) const;

 private:
  FileModel build_file(std::uint64_t inode, const InodeState& state) const;
  const FileModel* file_model(std::uint64_t inode, const Decoded& state, const FileChoice** choice) const;
  std::uint64_t content_hash(const Decoded& state, std::uint64_t inode) const;
  void describe_file(const FileModel& file, const FileChoice& choice, std::vector<std::string>& out) const;

  Snapshot snap_;
  std::uint32_t block_size_;
  std::vector<FileModel> files_;
  std::vector<ModeModel> modes_;
  std::map<std::uint64_t, std::uint64_t> static_hashes_;  // inodes without unsynced data
};

std::uint64_t hash_bytes(std::string_view bytes);
std::uint64_t mix(std::uint64_t seed, std::uint64_t value);

}  // namespace crashcheck::powerloss::detail
