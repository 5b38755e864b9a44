// The trace and report queries the rules share (see evidence.hpp).
#include "evidence.hpp"

#include <fcntl.h>

#include <algorithm>
#include <map>

namespace crashcheck::diagnosis {
namespace {

bool ok(const TraceRecord& r) { return r.error == 0; }

// sync_file_range flushes no metadata and no disk cache: it makes nothing durable.
bool real_sync(const TraceRecord& r) { return r.op == OpClass::sync && r.call != "sync_file_range" && ok(r); }

}  // namespace

const TraceRecord* Evidence::at(std::uint32_t seq) const { return trace_.find(seq); }

const TraceRecord* Evidence::publishing_call() const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records())
    if ((r.op == OpClass::rename || r.op == OpClass::link) && ok(r) && r.path2 == target()) found = &r;
  return found;
}

const TraceRecord* Evidence::first_in_place_change(std::uint32_t before) const {
  for (const auto& r : records()) {
    if (r.seq >= before) break;
    if (!ok(r) || r.path != target()) continue;
    const bool truncating_open = r.op == OpClass::open && (r.flags & O_TRUNC) != 0;
    if (truncating_open || r.op == OpClass::truncate || r.op == OpClass::write) return &r;
  }
  return nullptr;
}

const TraceRecord* Evidence::write_through(const TraceRecord& opened, std::uint32_t after) const {
  for (const auto& r : records()) {
    if (r.seq <= opened.seq || r.pid != opened.pid || r.fd != opened.fd) continue;
    if (r.op == OpClass::close || r.op == OpClass::open) return nullptr;  // the descriptor ended or was reused
    if (r.seq > after && r.op == OpClass::write && ok(r)) return &r;
  }
  return nullptr;
}

const TraceRecord* Evidence::creation(const std::string& path, std::uint32_t before) const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records())
    if (r.seq < before && r.op == OpClass::open && r.created && ok(r) && r.path == path) found = &r;
  return found;
}

const TraceRecord* Evidence::maker(const std::string& path) const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records())
    if (ok(r) && (r.op == OpClass::open ? r.created && r.path == path : r.op == OpClass::link && r.path2 == path))
      found = &r;
  return found;
}

const TraceRecord* Evidence::last_write(const std::string& path, std::uint32_t before) const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records())
    if (r.seq < before && r.op == OpClass::write && ok(r) && r.path == path) found = &r;
  return found;
}

const TraceRecord* Evidence::named_from_unnamed(const std::string& path, std::uint32_t before) const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records())
    if (r.seq < before && r.op == OpClass::link && ok(r) && r.path2 == path && faults::is_unnamed(r.path)) found = &r;
  return found;
}

bool Evidence::file_synced(const std::string& path, std::uint32_t after, std::uint32_t before) const {
  return std::any_of(records().begin(), records().end(), [&](const TraceRecord& r) {
    if (r.seq <= after || r.seq >= before) return false;
    return (r.op == OpClass::sync_all && ok(r)) || (real_sync(r) && !r.is_directory && r.path == path);
  });
}

bool Evidence::directory_synced(const std::string& dir, std::uint32_t after) const {
  return std::any_of(records().begin(), records().end(), [&](const TraceRecord& r) {
    if (r.seq <= after) return false;
    return (r.op == OpClass::sync_all && ok(r)) || (real_sync(r) && r.is_directory && r.path == dir);
  });
}

std::vector<const TraceRecord*> Evidence::renames_in_scope() const {
  std::vector<const TraceRecord*> out;
  for (const auto& r : records())
    if (r.op == OpClass::rename && ok(r) && !outside_scope(r.path) && !outside_scope(r.path2)) out.push_back(&r);
  return out;
}

const TraceRecord* Evidence::unsynced_write_before(std::uint32_t before) const {
  std::vector<std::string> written;  // in order of first write
  for (const auto& r : records())
    if (r.seq < before && r.op == OpClass::write && ok(r) && !outside_scope(r.path) &&
        std::find(written.begin(), written.end(), r.path) == written.end())
      written.push_back(r.path);
  for (const auto& path : written) {
    const TraceRecord* write = last_write(path, before);
    // Gone from its name since (unlinked, or renamed away before `before`): nothing to lose there.
    const bool gone = std::any_of(records().begin(), records().end(), [&](const TraceRecord& r) {
      return r.seq > write->seq && r.seq < before && ok(r) && r.path == path &&
             (r.op == OpClass::unlink || r.op == OpClass::rename);
    });
    if (gone) continue;
    if (const TraceRecord* unsynced = unsynced_write(path, before)) return unsynced;
  }
  return nullptr;
}

