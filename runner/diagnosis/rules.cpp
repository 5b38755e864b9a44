// The one table of diagnosis rules: what each explains, how it is recognised
// (a matcher over the baseline trace and the report's cases), its hint and its
// fix in every language. To add a rule, write its matcher and add its row;
// README.md says how.
#include "rules.hpp"

#include <fcntl.h>

#include <algorithm>

namespace crashcheck::diagnosis {
namespace {

using Found = std::optional<std::uint32_t>;

// --- matchers -----------------------------------------------------------------

// Directory mode: an in-place change a journal protects (SQLite's rollback
// journal): a file this run created and made durable before the change, and
// removes or empties after it. Its writer rewrites in place by design.
bool journaled(const Evidence& e, const TraceRecord& change) {
  for (const auto& r : e.records()) {
    const bool ends =
        r.seq > change.seq && r.error == 0 &&
        (r.op == OpClass::unlink || r.op == OpClass::truncate || (r.op == OpClass::open && (r.flags & O_TRUNC) != 0));
    if (ends && r.path != change.path && e.journal_before(r.path, change.seq)) return true;
  }
  return false;
}

// The target is truncated or written in place before any rename replaces it
// (never replaced, or "reserved" by an emptying open first). Directory mode:
// a file that was there before is rewritten in place.
Found rewrites_in_place(const Evidence& e) {
  if (e.directory_mode()) {
    const TraceRecord* change = e.first_in_place_change_of_existing();
    return change && !journaled(e, *change) ? Found(change->seq) : std::nullopt;
  }
  const TraceRecord* publish = e.publishing_call();
  const TraceRecord* change = e.first_in_place_change(publish ? publish->seq : UINT32_MAX);
  return change ? Found(change->seq) : std::nullopt;
}

// The file holding the new content is not fsynced between its last write and
// the rename that publishes it (or, in place, the end of the run). Directory
// mode: a rename inside the directory before which some file written earlier
// (the renamed one, or one it names, e.g. the data file a manifest names) is
// not fsynced: the rename can survive a power loss that its file's bytes do
// not. Without a rename: the last write of a file never fsynced.
Found unsynced_before_publish(const Evidence& e) {
  if (e.directory_mode()) {
    for (const TraceRecord* rename : e.renames_in_scope())
      if (e.unsynced_write_before(rename->seq)) return rename->seq;
    return std::nullopt;
  }
  const TraceRecord* rename = e.publishing_call();
  const std::string file = rename ? rename->path : e.target();
  const std::uint32_t end = rename ? rename->seq : UINT32_MAX;
  const TraceRecord* write = e.last_write(file, end);
  // an O_TMPFILE file linked in as `file`: written, and perhaps synced, before it had that name
  const TraceRecord* link = e.named_from_unnamed(file, end);
  if (!write && link) write = e.last_write(link->path, link->seq);
  if (!write || e.file_synced(file, write->seq, end) || (link && e.file_synced(link->path, write->seq, end)))
    return std::nullopt;
  return rename ? rename->seq : write->seq;
}

// Directory mode without any rename: a written file never fsynced (its
// last write), e.g. SQLite with synchronous=OFF.
Found written_never_synced(const Evidence& e) {
  if (!e.directory_mode() || !e.renames_in_scope().empty()) return std::nullopt;
  const TraceRecord* write = e.unsynced_write_before(UINT32_MAX);
  return write ? Found(write->seq) : std::nullopt;
}

// Directory mode: the first call of kind `op` inside the directory (a
// same-directory rename, or an unlink) whose directory is not fsynced after it.
Found first_unsynced_in_directory(const Evidence& e, OpClass op) {
  for (const auto& r : e.records()) {
    if (r.error != 0 || r.op != op || outside_scope(r.path)) continue;
    if (op == OpClass::rename && (outside_scope(r.path2) || parent_of(r.path) != parent_of(r.path2))) continue;
    if (op == OpClass::unlink && !e.journal_before(r.path, r.seq))
      continue;  // removing a journal commits; cleanup does not
    if (!e.directory_synced(parent_of(r.path), r.seq)) return r.seq;
  }
  return std::nullopt;
}

// Directory mode: an unlink that commits (SQLite's rollback journal, deleted
// to commit a transaction: a file this run created and made durable) with no
// fsync of its directory after it. Removing an old file is cleanup, not a
// commit (adv6 9a).
Found unlink_unsynced(const Evidence& e) {
  return e.directory_mode() ? first_unsynced_in_directory(e, OpClass::unlink) : std::nullopt;
}

// A rename within one directory (inside the scratch directory) whose
// directory is not fsynced after it.
Found target_directory_unsynced(const Evidence& e) {
  if (e.directory_mode()) return first_unsynced_in_directory(e, OpClass::rename);
  const TraceRecord* rename = e.publishing_call();
  if (!rename || outside_scope(rename->path) || parent_of(rename->path) != parent_of(rename->path2))
    return std::nullopt;
  return e.directory_synced(parent_of(rename->path2), rename->seq) ? std::nullopt : Found(rename->seq);
}

// A rename from another directory inside the scratch directory after which
// the two directories are not both fsynced (directory mode: the first such rename).
Found both_directories_unsynced(const Evidence& e) {
  if (e.directory_mode()) {
    for (const TraceRecord* rename : e.renames_in_scope()) {
      const std::string source = parent_of(rename->path), destination = parent_of(rename->path2);
      if (source != destination &&
          !(e.directory_synced(source, rename->seq) && e.directory_synced(destination, rename->seq)))
        return rename->seq;
    }
    return std::nullopt;
  }
  const TraceRecord* rename = e.publishing_call();
  if (!rename || outside_scope(rename->path)) return std::nullopt;
  const std::string source = parent_of(rename->path), destination = parent_of(rename->path2);
  if (source == destination) return std::nullopt;
  const bool both = e.directory_synced(source, rename->seq) && e.directory_synced(destination, rename->seq);
  return both ? std::nullopt : Found(rename->seq);
}

// The published temp was created here and never given the old file's mode.
Found temp_mode_not_copied(const Evidence& e) {
  const reports::Subject& subject = e.report().subject;
  const TraceRecord* rename = e.publishing_call();
  if (!subject.had_old || !rename) return std::nullopt;
  const TraceRecord* created = e.creation(rename->path, rename->seq);
  if (!created) return std::nullopt;
  const std::uint32_t old_mode = std::stoul(subject.old_mode.empty() ? "0644" : subject.old_mode, nullptr, 8);
  const bool copied = std::any_of(e.records().begin(), e.records().end(), [&](const TraceRecord& r) {
    return r.op == OpClass::chmod && r.error == 0 && r.path == rename->path && r.seq > created->seq &&
           r.seq < rename->seq && (r.mode & 07777) == old_mode;
  });
  return copied ? std::nullopt : Found(created->seq);
}

// Directory mode: a name a failed run left that the finished run creates and
// renames away, i.e. a temporary file (a file it keeps, such as SQLite's
// write-ahead log, is no temp: removing it would lose data).
Found temp_left_in_directory(const Evidence& e) {
  for (const auto& failure : e.failures("temp_clean"))
    for (const auto& left : failure.leftovers) {
      const TraceRecord* created = e.creation(left, UINT32_MAX);
      const auto renamed_away = [&](const TraceRecord* r) { return r->path == left; };
      const auto renames = e.renames_in_scope();
      if (created && std::any_of(renames.begin(), renames.end(), renamed_away)) return created->seq;
    }
  return std::nullopt;
}

// A reported failure left a file behind: point at where that file was made.
Found temp_left_behind(const Evidence& e) {
  if (e.directory_mode()) return temp_left_in_directory(e);
  for (const auto& failure : e.failures("temp_clean"))
    for (const auto& left : failure.leftovers)
      if (const TraceRecord* made = e.maker(left)) return made->seq;
  for (const auto& r : e.records())
    if (r.op == OpClass::open && r.created && r.error == 0 && r.path != e.target()) return r.seq;
  return std::nullopt;
}

// Exit 0 with a wrong target after a failed or short write (errno, disk-full).
Found write_result_ignored(const Evidence& e) {
  for (const auto& f : e.failures(e.directory_mode() ? "error_consistent" : "error_safe")) {
    if (f.exit_status != 0 || f.call_index == 0) continue;
    const TraceRecord* call = e.at(f.call_index);
    if (f.model == reports::model_name(reports::Model::disk_full) || (call && call->op == OpClass::write))
      return f.call_index;
  }
  return std::nullopt;
}

// Whether the descriptor `close` closes wrote anything since it was opened:
// a shell opens a redirect's file and closes that descriptor once it has
// moved it (dup2), before any byte is written; a failure there loses nothing.
bool wrote_through(const Evidence& e, const TraceRecord& close) {
  const auto& records = e.records();
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->seq >= close.seq || it->pid != close.pid || it->fd != close.fd) continue;
    if (it->op == OpClass::write) return true;
    if (it->op == OpClass::open) return false;
  }
  return false;
}

