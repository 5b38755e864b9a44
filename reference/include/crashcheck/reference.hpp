// The reference atomic writer: the yardstick every other writer is judged
// against, and the way crashcheck itself writes every file it produces.
//
// Sequence (Durability::full): create a uniquely named temporary file in the
// target's directory (O_CREAT|O_EXCL|O_CLOEXEC), write all bytes (retrying
// short writes and EINTR), give it the old file's owner (where permitted) and
// mode, fsync it, close it, rename it over the target, fsync the directory.
// Any failure before the rename removes the temporary file and leaves the
// target untouched.
//
// Policies (each one tested in reference/tests/):
// - Symbolic link as target: by default the file the link points at (after
//   following every link in the chain, relative links against the link's own
//   directory) is replaced and the link itself stays; a dangling link makes
//   the file it names. SymlinkPolicy::refuse fails with ELOOP, touching
//   nothing. A chain longer than 40 links fails with ELOOP.
// - Missing directory: fails at open_temp with ENOENT.
// - Target is a directory (or the path ends in '/'): fails at resolve with
//   EISDIR.
// - Target exists but is not a regular file (FIFO, socket, device): fails at
//   resolve with WriteErrc::not_regular_file; it is never opened.
// - Read-only directory: fails at open_temp with EACCES (permissions) or
//   EROFS (read-only file system).
// - Mode: an existing target's permission bits (07777) are kept; a new file
//   gets 0666 & ~umask, or exactly `new_file_mode` when given.
// - Owner: an existing target's uid/gid are copied with fchown. fchown
//   failing with EPERM (an unprivileged caller replacing someone else's file,
//   or giving it a group it is not in) is not an error: the file then belongs
//   to the caller, as with any editor that saves by rename.
// - Hard links: the rename gives the target's name a new inode; other names
//   of the old inode keep the old content (inherent to replace-by-rename).
// - Directory fsync failure: the rename has already happened and cannot be
//   undone, so it is not reported as an error (an error always means "target
//   untouched", the error_safe property crashcheck judges every writer by);
//   it is reported in WriteError::durability_warning instead.
//
// Failure points (libfiu, compiled with FIU_ENABLE=1): before each step's
// system call the writer asks fiu_fail(failure_point(step)); a non-zero
// answer is taken as the errno that call fails with, without reaching the
// kernel. Nothing is enabled unless a test calls fiu_enable*, and fiu_fail
// before fiu_init is safe in libfiu 1.1 (it returns 0 after a read lock), so
// production callers pay a few tens of nanoseconds per step.
//
// Three opt-in additions (reference/README.md documents each in full):
// - keep_backup: before the rename the current target is hard-linked (or,
//   where links are refused, copied) to "<name>.bak", replaced atomically;
//   read_file_with_fallback() reads the target, else that backup.
// - checksum: the file holds an envelope (magic, version, length, CRC-32C,
//   payload) that read_file_verified() checks for truncation, extension and
//   corruption.
// - update_file_atomic(): read-modify-write under flock(2) on "<name>.lock",
//   so concurrent updaters lose no update.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <sys/types.h>

