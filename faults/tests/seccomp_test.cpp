// The seccomp supervisor backend, driven through its Observer the way the
// runner drives it: wrap the launch, spawn the subject in its own process
// group, (pause plan: wait/resume), wait, finish, read the trace.
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "backends.hpp"
#include "crashcheck/faults/backend.hpp"
#include "subject.hpp"

extern char** environ;

namespace crashcheck::faults {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Supervised : testing::ObservedRun {
  const Trace& trace() const { return *obs.trace; }
  // the first record of that call (and path, when given)
  const TraceRecord* find(std::string_view call, std::string_view path = {}) const {
    for (const TraceRecord& r : obs.trace->records)
      if (r.call == call && (path.empty() || r.path == path)) return &r;
    return nullptr;
  }
  std::string calls() const {  // for failure messages
    std::string s;
    for (const TraceRecord& r : obs.trace->records)
      s += std::to_string(r.seq) + ":" + r.call + "(" + r.path + (r.path2.empty() ? "" : "," + r.path2) + ") ";
    return s;
  }
};

class Seccomp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = seccomp_unavailable()) GTEST_SKIP() << "seccomp backend unavailable: " << *why;
    std::string pattern = (fs::temp_directory_path() / "cc-seccomp-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    scope_ = root_ / "scope";
    tmpdir_ = root_ / "tmp";
    fs::create_directories(scope_);
    fs::create_directories(tmpdir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  Supervised run(std::vector<std::string> argv, FaultPlan plan = {},
                 const std::function<void(Observer&)>& during = {}) {
    fs::path work = root_ / "work";
    fs::remove_all(work);
    fs::create_directories(work);
    auto observer = make_seccomp_observer(RunSetup{scope_, work, plan, {}});
    Launch launch{std::move(argv), {}};
    for (char** e = environ; *e; ++e) {
      std::string entry = *e;
      auto eq = entry.find('=');
      if (eq != std::string::npos) launch.environment[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    launch.environment["TMPDIR"] = tmpdir_.string();
    Supervised r{testing::run_observed(*observer, std::move(launch), during)};
    EXPECT_TRUE(r.obs.trace) << r.obs.trace_error;
    if (!r.obs.trace) r.obs.trace = Trace{};
    return r;
  }

  std::string target() const { return slurp(scope_ / "target"); }
  std::vector<std::string> writer(const std::string& action, const std::string& arg = {}) const {
    std::vector<std::string> argv{CRASHCHECK_SECCOMP_WRITER, action, scope_.string()};
    if (!arg.empty()) argv.push_back(arg);
    return argv;
  }

  fs::path root_, scope_, tmpdir_;
};

const std::string content = "new content\n";

// ----------------------------------------------------------- what it sees --

void expect_atomic_protocol(const Supervised& r) {
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* open = r.find("openat", "target.tmp");
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_TRUE(open->created);
  EXPECT_NE(open->inode, 0u);
  const TraceRecord* write = r.find("write", "target.tmp");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->data, content);
  EXPECT_EQ(write->offset, 0);
  EXPECT_EQ(write->inode, open->inode);
  const TraceRecord* rename = r.find("rename");
  ASSERT_NE(rename, nullptr) << r.calls();
  EXPECT_EQ(rename->path, "target.tmp");
  EXPECT_EQ(rename->path2, "target");
  EXPECT_EQ(rename->inode, open->inode);
  // fsync(dirfd(opendir(dir))): glibc's own openat, then fsync on a directory
  bool dir_sync = false;
  for (const TraceRecord& rec : r.trace().records)
    dir_sync |= rec.op == OpClass::sync && rec.is_directory && rec.path == "." && rec.seq > rename->seq;
  EXPECT_TRUE(dir_sync) << r.calls();
  EXPECT_GE(r.obs.processes_seen, 1u);
  EXPECT_EQ(r.obs.calls_counted, r.trace().records.back().seq);
}

TEST_F(Seccomp, DynamicWriterIsTracedByInode) {
  Supervised r = run(writer("atomic"));
  expect_atomic_protocol(r);
  EXPECT_EQ(target(), content);
}

#ifdef CRASHCHECK_SECCOMP_WRITER_STATIC
TEST_F(Seccomp, StaticBinaryIsSeen) {
  Supervised r = run({CRASHCHECK_SECCOMP_WRITER_STATIC, "atomic", scope_.string()});
  expect_atomic_protocol(r);
  EXPECT_EQ(target(), content);
}
#endif

TEST_F(Seccomp, BufferedStdioWriteIsSeenAtFclose) {
  Supervised r = run(writer("stdio"));
  ASSERT_TRUE(r.exited(0));
  const TraceRecord* write = r.find("write", "target");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->data, "line one\nline two\n");  // one write: the buffer, flushed by fclose
  const TraceRecord* close = r.find("close", "target");
  ASSERT_NE(close, nullptr) << r.calls();
  EXPECT_GT(close->seq, write->seq);
}

// `cat payload > target`: the shell opens the target write-only as fd 1 and
// cat moves the bytes with copy_file_range; the record still carries them
// (read back through a readable reopen), or the power-loss model could not
// know the file's content.
TEST_F(Seccomp, CopyIntoAWriteOnlyDescriptorRecordsTheBytes) {
  std::ofstream(root_ / "payload") << content;
  Supervised r =
      run({"/bin/sh", "-c", "cat '" + (root_ / "payload").string() + "' > '" + (scope_ / "target").string() + "'"});
  ASSERT_TRUE(r.exited(0)) << r.out;
  std::string copied;
  for (const TraceRecord& rec : r.trace().records)
    if (rec.op == OpClass::write && rec.path == "target") copied += rec.data;
  EXPECT_EQ(copied, content) << r.calls();
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, Openat2IsSeen) {
  Supervised r = run(writer("openat2"));
  ASSERT_TRUE(r.exited(0));
  const TraceRecord* open = r.find("openat2", "target.tmp");
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_TRUE(open->created);
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, PathThroughProcSelfCwdCounts) {
  std::ofstream(scope_ / "target") << "old content, longer\n";
  Supervised r = run(writer("proc-cwd"));
  ASSERT_TRUE(r.exited(0));
  const TraceRecord* open = r.find("openat", "target");  // glibc's open() is the openat syscall
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_TRUE(open->flags & O_TRUNC);
  const TraceRecord* write = r.find("write", "target");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->data, content);
}

