#include "model.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <limits>

namespace crashcheck::powerloss::detail {
namespace {

using faults::OpClass;
using faults::TraceRecord;

constexpr int kRenameExchange = 2;          // RENAME_EXCHANGE, <linux/fs.h>
constexpr int kFallocKeepSize = 1;          // FALLOC_FL_KEEP_SIZE
constexpr int kFallocPunchHole = 2;         // FALLOC_FL_PUNCH_HOLE
constexpr int kFallocZeroRange = 0x10;      // FALLOC_FL_ZERO_RANGE
constexpr int kMsSync = 4;                  // MS_SYNC, <sys/mman.h>
constexpr std::uint64_t kPageBytes = 4096;  // ext4's block and the page cache's unit of write-back

bool shares_name(const Op& a, const Op& b) {
  auto names_a = touched_names(a);
  for (const auto& name : touched_names(b)) {
    if (std::find(names_a.begin(), names_a.end(), name) != names_a.end()) return true;
  }
  return false;
}

}  // namespace

std::string Op::describe() const {
  std::string text = "#" + std::to_string(seq) + " " + call + "(";
  switch (kind) {
    case Kind::create:
      text += name + (is_directory ? ", new directory" : ", new file");
      break;
    case Kind::unlink:
      text += name;
      break;
    case Kind::rename:
    case Kind::exchange:
    case Kind::link:
      text += name + (kind == Kind::exchange ? " ⇄ " : " → ") + name2;
      break;
    case Kind::resize:
      text += name + ", length " + std::to_string(offset);
      break;
    case Kind::write:
      text += name + ", " + std::to_string(bytes.size()) + " bytes at " + std::to_string(offset);
      break;
    case Kind::chmod: {
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", mode);
      text += name + ", " + octal;
      break;
    }
  }
  return text + ")";
}

std::vector<Directory::Item>::iterator Directory::lower_bound(std::string_view name) {
  return std::lower_bound(items_.begin(), items_.end(), name,
                          [](const Item& item, std::string_view key) { return item.first < key; });
}

const Entry* Directory::find(std::string_view name) const {
  auto it = const_cast<Directory*>(this)->lower_bound(name);
  return it != items_.end() && it->first == name ? &it->second : nullptr;
}

void Directory::set(std::string_view name, Entry entry) {
  auto it = lower_bound(name);
  if (it != items_.end() && it->first == name) {
    it->second = entry;
  } else {
    items_.insert(it, Item{std::string(name), entry});
  }
}

void Directory::erase(std::string_view name) {
  auto it = lower_bound(name);
  if (it != items_.end() && it->first == name) items_.erase(it);
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::vector<std::string> touched_names(const Op& op) {
  if (!op.is_entry_op()) return {};
  if (op.kind == Op::Kind::create || op.kind == Op::Kind::unlink) return {op.name};
  // the link naming an O_TMPFILE file: its source is no entry (two such
  // links in a directory do not depend on each other)
  if (op.kind == Op::Kind::link && faults::is_unnamed(op.name)) return {op.name2};
  return {op.name, op.name2};
}

void apply_entry_op(const Op& op, Directory& dir) {
  switch (op.kind) {
    case Op::Kind::create:
      dir.set(op.name, Entry{op.inode, op.is_directory});
      break;
    case Op::Kind::unlink:
      dir.erase(op.name);
      break;
    case Op::Kind::link:
      dir.set(op.name2, Entry{op.inode, false});
      break;
    case Op::Kind::rename: {
      const Entry* from = dir.find(op.name);
      if (from == nullptr) break;  // its source never became durable: nothing to move
      Entry moved = *from;
      dir.erase(op.name);
      dir.set(op.name2, moved);
      break;
    }
    case Op::Kind::exchange: {
      const Entry* a = dir.find(op.name);
      const Entry* b = dir.find(op.name2);
      if (a == nullptr || b == nullptr) break;
      Entry first = *a, second = *b;
      dir.set(op.name, second);
      dir.set(op.name2, first);
      break;
    }
    default:
      break;
  }
}

void apply_data_op(const Op& op, std::string& content) {
  if (op.kind == Op::Kind::resize) {
    content.resize(op.offset, '\0');
    return;
  }
  auto end = op.offset + op.bytes.size();
  // Grown by a quarter, not doubled: a file written in many pieces is held
  // with little slack (amortised copies stay linear).
  if (content.capacity() < end)
    content.reserve(std::max<std::uint64_t>(end, content.capacity() + content.capacity() / 4));
  if (content.size() < end) content.resize(end, '\0');  // a write past the end leaves a hole of zeros
  content.replace(op.offset, op.bytes.size(), op.bytes);
}

std::vector<std::size_t> Snapshot::pending_all() const {
  std::vector<std::size_t> all(pending_entries);
  for (const auto& [id, inode] : inodes) {
    all.insert(all.end(), inode.pending_data.begin(), inode.pending_data.end());
    all.insert(all.end(), inode.pending_mode.begin(), inode.pending_mode.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

Replay::Replay(const InitialState& initial, Profile profile, Visible keep)
    : profile_(profile), umask_(initial.umask), keep_(keep) {
  for (const auto& file : initial.files) {
    std::uint64_t id = file.inode != 0 ? file.inode : next_made_up_inode_++;
    auto& state = inodes_[id];
    state.base = std::make_shared<const std::string>(file.content);
    if (keep_ == Visible::bytes) current_[id] = file.content;
    current_size_[id] = file.content.size();
    state.base_mode = state.current_mode = file.mode;
    live_.set(file.name, Entry{id, file.is_directory});
    base_dir_.set(file.name, Entry{id, file.is_directory});
  }
}

InodeState& Replay::inode(std::uint64_t id) { return inodes_[id]; }

void Replay::expect_extents(const faults::Trace& trace) {
  if (keep_ != Visible::bytes) return;  // only sizes are kept: nothing grows
  for (const auto& record : trace.records) {
    if (record.op != OpClass::write || record.error != 0 || record.inode == 0 || record.data.empty()) continue;
    auto& extent = extents_[record.inode];
    extent = std::max<std::uint64_t>(extent, std::max<std::int64_t>(record.offset, 0) + record.data.size());
  }
}

// The trace's inode numbers may name two files in turn (the kernel reuses a
// freed one): the later file is then sized for the larger, bytes that are
// reserved, not copied.
void Replay::reserve_extent(const TraceRecord& record, std::uint64_t id) {
  const auto extent = extents_.find(record.inode);
  if (extent == extents_.end()) return;
  auto& bytes = current_[id];
  if (bytes.capacity() < extent->second) bytes.reserve(extent->second);
}

std::uint64_t Replay::resolve_inode(const TraceRecord& record, const std::string& path) {
  auto aliased = aliases_.find(record.inode);
  if (aliased != aliases_.end()) return aliased->second;
  const Entry* named = live_.find(path);
  if (record.inode != 0 && inodes_.count(record.inode) == 0 && named != nullptr && named->inode >= kMadeUpInodes) {
    // An initial file given without its inode: the first record naming it
    // tells us which inode the trace calls it.
    aliases_[record.inode] = named->inode;
    return named->inode;
  }
  if (record.inode != 0) return record.inode;
  return named != nullptr ? named->inode : 0;
}

// A file the call created. Its number may be one a file unlinked earlier in
// the trace had (the kernel reuses freed inode numbers at once: SQLite's
// -shm often gets its deleted journal's); a power loss can keep that
// unlink undone, and then both files exist. So a number seen before names a
// new inode of the model's own from here on.
std::uint64_t Replay::new_inode(std::uint64_t number) {
  if (number == 0) return next_made_up_inode_++;
  if (inodes_.count(number) == 0 && aliases_.count(number) == 0) return number;
  const std::uint64_t fresh = next_made_up_inode_++;
  aliases_[number] = fresh;
  return fresh;
}

std::size_t Replay::add_op(Op op) {
  ops_.push_back(std::move(op));
  return ops_.size() - 1;
}

void Replay::add_entry_op(Op op) {
  if (op.kind == Op::Kind::rename || op.kind == Op::Kind::link) {
    // The inode that moves is the one the source names now (the record's
    // inode may name either side, so the live view decides).
    if (const Entry* from = live_.find(op.name)) op.inode = from->inode;
    op.replaces_existing = op.kind == Op::Kind::rename && live_.find(op.name2) != nullptr;
  }
  uncommitted_.insert(op.inode);  // a new or renamed file's inode changes with its entry (link count, ctime)
  if (op.kind == Op::Kind::create) {
    auto& state = inode(op.inode);
    state.base_mode = state.current_mode = op.mode;
  }
  apply_entry_op(op, live_);
  pending_entries_.push_back(add_op(std::move(op)));
}

void Replay::add_data_op(Op op) {
  uncommitted_.insert(op.inode);
  rewrite(op.inode, op);
  auto& state = inode(op.inode);
  if (keep_ == Visible::bytes) apply_data_op(op, current_[op.inode]);
  auto& size = current_size_[op.inode];
  size = op.kind == Op::Kind::resize ? op.offset : std::max<std::uint64_t>(size, op.offset + op.bytes.size());
  state.pending_data.push_back(add_op(std::move(op)));
}

void Replay::add_mode_op(Op op) {
  uncommitted_.insert(op.inode);
  auto& state = inode(op.inode);
  state.current_mode = op.mode;
  state.pending_mode.push_back(add_op(std::move(op)));
}

void Replay::apply(const TraceRecord& record) {
  if (failed_file_sync(record)) return fail_sync(resolve_inode(record, record.path));
  if (record.error != 0) return;  // any other failed call changes nothing
  Op op;
  op.seq = record.seq;
  op.call = record.call;
  op.name = record.path;
  op.is_directory = record.is_directory;
  auto target_inode = [&] { return resolve_inode(record, record.path); };
  switch (record.op) {
    case OpClass::open:
    case OpClass::mkdir:
      // A descriptor number is O_DSYNC until reused: any open that returns
      // it says what it is now (an exec or dup2 over it is not traced; the
      // write's inode is checked too).
      if (record.op == OpClass::open && record.fd >= 0) {
        synchronous_fds_.erase({record.pid, record.fd});
        if ((record.flags & O_DSYNC) != 0)  // O_SYNC includes O_DSYNC
          synchronous_fds_[{record.pid, record.fd}] = target_inode();
      }
      if (record.created && faults::is_unnamed(record.path)) {
        // O_TMPFILE: a new inode and no entry; a power loss before a linkat
        // names it (and that name is durable) leaves nothing of it
        const auto id = new_inode(record.inode);
        auto& state = inode(id);
        state.base_mode = state.current_mode = record.mode & ~umask_;
        uncommitted_.insert(id);
      } else if (record.created) {
        op.kind = Op::Kind::create;
        op.inode = new_inode(record.inode);
        op.mode = record.mode & ~umask_;
        op.is_directory = record.is_directory || record.op == OpClass::mkdir;
        add_entry_op(std::move(op));
      } else if ((record.flags & O_TRUNC) != 0 && !record.is_directory) {
        op.kind = Op::Kind::resize;
        op.offset = 0;
        op.inode = target_inode();
        add_data_op(std::move(op));
      }
      break;
    case OpClass::write:
      if (record.data.empty()) break;
      op.kind = Op::Kind::write;
      op.inode = target_inode();
      op.offset = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0));
      op.bytes = record.data;
      if (keep_ == Visible::bytes) reserve_extent(record, op.inode);
      if (applied_early_.count(record.seq)) {
        if (synchronous(record)) sync_data(target_inode());
        break;
      }
      add_data_op(std::move(op));
      if (const bool o_sync = synchronous_fd(record); o_sync || faults::synchronous_pwritev2(record)) {
        sync_written_range(target_inode(), ops_.size() - 1);
        if (o_sync || (record.flags & faults::kRwfSync) != 0)
          sync_mode(target_inode());  // O_SYNC's inode flush: simplified
      } else if (synchronous(record)) {
        sync_data(target_inode());
      }
      break;
    case OpClass::truncate:
      op.kind = Op::Kind::resize;
      op.inode = target_inode();
      op.offset = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0));
      add_data_op(std::move(op));
      break;
    case OpClass::allocate: {
      op.inode = target_inode();
      const auto start = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0));
      auto end = start + record.length;
      if ((record.flags & (kFallocPunchHole | kFallocZeroRange)) != 0) {
        // Punching a hole or zeroing a range writes zeros there (up to the
        // file's end unless the size may grow): bytes a power loss can keep.
        const std::uint64_t size = current_size_[op.inode];
        const std::uint64_t upto = (record.flags & kFallocKeepSize) != 0 ? std::min(end, size) : end;
        if (upto <= start) break;
        op.kind = Op::Kind::write;
        op.offset = start;
        zeros_.emplace_back(upto - start, '\0');
        op.bytes = zeros_.back();
        add_data_op(std::move(op));
        break;
      }
      if ((record.flags & kFallocKeepSize) != 0 || end <= current_size_[op.inode]) break;
      op.kind = Op::Kind::resize;
      op.offset = end;
      add_data_op(std::move(op));
      break;
    }
    case OpClass::chmod:
      op.kind = Op::Kind::chmod;
      op.inode = target_inode();
      op.mode = record.mode;
      add_mode_op(std::move(op));
      break;
    case OpClass::rename:
    case OpClass::link:
      op.kind = record.op == OpClass::link              ? Op::Kind::link
                : (record.flags & kRenameExchange) != 0 ? Op::Kind::exchange
                                                        : Op::Kind::rename;
      op.name2 = record.path2;
      // an O_TMPFILE file has no entry for add_entry_op to find: the inode it was created as
      op.inode = faults::is_unnamed(record.path) ? target_inode() : record.inode;
      add_entry_op(std::move(op));
      break;
    case OpClass::unlink:
      op.kind = Op::Kind::unlink;
      add_entry_op(std::move(op));
      break;
    case OpClass::sync:
      // sync_file_range(2) starts write-back but promises nothing about
      // durability (no metadata, no disk cache flush): it counts for nothing.
      if (record.call == "sync_file_range") break;
      if (record.is_directory) {
        sync_directory(record.path);
        break;
      }
      if (!record.data.empty() && record.offset >= 0) {
        // The range the file is mapped at, as it was at this sync: stores
        // made through the mapping so far, in the page cache now (and
        // written back by this sync). Seen from here on, not at the later
        // msync/munmap that records them again.
        op.kind = Op::Kind::write;
        op.inode = target_inode();
        op.offset = static_cast<std::uint64_t>(record.offset);
        op.bytes = record.data;
        add_data_op(std::move(op));
      }
      if (record.call == "fdatasync")
        sync_data_and_mode(target_inode());
      else
        sync_file(target_inode());
      break;
    case OpClass::sync_all:
      sync_everything();
      break;
    case OpClass::close:
      synchronous_fds_.erase({record.pid, record.fd});
      break;
    case OpClass::chown:
      break;  // nothing a power loss could take back that we track
  }
}

