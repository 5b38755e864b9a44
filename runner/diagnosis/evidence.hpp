// What the rules look at: the baseline trace and the report, with the
// questions every matcher asks of them ("which rename published the target?",
// "was this file fsynced in between?", "which errno cases exited 0?").
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::diagnosis {

using faults::OpClass;
using faults::TraceRecord;

class Evidence {
 public:
  Evidence(const faults::Trace& trace, const reports::Report& report) : trace_(trace), report_(report) {}

  const std::vector<TraceRecord>& records() const { return trace_.records; }
  const reports::Report& report() const { return report_; }
  const std::string& target() const { return report_.subject.target; }

  const TraceRecord* at(std::uint32_t seq) const;
  // Directory mode (issue 15): no one target; the whole directory is judged,
  // and every rename inside it may publish something.
  bool directory_mode() const { return !report_.subject.initial_dir.empty(); }
  // Directory mode: the successful renames with both names inside the scratch directory.
  std::vector<const TraceRecord*> renames_in_scope() const;
  // Directory mode: the first file written before `before` (and not removed or
  // renamed away since) whose last write is not fsynced before `before`.
  const TraceRecord* unsynced_write_before(std::uint32_t before) const;
  // Directory mode: the first truncating open, truncate or write of a file
  // this run did not create and no later rename replaces (it is rewritten in place).
  const TraceRecord* first_in_place_change_of_existing() const;
  // The last successful rename (or link) onto the target: the call that
  // published the new content. Its `path` is the file that held it.
  const TraceRecord* publishing_call() const;
  // The first call before `before` that changes the target's bytes in place
  // (an O_TRUNC open, a truncate, a write), or null.
  const TraceRecord* first_in_place_change(std::uint32_t before = UINT32_MAX) const;
  // The first successful write, after `after`, through the descriptor that
  // `opened` returned (same process, not closed in between), or null.
  const TraceRecord* write_through(const TraceRecord& opened, std::uint32_t after) const;
  // The last successful open that created `path` before `before`.
  const TraceRecord* creation(const std::string& path, std::uint32_t before) const;
  // The last successful call that made a file at `path`: an open that
  // created it or a link to it, or null.
  const TraceRecord* maker(const std::string& path) const;
  // The last successful write to `path` before `before`.
  const TraceRecord* last_write(const std::string& path, std::uint32_t before) const;
  // The last successful linkat before `before` that gave an O_TMPFILE file
  // the name `path` (faults/README.md, "O_TMPFILE": its writes until then
  // name the file by its source, `(O_TMPFILE)` in its directory), or null.
  const TraceRecord* named_from_unnamed(const std::string& path, std::uint32_t before) const;
  // A successful fsync/fdatasync of file `path` (or a sync/syncfs) in (after, before).
  bool file_synced(const std::string& path, std::uint32_t after, std::uint32_t before) const;
  // A successful fsync of directory `dir` (or a sync/syncfs) after `after`.
  bool directory_synced(const std::string& dir, std::uint32_t after) const;
  // Whether `write` was durable when it returned: through a descriptor
  // opened O_DSYNC/O_SYNC, or pwritev2 with RWF_DSYNC/RWF_SYNC.
  bool synchronous(const TraceRecord& write) const;
  // The last write to `path` before `before` that no sync after it covers
  // and that was not synchronous itself, or null.
  const TraceRecord* unsynced_write(const std::string& path, std::uint32_t before) const;
  // Directory mode: `path` is a journal this run kept before `before`: it
  // created the file, wrote it and made those writes durable.
  bool journal_before(const std::string& path, std::uint32_t before) const;

  // The counterexamples of `property` (none when it did not fail).
  const std::vector<reports::Failure>& failures(std::string_view property) const;
  bool failed(std::string_view property) const;
  // errno cases whose injected error is `error` (empty: any), by outcome.
  std::vector<const reports::Cell*> errno_cells(std::string_view error,
                                                std::initializer_list<std::string_view> outcomes) const;

 private:
  const faults::Trace& trace_;
  const reports::Report& report_;
  mutable std::optional<std::set<std::uint32_t>> synchronous_writes_;  // seqs, computed once (synchronous)
};

// "a/b" → "a", "b" → "."; the directory a scope-relative path lives in.
std::string parent_of(const std::string& path);
// True for a path that leaves the scratch directory ("../x", "/tmp/x").
bool outside_scope(const std::string& path);
// "errno-7-ENOSPC" → "ENOSPC".
std::string_view injected_error(std::string_view case_id);

}  // namespace crashcheck::diagnosis