TEST_F(Seccomp, TempInTmpdirIsTracedFromItsCreation) {
  Supervised r = run(writer("tmpdir"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* rename = r.find("rename");
  ASSERT_NE(rename, nullptr) << r.calls();
  EXPECT_EQ(fs::path(rename->path).parent_path(), fs::canonical(tmpdir_));
  EXPECT_EQ(rename->path2, "target");
  const TraceRecord* open = r.find("openat", rename->path);
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_TRUE(open->created);
  EXPECT_EQ(open->inode, rename->inode);
  const TraceRecord* write = r.find("write", rename->path);
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->data, content);
  EXPECT_LT(open->seq, write->seq);
  EXPECT_LT(write->seq, rename->seq);
  EXPECT_NE(r.find("fsync", rename->path), nullptr) << r.calls();
}

TEST_F(Seccomp, FileOutsideTheScopeThatNeverEntersIsNotTraced) {
  Supervised r = run({"/bin/sh", "-c", "echo x > \"$TMPDIR/elsewhere\""});
  ASSERT_TRUE(r.exited(0));
  EXPECT_TRUE(r.trace().records.empty()) << r.calls();
  EXPECT_GE(r.obs.processes_seen, 1u);
}

TEST_F(Seccomp, TempWrittenBySecondThread) {
  Supervised r = run(writer("thread"));
  ASSERT_TRUE(r.exited(0));
  const TraceRecord* open = r.find("openat", "target.tmp");
  const TraceRecord* write = r.find("write", "target.tmp");
  ASSERT_TRUE(open && write) << r.calls();
  EXPECT_EQ(write->pid, open->pid);  // the process, not the thread
  EXPECT_EQ(write->data, content);
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, TempWrittenByForkedChild) {
  Supervised r = run(writer("fork"));
  ASSERT_TRUE(r.exited(0));
  const TraceRecord* write = r.find("write", "target.tmp");
  const TraceRecord* rename = r.find("rename");
  ASSERT_TRUE(write && rename) << r.calls();
  EXPECT_NE(write->pid, rename->pid);
  EXPECT_EQ(write->data, content);
  EXPECT_EQ(r.obs.processes_seen, 2u);
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, SharedMappingIsReadBackAtMsyncAndMunmap) {
  Supervised r = run(writer("mmap"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* msync = r.find("msync", "target");
  ASSERT_NE(msync, nullptr) << r.calls();
  EXPECT_EQ(msync->op, OpClass::write);
  EXPECT_EQ(msync->offset, 0);
  EXPECT_EQ(msync->data.substr(0, 12), "mapped bytes");
  EXPECT_NE(r.find("munmap", "target"), nullptr) << r.calls();
}

// Every record of that call, in order.
std::vector<const TraceRecord*> all(const Supervised& r, std::string_view call) {
  std::vector<const TraceRecord*> out;
  for (const TraceRecord& rec : r.trace().records)
    if (rec.call == call) out.push_back(&rec);
  return out;
}

TEST_F(Seccomp, CloseRangeRecordsEachFollowedDescriptor) {
  Supervised r = run(writer("close-range"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  auto closes = all(r, "close_range");
  ASSERT_EQ(closes.size(), 2u) << r.calls();
  std::set<std::string> paths{closes[0]->path, closes[1]->path};
  EXPECT_EQ(paths, (std::set<std::string>{"a", "b"}));
  EXPECT_NE(closes[0]->fd, closes[1]->fd);
  EXPECT_EQ(closes[0]->op, OpClass::close);
}

TEST_F(Seccomp, Renameat2ExchangeAndNoreplace) {
  Supervised r = run(writer("exchange"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  EXPECT_EQ(r.out, "noreplace=EEXIST\n");
  auto renames = all(r, "renameat2");
  ASSERT_EQ(renames.size(), 3u) << r.calls();
  const TraceRecord* opened_a = r.find("openat", "a");
  ASSERT_NE(opened_a, nullptr) << r.calls();
  EXPECT_EQ(renames[0]->flags, RENAME_EXCHANGE);
  EXPECT_EQ(renames[0]->path, "a");
  EXPECT_EQ(renames[0]->path2, "b");
  EXPECT_EQ(renames[0]->inode, opened_a->inode);
  EXPECT_EQ(renames[1]->flags, RENAME_NOREPLACE);
  EXPECT_EQ(renames[1]->path2, "c");
  EXPECT_NE(renames[1]->inode, opened_a->inode);  // after the exchange "a" is b's file
  EXPECT_EQ(renames[2]->result, -1);
  EXPECT_EQ(renames[2]->error, EEXIST);
  EXPECT_FALSE(renames[2]->injected);
  EXPECT_EQ(slurp(scope_ / "b"), "A");
  EXPECT_EQ(slurp(scope_ / "c"), "B");
  EXPECT_FALSE(fs::exists(scope_ / "a"));
}

TEST_F(Seccomp, TmpfileLinkedThroughProcSelfFdIsTracedFromCreation) {
  Supervised r = run(writer("tmpfile"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* link = r.find("linkat");
  ASSERT_NE(link, nullptr) << r.calls();
  EXPECT_EQ(link->path2, "target");
  const TraceRecord* open = r.find("openat");
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_EQ(open->flags & O_TMPFILE, O_TMPFILE);
  EXPECT_TRUE(open->created);
  EXPECT_TRUE(is_unnamed(open->path)) << open->path;  // no name until the linkat (faults/README.md, "O_TMPFILE")
  EXPECT_EQ(link->path, open->path) << "the linkat's source is the file, not /proc/self/fd/N";
  EXPECT_EQ(open->inode, link->inode);
  EXPECT_LT(open->seq, link->seq);
  const TraceRecord* write = r.find("write");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->inode, link->inode);
  EXPECT_EQ(write->data, content);
  const TraceRecord* fsync = r.find("fsync");
  ASSERT_NE(fsync, nullptr) << r.calls();
  EXPECT_LT(fsync->seq, link->seq);
  const TraceRecord* close = r.find("close", "target");
  ASSERT_NE(close, nullptr) << "after the linkat its descriptor has the file's name: " << r.calls();
  EXPECT_GT(close->seq, link->seq);
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, SymlinkedDirectoryLeadingIntoTheScopeCounts) {
  Supervised r = run(writer("symlinked"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* open = r.find("openat", "target");
  ASSERT_NE(open, nullptr) << r.calls();
  EXPECT_TRUE(open->created);
  const TraceRecord* write = r.find("write", "target");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_EQ(write->data, content);
  EXPECT_EQ(r.find("symlink"), nullptr) << "the link itself is outside the scope: " << r.calls();
}

TEST_F(Seccomp, SizeModeAndDirectoryCalls) {
  Supervised r = run(writer("metadata"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* falloc = r.find("fallocate", "target");
  ASSERT_NE(falloc, nullptr) << r.calls();
  EXPECT_EQ(falloc->op, OpClass::allocate);
  EXPECT_EQ(falloc->length, 8192u);
  const TraceRecord* ftrunc = r.find("ftruncate", "target");
  const TraceRecord* trunc = r.find("truncate", "target");
  ASSERT_TRUE(ftrunc && trunc) << r.calls();
  EXPECT_EQ(ftrunc->offset, 100);
  EXPECT_EQ(trunc->offset, 10);
  EXPECT_LT(ftrunc->seq, trunc->seq);
  const TraceRecord* fchmod = r.find("fchmod", "target");
  const TraceRecord* fchmodat = r.find("fchmodat", "target");
  ASSERT_TRUE(fchmod && fchmodat) << r.calls();
  EXPECT_EQ(fchmod->mode, 0600u);
  EXPECT_EQ(fchmodat->mode, 0640u);
  auto mkdirs = all(r, "mkdir");
  ASSERT_EQ(mkdirs.size(), 2u) << r.calls();
  EXPECT_EQ(mkdirs[0]->path, "sub");
  EXPECT_TRUE(mkdirs[0]->created && mkdirs[0]->is_directory);
  const TraceRecord* inner = r.find("unlinkat", "sub/inner");
  ASSERT_NE(inner, nullptr) << r.calls();
  EXPECT_EQ(inner->flags, 0);
  const TraceRecord* rmdir = r.find("rmdir", "sub");
  ASSERT_NE(rmdir, nullptr) << r.calls();
  EXPECT_TRUE(rmdir->is_directory);
  auto unlinks = all(r, "unlinkat");
  ASSERT_EQ(unlinks.size(), 2u) << r.calls();
  EXPECT_EQ(unlinks[1]->path, "sub");
  EXPECT_EQ(unlinks[1]->flags, AT_REMOVEDIR);
  EXPECT_EQ(fs::file_size(scope_ / "target"), 10u);
  EXPECT_EQ(fs::status(scope_ / "target").permissions() & fs::perms::all, fs::perms(0640));
  EXPECT_FALSE(fs::exists(scope_ / "sub"));
}

TEST_F(Seccomp, DirectoryRenamedInBringsItsChildren) {
  Supervised r = run(writer("dir-in"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* rename = r.find("rename");
  ASSERT_NE(rename, nullptr) << r.calls();
  EXPECT_EQ(rename->path2, "d");
  EXPECT_TRUE(rename->is_directory);
  auto writes = all(r, "write");
  ASSERT_EQ(writes.size(), 3u) << r.calls();
  EXPECT_EQ(writes[0]->path, (fs::canonical(tmpdir_) / "d" / "f").string());  // before: its outside name
  EXPECT_EQ(writes[0]->data, "before\n");
  EXPECT_LT(writes[0]->seq, rename->seq);
  EXPECT_EQ(writes[1]->path, "d/f");  // the descriptor opened outside, after the rename
  EXPECT_EQ(writes[1]->data, "after\n");
  EXPECT_EQ(writes[2]->path, "d/f");
  EXPECT_EQ(writes[2]->data, "named\n");
  EXPECT_EQ(writes[1]->inode, writes[0]->inode);
  EXPECT_EQ(slurp(scope_ / "d" / "f"), "before\nafter\nnamed\n");
}

TEST_F(Seccomp, SharedMappingNeverSyncedIsReadBackAtExit) {
  Supervised r = run(writer("mmap-exit"));
  ASSERT_TRUE(r.exited(0)) << r.out;
  EXPECT_EQ(r.find("munmap"), nullptr) << r.calls();
  const TraceRecord* exit = r.find("exit_group", "target");
  ASSERT_NE(exit, nullptr) << r.calls();
  EXPECT_EQ(exit->op, OpClass::write);
  EXPECT_EQ(exit->offset, 0);
  EXPECT_EQ(exit->length, 4096u);
  EXPECT_EQ(exit->data.substr(0, 20), "stored, never synced");
  EXPECT_EQ(exit->seq, r.trace().records.back().seq);
}

// ----------------------------------------------------------------- faults --

TEST_F(Seccomp, ErrnoInjectionFailsTheCallWithoutRunningIt) {
  Supervised clean = run(writer("writes", "2"));
  const TraceRecord* first = clean.find("write", "target");
  ASSERT_NE(first, nullptr) << clean.calls();
  fs::remove(scope_ / "target");
  Supervised r = run(writer("writes", "2"), FaultPlan{FaultPlan::Kind::fail_call, first->seq, ENOSPC});
  EXPECT_TRUE(r.exited(1));
  EXPECT_EQ(r.out, "errno=ENOSPC\n");
  const TraceRecord* write = r.find("write", "target");
  ASSERT_NE(write, nullptr) << r.calls();
  EXPECT_TRUE(write->injected);
  EXPECT_EQ(write->error, ENOSPC);
  EXPECT_EQ(write->result, -1);
  EXPECT_EQ(target(), "");
}

// Linux frees the descriptor even when close fails: so does an injected failure.
TEST_F(Seccomp, InjectedCloseFailureStillReleasesTheDescriptor) {
  Supervised clean = run(writer("close-fail"));
  ASSERT_TRUE(clean.exited(0)) << clean.out;
  EXPECT_EQ(clean.out, "close=ok\nwrite=EBADF\nclose again=EBADF\n");
  const TraceRecord* close = clean.find("close", "target");
  ASSERT_NE(close, nullptr) << clean.calls();
  Supervised r = run(writer("close-fail"), FaultPlan{FaultPlan::Kind::fail_call, close->seq, EIO});
  ASSERT_TRUE(r.exited(0)) << r.out;
  EXPECT_EQ(r.out, "close=EIO\nwrite=EBADF\nclose again=EBADF\n");  // as on Linux: the fd is gone
  const TraceRecord* failed = r.find("close", "target");
  ASSERT_NE(failed, nullptr) << r.calls();
  EXPECT_TRUE(failed->injected);
  EXPECT_EQ(failed->error, EIO);
  EXPECT_EQ(r.find("write", "target")->data, content);
  EXPECT_EQ(all(r, "write").size(), 1u) << "the write to the released descriptor is not the file's: " << r.calls();
}

TEST_F(Seccomp, DiskFullWritesTheRealPrefixThenFails) {
  FaultPlan plan{FaultPlan::Kind::disk_full, 0, 0, 13};
  Supervised r = run(writer("writes", "3"), plan);
  EXPECT_TRUE(r.exited(1));
  EXPECT_EQ(r.out, "wrote=10\nwrote=3\nerrno=ENOSPC\n");
  EXPECT_EQ(target(), "0123456789012");
  std::vector<const TraceRecord*> writes;
  for (const TraceRecord& rec : r.trace().records)
    if (rec.call == "write") writes.push_back(&rec);
  ASSERT_EQ(writes.size(), 3u) << r.calls();
  EXPECT_EQ(writes[1]->result, 3);
  EXPECT_EQ(writes[1]->offset, 10);
  EXPECT_EQ(writes[1]->data, "012");
  EXPECT_EQ(writes[2]->error, ENOSPC);
}

TEST_F(Seccomp, KillBeforeAndAfterTheRename) {
  Supervised clean = run(writer("atomic"));
  const TraceRecord* rename = clean.find("rename");
  ASSERT_NE(rename, nullptr);
  std::uint32_t seq = rename->seq;
  fs::remove(scope_ / "target");

  Supervised before = run(writer("atomic"), FaultPlan{FaultPlan::Kind::kill_before, seq});
  EXPECT_TRUE(before.killed());
  EXPECT_EQ(before.find("rename"), nullptr);
  EXPECT_FALSE(fs::exists(scope_ / "target"));
  EXPECT_TRUE(fs::exists(scope_ / "target.tmp"));
  fs::remove(scope_ / "target.tmp");

  Supervised after = run(writer("atomic"), FaultPlan{FaultPlan::Kind::kill_after, seq});
  EXPECT_TRUE(after.killed());
  ASSERT_NE(after.find("rename"), nullptr);
  EXPECT_EQ(after.trace().records.back().call, "rename");
  EXPECT_EQ(target(), content);
}

TEST_F(Seccomp, KillWithinOneLargeWriteLeavesAPageAlignedPrefix) {
  Supervised clean = run(writer("big", "65536"));
  const TraceRecord* write = clean.find("write", "target");
  ASSERT_NE(write, nullptr);
  FaultPlan plan = *FaultPlan::parse("kill-within:" + std::to_string(write->seq) + ":8192");
  Supervised r = run(writer("big", "65536"), plan);
  EXPECT_TRUE(r.killed());
  EXPECT_EQ(fs::file_size(scope_ / "target"), 8192u);
  const TraceRecord* partial = r.find("write", "target");
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(partial->length, 65536u);
  EXPECT_EQ(partial->result, 8192);
  EXPECT_EQ(partial->data, clean.find("write", "target")->data.substr(0, 8192));
}

TEST_F(Seccomp, PauseHoldsEachCountedCallUntilResumed) {
  std::vector<std::pair<std::uint32_t, bool>> seen;  // call, did the target exist then
  Supervised r = run(writer("atomic"), FaultPlan{FaultPlan::Kind::pause}, [&](Observer& o) {
    while (auto call = o.wait_paused(std::chrono::seconds(10))) {
      seen.emplace_back(*call, fs::exists(scope_ / "target"));
      o.resume();
    }
  });
  ASSERT_TRUE(r.exited(0));
  ASSERT_EQ(seen.size(), r.trace().records.size()) << r.calls();
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].first, r.trace().records[i].seq);
  const TraceRecord* rename = r.find("rename");
  ASSERT_NE(rename, nullptr);
  for (auto [call, existed] : seen) EXPECT_EQ(existed, call > rename->seq) << "paused before call " << call;
}

// Several runs are supervised at once in one process (the runner's jobs):
// libfiu's points are process-wide, each run's plan must stay its own.
TEST_F(Seccomp, ConcurrentRunsKeepTheirOwnPlans) {
  Supervised clean = run(writer("writes", "2"));
  const TraceRecord* first = clean.find("write", "target");
  ASSERT_NE(first, nullptr);
  auto one = [&](const std::string& name, FaultPlan plan) {
    fs::path dir = root_ / name, work = root_ / (name + "-work");
    fs::create_directories(dir);
    fs::create_directories(work);
    auto observer = make_seccomp_observer(RunSetup{dir, work, plan, {}});
    return testing::run_observed(*observer, Launch{{CRASHCHECK_SECCOMP_WRITER, "writes", dir.string(), "2"}, {}});
  };
  for (int round = 0; round < 3; ++round) {
    testing::ObservedRun failing, clean_run;
    std::thread a([&] { failing = one("a" + std::to_string(round), {FaultPlan::Kind::fail_call, first->seq, EIO}); });
    std::thread b([&] { clean_run = one("b" + std::to_string(round), {}); });
    a.join();
    b.join();
    EXPECT_TRUE(failing.exited(1));
    EXPECT_EQ(failing.out, "errno=EIO\n");
    EXPECT_TRUE(clean_run.exited(0)) << clean_run.out;
    EXPECT_EQ(clean_run.out, "wrote=10\nwrote=10\n");
  }
}

// --------------------------------------------------------------------- Go --

TEST_F(Seccomp, GoWriterIsSeen) {
  std::string go = CRASHCHECK_GO;
  if (go.empty() || ::access(go.c_str(), X_OK) != 0)
    GTEST_SKIP() << "go not found (install golang-go, see README.md): the Go writer cannot be built";
  fs::path src = root_ / "go";
  fs::create_directories(src);
  std::ofstream(src / "main.go") << R"(package main

import (
	"os"
	"path/filepath"
)

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	dir := os.Args[1]
	f, err := os.CreateTemp(dir, "target-*.tmp")
	check(err)
	_, err = f.Write([]byte("new content\n"))
	check(err)
	check(f.Sync())
	check(f.Close())
	check(os.Rename(f.Name(), filepath.Join(dir, "target")))
	d, err := os.Open(dir)
	check(err)
	check(d.Sync())
	check(d.Close())
}
)";
  std::string build = "cd '" + src.string() + "' && GOCACHE='" + (root_ / "gocache").string() + "' GOPATH='" +
                      (root_ / "gopath").string() + "' GO111MODULE=off '" + go + "' build -o writer main.go";
  ASSERT_EQ(std::system(build.c_str()), 0) << build;
  Supervised r = run({(src / "writer").string(), scope_.string()});
  ASSERT_TRUE(r.exited(0)) << r.out;
  const TraceRecord* rename = r.find("renameat");
  ASSERT_NE(rename, nullptr) << r.calls();
  EXPECT_EQ(rename->path2, "target");
  const TraceRecord* open = r.find("openat", rename->path);
  const TraceRecord* write = r.find("write", rename->path);
  const TraceRecord* sync = r.find("fsync", rename->path);
  ASSERT_TRUE(open && write && sync) << r.calls();
  EXPECT_TRUE(open->created);
  EXPECT_EQ(write->data, content);
  bool dir_sync = false;
  for (const TraceRecord& rec : r.trace().records)
    dir_sync |= rec.op == OpClass::sync && rec.is_directory && rec.path == "." && rec.seq > rename->seq;
  EXPECT_TRUE(dir_sync) << r.calls();
  EXPECT_EQ(target(), content);
}

// ----------------------------------------------------------------- table --

TEST(SeccompTable, ReadmeListsExactlyTheSupervisedCalls) {
  std::istringstream readme(slurp(CRASHCHECK_FAULTS_README));
  std::regex row(R"(^\| `([a-z0-9_]+)` \| (counted|watched|refused|noted) \| ([a-z_-]+) \| ([A-Z, ]*?) ?\|$)");
  std::map<std::string, std::string> documented;  // name -> the row's other cells
  for (std::string line; std::getline(readme, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) documented[m[1]] = m[2].str() + "|" + m[3].str() + "|" + m[4].str();
  }
  std::size_t counted = 0;
  for (const SyscallInfo& s : supervised_syscalls()) {
    static constexpr std::string_view roles[] = {"counted", "watched", "refused", "noted"};
    std::string errnos;
    for (int e : s.errnos) errnos += (errnos.empty() ? "" : ", ") + errno_name(e);
    bool is_counted = s.role == SyscallInfo::Role::counted;
    std::string op = is_counted ? std::string(op_name(s.op)) : "-";
    EXPECT_EQ(documented[std::string(s.name)], std::string(roles[static_cast<int>(s.role)]) + "|" + op + "|" + errnos)
        << s.name;
    documented.erase(std::string(s.name));
    counted += is_counted;
  }
  EXPECT_TRUE(documented.empty()) << "README lists a call the supervisor does not: " << documented.begin()->first;
  EXPECT_GE(counted, 40u);
}

// The errno campaign plans from injectable_errnos: a system call only the
// supervisor sees takes syscalls.def's errnos, a libc name the agent's.
TEST(SeccompTable, ErrnosToInjectComeFromTheTableThatSeesTheCall) {
  auto names = [](std::span<const int> errnos) {
    std::string out;
    for (int e : errnos) out += errno_name(e) + " ";
    return out;
  };
  EXPECT_EQ(names(injectable_errnos("openat2")), "ENOSPC EDQUOT EACCES EROFS EINTR EMFILE EIO ");
  EXPECT_EQ(names(injectable_errnos("splice")), "ENOSPC EDQUOT EIO EINTR EFBIG ");
  EXPECT_EQ(names(injectable_errnos("fclose")), names(find_call("fclose")->errnos));
  EXPECT_EQ(names(injectable_errnos("io_uring_setup")), "");  // refused, never a counted call
  EXPECT_EQ(names(injectable_errnos("read")), "");
}

TEST(SeccompPlan, KillWithinRoundTrips) {
  auto plan = FaultPlan::parse("kill-within:7:4096");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->kind, FaultPlan::Kind::kill_within);
  EXPECT_EQ(plan->call, 7u);
  EXPECT_EQ(plan->byte_budget, 4096u);
  EXPECT_EQ(plan->encode(), "kill-within:7:4096");
  EXPECT_FALSE(FaultPlan::parse("kill-within:7"));
  EXPECT_FALSE(FaultPlan::parse("kill-within:0:1"));
}

}  // namespace
}  // namespace crashcheck::faults
