// Internal: one crash point's model. What each file with unsynced data may
// hold (block by block), what each unsynced mode may be, and how a choice
// among those becomes a directory state: its hash (for deduplication), its
// bytes (only when asked) and the text naming what it lost.
#pragma once

#include "model.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace crashcheck::powerloss::detail {

// One possible content of one block of a file.
struct BlockOption {
  // block_size bytes, zero-padded past the version's end. A block one write
  // or the durable bytes cover whole is a view into them, not a copy (a file
  // of hundreds of MiB is then held by the trace, issue 12): into the
  // trace's bytes, which outlive every model made from it, or into the
  // durable bytes, which `owner` keeps alive. Any other block is `owner`'s
  // own bytes, shared: a file model copied for the next crash point, and
  // every block of zeros of a file, hold them once. Torn: the durable
  // version's bytes.
  std::string_view bytes;
  std::shared_ptr<const std::string> owner;  // null: the trace holds `bytes`
  std::uint64_t hash = 0;
  bool torn = false;            // a prefix of the newest bytes over the durable ones
  std::uint32_t torn_kept = 0;  // torn: how many changed bytes it keeps
  // Torn: made on demand from the durable and the newest versions' bytes,
  // so a file's torn variants do not hold another copy of it.
  std::uint32_t torn_first = 0;                     // the first changed byte
  std::string_view newest;                          // the newest version's bytes
  std::shared_ptr<const std::string> newest_owner;  // which `newest` is a view into (null: the trace)
  // The block's bytes; a torn one is assembled in `scratch`.
  std::string_view view(std::string& scratch) const;
};

// Which option one block holds at each version, kept only where it changes:
// a block is written by few of a file's ops, so a table of every block at
// every version would grow with blocks × versions (10,000 × 10,000 entries
// for a file written in 10,000 writes). Entries ascend by version; the first
// is version 0.
class BlockHistory {
 public:
  explicit BlockHistory(std::uint32_t option = 0) : changes_{{0, option}} {}
  // The option at `version` (the newest change at or before it).
  std::uint32_t at(std::size_t version) const;
  std::uint32_t newest() const { return changes_.back().option; }
  // From `version` on, the block holds `option`.
  void set(std::size_t version, std::uint32_t option);
  // Whether some version at or after `from` (and before `versions`) holds `option`.
  bool held_from(std::size_t from, std::size_t versions, std::uint32_t option) const;

 private:
  struct Change {
    std::size_t version;
    std::uint32_t option;
  };
  std::vector<Change> changes_;
};

// A file with unsynced data. Version 0 is its durable content, version v the
// content after the v-th pending data op (`chain`).
struct FileModel {
  std::uint64_t inode = 0;
  std::shared_ptr<const std::string> base;         // version 0
  std::vector<std::size_t> chain;                  // pending data op ids
  std::vector<std::uint64_t> sizes;                // distinct sizes
  std::vector<std::uint32_t> size_of_version;      // version -> index into sizes
  std::vector<std::vector<BlockOption>> versions;  // per block: distinct contents of its versions
  std::vector<std::optional<BlockOption>> torn;    // per block: the torn variant, if distinct
  // Per block: version -> option (a block first reached later holds option
  // 0 before, the zero block).
  std::vector<BlockHistory> block_of_version;
  std::uint64_t newest_size = 0;             // size of the last version (its blocks: each history's newest)
  std::shared_ptr<const std::string> zeros;  // the block of zeros, shared by every block first reached late

  std::size_t blocks() const { return versions.size(); }
  // Options of block b: its versions' contents, then the torn variant.
  std::uint32_t options(std::size_t b) const {
    return static_cast<std::uint32_t>(versions[b].size() + (torn[b] ? 1 : 0));
  }
  const BlockOption& option(std::size_t b, std::uint32_t i) const {
    return i < versions[b].size() ? versions[b][i] : *torn[b];
  }
};