void Replay::apply_early(const TraceRecord& record) {
  if (record.error != 0 || record.data.empty() || record.op != OpClass::write) return;
  Op op;
  op.seq = record.seq;
  op.call = record.call;
  op.name = record.path;
  op.kind = Op::Kind::write;
  op.inode = resolve_inode(record, record.path);
  op.offset = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0));
  op.bytes = record.data;
  add_data_op(std::move(op));
  applied_early_.insert(record.seq);
}

// An msync(MS_SYNC) that makes the file's data durable: its range holds
// the whole file, or every byte the file's unsynced writes changed (then
// syncing the range syncs them all). Any other partial range is not modelled
// as durable (README).
bool Replay::synchronous(const TraceRecord& record) {
  if (record.call != "msync" || (record.flags & kMsSync) == 0) return false;
  const auto id = resolve_inode(record, record.path);
  const auto now = current_size_.find(id);
  const auto from = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0)),
             to = from + record.data.size();
  if (now != current_size_.end() && from == 0 && to >= now->second) return true;
  const auto& pending = inode(id).pending_data;
  return std::all_of(pending.begin(), pending.end(), [&](std::size_t op) {
    const Op& o = ops_[op];
    return o.kind == Op::Kind::write && o.offset >= from && o.offset + o.bytes.size() <= to;
  });
}

