// The runner's side of the fault-injection agent (libcrashcheck_agent.so).
//
// The agent is LD_PRELOADed into a subject. It counts the file-system calls
// that touch the scratch directory ("counted calls", numbered 1, 2, … across
// every process of the subject), records each in a trace, and executes one
// FaultPlan. This header holds the vocabulary every backend shares: the call
// table, the plan and the trace reader. How a run is observed is
// crashcheck/faults/backend.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::faults {

// What a counted call does, as the crash-state models see it.
enum class OpClass : std::uint8_t {
  open,      // open/openat/creat/mkstemp/fopen…: may create (O_CREAT) or truncate (O_TRUNC)
  write,     // write/pwrite/writev/fwrite…: bytes at an offset of an open file
  sync,      // fsync/fdatasync/sync_file_range on one descriptor (file or directory)
  sync_all,  // sync/syncfs
  close,
  rename,  // rename/renameat/renameat2
  link,
  unlink,  // unlink/unlinkat (also rmdir through AT_REMOVEDIR)
  mkdir,
  truncate,  // truncate/ftruncate
  chmod,     // chmod/fchmod/fchmodat
  chown,
  allocate,  // fallocate/posix_fallocate
};

std::string_view op_name(OpClass op) noexcept;

// One intercepted libc entry point. The agent's wrappers, the errno campaign
// and the docs all derive from the one table of these.
struct CallInfo {
  std::string_view name;  // libc symbol, e.g. "renameat2"
  OpClass op;
  std::span<const int> errnos;  // errnos the call can really return, worth injecting
  // Takes a stdio stream (FILE *). The preload agent makes a scoped stream
  // unbuffered, so its output calls write at once; a real buffered stream
  // writes (and fails) at fflush, fclose or a full buffer instead.
  bool stream = false;
};

std::span<const CallInfo> intercepted_calls() noexcept;
const CallInfo* find_call(std::string_view name) noexcept;

// One system call the seccomp supervisor is notified of (the backend's table,
// src/seccomp/syscalls.def): the filter, the decoder, the errno campaign and
// the docs all derive from it.
struct SyscallInfo {
  enum class Role : std::uint8_t {
    counted,  // a counted call when it touches the scope
    watched,  // never counted; the supervisor takes note (mmap of a shared writable file)
    refused,  // always fails with errnos[0] (io_uring_setup: ENOSYS, so runtimes fall back)
    noted,    // never counted nor changed; the observation says the subject made it (seccomp: its own listener)
  };
  std::string_view name;  // kernel name, e.g. "renameat2" (also the trace's call field)
  Role role;
  OpClass op;                   // counted calls only
  std::span<const int> errnos;  // counted: failures worth injecting; refused: the reply
};

std::span<const SyscallInfo> supervised_syscalls() noexcept;

// The failures worth injecting into a traced call, whichever backend traced
// it: the agent's row for a libc name (`open64`, `fclose`), else the
// supervisor's counted row for a system call only it sees (`openat2`,
// `splice`); empty for anything else. The errno campaign plans from this.
std::span<const int> injectable_errnos(std::string_view call) noexcept;

// The single fault a run executes. Call numbers are 1-based counted calls.
struct FaultPlan {
  enum class Kind : std::uint8_t {
    none,         // trace only
    kill_before,  // SIGKILL just before counted call `call`
    kill_after,   // SIGKILL just after counted call `call` returns
    fail_call,    // counted call `call` fails with `error`, without reaching the kernel
    disk_full,    // writes succeed until `byte_budget` bytes of new space are spent; the crossing one is short, later
                  // ENOSPC
    pause,        // stop before every counted call until the runner resumes (snapshots, readers)
    kill_within,  // counted write `call` transfers only its first `byte_budget` bytes, then SIGKILL (seccomp only)
  };
  Kind kind = Kind::none;
  std::uint32_t call = 0;
  int error = 0;
  std::uint64_t byte_budget = 0;

  // Compact text form carried in the environment, e.g. "kill-before:5",
  // "fail:7:ENOSPC", "disk-full:4096", "pause", "none", "kill-within:9:4096".
  std::string encode() const;
  static std::optional<FaultPlan> parse(std::string_view text);
};