// Carries file models from one crash point to the next: a file whose durable
// bytes did not change and whose pending ops only grew is extended by the new
// ops instead of rebuilt, so a long run of writes costs linear, not quadratic, time.
// Likewise the hash of a file without unsynced data is computed once per
// version of its durable bytes, not once per crash point (the untouched files
// of a large directory are hashed once per run).
class FileModelCache {
 public:
  std::shared_ptr<const FileModel> get(const std::vector<Op>& ops, std::uint64_t inode, const InodeState& state,
                                       std::uint32_t block_size);
  std::uint64_t durable_hash(std::uint64_t inode, const InodeState& state, std::uint32_t block_size);
  // A file without unsynced data needs no model: a large file's stale one
  // (every block version since its last sync) would outlive its use.
  void forget(std::uint64_t inode);

 private:
  struct DurableHash {
    std::shared_ptr<const std::string> bytes;  // held, so a new version never reuses its address
    std::uint64_t hash = 0;
  };
  std::unordered_map<std::uint64_t, std::shared_ptr<FileModel>> models_;
  std::unordered_map<std::uint64_t, DurableHash> durable_hashes_;
};

// An inode with unsynced chmods: mode of version v (0: durable).
struct ModeModel {
  std::uint64_t inode = 0;
  std::vector<std::size_t> chain;    // pending chmod op ids
  std::vector<std::uint32_t> modes;  // chain.size() + 1 entries
};

// What one file holds in one state.
struct FileChoice {
  std::uint32_t size = 0;             // index into FileModel::sizes
  std::vector<std::uint32_t> blocks;  // per block: index into its options
  // Set by PointModel::file_at_version: `blocks` are the file's at this
  // version, except `patched` blocks from `patched_from` (a write cut
  // part-way, ext4-ordered), so the next call moves only the blocks the ops
  // between the two versions wrote. kNoVersion: `blocks` were set otherwise.
  static constexpr std::size_t kNoVersion = SIZE_MAX;
  std::size_t version = kNoVersion;
  std::size_t patched_from = 0, patched = 0;
};

// A state, as choices: which pending entry ops persisted, what each file
// with unsynced data holds, which mode version each inode has.
struct Decoded {
  std::vector<std::uint8_t> entry_kept;     // per Snapshot::pending_entries: 1 kept (bytes: a key compared by memcmp)
  std::vector<FileChoice> files;            // per PointModel::file(i)
  std::vector<std::uint32_t> mode_version;  // per PointModel::modes
};

// A state's entries of the names pending entry ops touch, with what hashing
// a state needs of them; it depends only on which entry ops persisted, so a
// crash point builds one per such set, not one per state.
struct Overlay {
  Directory dir;
  std::vector<std::uint64_t> name_hashes;  // per entry of dir
  std::vector<bool> named;                 // per PointModel::file(i): some entry of the state is that file
};

class PointModel {
 public:
  PointModel(Snapshot snapshot, std::uint32_t block_size, FileModelCache& cache);
  PointModel(const PointModel&) = delete;  // by_name_ points into its own members
  PointModel& operator=(const PointModel&) = delete;

  const Snapshot& snapshot() const { return snap_; }
  const std::vector<std::size_t>& pending() const { return pending_; }  // Snapshot::pending_all()
  const std::vector<Op>& ops() const { return *snap_.ops; }
  std::size_t file_count() const { return files_.size(); }
  const FileModel& file(std::size_t i) const { return *files_[i]; }
  const std::vector<ModeModel>& modes() const { return modes_; }
  std::uint32_t block_size() const { return block_size_; }

  // The choice of a file for "its first `version` pending ops persisted",
  // written into `out`: when `out` holds the same file at another version
  // (FileChoice::version), only the blocks the ops between them wrote are
  // looked up, so walking a file's versions in order costs the blocks
  // written, not every block at every version.
  void file_at_version(const FileModel& file, std::size_t version, FileChoice& out) const;

  // A state's directory is the durable one with the names pending entry ops
  // touch replaced by an overlay: only the overlay is built per state.
  Overlay overlay(const Decoded& state) const;
  const Entry* find(const Directory& overlay, std::string_view name) const;
  // Whether every state of the point holds the same file under `name`, or none does.
  bool same_in_every_state(std::string_view name) const;
  std::vector<std::string> names(const Directory& overlay) const;
  std::uint64_t hash(const Decoded& state, const Overlay& overlay) const;