// The first errno case at a call of `op` on the new content's file (any file
// when `on_new_file` is false) that ended as one of `outcomes`. Calls whose
// failure cannot lose data are not asked about: sync_file_range (a hint that
// promises nothing) and the close of a descriptor that wrote nothing.
Found errno_case_at(const Evidence& e, OpClass op, bool on_new_file, std::string_view error,
                    std::initializer_list<std::string_view> outcomes) {
  const TraceRecord* rename = e.publishing_call();
  const std::string file = rename ? rename->path : e.target();
  for (const reports::Cell* cell : e.errno_cells(error, outcomes)) {
    const TraceRecord* call = e.at(cell->call_index);
    if (!call || call->op != op || call->is_directory) continue;
    if (on_new_file && call->path != file) continue;
    if (call->call == "sync_file_range" || (op == OpClass::close && !wrote_through(e, *call))) continue;
    if (error.empty() && injected_error(cell->case_id) == "EINTR") continue;  // retry_eintr's
    return call->seq;
  }
  return std::nullopt;
}

// fsync of a file failed and the writer still exited 0. (A failed directory
// fsync after the rename cannot be undone; the reference only warns.)
Found fsync_failure_ignored(const Evidence& e) {
  return errno_case_at(e, OpClass::sync, false, "", {"new", "wrong_success"});
}