// errno <-> "ENOSPC"; unknown names give 0 / "E<number>".
int errno_from_name(std::string_view name) noexcept;
std::string errno_name(int error);

// A $CRASHCHECK_AGENT or a requested agent library that does not exist;
// the message names the path.
class AgentNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The one lookup of the agent library the preload backend loads: `requested`
// when given, else $CRASHCHECK_AGENT, else the one installed with the running
// program (<exe>/../lib/crashcheck/, so an install never takes a build
// tree's), else the one this build made. A requested or $CRASHCHECK_AGENT
// path that does not exist throws AgentNotFound, never a silent fallback.
// With nothing found: the install path, absent (the preload backend then
// reports itself unavailable).
std::filesystem::path default_agent_library(const std::filesystem::path& requested = {});

// The bytes a trace record carries: its own, or a view into a buffer
// registered with share_known_bytes. A payload of hundreds of MiB is written
// again by every run, so every trace would otherwise hold its own copy of it
// (issue 12: memory bounded by the file, not by the number of traces).
// Read-only once made; copying shares.
class Bytes {
 public:
  Bytes() = default;
  Bytes(std::string bytes);                                // NOLINT: owns them
  Bytes(const char* bytes) : Bytes(std::string(bytes)) {}  // NOLINT
  // A view into `owner`, which it keeps alive.
  Bytes(std::shared_ptr<const std::string> owner, std::string_view view)
      : owner_(std::move(owner)), view_(view), borrowed_(true) {}
  operator std::string_view() const noexcept { return view_; }  // NOLINT: reads as the bytes it holds
  std::string_view view() const noexcept { return view_; }
  std::size_t size() const noexcept { return view_.size(); }
  bool empty() const noexcept { return view_.empty(); }
  const char* data() const noexcept { return view_.data(); }
  char operator[](std::size_t i) const noexcept { return view_[i]; }
  int compare(std::size_t at, std::size_t n, std::string_view other) const { return view_.compare(at, n, other); }
  std::string substr(std::size_t at, std::size_t n = std::string::npos) const {
    return std::string(view_.substr(at, n));
  }
  // An own copy of the first n bytes, zero-padded (tests that cut a record short).
  void resize(std::size_t n);
  // Whether the bytes are a view into a registered buffer (tests).
  bool borrowed() const noexcept { return borrowed_; }
  friend bool operator==(const Bytes& a, std::string_view b) noexcept { return a.view_ == b; }
  friend std::ostream& operator<<(std::ostream& out, const Bytes& bytes);

 private:
  std::shared_ptr<const std::string> owner_;
  std::string_view view_;
  bool borrowed_ = false;
};

// Content traces may repeat: a run's write whose bytes (4 KiB or more) are
// `bytes`' at the write's file offset, or where the previous such write
// stopped, is then read as a view into `bytes`, not a copy (read_trace). Held
// weakly: registering keeps nothing alive. The runner registers the payload.
void share_known_bytes(const std::shared_ptr<const std::string>& bytes);
// The registered buffers of exactly `size` bytes still alive (a snapshot of
// a file that may be one of them compares against these, and shares).
std::vector<std::shared_ptr<const std::string>> known_bytes_of_size(std::size_t size);

// One counted call as the agent recorded it after it returned.
struct TraceRecord {
  std::uint32_t seq = 0;  // counted-call number
  std::int32_t pid = 0;
  std::string call;  // libc symbol
  OpClass op = OpClass::open;
  std::string path;           // relative to the scope ("." for the scope itself); for fd calls the path at open time
  std::string path2;          // rename/link destination
  std::int32_t fd = -1;       // descriptor used or returned
  std::uint64_t inode = 0;    // inode the call acted on (0 when none, e.g. a failed open)
  bool created = false;       // open/mkdir/link made a new directory entry
  bool is_directory = false;  // the descriptor or path is a directory
  std::int32_t flags = 0;     // open flags / renameat2 flags / fallocate mode
  std::uint32_t mode = 0;     // open/mkdir/chmod mode
  std::int64_t offset = -1;   // write/truncate/allocate: resolved absolute offset (or new length)
  std::uint64_t length = 0;   // bytes requested
  std::int64_t result = 0;    // return value (bytes written for writes)
  std::int32_t error = 0;     // errno when the call failed
  bool injected = false;      // the agent injected this failure
  Bytes data;                 // bytes actually written (result bytes)
  // Where the subject made the call, "file:line" (faults/README.md, "Call
  // sites"); only a run with RunSetup::sites has them, empty when unknown.
  std::string site;
};