void Replay::sync_data(std::uint64_t id) {
  if (profile_ == Profile::ext4_ordered && datasync_commits(id)) commit_journal();
  make_data_durable(id, ops_.size());
}

// The writes pending at a failed sync of the file: their pages were marked
// clean, so no later sync writes them (failed_file_sync).
void Replay::fail_sync(std::uint64_t id) {
  Unwritable lost;
  for (auto op : inode(id).pending_data) {
    const Op& o = ops_[op];
    if (o.kind != Op::Kind::write || o.bytes.empty()) continue;  // a size change is metadata, journalled
    if (lost.ranges.empty()) lost.first_op = op;
    lost.ranges.emplace_back(o.offset, o.offset + o.bytes.size());
  }
  if (lost.ranges.empty()) return;
  auto [it, fresh] = unwritable_.emplace(id, lost);
  if (fresh) return;
  it->second.first_op = std::min(it->second.first_op, lost.first_op);
  it->second.ranges.insert(it->second.ranges.end(), lost.ranges.begin(), lost.ranges.end());
}

// A write over lost bytes, or a size cut below them, replaces them: the
// page cache's copy is dirty again and a later sync writes it.
void Replay::rewrite(std::uint64_t id, const Op& op) {
  auto it = unwritable_.find(id);
  if (it == unwritable_.end()) return;
  const std::uint64_t from = op.offset, to = op.kind == Op::Kind::resize ? std::numeric_limits<std::uint64_t>::max()
                                                                         : op.offset + op.bytes.size();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> left;
  for (auto [a, b] : it->second.ranges) {
    if (b <= from || a >= to) {
      left.emplace_back(a, b);
      continue;
    }
    if (a < from) left.emplace_back(a, from);
    if (b > to) left.emplace_back(to, b);
  }
  if (left.empty())
    unwritable_.erase(it);
  else
    it->second.ranges = std::move(left);
}