// close of the new content's file failed and the writer still exited 0.
// EINTR is left out: Linux has closed the descriptor, and Python ignores it.
Found close_failure_ignored(const Evidence& e) {
  return errno_case_at(e, OpClass::close, true, "", {"new", "wrong_success"});
}

// An EINTR on open, write or fsync made the writer give up.
Found gave_up_on_eintr(const Evidence& e) {
  for (const OpClass op : {OpClass::open, OpClass::write, OpClass::sync})
    if (const Found found = errno_case_at(e, op, false, "EINTR", {"error_ok"})) return found;
  return std::nullopt;
}

// The target is unlinked, or renamed away (to a backup), before the rename
// or link that replaces it: in between there is no target.
Found unlinked_before_rename(const Evidence& e) {
  const TraceRecord* rename = e.publishing_call();
  if (!rename) return std::nullopt;
  for (const auto& r : e.records()) {
    if (r.seq >= rename->seq) break;
    const bool removes = r.op == OpClass::unlink || (r.op == OpClass::rename && r.path2 != e.target());
    if (removes && r.error == 0 && r.path == e.target()) return r.seq;
  }
  return std::nullopt;
}

// The sync of the new content's file that Python's buffered file or C's
// stdio made before flushing: the descriptor wrote nothing before the sync
// and only wrote after the file was published (the buffer emptied at close).
const TraceRecord* sync_before_flush(const Evidence& e, const TraceRecord& publish, const TraceRecord& opened) {
  for (const auto& r : e.records()) {
    if (r.seq <= opened.seq || r.seq >= publish.seq || r.pid != opened.pid || r.fd != opened.fd) continue;
    if (r.op == OpClass::write) return nullptr;
    if (r.op == OpClass::sync && r.error == 0) return &r;
  }
  return nullptr;
}