struct Trace {
  std::vector<TraceRecord> records;  // in seq order

  // The record of counted call `seq`, or nullptr (a binary search: records are in seq order).
  const TraceRecord* find(std::uint32_t seq) const;
};

// A record of stores through a shared writable mapping (the seccomp
// supervisor's `write` records named msync, munmap or exit_group: the mapped
// range read back from the file). The stores reached the page cache at
// moments between the mapping and this call that no record shows; `flags`
// holds msync's (MS_SYNC: the range was written back before it returned).
bool is_mapped_store(const TraceRecord& record);
// pwritev2 with RWF_DSYNC or RWF_SYNC: durable when it returns (the power-loss
// model and the diagnosis rules both ask).
inline constexpr int kRwfDsync = 2, kRwfSync = 4;  // <linux/fs.h>
bool synchronous_pwritev2(const TraceRecord& record);

// An fsync/fdatasync of a file mapped shared and writable, carrying the
// mapped range as it was at the sync (the seccomp supervisor reads it back):
// the stores made through the mapping so far, which the sync writes back.
bool carries_mapped_range(const TraceRecord& record);

// A write the kernel copies from another descriptor (sendfile,
// copy_file_range, splice). Its length is what was asked for, an upper
// bound: the source may end first, and a copy loop ends on a call that
// copies 0 bytes, so a smaller result is no short write by itself.
bool is_kernel_copy(const TraceRecord& record);
// A write through a stdio stream (fprintf, fwrite, fputs, …): only the
// preload agent's traces hold these; the seccomp backend sees the write(2).
bool is_stream_write(const TraceRecord& r) noexcept;

// A trace that cannot be read: names the file and what is wrong.
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Trace read_trace(const std::filesystem::path& file);  // throws TraceError
// The same decoder over bytes already in memory; `file` only names them in
// errors (the fuzz target faults/fuzz/ feeds it untrusted bytes).
Trace decode_trace(std::string_view bytes, const std::filesystem::path& file);  // throws TraceError

// Where a traced path points outside the scope (the scratch directory):
// absolute ("/…"), above it ("../…"), or into the subject's own temporary
// directory, which the runner gives every case afresh and names
// "$TMPDIR/…" in its traces (tmpdir_relative), so that two runs' temps
// compare by their names, not by the case directory holding them.
inline constexpr std::string_view kTmpdirPrefix = "$TMPDIR/";
bool outside_scope(std::string_view path);
// `path` inside `tmpdir` (an absolute directory) as "$TMPDIR/…"; else unchanged.
std::string tmpdir_relative(const std::string& path, const std::string& tmpdir);

// An O_TMPFILE file before a linkat names it: the trace calls it "(O_TMPFILE)"
// in the directory it was opened in (faults/README.md, "O_TMPFILE"). Its
// open record is `created` (a new inode, no directory entry), its path this
// name; the linkat that names it has it as its source.
std::string unnamed_in(std::string_view dir);  // "(O_TMPFILE)" for ".", "sub/(O_TMPFILE)"
bool is_unnamed(std::string_view path);

// One counted call as a person reads it: the report's `call` field and the
// call list. One format for every model (documented in reports/README.md):
//   write(fd 3 → pipeline_health.json, 2855 bytes)   writes: fd, its path, bytes requested
//   fsync(fd 3 → pipeline_health.json)               sync and close: fd, its path
//   rename(x.tmp → pipeline_health.json)             rename and link: both paths
//   openat(pipeline_health.json)                     every other call: its path
//   openat(., O_TMPFILE)                             an O_TMPFILE open: the directory
// with " = ENOSPC" appended when the call failed.
std::string describe_call(const TraceRecord& record);
// The call numbered `seq` in `trace`, described; "(before the first call)"
// for 0, "" when the trace has no such call.
std::string describe_call(const Trace& trace, std::uint32_t seq);

}  // namespace crashcheck::faults