namespace crashcheck {

// How much of the sequence to run. Weaker levels exist so the harness can
// show what each step buys; only `full` survives a power loss.
enum class Durability {
  full,         // fsync file, rename, fsync directory
  no_dir_sync,  // fsync file, rename (the rename may be lost on power loss)
  no_sync,      // rename only (content may be lost or torn on power loss)
};

// What to do when the target path is a symbolic link.
enum class SymlinkPolicy {
  replace_link_target,  // write through: the file the link points at is replaced, the link stays
  refuse,               // fail with ELOOP, touch nothing
};

struct WriteOptions {
  Durability durability = Durability::full;
  SymlinkPolicy symlinks = SymlinkPolicy::replace_link_target;
  // Permission bits for a target that does not exist yet; by default
  // 0666 & ~umask, like open(2). An existing target always keeps its own.
  std::optional<mode_t> new_file_mode;
  // Before the rename, keep the current target as "<name>.bak" beside it
  // (nothing is kept when there is no current target).
  bool keep_backup = false;
  // Write the payload inside a checksummed envelope (see encode_envelope).
  bool checksum = false;
};

// The step that failed; each one is also a libfiu failure point named
// "crashcheck/reference/<step>" so tests can fail it in-process.
// Steps run in this order, except that chown runs before chmod (fchown
// clears set-user/group-ID bits, so the mode must come last), and that lock
// and read_current (update_file_atomic; write_file_locked only locks) run
// after a first resolve and before the write's own steps. backup_copy runs
// only when backup_link fails with EXDEV or EPERM.
enum class WriteStep {
  none,
  resolve,
  open_temp,
  write,
  chmod,
  chown,
  fsync_file,
  close,
  backup_link,    // keep_backup: link(2) the target to a temp name
  backup_copy,    // keep_backup, link refused: write a copy to "<name>.bak" (with write_file_atomic)
  backup_rename,  // keep_backup: rename(2) the temp name over "<name>.bak"
  rename,
  fsync_dir,
  lock,          // update_file_atomic, write_file_locked: open "<name>.lock", flock(LOCK_EX)
  read_current,  // update_file_atomic: read the current content
};

// The feature a step belongs to: the plain sequence, keep_backup, or update_file_atomic's lock.
enum class StepFeature { sequence, backup, lock };

std::string_view step_name(WriteStep step) noexcept;
StepFeature step_feature(WriteStep step) noexcept;
// Every step that has a failure point (all but `none`), in enum order.
std::span<const WriteStep> steps_with_failure_points() noexcept;

// "crashcheck/reference/<step>"; empty for WriteStep::none.
inline constexpr std::string_view kFailurePointPrefix = "crashcheck/reference/";
std::string failure_point(WriteStep step);

// Not a step but a test hook: while this point fails with N, each write(2)
// is offered at most N bytes, so tests can force short writes.
inline constexpr const char* kShortWritePoint = "crashcheck/reference/short_write";

// Errors that have no errno of their own.
enum class WriteErrc { not_regular_file = 1 };
const std::error_category& write_category() noexcept;
std::error_code make_error_code(WriteErrc e) noexcept;

struct WriteError {
  // Set exactly when the write did not happen: the target is untouched.
  std::error_code code;
  // The failing step (for `code`, or fsync_dir for `durability_warning`).
  WriteStep step = WriteStep::none;
  // Set when the target *was* replaced but the directory could not be
  // synced: the new content is visible, yet the rename may not survive a
  // power loss. Never set together with `code`.
  std::error_code durability_warning;

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  // One line: "<step>: <strerror>" — what the CLI prints. For a durability
  // warning: "<step>: <strerror> (target replaced, rename not durable)".
  std::string message() const;
};

// Temporary files are named ".<target-name>.<16 hex digits>.tmp" in the
// target's directory; a target name too long for that is cut so the whole
// name fits NAME_MAX. These let the harness recognise our own temp files.
inline constexpr std::string_view kTempNamePrefix = ".";
inline constexpr std::string_view kTempNameSuffix = ".tmp";
// ".<target-name, cut if needed>." — every temp name for this target starts so.
std::string temp_name_prefix(std::string_view target_name);
bool is_temp_name_for(std::string_view target_name, std::string_view candidate);

// Replaces `target` with exactly `bytes`, or fails leaving it untouched and no
// temporary file behind. Never throws.
WriteError write_file_atomic(const std::filesystem::path& target, std::string_view bytes,
                             const WriteOptions& options = {}) noexcept;

// The whole content of `file`, or nullopt (errno set) when it cannot be
// opened or read. The reading side of write_file_atomic: every component
// loads payloads, scenarios, reports and the states a writer left with it.
std::optional<std::string> read_file(const std::filesystem::path& file);

// ---- keep_backup -----------------------------------------------------------

inline constexpr std::string_view kBackupSuffix = ".bak";
// "<file>.bak": the backup of `file` (a resolved target, not a symlink to it).
std::filesystem::path backup_path(const std::filesystem::path& file);

enum class ReadSource { none, target, backup };
std::string_view source_name(ReadSource source) noexcept;  // "none", "target", "backup"

struct FallbackRead {
  std::optional<std::string> content;  // nullopt exactly when source == none
  ReadSource source = ReadSource::none;
};

// The target's content if it can be read and `valid` accepts it, else its
// backup's (symbolic links followed as write_file_atomic does), else none.
FallbackRead read_file_with_fallback(const std::filesystem::path& path,
                                     const std::function<bool(std::string_view)>& valid);

// ---- checksum ----------------------------------------------------------------

// CRC-32C (Castagnoli, reflected, as iSCSI and ext4 use it); pass the
// previous result as `crc` to continue over more data.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

// Envelope layout, all integers little-endian (README: "Envelope format"):
//   0  4  magic "CCEN"            8  8  payload length n
//   4  2  version (1)            16  4  CRC-32C of the payload
//   6  2  flags (0)              20  4  CRC-32C of bytes 0..19
//  24  n  payload
inline constexpr std::string_view kEnvelopeMagic = "CCEN";
inline constexpr std::uint16_t kEnvelopeVersion = 1;
inline constexpr std::size_t kEnvelopeHeaderSize = 24;

// Why an envelope was rejected; each is its own error kind.
enum class EnvelopeErrc {
  not_an_envelope = 1,  // does not start with the magic
  truncated,            // shorter than its header says (a prefix of a valid envelope)
  extended,             // longer than its header says
  header_corrupt,       // header checksum mismatch
  unsupported_version,  // header intact, but a version or flags this reader does not know
  payload_corrupt,      // payload checksum mismatch
};
const std::error_category& envelope_category() noexcept;
std::error_code make_error_code(EnvelopeErrc e) noexcept;

std::string encode_envelope(std::string_view payload);

struct VerifiedRead {
  std::string payload;    // meaningful only when !error
  std::error_code error;  // an EnvelopeErrc, or the errno of a failed read
};
VerifiedRead decode_envelope(std::string_view file_bytes);
// The payload of the envelope in `file`, or why there is none.
VerifiedRead read_file_verified(const std::filesystem::path& file);

// ---- lock --------------------------------------------------------------------

inline constexpr std::string_view kLockSuffix = ".lock";
// "<file>.lock": the lock file update_file_atomic takes for `file`.
std::filesystem::path lock_path(const std::filesystem::path& file);

// The current content (nullopt: no file yet) -> the content to write.
using UpdateFunction = std::function<std::string(const std::optional<std::string>& current)>;

// Read-modify-write without lost updates between processes: resolves `target`,
// takes flock(LOCK_EX) on "<name>.lock" beside it (created if missing, never
// removed), reads the current content (the verified payload when
// options.checksum), writes fn(current) with write_file_atomic, and unlocks.
// An error means the target is untouched. Exceptions from `fn` propagate
// (the lock is released); nothing else throws.
WriteError update_file_atomic(const std::filesystem::path& target, const UpdateFunction& fn,
                              const WriteOptions& options = {});

// write_file_atomic under the same lock, without reading the current content
// (crashcheck-write --lock): waits for update_file_atomic callers and they for it.
WriteError write_file_locked(const std::filesystem::path& target, std::string_view bytes,
                             const WriteOptions& options = {}) noexcept;

// Serialises `value` (indent < 0: compact) plus a trailing newline and writes
// it with write_file_atomic. A value that cannot be serialised (invalid
// UTF-8 in a string) fails at WriteStep::none with EILSEQ.
WriteError write_json_atomic(const std::filesystem::path& target, const nlohmann::json& value, int indent = 2,
                             const WriteOptions& options = {}) noexcept;

}  // namespace crashcheck

template <>
struct std::is_error_code_enum<crashcheck::WriteErrc> : std::true_type {};
template <>
struct std::is_error_code_enum<crashcheck::EnvelopeErrc> : std::true_type {};