// The descriptor that wrote the new content's file, and the first write it
// made after the file was published (the publish comes too early), if any.
struct LateWrite {
  const TraceRecord* publish = nullptr;
  const TraceRecord* opened = nullptr;
};
LateWrite written_after_publish(const Evidence& e) {
  const TraceRecord* publish = e.publishing_call();
  if (!publish) return {};
  const TraceRecord* opened = nullptr;
  for (const auto& r : e.records())
    if (r.seq < publish->seq && r.op == OpClass::open && r.error == 0 && r.path == publish->path) opened = &r;
  if (!opened || !e.write_through(*opened, publish->seq)) return {};
  return {publish, opened};
}

// fsync before the buffer was flushed: the bytes reach the file after the rename.
Found fsynced_unflushed_buffer(const Evidence& e) {
  const LateWrite late = written_after_publish(e);
  const TraceRecord* sync = late.publish ? sync_before_flush(e, *late.publish, *late.opened) : nullptr;
  return sync ? Found(sync->seq) : std::nullopt;
}

// Writes to the new content's file go on after the rename published it.
Found wrote_after_publish(const Evidence& e) {
  const LateWrite late = written_after_publish(e);
  if (!late.publish || sync_before_flush(e, *late.publish, *late.opened)) return std::nullopt;
  return late.publish->seq;
}

// The renamed file comes from outside the target's directory tree.
Found temp_elsewhere(const Evidence& e) {
  const TraceRecord* rename = e.publishing_call();
  return rename && outside_scope(rename->path) ? Found(rename->seq) : std::nullopt;
}

// The last successful open of `path` before `before`.
const TraceRecord* last_open(const Evidence& e, const std::string& path, std::uint32_t before) {
  const TraceRecord* found = nullptr;
  for (const auto& r : e.records())
    if (r.seq < before && r.op == OpClass::open && r.error == 0 && r.path == path) found = &r;
  return found;
}

// The renamed temp is opened by name without O_EXCL (not mkstemp, not an
// exclusive create): a second instance opens the same file and writes into it.
Found shared_temp_name(const Evidence& e) {
  const TraceRecord* rename = e.publishing_call();
  if (!rename) return std::nullopt;
  const TraceRecord* opened = last_open(e, rename->path, rename->seq);
  if (!opened || opened->call.find("temp") != std::string::npos || (opened->flags & O_EXCL)) return std::nullopt;
  return opened->seq;
}

// With the concurrent model run, the target is read and then replaced with no
// lock file opened first: two read-modify-write updates can lose one.
Found unlocked_read_modify_write(const Evidence& e) {
  const auto concurrent = e.report().properties.find("concurrent_safe");
  if (concurrent == e.report().properties.end() || concurrent->second.verdict == reports::Verdict::not_run)
    return std::nullopt;
  const TraceRecord* rename = e.publishing_call();
  const TraceRecord* change = rename ? rename : e.first_in_place_change();
  if (!change) return std::nullopt;
  const auto locked_before = [&](std::uint32_t seq) {
    return std::any_of(e.records().begin(), e.records().end(), [&](const TraceRecord& r) {
      return r.seq < seq && r.op == OpClass::open && r.error == 0 && r.path.size() > 5 &&
             r.path.compare(r.path.size() - 5, 5, ".lock") == 0;
    });
  };
  for (const auto& r : e.records())
    if (r.seq < change->seq && r.op == OpClass::open && r.error == 0 && r.path == e.target() &&
        (r.flags & O_ACCMODE) != O_WRONLY && !(r.flags & O_TRUNC))
      return locked_before(r.seq) ? std::nullopt : Found(r.seq);
  return std::nullopt;
}

// --- the table ----------------------------------------------------------------