  std::string content(const Decoded& state, std::uint64_t inode) const;
  bool content_equals(const Decoded& state, std::uint64_t inode, std::string_view expected) const;
  std::uint32_t mode(const Decoded& state, std::uint64_t inode) const;
  std::string lost(const Decoded& state) const;

 private:
  struct OptionHashes;
  static OptionHashes flat_hashes(const FileModel& file);
  const FileModel* file_model(std::uint64_t inode, const Decoded& state, const FileChoice** choice) const;
  std::uint64_t content_hash(const Decoded& state, std::uint64_t inode) const;
  std::uint64_t entry_hash(const Decoded& state, std::uint64_t name_hash, const Entry& entry) const;
  bool touched(std::string_view name) const;
  void describe_file(const FileModel& file, const FileChoice& choice, std::vector<std::string>& out) const;
  // The blocks version `version` (>= 1) of `file` wrote: [first, last).
  std::pair<std::size_t, std::size_t> blocks_written(const FileModel& file, std::size_t version) const;

  Snapshot snap_;
  std::vector<std::size_t> pending_;
  std::uint32_t block_size_;
  std::vector<std::shared_ptr<const FileModel>> files_;
  // Per file, every block option's block_term in one flat array (block b's
  // options start at option_at[b]): hashing a state adds one word per block.
  struct OptionHashes {
    std::vector<std::uint32_t> option_at;
    std::vector<std::uint64_t> hashes;
  };
  std::vector<OptionHashes> option_hashes_;
  std::vector<ModeModel> modes_;
  std::unordered_map<std::uint64_t, std::size_t> file_index_, mode_index_;
  // Every inode's durable state, and for inodes without unsynced data the
  // hash of their bytes: a hash lookup where the snapshot's map is a tree walk.
  struct Durable {
    const InodeState* state = nullptr;
    std::uint64_t hash = 0;  // only without unsynced data
  };
  std::unordered_map<std::uint64_t, Durable> durable_;
  const InodeState* durable(std::uint64_t inode) const;
  std::vector<std::string> touched_;  // sorted names pending entry ops touch
  // Every name a state may hold -> its durable entry, or nullptr for a touched
  // name (read from the state's overlay): one hash lookup per find, which the
  // properties do for the target in every state.
  std::unordered_map<std::string_view, const Entry*> by_name_;
  // The item of by_name_ last looked up: the properties ask for the target
  // two or three times in every state, and comparing a short name costs
  // less than hashing it.
  using ByName = std::unordered_map<std::string_view, const Entry*>::value_type;
  mutable const ByName* last_found_ = nullptr;  // its key views the model's own names: nothing to allocate
  // by_name_'s item for `name`, or nullptr when no state holds that name.
  const ByName* by_name(std::string_view name) const;
  Directory overlay_base_;  // durable entries of those names
  struct Dynamic {
    Entry entry;
    std::uint64_t name_hash;
  };
  std::vector<Dynamic> dynamic_untouched_;  // other durable entries whose inode has choices
  std::uint64_t static_sum_ = 0;            // entry hashes of every other durable entry
};

std::uint64_t hash_bytes(std::string_view bytes);
std::uint64_t mix(std::uint64_t seed, std::uint64_t value);

// The splitmix64 finaliser: spreads every input bit over the output.
inline std::uint64_t finalise(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A file's hash is its length mixed with a sum of per-block terms: block
// `block`'s bytes' hash spread with its position. The terms do not depend
// on each other, so a state's hash adds one precomputed word per block with
// no chain of multiplications between them (a chain's latency was the
// costliest part of a sampled state).
inline std::uint64_t block_term(std::uint64_t block, std::uint64_t hash) {
  return finalise(hash + (block + 1) * 0x9e3779b97f4a7c15ull);
}
inline std::uint64_t file_hash(std::uint64_t size, std::uint64_t terms) { return finalise(mix(0x5eed, size) + terms); }

}  // namespace crashcheck::powerloss::detail