bool Evidence::synchronous(const TraceRecord& write) const {
  if (!synchronous_writes_) {  // one pass over the trace, the first time a rule asks
    synchronous_writes_.emplace();
    std::map<std::pair<std::int32_t, std::int32_t>, const TraceRecord*> opened;  // (pid, fd) -> its open
    for (const auto& r : records()) {
      if (!ok(r)) continue;
      if (r.op == OpClass::open) opened[{r.pid, r.fd}] = &r;
      if (r.op == OpClass::close) opened.erase({r.pid, r.fd});
      if (r.op != OpClass::write) continue;
      const auto it = opened.find({r.pid, r.fd});
      const bool o_dsync = it != opened.end() && it->second->path == r.path &&
                           (it->second->flags & O_DSYNC) != 0;  // O_SYNC includes O_DSYNC
      if (o_dsync || faults::synchronous_pwritev2(r)) synchronous_writes_->insert(r.seq);
    }
  }
  return synchronous_writes_->count(write.seq) != 0;
}

const TraceRecord* Evidence::unsynced_write(const std::string& path, std::uint32_t before) const {
  const TraceRecord* found = nullptr;
  for (const auto& r : records()) {
    if (r.seq >= before) break;
    if (r.op == OpClass::write && ok(r) && r.path == path && !synchronous(r)) found = &r;
    if (found && ((r.op == OpClass::sync_all && ok(r)) || (real_sync(r) && !r.is_directory && r.path == path)))
      found = nullptr;  // synced: only later writes count
  }
  return found;
}

bool Evidence::journal_before(const std::string& path, std::uint32_t before) const {
  const TraceRecord* write = last_write(path, before);
  return creation(path, before) && write && !unsynced_write(path, before);
}

const TraceRecord* Evidence::first_in_place_change_of_existing() const {
  for (const auto& r : records()) {
    if (!ok(r) || outside_scope(r.path)) continue;
    const bool truncating_open = r.op == OpClass::open && (r.flags & O_TRUNC) != 0 && !r.created;
    if (!truncating_open && r.op != OpClass::truncate && r.op != OpClass::write) continue;
    if (creation(r.path, r.seq + 1)) continue;  // made by this run: a new file, not a rewrite
    const bool replaced = std::any_of(records().begin(), records().end(), [&](const TraceRecord& later) {
      return later.seq > r.seq && later.op == OpClass::rename && ok(later) && later.path2 == r.path;
    });
    if (!replaced) return &r;
  }
  return nullptr;
}

const std::vector<reports::Failure>& Evidence::failures(std::string_view property) const {
  static const std::vector<reports::Failure> none;
  const auto found = report_.properties.find(std::string(property));
  return found == report_.properties.end() ? none : found->second.failures;
}

bool Evidence::failed(std::string_view property) const {
  const auto found = report_.properties.find(std::string(property));
  return found != report_.properties.end() && found->second.verdict == reports::Verdict::fail;
}

std::vector<const reports::Cell*> Evidence::errno_cells(std::string_view error,
                                                        std::initializer_list<std::string_view> outcomes) const {
  std::vector<const reports::Cell*> out;
  for (const auto& cell : report_.cells) {
    if (cell.model != reports::model_name(reports::Model::errno_fault) ||
        (!error.empty() && injected_error(cell.case_id) != error))
      continue;
    if (std::find(outcomes.begin(), outcomes.end(), cell.outcome) != outcomes.end()) out.push_back(&cell);
  }
  return out;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool outside_scope(const std::string& path) { return faults::outside_scope(path); }

std::string_view injected_error(std::string_view case_id) {
  const auto dash = case_id.rfind('-');
  return dash == std::string_view::npos ? std::string_view() : case_id.substr(dash + 1);
}

}  // namespace crashcheck::diagnosis
