// Properties of write_file_atomic over arbitrary old content (or none),
// payloads from 0 bytes to 4 MiB, with or without keep_backup, and one
// fault: an injected errno at any failure point, or a SIGKILL at any step of
// a forked writer.
#include "support.hpp"

#include <crashcheck/reference.hpp>

#include <fiu-control.h>
#include <fiu.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace crashcheck {
// Found by argument-dependent lookup when rapidcheck prints a counterexample.
void showValue(Durability d, std::ostream& os) {
  os << (d == Durability::full ? "full" : d == Durability::no_dir_sync ? "no_dir_sync" : "no_sync");
}
}  // namespace crashcheck

namespace crashcheck::test {
namespace {

// File content as a size and a seed: cheap to generate and to shrink even
// at megabytes, and printable in a counterexample.
struct Content {
  std::size_t size = 0;
  std::uint64_t seed = 0;
  std::string bytes() const { return pattern_bytes(size, seed); }
};

struct OldFile {
  bool exists = false;
  Content content;
  mode_t mode = 0644;
};

struct Fault {
  WriteStep step = WriteStep::none;
  int error = 0;
};

void showValue(const Content& c, std::ostream& os) { os << c.size << " bytes (seed " << c.seed << ")"; }
void showValue(const OldFile& f, std::ostream& os) {
  if (!f.exists) {
    os << "no old file";
    return;
  }
  showValue(f.content, os);
  os << " mode 0" << std::oct << f.mode << std::dec;
}
void showValue(const Fault& f, std::ostream& os) {
  os << step_name(f.step) << " fails with " << ::strerrordesc_np(f.error);
}

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// Mostly small files, where the interesting boundaries are; now and then megabytes.
rc::Gen<std::size_t> gen_size() {
  return rc::gen::weightedOneOf<std::size_t>({
      {6, rc::gen::inRange<std::size_t>(0, 64)},
      {3, rc::gen::inRange<std::size_t>(0, 64 * KiB)},
      {1, rc::gen::inRange<std::size_t>(0, 4 * MiB + 1)},
  });
}

// For the distribution rapidcheck prints: did the big sizes really come up?
std::string size_class(std::size_t size) {
  return size < 64 ? "payload < 64 B" : size < MiB ? "payload < 1 MiB" : "payload >= 1 MiB";
}

rc::Gen<Content> gen_content() {
  return rc::gen::build<Content>(rc::gen::set(&Content::size, gen_size()),
                                 rc::gen::set(&Content::seed, rc::gen::arbitrary<std::uint64_t>()));
}

rc::Gen<OldFile> gen_old_file() {
  return rc::gen::build<OldFile>(
      rc::gen::set(&OldFile::exists, rc::gen::weightedElement<bool>({{1, false}, {3, true}})),
      rc::gen::set(&OldFile::content, gen_content()),
      rc::gen::set(&OldFile::mode, rc::gen::element<mode_t>(0600, 0640, 0644, 0444)));
}

rc::Gen<Durability> gen_durability() {
  return rc::gen::element(Durability::full, Durability::no_dir_sync, Durability::no_sync);
}

// The errnos each step's system call can really return.
const std::map<WriteStep, std::vector<int>>& plausible_errors() {
  static const std::map<WriteStep, std::vector<int>> errors{
      {WriteStep::resolve, {EACCES, EIO, ENOMEM, ENOTDIR, ELOOP, ENAMETOOLONG}},
      {WriteStep::open_temp, {EACCES, EROFS, ENOSPC, EDQUOT, EMFILE, ENFILE, EIO, EEXIST, EINTR}},
      {WriteStep::write, {ENOSPC, EDQUOT, EIO, EFBIG, EINTR}},
      {WriteStep::chown, {EPERM, EIO, EROFS}},
      {WriteStep::chmod, {EPERM, EIO, EROFS}},
      {WriteStep::fsync_file, {EIO, ENOSPC, EDQUOT, EINTR}},
      {WriteStep::close, {EIO, ENOSPC, EDQUOT, EINTR}},
      {WriteStep::rename, {EACCES, EPERM, EXDEV, EROFS, ENOSPC, EDQUOT, EIO, EBUSY}},
      {WriteStep::fsync_dir, {EIO, ENOSPC, EDQUOT}},
      // EXDEV and EPERM take the copy fallback; one fault only, so the copy then succeeds.
      {WriteStep::backup_link, {EXDEV, EPERM, EMLINK, ENOSPC, EDQUOT, EIO, EEXIST}},
      {WriteStep::backup_copy, {ENOSPC, EIO}},
      {WriteStep::backup_rename, {EACCES, EPERM, EROFS, ENOSPC, EDQUOT, EIO, EBUSY}},
  };
  return errors;
}

// A fault at any step of write_file_atomic (update_file_atomic's lock steps aside).
rc::Gen<Fault> gen_fault() {
  std::vector<WriteStep> steps;
  for (WriteStep step : steps_with_failure_points())
    if (step_feature(step) != StepFeature::lock) steps.push_back(step);
  return rc::gen::mapcat(rc::gen::elementOf(steps), [](WriteStep step) {
    return rc::gen::map(rc::gen::elementOf(plausible_errors().at(step)), [step](int error) {
      return Fault{step, error};
    });
  });
}

constexpr const char* kTargetName = "state.json";

WriteOptions gen_options() {
  WriteOptions options = with_durability(*gen_durability());
  options.keep_backup = *rc::gen::arbitrary<bool>();
  return options;
}

// The backup, when there is one, is the old file; a replaced old file always has one.
void check_backup(const fs::path& target, const WriteOptions& options, const std::optional<std::string>& old_bytes,
                  bool replaced) {
  const std::optional<std::string> backup = read_file(backup_path(target));
  if (backup) RC_ASSERT(options.keep_backup && backup == old_bytes);
  if (options.keep_backup && old_bytes && replaced) RC_ASSERT(backup.has_value());
}

// Puts the old file (if any) in place; returns its content.
std::optional<std::string> set_up_old(const fs::path& target, const OldFile& old) {
  if (!old.exists) return std::nullopt;
  std::string bytes = old.content.bytes();
  write_plain(target, bytes, old.mode);
  return bytes;
}

RC_GTEST_PROP(WriteFileAtomicProperties, OneInjectedErrorLeavesOldOrNewAndReportsExactlyWhenNotNew, ()) {
  const auto old = *gen_old_file();
  const auto payload = (*gen_content()).bytes();
  const auto fault = *gen_fault();
  const auto options = gen_options();

  ScratchDir dir;
  const fs::path target = dir / kTargetName;
  const std::optional<std::string> old_bytes = set_up_old(target, old);
  const ino_t old_inode = old.exists ? lstat_of(target).st_ino : 0;

  WriteError result;
  {
    InjectedFault injected(fault.step, fault.error, FIU_ONETIME);
    result = write_file_atomic(target, payload, options);
  }

  const std::optional<std::string> now = read_file(target);
  // A rename gives the target a new inode, so "new" is told from "old" even when their bytes agree.
  const bool replaced = now && (!old.exists || lstat_of(target).st_ino != old_inode);
  RC_TAG(result ? "error reported" : "replaced", size_class(payload.size()));
  RC_ASSERT(static_cast<bool>(result) == !replaced);
  RC_ASSERT(now == (replaced ? std::optional<std::string>(payload) : old_bytes));
  if (result) RC_ASSERT(result.step == fault.step);
  if (old.exists && now) RC_ASSERT(mode_of(target) == old.mode);
  check_backup(target, options, old_bytes, replaced);
  std::vector<std::string> expected;
  if (now) expected.push_back(kTargetName);
  if (fs::exists(backup_path(target))) expected.push_back(backup_path(target).filename());
  RC_ASSERT(entries(dir.path()) == expected);
}

// ---- SIGKILL at an arbitrary step -----------------------------------------

int steps_until_kill = 0;  // in the forked writer only

int kill_when_due(const char*, int*, void**, unsigned*) {
  if (--steps_until_kill == 0) ::raise(SIGKILL);
  return 0;  // never an error: the only fault is the kill
}

// Runs the write in a child that SIGKILLs itself when it reaches failure
// point number `kill_at` (counting every crossing, each write(2) included).
// Returns the child's wait status.
int write_in_child_killed_at(const fs::path& target, const std::string& payload, int kill_at, std::size_t chunk,
                             const WriteOptions& options) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    fiu_init(0);
    steps_until_kill = kill_at;
    for (WriteStep step : steps_with_failure_points())
      fiu_enable_external(failure_point(step).c_str(), 1, nullptr, 0, kill_when_due);
    if (chunk > 0) fiu_enable(kShortWritePoint, static_cast<int>(chunk), nullptr, 0);
    ::_exit(write_file_atomic(target, payload, options) ? 1 : 0);
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  return status;
}

RC_GTEST_PROP(WriteFileAtomicProperties, AKillAtAnyStepLeavesOldOrNew, ()) {
  const auto old = *gen_old_file();
  const auto payload = (*gen_content()).bytes();
  // Up to 4 write calls, so the kill can also land between two of them.
  const auto writes = *rc::gen::inRange<std::size_t>(1, 5);
  // resolve, open_temp, <= 4 writes, chown, chmod, fsync_file, close, backup_link, backup_rename, rename,
  // fsync_dir: at most 14.
  const auto kill_at = *rc::gen::inRange(1, 16);
  const auto options = gen_options();

  ScratchDir dir;
  const fs::path target = dir / kTargetName;
  const std::optional<std::string> old_bytes = set_up_old(target, old);
  const std::size_t chunk = writes > 1 && !payload.empty() ? (payload.size() + writes - 1) / writes : 0;
  const int status = write_in_child_killed_at(target, payload, kill_at, chunk, options);

  const std::optional<std::string> now = read_file(target);
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  RC_TAG(killed ? "killed" : "completed", size_class(payload.size()));
  if (!killed) {
    RC_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    RC_ASSERT(now == payload);
  } else {
    RC_ASSERT(now == payload || now == old_bytes);
  }
  check_backup(target, options, old_bytes, now == payload && (!killed || !old.exists || now != old_bytes));
  // A killed writer may leave its temp file (or the backup's); nothing else may appear.
  const std::string backup_name = backup_path(kTargetName).string();
  for (const std::string& name : entries(dir.path()))
    if (name != kTargetName && name != backup_name)
      RC_ASSERT(killed && (is_temp_name_for(kTargetName, name) || is_temp_name_for(backup_name, name)));
}

}  // namespace
}  // namespace crashcheck::test
