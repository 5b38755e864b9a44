// Internal: the replay of a trace on an in-memory scratch directory, split at
// every moment into what is durable ("base") and what a power loss may still
// drop ("pending"). The profile decides what a sync makes durable; the
// choice spaces (space.hpp) decide what may survive of the pending rest.
#pragma once

#include "crashcheck/powerloss.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::powerloss::detail {

// One effect of a successful counted call that a power loss may drop.
struct Op {
  enum class Kind : std::uint8_t { create, unlink, rename, exchange, link, resize, write, chmod };
  Kind kind = Kind::write;
  std::uint32_t seq = 0;
  std::string call;
  std::string name;   // entry ops: the entry; data ops: the file's path at open time
  std::string name2;  // rename / exchange / link destination
  std::uint64_t inode = 0;
  bool is_directory = false;
  bool replaces_existing = false;  // rename over an existing entry (auto_da_alloc trigger)
  std::uint64_t offset = 0;        // write offset, or resize length
  // Write data: a view of the trace record's bytes (a Replay never outlives
  // the trace it replays), so a large write is not held twice.
  std::string_view bytes;
  std::uint32_t mode = 0;  // create / chmod

  bool is_entry_op() const noexcept { return kind <= Kind::link; }
  bool is_data_op() const noexcept { return kind == Kind::resize || kind == Kind::write; }
  std::string describe() const;  // "#9 rename(a.tmp → target)"
};

struct Entry {
  std::uint64_t inode = 0;
  bool is_directory = false;
  bool operator==(const Entry&) const = default;
};

// A directory's entries, sorted by name. A flat vector because every crash
// state copies one: copying it is one allocation, a std::map's is one per entry.
class Directory {
 public:
  using Item = std::pair<std::string, Entry>;
  const Entry* find(std::string_view name) const;
  void set(std::string_view name, Entry entry);
  void erase(std::string_view name);
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }
  std::size_t size() const { return items_.size(); }

 private:
  std::vector<Item>::iterator lower_bound(std::string_view name);
  std::vector<Item> items_;
};

// Applies one entry op to a directory view.
void apply_entry_op(const Op& op, Directory& dir);
// Applies one data op to a file's bytes.
void apply_data_op(const Op& op, std::string& content);

// A file's durable bytes and mode, and what happened to it since.
struct InodeState {
  // Bytes a power loss can no longer take away; shared, so snapshots and
  // cached file models see a change as a new pointer and copy nothing.
  std::shared_ptr<const std::string> base = std::make_shared<const std::string>();
  std::uint32_t base_mode = 0;
  std::uint32_t current_mode = 0;
  std::vector<std::size_t> pending_data;  // op ids (resize/write) since the last data sync
  std::vector<std::size_t> pending_mode;  // op ids (chmod) not yet durable
};

// Everything the choice spaces need at one crash point.
struct Snapshot {
  const std::vector<Op>* ops = nullptr;      // all ops so far, by id
  Directory base_dir;                        // durable entries
  std::vector<std::size_t> pending_entries;  // op ids of entry ops not yet durable, in order
  std::map<std::uint64_t, InodeState> inodes;
  // Every pending op id (entry, data, mode), in trace order: the "prefix"
  // states persist the first k of these.
  std::vector<std::size_t> pending_all() const;
};

// Replays a trace record by record under one profile.
class Replay {
 public:
  // What the subject sees of each file's bytes is kept only with
  // Visible::bytes (for visible()); the crash states need its size alone,
  // and another copy of a large file is not free.
  enum class Visible : bool { sizes, bytes };
  Replay(const InitialState& initial, Profile profile, Visible keep = Visible::sizes);
  // With Visible::bytes: each file's bytes are then sized once, on its first
  // write, for the furthest any write of `trace` reaches in it. Grown write
  // by write, a reallocation holds the old and the new buffer (2.25 times a
  // file of hundreds of MiB, issue 12). Call before the first apply().
  void expect_extents(const faults::Trace& trace);
  void apply(const faults::TraceRecord& record);
  Snapshot snapshot() const;
  const std::vector<Op>& ops() const noexcept { return ops_; }
  // Every entry as the subject sees it now, with its current bytes (made
  // with Visible::bytes, moved out: the replay is done) and mode.
  std::map<std::string, FileImage> take_visible();
  // The same, copied: the replay goes on (within-call cuts compare before and after a record).
  std::map<std::string, FileImage> visible();
  // The same as views of the replay's bytes (Visible::bytes), valid until the next apply.
  std::map<std::string, SeenFile> views() const;
  // The bytes the subject sees of the file a write record writes (Visible::bytes),
  // to change in place for a cut inside it; nullptr when it has none yet.
  std::string* written_file(const faults::TraceRecord& record);
  // The regular files of `before` (a visible() of this replay) whose bytes
  // differ now: compared in place, not through another copy of every file.
  std::vector<std::string> changed_since(const std::map<std::string, FileImage>& before) const;
  // Stores through a shared mapping (faults::is_mapped_store) may reach the
  // disk at any moment of their window, before the record that shows them:
  // the power-loss replay adds their bytes as pending data at the window's
  // start, and apply() of the record itself then adds only its sync (MS_SYNC).
  void apply_early(const faults::TraceRecord& record);