void Replay::make_data_durable(std::uint64_t id, std::size_t upto_op) {
  if (auto lost = unwritable_.find(id); lost != unwritable_.end()) upto_op = std::min(upto_op, lost->second.first_op);
  auto& state = inode(id);
  auto& pending = state.pending_data;
  auto end = std::find_if(pending.begin(), pending.end(), [&](std::size_t op) { return op >= upto_op; });
  if (end == pending.begin()) return;
  if (keep_ == Visible::bytes) {  // what is seen is current_: the durable bytes would be another copy, never read
    pending.erase(pending.begin(), end);
    return;
  }
  // Sized once for the largest the file gets on the way: growing write by
  // write would double the buffer and keep up to twice the file.
  std::uint64_t size = state.base->size(), largest = size;
  for (auto it = pending.begin(); it != end; ++it) {
    const Op& op = ops_[*it];
    size = op.kind == Op::Kind::resize ? op.offset : std::max<std::uint64_t>(size, op.offset + op.bytes.size());
    largest = std::max(largest, size);
  }
  auto base = std::make_shared<std::string>();
  base->reserve(largest);
  base->assign(*state.base);
  for (auto it = pending.begin(); it != end; ++it) apply_data_op(ops_[*it], *base);
  state.base = std::move(base);
  pending.erase(pending.begin(), end);
}