constexpr Rule kRules[] = {
    {"write_temp_then_rename",
     {"crash_atomic", "powerloss_atomic", "reader_safe", "error_safe", "valid_content", "crash_consistent",
      "reader_consistent", "error_consistent"},
     false,
     rewrites_in_place,
     "The target is rewritten in place (truncated, then written): a crash, an error or a reader in between finds a "
     "partial file. Write a temporary file in the same directory, then rename it over the target.",
     {"fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path))); os.write(fd, data); os.fsync(fd); "
      "os.close(fd); os.replace(tmp, path)",
      "const tmp = target + '.tmp'; const fd = fs.openSync(tmp, 'wx'); fs.writeSync(fd, data); fs.fsyncSync(fd); "
      "fs.closeSync(fd); fs.renameSync(tmp, target);",
      "int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600); /* write all, fsync(fd), close(fd) */ rename(tmp, path);",
      "crashcheck::write_file_atomic(path, data);  // or: write a temp, fsync, close, std::filesystem::rename",
      "f, _ := os.CreateTemp(filepath.Dir(path), \".tmp-*\"); f.Write(data); f.Sync(); f.Close(); "
      "os.Rename(f.Name(), path)",
      "tmp=$(mktemp \"$(dirname \"$path\")/.tmp.XXXXXX\") && cat > \"$tmp\" && sync \"$tmp\" && mv -f \"$tmp\" "
      "\"$path\""}},
    {"fsync_file_before_rename",
     {"powerloss_atomic", "durable", "powerloss_consistent"},
     false,
     unsynced_before_publish,
     "The new content is published before it is on disk: after a power loss the target can be empty or partial. "
     "fsync the file after its last write and before the rename.",
     {"f.flush(); os.fsync(f.fileno())  # before os.replace(tmp, path)",
      "fs.fsyncSync(fd);  // before fs.renameSync(tmp, target)", "if (fsync(fd) != 0) goto fail;  /* before rename */",
      "if (::fsync(fd) != 0) return fail();  // before std::filesystem::rename",
      "if err := f.Sync(); err != nil { return err } // before os.Rename", "sync \"$tmp\"  # before mv"}},
    {"fsync_file_after_write",
     {"powerloss_consistent", "durable"},
     false,
     written_never_synced,
     "A file is written and never fsynced: a power loss can lose its last writes, or keep some of its pages and not "
     "others, whatever the writer reported. fsync it after its last write (SQLite: PRAGMA synchronous=FULL, not "
     "OFF).",
     {"f.flush(); os.fsync(f.fileno())  # SQLite: conn.execute('PRAGMA synchronous=FULL')",
      "fs.fsyncSync(fd);  // after the last write", "if (fsync(fd) != 0) goto fail;  /* after the last write */",
      "if (::fsync(fd) != 0) return fail();  // after the last write",
      "if err := f.Sync(); err != nil { return err } // after the last write",
      "sync \"$file\"  # after the last write"}},
    {"flush_before_fsync",
     {"crash_atomic", "powerloss_atomic", "reader_safe", "durable", "valid_content"},
     false,
     fsynced_unflushed_buffer,
     "fsync ran while the new content was still in the program's buffer: the bytes reached the file only when it "
     "was closed, after the rename published it, so a crash or a reader in between finds it empty or partial. Flush "
     "the buffer, then fsync, then close, and only then rename.",
     {"f.flush(); os.fsync(f.fileno())  # inside the with, before os.replace(tmp, path) outside it",
      "fs.writeSync(fd, data); fs.fsyncSync(fd); fs.closeSync(fd);  // before fs.renameSync; no buffered stream",
      "if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) goto fail;  /* then rename */",
      "out.flush(); if (!out || ::fsync(fd) != 0) return fail();  // close the stream, then rename",
      "if err := w.Flush(); err != nil { return err }; if err := f.Sync(); err != nil { return err }  // bufio.Writer",
      "sync \"$tmp\"  # after the command that writes it has exited, before mv"}},
    {"finish_writes_before_rename",
     {"crash_atomic", "powerloss_atomic", "reader_safe", "durable", "valid_content"},
     false,
     wrote_after_publish,
     "The file is renamed into place before the writer has finished writing it: later writes land in the published "
     "target, so a crash or a reader finds it partial. Write everything, fsync, close, and rename last.",
     {"os.write(...) for every piece; os.fsync(fd); os.close(fd); os.replace(tmp, path)  # the rename last",
      "fs.writeSync(...) for every piece; fs.fsyncSync(fd); fs.closeSync(fd); fs.renameSync(tmp, target);",
      "/* every write, fsync(fd), close(fd) */ rename(tmp, path);  /* last */",
      "/* every write, ::fsync(fd), ::close(fd) */ std::filesystem::rename(tmp, path);  // last",
      "/* every f.Write */ f.Sync(); f.Close(); os.Rename(f.Name(), path) // last",
      "{ produce > \"$tmp\"; } && sync \"$tmp\" && mv -f \"$tmp\" \"$path\"  # mv only after the writes"}},
    {"fsync_dir_after_rename",
     {"durable"},
     false,
     target_directory_unsynced,
     "The rename is not durable until its directory is fsynced: after a power loss the old content can come back "
     "although the writer reported success. Open the directory and fsync it after the rename.",
     {"dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY); os.fsync(dfd); "
      "os.close(dfd)",
      "const dfd = fs.openSync(path.dirname(target), 'r'); fs.fsyncSync(dfd); fs.closeSync(dfd);",
      "int dfd = open(dir, O_RDONLY | O_DIRECTORY); if (dfd < 0 || fsync(dfd) != 0) goto fail; close(dfd);",
      "int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); if (dfd < 0 || ::fsync(dfd) != 0) return fail(); "
      "::close(dfd);",
      "d, _ := os.Open(filepath.Dir(path)); if err := d.Sync(); err != nil { return err }; d.Close()",
      "sync \"$(dirname \"$path\")\"  # after mv"}},
    {"fsync_dir_after_unlink",
     {"durable"},
     false,
     unlink_unsynced,
     "Deleting this file commits (SQLite deletes its rollback journal to commit a transaction), and the deletion is "
     "not durable until its directory is fsynced: after a power loss the file can come back and undo what the "
     "writer reported committed. fsync the directory after the unlink (SQLite: PRAGMA synchronous=EXTRA).",
     {"os.unlink(p); dfd = os.open(os.path.dirname(os.path.abspath(p)), os.O_RDONLY | os.O_DIRECTORY); "
      "os.fsync(dfd); os.close(dfd)  # SQLite: conn.execute('PRAGMA synchronous=EXTRA')",
      "fs.unlinkSync(p); const dfd = fs.openSync(path.dirname(p), 'r'); fs.fsyncSync(dfd); fs.closeSync(dfd);",
      "if (unlink(p) != 0) goto fail; int dfd = open(dir, O_RDONLY | O_DIRECTORY); if (dfd < 0 || fsync(dfd) != 0) "
      "goto fail; close(dfd);",
      "std::filesystem::remove(p); int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); if (dfd < 0 || "
      "::fsync(dfd) != 0) return fail(); ::close(dfd);",
      "os.Remove(p); d, _ := os.Open(filepath.Dir(p)); if err := d.Sync(); err != nil { return err }; d.Close()",
      "rm -f \"$p\" && sync \"$(dirname \"$p\")\""}},
    {"fsync_dir_of_temp_and_target",
     {"durable"},
     false,
     both_directories_unsynced,
     "The temporary file lives in another directory than the target, so the rename changes two directories and is "
     "durable only when both are fsynced. Create the temp next to the target, or fsync both directories after the "
     "rename.",
     {"for d in {os.path.dirname(tmp), os.path.dirname(path)}: dfd = os.open(d, os.O_RDONLY); os.fsync(dfd); "
      "os.close(dfd)",
      "for (const d of new Set([path.dirname(tmp), path.dirname(target)])) { const fd = fs.openSync(d, 'r'); "
      "fs.fsyncSync(fd); fs.closeSync(fd); }",
      "fsync_dir(dirname(tmp_copy)); fsync_dir(dirname(path_copy));  /* open O_RDONLY|O_DIRECTORY, fsync, close */",
      "for (auto& d : {tmp.parent_path(), path.parent_path()}) fsync_directory(d);  // open O_DIRECTORY + fsync",
      "for _, d := range []string{filepath.Dir(tmp), filepath.Dir(path)} { f, _ := os.Open(d); f.Sync(); f.Close() }",
      "sync \"$(dirname \"$tmp\")\" \"$(dirname \"$path\")\"  # after mv"}},
    {"preserve_mode",
     {"mode_preserved"},
     false,
     temp_mode_not_copied,
     "The temporary file is created with mode 0600 (mkstemp) or from the umask, and the rename gives the target that "
     "mode instead of the old file's. Copy the old file's mode onto the temp before the rename.",
     {"os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))  # before os.replace",
      "fs.fchmodSync(fd, fs.statSync(target).mode & 0o7777);  // before fs.renameSync",
      "struct stat st; if (stat(path, &st) == 0 && fchmod(fd, st.st_mode & 07777) != 0) goto fail;",
      "std::filesystem::permissions(tmp, std::filesystem::status(path).permissions());  // before rename",
      "if st, err := os.Stat(path); err == nil { f.Chmod(st.Mode().Perm()) } // before os.Rename",
      "chmod --reference=\"$path\" \"$tmp\"  # before mv"}},
    {"remove_temp_on_error",
     {"temp_clean"},
     false,
     temp_left_behind,
     "When a step fails the writer reports the failure but leaves its temporary file behind. Remove the temp on every "
     "failure path up to the rename.",
     {"except BaseException: os.unlink(tmp); raise  # around write, fsync, close and rename",
      "} catch (e) { fs.rmSync(tmp, { force: true }); throw e; }", "fail: close(fd); unlink(tmp); return -1;",
      "catch (...) { std::filesystem::remove(tmp); throw; }", "defer func() { if err != nil { os.Remove(tmp) } }()",
      "trap 'rm -f \"$tmp\"' EXIT  # clear it after mv"}},
    {"check_write_result",
     {"error_safe", "valid_content", "error_consistent"},
     false,
     write_result_ignored,
     "A write failed or wrote fewer bytes than asked, and the writer went on and reported success with a short file. "
     "Check every write's result, continue short writes, and fail (removing the temp) on an error.",
     {"view = memoryview(data)\nwhile view: view = view[os.write(fd, view):]  # an OSError propagates",
      "for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off);  // throws on error",
      "for (size_t off = 0; off < n;) { ssize_t w = write(fd, buf + off, n - off); if (w < 0) goto fail; off += w; }",
      "for (size_t off = 0; off < n;) { auto w = ::write(fd, buf + off, n - off); if (w < 0) return fail(); off += w; "
      "}",
      "if _, err := f.Write(data); err != nil { return err }", "cat > \"$tmp\" || { rm -f \"$tmp\"; exit 1; }"}},
    {"check_fsync_result",
     {"durable"},
     true,
     fsync_failure_ignored,
     "fsync failed and the writer still exited 0: the data may never reach the disk (after a failed fsync Linux can "
     "drop the dirty pages), yet the caller is told it is safe. Treat a failed fsync as a failed write.",
     {"os.fsync(fd)  # let the OSError propagate; never wrap it in try/except: pass",
      "fs.fsyncSync(fd);  // let it throw", "if (fsync(fd) != 0) goto fail;  /* remove the temp, report the error */",
      "if (::fsync(fd) != 0) return fail();", "if err := f.Sync(); err != nil { return err }",
      "sync \"$tmp\" || exit 1"}},
    {"check_close_result",
     {"error_safe"},
     true,
     close_failure_ignored,
     "close failed and the writer still exited 0: where data is written back at close (NFS, FUSE, buffered streams) "
     "it may be lost. Check close and fail (removing the temp) when it reports an error.",
     {"os.close(fd)  # or f.close(): let the OSError propagate", "fs.closeSync(fd);  // let it throw",
      "if (close(fd) != 0) { unlink(tmp); return -1; }", "if (::close(fd) != 0) return fail();",
      "if err := f.Close(); err != nil { return err }", "exec 3>&- || exit 1"}},
    {"retry_eintr",
     {"error_safe"},
     true,
     gave_up_on_eintr,
     "A call interrupted by a signal (EINTR) made the writer give up. Retry open, write and fsync when they fail with "
     "EINTR.",
     {"# Python 3.5+ retries EINTR itself (PEP 475): do not abort on InterruptedError",
      "// Node's fs retries EINTR: do not treat EINTR as fatal",
      "do w = write(fd, buf + off, n - off); while (w < 0 && errno == EINTR);",
      "do w = ::write(fd, buf + off, n - off); while (w < 0 && errno == EINTR);",
      "// os.File retries EINTR: use it rather than syscall.Write",
      "# the shell does not retry an interrupted redirect or builtin: run the step again when it fails"}},
    {"no_unlink_before_rename",
     {"crash_atomic", "powerloss_atomic", "reader_safe", "error_safe"},
     false,
     unlinked_before_rename,
     "The target is removed (unlinked, or renamed away to a backup) before the new file is put in its place: a crash "
     "or a failed rename in between leaves no file at all. rename replaces the target atomically: do not remove it "
     "first (for a backup, link the old file to the backup name, then rename the new one over the target).",
     {"os.replace(tmp, path)  # without os.unlink(path) before it",
      "fs.renameSync(tmp, target);  // without fs.unlinkSync(target) before it",
      "rename(tmp, path);  /* without unlink(path) before it */",
      "std::filesystem::rename(tmp, path);  // without remove(path) before it",
      "os.Rename(tmp, path) // without os.Remove(path) before it", "mv -f \"$tmp\" \"$path\"  # without rm first"}},
    {"temp_in_same_directory",
     {"durable", "powerloss_atomic", "crash_atomic", "error_safe"},
     true,
     temp_elsewhere,
     "The temporary file is created outside the target's directory (e.g. in $TMPDIR): when that is another file "
     "system the rename fails with EXDEV, and a copy fallback is not atomic. Create the temp in the target's "
     "directory.",
     {"fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))",
      "const tmp = path.join(path.dirname(target), '.' + path.basename(target) + '.tmp');",
      "snprintf(tmp, sizeof tmp, \"%s/.%s.XXXXXX\", dir, base); int fd = mkstemp(tmp);",
      "auto tmp = path.parent_path() / ('.' + path.filename().string() + \".tmp\");",
      "f, err := os.CreateTemp(filepath.Dir(path), \".\"+filepath.Base(path)+\".*\")",
      "tmp=$(mktemp \"$(dirname \"$path\")/.tmp.XXXXXX\")"}},
    {"unique_temp_name",
     {"concurrent_safe"},
     false,
     shared_temp_name,
     "The temporary file has a fixed name (opened without O_EXCL): two instances running at once truncate and write "
     "the same temp, and one renames a mix of both into place. Give every write its own temp (mkstemp, or a random "
     "suffix with O_EXCL).",
     {"fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix='.' + os.path.basename(path))",
      "const tmp = `${target}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`; "
      "const fd = fs.openSync(tmp, 'wx');",
      "snprintf(tmp, sizeof tmp, \"%s/.%s.XXXXXX\", dir, base); int fd = mkstemp(tmp);",
      "crashcheck::write_file_atomic(path, data);  // a fresh temp name per call, O_EXCL",
      "f, err := os.CreateTemp(filepath.Dir(path), \".\"+filepath.Base(path)+\".*\")",
      "tmp=$(mktemp \"$(dirname \"$path\")/.tmp.XXXXXX\")"}},
    {"lock_read_modify_write",
     {"concurrent_safe"},
     true,
     unlocked_read_modify_write,
     "The writer reads the target and then replaces it, with no lock: two instances at once both read the same old "
     "content and the later rename drops the earlier update (each file stays whole, so concurrent_safe cannot see "
     "it). Hold an exclusive flock on a separate lock file across read, change and write (crashcheck-write --lock, "
     "crashcheck::update_file_atomic).",
     {"with open(path + '.lock', 'a') as lock: fcntl.flock(lock, fcntl.LOCK_EX); data = change(read(path)); "
      "write_atomic(path, data)",
      "// fs has no flock: use a lock package (proper-lockfile) around read, change and write",
      "int lk = open(lock_path, O_RDONLY | O_CREAT, 0666); flock(lk, LOCK_EX); /* read, change, write atomically */ "
      "close(lk);",
      "crashcheck::update_file_atomic(path, [](const std::optional<std::string>& old) { return change(old); });",
      "lk, _ := os.OpenFile(path+\".lock\", os.O_CREATE|os.O_RDONLY, 0o666); syscall.Flock(int(lk.Fd()), "
      "syscall.LOCK_EX); defer lk.Close()",
      "exec 9>\"$path.lock\" && flock 9 && change < \"$path\" | crashcheck-write \"$path\""}},
};

}  // namespace

std::span<const Rule> rule_table() { return kRules; }

}  // namespace crashcheck::diagnosis