 private:
  std::map<std::string, FileImage> images(bool take);  // visible() and take_visible()
  std::uint64_t resolve_inode(const faults::TraceRecord& record, const std::string& path);
  std::uint64_t new_inode(std::uint64_t number);  // the model's inode for a file a call created
  InodeState& inode(std::uint64_t id);
  std::size_t add_op(Op op);
  void add_entry_op(Op op);
  void add_data_op(Op op);
  void add_mode_op(Op op);
  void sync_file(std::uint64_t id);
  void sync_mode(std::uint64_t id);  // the inode's mode durable
  bool datasync_commits(std::uint64_t id);
  void sync_data_and_mode(std::uint64_t id);  // fdatasync
  void sync_directory(const std::string& path);
  void sync_everything();
  void commit_journal();                                          // ext4-ordered: any sync commits all metadata
  void make_entry_durable(std::size_t index);                     // index into pending_entries_, with its predecessors
  void make_data_durable(std::uint64_t id, std::size_t upto_op);  // ops with id < upto_op

  Profile profile_;
  std::uint32_t umask_ = 0;
  std::vector<Op> ops_;
  std::deque<std::string> zeros_;  // the bytes of punched holes and zeroed ranges, which ops view
  Directory live_;                 // the directory as the subject sees it
  Directory base_dir_;
  std::vector<std::size_t> pending_entries_;
  std::map<std::uint64_t, InodeState> inodes_;
  Visible keep_;
  std::map<std::uint64_t, std::string> current_;         // what the subject sees of each file (Visible::bytes)
  std::map<std::uint64_t, std::uint64_t> current_size_;  // and its size
  std::map<std::uint64_t, std::uint64_t> extents_;  // trace inode -> furthest byte a write reaches (expect_extents)
  void reserve_extent(const faults::TraceRecord& record, std::uint64_t id);
  std::map<std::uint64_t, std::uint64_t> aliases_;            // trace inode -> made-up id of an initial file
  static constexpr std::uint64_t kMadeUpInodes = 1ull << 62;  // ids for files whose inode is unknown
  std::uint64_t next_made_up_inode_ = kMadeUpInodes;
  // Descriptors opened with O_SYNC or O_DSYNC, by (pid, fd): each write
  // through one is durable when it returns, as if fdatasync followed it.
  std::map<std::pair<std::int32_t, std::int32_t>, std::uint64_t> synchronous_fds_;  // -> the file's inode
  std::set<std::uint64_t> uncommitted_;  // ext4-ordered: inodes changed since the last journal commit
  bool synchronous_fd(const faults::TraceRecord& record);
  std::set<std::uint32_t> applied_early_;  // seqs of mapped stores whose bytes apply_early added
  // After a failed fsync (failed_file_sync): per file, the byte ranges its
  // unsynced writes covered then, not yet rewritten, and the first of those
  // writes' op ids. While any range is left, no sync makes that op or a later
  // one durable (a simplification: a write after the error to other bytes
  // stays unsynced too; the writer already exited 0 after a lost write).
  struct Unwritable {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // [from, to)
    std::size_t first_op = 0;
  };
  std::map<std::uint64_t, Unwritable> unwritable_;
  void fail_sync(std::uint64_t id);
  void rewrite(std::uint64_t id, const Op& op);                    // a data op after the error takes its bytes off
  void sync_data(std::uint64_t id);                                // fdatasync: the data, not the mode
  void sync_written_range(std::uint64_t id, std::size_t written);  // O_DSYNC: one write's range
  std::size_t clipped(std::size_t id, std::uint64_t from, std::uint64_t to);
  std::vector<std::size_t> clipped_outside(const std::vector<std::size_t>& writes, std::uint64_t from,
                                           std::uint64_t to);
  bool synchronous(const faults::TraceRecord& record);
};

// Entry names an op touches, for the per-name dependency order.
std::vector<std::string> touched_names(const Op& op);
// Parent directory of a relative path ("." for top-level names).
std::string parent_of(const std::string& path);

}  // namespace crashcheck::powerloss::detail