void Replay::sync_file(std::uint64_t id) {
  // ext4's fsync commits the running transaction when the file changed in
  // it (it waits for i_sync_tid): a file unchanged since the last commit
  // commits nothing, and an unrelated rename stays uncommitted (adv7 4).
  if (profile_ == Profile::ext4_ordered && uncommitted_.count(id)) commit_journal();
  make_data_durable(id, ops_.size());
  sync_mode(id);  // fsync flushes the inode, mode included
}

// Whether an ext4 fdatasync (or O_DSYNC write) of the file commits the
// journal: only when what retrieves its data changed since its last sync —
// its size, or its creation still in the running transaction. A pure
// overwrite dirties only timestamps, which fdatasync does not wait for
// (ext4_sync_file waits for i_datasync_tid), so an unrelated rename in the
// running transaction stays uncommitted; fsync waits for i_sync_tid and
// commits it.
bool Replay::datasync_commits(std::uint64_t id) {
  const auto& state = inode(id);
  std::uint64_t size = state.base->size();
  for (auto op : state.pending_data) {
    const Op& o = ops_[op];
    if (o.kind == Op::Kind::resize || o.offset + o.bytes.size() > size) return true;
  }
  return std::any_of(pending_entries_.begin(), pending_entries_.end(),
                     [&](std::size_t op) { return ops_[op].kind == Op::Kind::create && ops_[op].inode == id; });
}

// fdatasync: the file's data durable, committing ext4's journal only when
// datasync_commits says so; the mode too (a simplification kept from when
// fdatasync was fsync: README).
void Replay::sync_data_and_mode(std::uint64_t id) {
  sync_data(id);
  sync_mode(id);
}

bool Replay::synchronous_fd(const TraceRecord& record) {
  const auto it = synchronous_fds_.find({record.pid, record.fd});
  return it != synchronous_fds_.end() && it->second == resolve_inode(record, record.path);
}

void Replay::sync_mode(std::uint64_t id) {
  auto& state = inode(id);
  state.base_mode = state.current_mode;
  state.pending_mode.clear();
}

