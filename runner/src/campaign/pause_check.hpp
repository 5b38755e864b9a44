// The trace self-check's guard for fast mode. Its kill and reader states are
// snapshots of the paused baseline, while the power-loss and within-call
// states are rebuilt from the baseline's trace. A snapshot the trace does not
// explain at its own point means the run did something there the trace
// missed (a store through a mapping, a call the backend does not see): the
// states read off the pauses and the trace's states then describe different
// runs, so the passes resting on the pauses are withheld (blind_spots.hpp),
// never silently used. Each pause is reduced to a print as it happens (names,
// kinds and modes; the target's size and a hash of its bytes, the only bytes
// a pause reads), so no snapshot is kept.
//
// Bytes that end where they began (an unseen in-place rewrite of the same
// bytes) agree with the trace at every pause. Their times do not: a write
// sets a file's mtime and ctime to the same new moment, so a file whose
// mtime changed to its ctime between two pauses (or the start and the first
// pause, or the last pause and the end), with no call the trace shows there
// writing it, resizing it or storing through a mapping of it, was written
// unseen. Times set on purpose (utimensat to a given time) leave mtime and
// ctime apart and are not taken for a write.
#pragma once

#include <crashcheck/faults.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "crashcheck/runner/scratch_case.hpp"

namespace crashcheck::runner {

class PausePrints {
 public:
  explicit PausePrints(std::string target) : target_(std::move(target)) {}
  void add(std::uint32_t call, const Snapshot& now);

  struct Check {
    std::size_t pauses = 0, checked = 0;  // up to kChecked pauses, spread evenly, first and last included
    std::string unexplained;              // the first pause the trace does not explain, and how; "" when none
    std::string unseen_write;             // the first write the files' times show and the trace lacks; "" when none
  };
  // Replays `trace` from `initial` and compares the view before each checked
  // pause's call with what the pause saw; compares every pause's times, and
  // the run's `initial` and `final` directories', with the calls between.
  Check check(const faults::Trace& trace, const Snapshot& initial, const Snapshot& final) const;

  static constexpr std::size_t kChecked = 128;

 private:
  struct EntryPrint {
    Entry::Kind kind = Entry::Kind::file;
    mode_t mode = 0;
    std::uint64_t size = 0;  // the target only
    std::size_t hash = 0;    // the target only
    bool operator==(const EntryPrint&) const = default;
  };
  using DirectoryPrint = std::map<std::string, EntryPrint>;
  EntryPrint print_of(const std::string& name, Entry::Kind kind, mode_t mode, std::string_view bytes) const;
  std::string difference(const DirectoryPrint& seen, const DirectoryPrint& traced) const;

  struct Stamp {  // a regular file's times, by inode
    std::string name;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
  };
  using Stamps = std::map<std::uint64_t, Stamp>;
  static Stamps stamps_of(const Snapshot& snapshot);
  std::string unseen_write(const faults::Trace& trace, const Snapshot& initial, const Snapshot& final) const;

  std::string target_;
  std::map<std::uint32_t, DirectoryPrint> prints_;
  std::map<std::uint32_t, Stamps> stamps_;
};

}  // namespace crashcheck::runner
