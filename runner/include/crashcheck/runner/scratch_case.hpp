// One case's private directory, and what the runner sees in it.
//
//   <case root>/            made fresh for every case, removed afterwards
//     scratch/              the subject's {dir}: holds only the old target, with its mode
//                           (directory mode: a copy of the initial directory)
//     tmp/                  the subject's TMPDIR
//     harness/payload       a private copy of the new content ({payload}, stdin)
//     harness/stdout, stderr  the subject's output
//   /dev/shm/crashcheck-agent-XXXXXX/
//                           the backend's files (trace, control block), on
//                           tmpfs: on a journalling file system every fsync
//                           of the subject would also flush them
//                           (faults/README.md measured ~5 ms a run);
//                           harness/backend/ when /dev/shm cannot be used
#pragma once

#include <crashcheck/report.hpp>

#include "crashcheck/runner/new_content.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace crashcheck::runner {

// Bytes that every copy shares: a Contents is copied for every case (and
// handed on to the power-loss judge), and its new content may be a payload
// of hundreds of MiB; a snapshot's file that holds the payload shares its
// buffer (take_snapshot). Read-only once made; assigning replaces, never edits.
class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(std::string bytes) : bytes_(std::make_shared<const std::string>(std::move(bytes))) {}  // NOLINT
  SharedBytes(const char* bytes) : SharedBytes(std::string(bytes)) {}                                // NOLINT
  explicit SharedBytes(std::shared_ptr<const std::string> bytes) : bytes_(std::move(bytes)) {}
  // Bytes this does not own, for a snapshot that lives no longer than they do.
  static SharedBytes borrow(const std::string& bytes) {
    return SharedBytes(std::shared_ptr<const std::string>(std::shared_ptr<void>(), &bytes));
  }
  // The buffer itself, to register (faults::share_known_bytes) or to share.
  const std::shared_ptr<const std::string>& buffer() const { return bytes_; }
  const std::string& str() const { return bytes_ ? *bytes_ : none(); }
  operator const std::string&() const { return str(); }  // NOLINT: reads as the string it holds
  operator std::string_view() const { return str(); }    // NOLINT
  std::size_t size() const { return str().size(); }
  bool empty() const { return str().empty(); }
  friend bool operator==(const SharedBytes& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.bytes_ == b.bytes_ || a.str() == b.str();
  }

 private:
  static const std::string& none();
  std::shared_ptr<const std::string> bytes_;
};

// A file-system entry as a snapshot keeps it.
struct Entry {
  enum class Kind { file, directory, symlink, other };
  Kind kind = Kind::file;
  mode_t mode = 0;
  SharedBytes content;      // regular files: the bytes; symlinks: the link target
  std::uint64_t inode = 0;  // what the agent's trace calls it (the power-loss model needs it)
  // When it was last written (mtime) and last changed at all (ctime), in ns:
  // the pause check's evidence of writes the trace lacks (pause_check.hpp).
  // Not part of what a state holds: two entries with the same bytes are the
  // same state, whenever they were made.
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const Entry& other) const {
    return kind == other.kind && mode == other.mode && content == other.content && inode == other.inode;
  }
};

// Every entry below a directory, by path relative to it ("a", "sub/b").
struct Snapshot {
  std::map<std::string, Entry> entries;
  std::uint64_t directory_inode = 0;
  bool operator==(const Snapshot&) const = default;

  const Entry* find(const std::string& name) const;
  // Entries here that are not in `before`, or whose content changed, except `ignore`.
  std::vector<std::string> added_since(const Snapshot& before, const std::string& ignore = {}) const;
};

// A missing dir gives an empty snapshot. With `content_only_of`, only that
// entry's bytes are read, the others' names, kinds and modes only: a pause
// needs the target and the names beside it, and reading a growing temp at
// each of n pauses would cost O(n²) bytes.
Snapshot take_snapshot(const std::filesystem::path& dir,
                       const std::optional<std::string>& content_only_of = std::nullopt);

// Drops the regular files' bytes but `keep`'s (names, kinds, modes and inodes
// stay) once nothing will compare them: a large file must not be held longer
// than needed.
void release_contents(Snapshot& snapshot, const std::string& keep);

// Bytes a person can read: printable ASCII as is, newlines as \n, the rest
// as \xNN.
std::string escape_bytes(std::string_view bytes);

// The content a case is judged against (new_content.hpp: what "new" is).
struct Contents {
  std::optional<std::string> old_bytes;  // nullopt: no old file
  mode_t old_mode = 0644;
  SharedBytes new_bytes;
  Compare compare = Compare::bytes;  // how a state is compared with new_bytes
  // new_bytes is the payload, the subject's stdin and {payload}; false: it
  // is a run's own content, and the subject gets an empty stdin.
  bool from_payload = true;
  // Without a payload, a case whose run broke off its recipe: why its new
  // content is unknown (new_bytes unused), the bytes it did write, and
  // whether those are a proper prefix of what it meant to write.
  std::optional<std::string> unknown_new = std::nullopt;
  std::string partial_new = {};
  bool partial_is_prefix = false;
  // The run exited 0 though a write of it came up short and nothing made up
  // for it: whatever it left is not what it meant (judged, not withheld).
  bool short_yet_succeeded = false;
  std::filesystem::path initial_dir = {};  // directory mode: copied into scratch/ (modes kept); empty: none
};

// old / new / missing / torn (a proper prefix of old or new) / other, plus an
// excerpt a person can read.
reports::FileState describe_target(const Entry* target, const Contents& contents);
bool is_old_or_new(const reports::FileState& state, const Contents& contents);
// The state is "other" only because this run's new content is unknown
// (Contents::unknown_new): it was not judged, and must not count as a pass.
bool new_unknown(const reports::FileState& state, const Contents& contents);

// Removes a directory tree, first making removable the read-only
// directories a subject may have left in it; errors are ignored.
void remove_tree(const std::filesystem::path& root);

class ScratchCase {
 public:
  // Creates <parent>/<id> fresh, and <backend_parent>/<id> for the backend's
  // files (empty backend_parent: <parent>/<id>/harness/backend); copies the
  // old file in (with its mode) and the payload.
  ScratchCase(const std::filesystem::path& parent, const std::filesystem::path& backend_parent, const std::string& id,
              const std::string& target, const Contents& contents);
  ~ScratchCase();
  ScratchCase(const ScratchCase&) = delete;
  ScratchCase& operator=(const ScratchCase&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path scratch() const { return root_ / "scratch"; }
  std::filesystem::path target() const { return scratch() / target_name_; }
  std::filesystem::path temp_dir() const { return root_ / "tmp"; }
  std::filesystem::path payload() const { return root_ / "harness" / "payload"; }
  const std::filesystem::path& backend_files() const { return agent_files_; }  // private, empty, writable
  std::filesystem::path output(const char* stream) const { return root_ / "harness" / stream; }

  const Snapshot& initial() const { return initial_; }
  // Files the subject made in the case root outside scratch/ (in TMPDIR included).
  std::vector<std::string> outside_writes() const;

 private:
  std::filesystem::path root_;
  std::string target_name_;
  std::filesystem::path agent_files_;
  Snapshot initial_;
};

}  // namespace crashcheck::runner