// A write through an O_SYNC/O_DSYNC descriptor (or pwritev2 with
// RWF_DSYNC/RWF_SYNC) is durable when it returns, and only its own range:
// Linux syncs the bytes written (generic_write_sync -> vfs_fsync_range), with
// the size that retrieves them, so the file's earlier unsynced writes to
// other bytes stay unsynced. Durable now: the write `written`, the size
// changes before it, and the earlier writes inside its range (it overwrote
// them); the earlier writes outside it stay pending, clipped to the bytes
// it did not overwrite. Where a size change follows such a write, their
// order matters, and nothing is made durable: too little, never too much
// (README).
void Replay::sync_written_range(std::uint64_t id, std::size_t written) {
  if (profile_ == Profile::ext4_ordered && datasync_commits(id)) commit_journal();
  // After a failed sync (unwritable_) the file's pending writes stay as they
  // were: make_data_durable keeps them, and no range is carved out of them.
  if (unwritable_.count(id)) return make_data_durable(id, ops_.size());
  auto& pending = inode(id).pending_data;
  auto from = ops_[written].offset, to = from + ops_[written].bytes.size();
  if (profile_ == Profile::ext4_ordered)  // write-back is by page: the synced range's pages go whole
    from = from / kPageBytes * kPageBytes, to = (to + kPageBytes - 1) / kPageBytes * kPageBytes;
  std::vector<std::size_t> durable, outside;
  bool resize_after_outside = false;
  for (auto op : pending) {
    const Op& o = ops_[op];
    const std::uint64_t end = o.offset + o.bytes.size();
    if (o.kind == Op::Kind::resize) resize_after_outside = resize_after_outside || !outside.empty();
    if (o.kind == Op::Kind::resize || op == written || (o.offset >= from && end <= to)) {
      durable.push_back(op);
      continue;
    }
    outside.push_back(op);
    if (o.offset < to && end > from) durable.push_back(clipped(op, std::max(o.offset, from), std::min(end, to)));
  }
  if (resize_after_outside) return;  // their order matters: nothing made durable, rather than too much (README)
  if (outside.empty()) return make_data_durable(id, ops_.size());
  pending = durable;  // in trace order: make_data_durable applies them so
  make_data_durable(id, ops_.size());
  inode(id).pending_data = clipped_outside(outside, from, to);
}

// A new op holding the bytes [from, to) of write `id` (ops other snapshots hold keep theirs).
std::size_t Replay::clipped(std::size_t id, std::uint64_t from, std::uint64_t to) {
  Op part = ops_[id];
  part.bytes = part.bytes.substr(from - part.offset, to - from);
  part.offset = from;
  return add_op(std::move(part));
}

// Copies of `writes` (op ids, in order) without their bytes in [from, to):
// new ops, so the ops other snapshots hold keep their bytes, and the
// pending list stays in op order (make_data_durable takes a prefix of it).
std::vector<std::size_t> Replay::clipped_outside(const std::vector<std::size_t>& writes, std::uint64_t from,
                                                 std::uint64_t to) {
  std::vector<std::size_t> out;
  for (auto id : writes) {
    const std::uint64_t start = ops_[id].offset, end = start + ops_[id].bytes.size();
    if (start < std::min(end, from)) out.push_back(clipped(id, start, std::min(end, from)));
    if (std::max(start, to) < end) out.push_back(clipped(id, std::max(start, to), end));
  }
  return out;
}

void Replay::make_entry_durable(std::size_t index) {
  // The op and every earlier pending op sharing a name with it (transitively):
  // a directory's on-disk state of a name is always one the subject saw.
  std::vector<bool> chosen(pending_entries_.size(), false);
  chosen[index] = true;
  for (std::size_t i = index + 1; i-- > 0;) {
    if (!chosen[i]) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (shares_name(ops_[pending_entries_[j]], ops_[pending_entries_[i]])) chosen[j] = true;
    }
  }
  std::vector<std::size_t> still_pending;
  for (std::size_t i = 0; i < pending_entries_.size(); ++i) {
    if (chosen[i]) {
      apply_entry_op(ops_[pending_entries_[i]], base_dir_);
    } else {
      still_pending.push_back(pending_entries_[i]);
    }
  }
  pending_entries_ = std::move(still_pending);
}

void Replay::sync_directory(const std::string& path) {
  if (profile_ == Profile::ext4_ordered) {
    commit_journal();
    return;
  }
  // posix: an entry op is durable once the directory holding it was fsync'd
  // (a cross-directory rename: once either side was; see README).
  const std::string dir = path.empty() ? "." : path;
  auto in_dir = [&](std::size_t op) {
    auto names = touched_names(ops_[op]);
    return std::any_of(names.begin(), names.end(), [&](const auto& n) { return parent_of(n) == dir; });
  };
  for (;;) {
    auto last = std::find_if(pending_entries_.rbegin(), pending_entries_.rend(), in_dir);
    if (last == pending_entries_.rend()) break;
    make_entry_durable(static_cast<std::size_t>(pending_entries_.rend() - last) - 1);
  }
}

void Replay::commit_journal() {
  uncommitted_.clear();
  // ext4 data=ordered: a journal commit makes every metadata op so far
  // durable. A committed truncate first writes back the file's earlier data
  // (ordered truncate); a committed rename over an existing file carries the
  // renamed file's data with it (auto_da_alloc replace-via-rename).
  std::map<std::uint64_t, std::size_t> data_upto;
  for (auto id : pending_entries_) {
    const Op& op = ops_[id];
    if (op.kind == Op::Kind::rename && op.replaces_existing) {
      data_upto[op.inode] = std::max(data_upto[op.inode], id);
    }
    apply_entry_op(op, base_dir_);
  }
  pending_entries_.clear();
  for (auto& [id, state] : inodes_) {
    for (auto op : state.pending_data) {
      if (ops_[op].kind == Op::Kind::resize) data_upto[id] = std::max(data_upto[id], op + 1);
    }
    state.base_mode = state.current_mode;
    state.pending_mode.clear();
  }
  for (auto [id, upto] : data_upto) make_data_durable(id, upto);
}

void Replay::sync_everything() {
  for (auto& [id, state] : inodes_) {
    make_data_durable(id, ops_.size());
    state.base_mode = state.current_mode;
    state.pending_mode.clear();
  }
  for (auto id : pending_entries_) apply_entry_op(ops_[id], base_dir_);
  pending_entries_.clear();
}

std::map<std::string, FileImage> Replay::visible() { return images(false); }

std::map<std::string, FileImage> Replay::take_visible() { return images(true); }

std::vector<std::string> Replay::changed_since(const std::map<std::string, FileImage>& before) const {
  std::vector<std::string> out;
  for (const auto& [name, image] : before) {
    if (image.is_directory) continue;
    const Entry* entry = live_.find(name);
    if (entry == nullptr) continue;  // gone: visible() would not list it
    const auto bytes = entry->is_directory ? current_.end() : current_.find(entry->inode);
    if ((bytes == current_.end() ? std::string_view() : std::string_view(bytes->second)) != image.content)
      out.push_back(name);
  }
  return out;
}

std::map<std::string, FileImage> Replay::images(bool take) {
  std::map<std::uint64_t, std::size_t> names_left;  // hard links: the last name of an inode takes its bytes
  for (const auto& [name, entry] : live_) ++names_left[entry.inode];
  std::map<std::string, FileImage> out;
  for (const auto& [name, entry] : live_) {
    FileImage& image = out[name];
    image.is_directory = entry.is_directory;
    if (auto state = inodes_.find(entry.inode); state != inodes_.end()) image.mode = state->second.current_mode;
    auto bytes = current_.find(entry.inode);
    if (bytes == current_.end() || entry.is_directory) continue;
    if (--names_left[entry.inode] == 0 && take)
      image.content = std::move(bytes->second);
    else
      image.content = bytes->second;
  }
  return out;
}

std::map<std::string, SeenFile> Replay::views() const {
  static const std::string none;
  std::map<std::string, SeenFile> out;
  for (const auto& [name, entry] : live_) {
    const auto state = inodes_.find(entry.inode);
    const auto bytes = entry.is_directory ? current_.end() : current_.find(entry.inode);
    out.emplace(name, SeenFile{entry.is_directory, state != inodes_.end() ? state->second.current_mode : 0,
                               std::cref(bytes != current_.end() ? bytes->second : none)});
  }
  return out;
}

std::string* Replay::written_file(const TraceRecord& record) {
  const auto bytes = current_.find(resolve_inode(record, record.path));  // as apply() resolves it
  return bytes == current_.end() ? nullptr : &bytes->second;
}

Snapshot Replay::snapshot() const {
  Snapshot snap;
  snap.ops = &ops_;
  snap.base_dir = base_dir_;
  snap.pending_entries = pending_entries_;
  snap.inodes = inodes_;
  return snap;
}

}  // namespace crashcheck::powerloss::detail
