// The agent in real subjects: every intercepted call, kill/errno/disk-full/pause
// plans, and Python, Node, sh, C++ and static subjects end to end.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "crashcheck/faults.hpp"
#include "shared.h"
#include "subject.hpp"

namespace cf = crashcheck::faults;
using cf::FaultPlan;
using cf::OpClass;
using cf::TraceRecord;
using crashcheck::faults::testing::read_file;
using crashcheck::faults::testing::run_subject;
using crashcheck::faults::testing::Sandbox;
using crashcheck::faults::testing::SubjectOptions;
using crashcheck::faults::testing::SubjectRun;
using Files = std::vector<std::pair<std::string, std::string>>;

namespace {

// The last record of `call` (probes prepare with other calls of the same name).
const TraceRecord* find_record(const SubjectRun& run, std::string_view call) {
  const TraceRecord* found = nullptr;
  for (const TraceRecord& r : run.trace.records)
    if (r.call == call) found = &r;
  return found;
}

std::vector<OpClass> ops_on(const SubjectRun& run, std::string_view path) {
  std::vector<OpClass> ops;
  for (const TraceRecord& r : run.trace.records)
    if (r.path == path) ops.push_back(r.op);
  return ops;
}

std::string describe(const SubjectRun& run) {
  std::string s = "status " + std::to_string(run.status) + ", loaded " + std::to_string(run.processes_loaded) +
                  ", counted " + std::to_string(run.calls_counted) + "\n";
  for (const TraceRecord& r : run.trace.records)
    s += "  #" + std::to_string(r.seq) + " " + r.call + " " + r.path + (r.path2.empty() ? "" : " -> " + r.path2) +
         " fd=" + std::to_string(r.fd) + " off=" + std::to_string(r.offset) + " res=" + std::to_string(r.result) +
         " err=" + std::to_string(r.error) + " data=" + r.data.substr(0, 40) + "\n";
  return s;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// What the probe's record of each call must say, beyond call and op class.
void check_probe_record(const cf::CallInfo& call, const TraceRecord& r) {
  std::string name(call.name);
  EXPECT_EQ(r.error, 0);
  EXPECT_FALSE(r.injected);
  EXPECT_NE(r.inode, 0u);
  EXPECT_GT(r.pid, 0);
  bool temp = starts_with(name, "mks") || starts_with(name, "mkos");
  if (name == "sync") {
    EXPECT_EQ(r.path, ".");
  } else if (temp) {
    EXPECT_TRUE(starts_with(r.path, "tmp") && r.path.find("XXXXXX") == std::string::npos) << r.path;
  } else {
    EXPECT_EQ(r.path, "f");
  }
  switch (call.op) {
    case OpClass::open: {
      bool made_before = starts_with(name, "__open");
      EXPECT_EQ(r.created, !made_before);
      EXPECT_GE(r.fd, 0);
      EXPECT_EQ(r.result, r.fd);
      if (!made_before) {
        EXPECT_TRUE(r.flags & O_CREAT);
      }
      if (temp) {
        EXPECT_EQ(r.mode, 0600u);
      } else if (starts_with(name, "open") || starts_with(name, "creat")) {
        EXPECT_EQ(r.mode, 0640u);
      }
      break;
    }
    case OpClass::write: {
      std::string expected = "hello";
      if (name == "puts") expected = "hell\n";
      if (name.find("putc") != std::string::npos || name == "__overflow") expected = "h";
      EXPECT_EQ(r.data, expected);
      EXPECT_EQ(r.length, expected.size());
      EXPECT_EQ(r.result, static_cast<std::int64_t>(expected.size()));
      EXPECT_EQ(r.offset, starts_with(name, "pwrite") ? 3 : 0);
      break;
    }
    case OpClass::rename:
    case OpClass::link:
      EXPECT_EQ(r.path2, "g");
      EXPECT_EQ(r.created, call.op == OpClass::link);
      break;
    case OpClass::mkdir:
      EXPECT_TRUE(r.created);
      EXPECT_TRUE(r.is_directory);
      EXPECT_EQ(r.mode, 0750u);
      break;
    case OpClass::unlink:
      EXPECT_EQ(r.is_directory, name == "rmdir");
      break;
    case OpClass::truncate:
      EXPECT_EQ(r.offset, 3);
      break;
    case OpClass::chmod:
      EXPECT_EQ(r.mode, 0600u);
      break;
    case OpClass::allocate:
      EXPECT_EQ(r.offset, 3);
      EXPECT_EQ(r.length, 4096u);
      break;
    case OpClass::sync:
    case OpClass::close:
      EXPECT_GE(r.fd, 0);
      break;
    default:
      break;
  }
}

}  // namespace

// ------------------------------------------------------------ every call --

class EveryInterceptedCall : public ::testing::TestWithParam<cf::CallInfo> {};

TEST_P(EveryInterceptedCall, AppearsInTheTraceWithItsArguments) {
  const cf::CallInfo& call = GetParam();
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, std::string(call.name), box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(run.processes_loaded, 1u);
  EXPECT_EQ(run.calls_counted, run.trace.records.size());
  const TraceRecord* r = find_record(run, call.name);
  ASSERT_NE(r, nullptr) << describe(run);
  EXPECT_EQ(r->op, call.op);
  check_probe_record(call, *r);
  for (std::size_t i = 0; i < run.trace.records.size(); ++i) EXPECT_EQ(run.trace.records[i].seq, i + 1);
}

INSTANTIATE_TEST_SUITE_P(Agent, EveryInterceptedCall,
                         ::testing::ValuesIn(cf::intercepted_calls().begin(), cf::intercepted_calls().end()),
                         [](const auto& info) { return std::string(info.param.name); });

// Descriptor bookkeeping: copies of a scoped fd are scoped, raw syscalls count,
// and a number reused behind the agent's back is not mistaken for the old file.
class DescriptorTracking : public ::testing::TestWithParam<std::string> {};

TEST_P(DescriptorTracking, WritesThroughCopiesAreCounted) {
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, GetParam(), box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  auto is_write = [](const TraceRecord& r) { return r.op == OpClass::write; };
  auto w = std::find_if(run.trace.records.begin(), run.trace.records.end(), is_write);
  ASSERT_NE(w, run.trace.records.end()) << describe(run);
  EXPECT_EQ(w->path, "f");
  EXPECT_EQ(w->data, "hello");
  if (GetParam() == "syscall") {
    EXPECT_EQ(ops_on(run, "f"), (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::close})) << describe(run);
  }
}

INSTANTIATE_TEST_SUITE_P(Agent, DescriptorTracking,
                         ::testing::Values("dup", "dup2", "dup3", "fcntl", "fdopen", "syscall"));

// calls.def's sys column: raw syscalls reach the row's wrapper, traced under the row's name.
TEST(DescriptorTracking, RawSyscallsAreTracedUnderTheirRowsName) {
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, "raw_syscalls", box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  std::vector<std::string> calls;
  for (const TraceRecord& r : run.trace.records) calls.push_back(r.call);
  // the probe's own open of "." comes first
  EXPECT_EQ(calls, (std::vector<std::string>{"open", "openat", "pwrite", "fsync", "ftruncate", "close", "renameat2",
                                             "mkdirat", "unlinkat"}))
      << describe(run);
  const TraceRecord* write = find_record(run, "pwrite");
  ASSERT_NE(write, nullptr);
  EXPECT_EQ(write->data, "hello");
  EXPECT_EQ(write->offset, 3);
  EXPECT_EQ(box.files(), Files{});  // f became g, then g was unlinked; d is a directory
}

TEST(DescriptorTracking, ReusedNumberOutsideTheScopeIsNotCounted) {
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, "reused_fd", box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(ops_on(run, "f"), std::vector<OpClass>{OpClass::open}) << describe(run);
  for (const TraceRecord& r : run.trace.records) EXPECT_NE(r.op, OpClass::write) << describe(run);
}

TEST(DescriptorTracking, DirectorySyncIsMarkedAsDirectory) {
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, "fsync_dir", box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  ASSERT_EQ(run.trace.records.size(), 2u) << describe(run);
  const TraceRecord& open = run.trace.records[0];
  const TraceRecord& sync = run.trace.records[1];
  EXPECT_EQ(open.path, ".");
  EXPECT_TRUE(open.is_directory);
  EXPECT_FALSE(open.created);
  EXPECT_EQ(sync.op, OpClass::sync);
  EXPECT_EQ(sync.path, ".");
  EXPECT_TRUE(sync.is_directory);
  EXPECT_EQ(sync.fd, open.fd);
  struct stat st {};
  ASSERT_EQ(::stat(box.scope().c_str(), &st), 0);
  EXPECT_EQ(sync.inode, st.st_ino);
  EXPECT_EQ(open.inode, st.st_ino);
}

// ------------------------------------------------------------------ kill --

namespace {
const Files old_only = {{"target", "old"}};
const Files tmp_empty = {{"target", "old"}, {"target.tmp", ""}};
const Files tmp_full = {{"target", "old"}, {"target.tmp", "new content"}};
const Files replaced = {{"target", "new content"}};
// Directory state before counted call N (index N-1) of sequence_writer, and after it all.
const std::vector<Files> state_before = {old_only, tmp_empty, tmp_full, tmp_full, tmp_full, replaced};

SubjectRun run_sequence(Sandbox& box, FaultPlan plan) {
  box.reset(old_only);
  SubjectOptions options;
  options.plan = plan;
  return run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()}, options);
}
}  // namespace

TEST(KillPlan, BeforeEachCallLeavesTheStateBeforeIt) {
  Sandbox box;
  for (std::uint32_t n = 1; n <= 5; ++n) {
    SubjectRun run = run_sequence(box, {FaultPlan::Kind::kill_before, n});
    EXPECT_TRUE(run.killed()) << "N=" << n << " " << describe(run);
    EXPECT_EQ(box.files(), state_before[n - 1]) << "N=" << n;
    EXPECT_EQ(run.trace.records.size(), n - 1) << "killed-before calls leave no record";
    EXPECT_EQ(run.calls_counted, n);
  }
}

TEST(KillPlan, AfterEachCallLeavesTheStateAfterIt) {
  Sandbox box;
  for (std::uint32_t n = 1; n <= 5; ++n) {
    SubjectRun run = run_sequence(box, {FaultPlan::Kind::kill_after, n});
    EXPECT_TRUE(run.killed()) << "N=" << n << " " << describe(run);
    EXPECT_EQ(box.files(), state_before[n]) << "N=" << n;
    ASSERT_EQ(run.trace.records.size(), n) << "the killed call's record is already on disk";
  }
  SubjectRun beyond = run_sequence(box, {FaultPlan::Kind::kill_before, 6});
  EXPECT_TRUE(beyond.exited(0));
  EXPECT_EQ(box.files(), replaced);
}

TEST(PausePlan, StopsBeforeEveryCallUntilResumed) {
  Sandbox box;
  box.reset(old_only);
  std::vector<std::uint32_t> paused;
  std::vector<Files> seen;
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::pause};
  options.while_running = [&](cf::AgentControl& control) {
    // the writer makes exactly five calls: wait for each (a missing one times out
    // and fails the test); a sixth would be counted, which the check below catches
    for (std::size_t i = 0; i + 1 < state_before.size(); ++i) {
      auto call = control.wait_paused(std::chrono::seconds(30));
      if (!call) break;
      paused.push_back(*call);
      seen.push_back(box.files());
      control.resume();
    }
  };
  SubjectRun run = run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()}, options);
  EXPECT_TRUE(run.exited(0));
  EXPECT_EQ(run.calls_counted, 5u) << "no call after the fifth";
  EXPECT_EQ(paused, (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(seen, std::vector<Files>(state_before.begin(), state_before.end() - 1));
}

TEST(PausePlan, GivesUpWhenNobodyResumes) {
  Sandbox box;
  box.reset(old_only);
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::pause};
  options.env = {{"CRASHCHECK_PAUSE_TIMEOUT_MS", "100"}};
  SubjectRun run = run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()}, options);
  EXPECT_TRUE(run.exited(0));
  EXPECT_EQ(box.files(), replaced);
}

// ----------------------------------------------------------------- errno --

TEST(FailPlan, EachStepFailsWithThePlannedErrno) {
  Sandbox box;
  const int errors[] = {EACCES, ENOSPC, EIO, EINTR, EXDEV};
  for (std::uint32_t n = 1; n <= 5; ++n) {
    SubjectRun run = run_sequence(box, {FaultPlan::Kind::fail_call, n, errors[n - 1]});
    EXPECT_TRUE(run.exited(10 + static_cast<int>(n))) << "N=" << n << " " << describe(run);
    ASSERT_EQ(run.trace.records.size(), n);
    const TraceRecord& r = run.trace.records.back();
    EXPECT_TRUE(r.injected);
    EXPECT_EQ(r.error, errors[n - 1]);
    EXPECT_EQ(r.result, -1);
    EXPECT_TRUE(r.data.empty());
    // the failed call never reached the kernel: the state is the one before it
    EXPECT_EQ(box.files(), state_before[n - 1]) << "N=" << n;
  }
}

namespace {
void expect_injected(const SubjectRun& run, std::string_view call, int error) {
  const TraceRecord* r = find_record(run, call);
  ASSERT_NE(r, nullptr) << describe(run);
  EXPECT_EQ(r->error, error);
  EXPECT_TRUE(r->injected);
}
}  // namespace

// Every hand-written wrapper (CC_HAND in calls.def) leaves errno as the real
// call left it: untouched by a success, the call's own errno after a real
// failure (the same as without the agent), the planned one after an injected one.
namespace {
const std::string hand_written[] = {
#define CC_HAND_NAME(name, ...) #name,
#define CC_CALL(...)
#define CC_ERRNUM_CALL(...)
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) CC_HAND_NAME(name) CC_WITH_TWIN(twin64, CC_HAND_NAME, name)
#include "calls.def"
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND
#undef CC_HAND_NAME
};
// The hand-written write-class calls that are not in-kernel copies: stdio output.
std::vector<std::string> stream_outputs() {
  std::vector<std::string> out;
  for (const std::string& name : hand_written)
    if (cf::find_call(name)->op == OpClass::write && name != "copy_file_range" && !starts_with(name, "sendfile"))
      out.push_back(name);
  return out;
}
constexpr int kErrnoSentinel = 200;  // errno_probe's: no Linux errno

SubjectRun run_errno_probe(Sandbox& box, const std::string& call, const char* mode, SubjectOptions options = {}) {
  box.reset();
  return run_subject(box, {CRASHCHECK_ERRNO_PROBE, call, box.scope().string(), mode}, options);
}
SubjectOptions without_agent() {
  SubjectOptions options;
  options.without_agent = true;
  return options;
}
}  // namespace

class HandWrittenWrapper : public ::testing::TestWithParam<std::string> {};

TEST_P(HandWrittenWrapper, SuccessLeavesErrnoUntouched) {
  Sandbox box;
  SubjectRun run = run_errno_probe(box, GetParam(), "ok");
  const TraceRecord* r = find_record(run, GetParam());
  ASSERT_NE(r, nullptr) << "the call must be counted\n" << describe(run);
  EXPECT_EQ(r->error, 0) << describe(run);
  EXPECT_TRUE(run_errno_probe(box, GetParam(), "ok", without_agent()).exited(kErrnoSentinel)) << "libc itself";
  EXPECT_TRUE(run.exited(kErrnoSentinel)) << describe(run);
}

// stdio output calls: the agent's ftell (where did the bytes land?) fails on a pipe with ESPIPE
class HandWrittenStreamOutput : public HandWrittenWrapper {};

TEST_P(HandWrittenStreamOutput, ToAPipeLeavesErrnoUntouched) {
  Sandbox box;
  SubjectRun run = run_errno_probe(box, GetParam(), "fifo");
  const TraceRecord* r = find_record(run, GetParam());
  ASSERT_NE(r, nullptr) << "the call must be counted\n" << describe(run);
  EXPECT_EQ(r->offset, -1) << "a pipe has no offset";
  EXPECT_TRUE(run.exited(kErrnoSentinel)) << describe(run);
}

TEST_P(HandWrittenWrapper, RealFailureLeavesTheCallsErrno) {
  // sync cannot fail; an fclose failure the agent could see needs a descriptor
  // closed behind its back, which it then no longer counts
  if (GetParam() == "sync" || GetParam() == "fclose") GTEST_SKIP() << "no real failure to provoke";
  Sandbox box;
  SubjectRun plain = run_errno_probe(box, GetParam(), "fail", without_agent());
  SubjectRun run = run_errno_probe(box, GetParam(), "fail");
  const TraceRecord* r = find_record(run, GetParam());
  ASSERT_NE(r, nullptr) << "the call must be counted\n" << describe(run);
  ASSERT_TRUE(WIFEXITED(plain.status));
  const int real = WEXITSTATUS(plain.status);
  EXPECT_NE(real, kErrnoSentinel);
  EXPECT_NE(real, 255) << "the probe could not prepare the call";
  EXPECT_EQ(r->error, real) << describe(run);
  EXPECT_TRUE(run.exited(real)) << describe(run);
}

TEST_P(HandWrittenWrapper, InjectedFailureLeavesThePlannedErrno) {
  if (GetParam() == "sync") GTEST_SKIP() << "sync reports no errors";
  Sandbox box;
  SubjectRun baseline = run_errno_probe(box, GetParam(), "ok");
  const TraceRecord* counted = find_record(baseline, GetParam());
  ASSERT_NE(counted, nullptr) << describe(baseline);
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::fail_call, counted->seq, EROFS};
  SubjectRun run = run_errno_probe(box, GetParam(), "ok", options);
  expect_injected(run, GetParam(), EROFS);
  EXPECT_TRUE(run.exited(EROFS)) << describe(run);
}

INSTANTIATE_TEST_SUITE_P(Agent, HandWrittenWrapper, ::testing::ValuesIn(hand_written),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Agent, HandWrittenStreamOutput, ::testing::ValuesIn(stream_outputs()),
                         [](const auto& info) { return info.param; });

TEST(FailPlan, FailedCloseStillReleasesTheDescriptor) {
  // Linux frees the descriptor even when close reports EIO; an injected close failure must too
  Sandbox box;
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::fail_call, 3, EIO};  // probe: open ".", open f, close f
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, "close", box.scope().string()}, options);
  EXPECT_TRUE(run.exited(1)) << "exit 4: the descriptor stayed open\n" << describe(run);
  expect_injected(run, "close", EIO);
}

TEST(FailPlan, MalformedPlanStopsTheSubjectLoudly) {
  Sandbox box;
  SubjectOptions options;
  options.env = {{"CRASHCHECK_PLAN", "kill-before:soon"}};
  SubjectRun run = run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()}, options);
  EXPECT_TRUE(run.exited(125)) << describe(run);
  EXPECT_TRUE(box.files().empty());
}

TEST(FailPlan, LibfiuPointsCanBeEnabledByName) {
  // the libfiu point behind every call: fiu-run / fiu-ctl users can drive it too
  Sandbox box;
  box.reset(old_only);
  SubjectOptions options;
  // what fiu-run does, with our agent preloaded as well (fiu-run itself replaces LD_PRELOAD)
  options.env = {{"LD_PRELOAD", "/usr/lib/fiu/fiu_run_preload.so:" + cf::default_agent_library().string()},
                 {"FIU_ENABLE", "enable name=crashcheck/io/rename,failinfo=18"}};
  if (!std::filesystem::exists("/usr/lib/fiu/fiu_run_preload.so")) GTEST_SKIP() << "fiu-utils not installed";
  SubjectRun run = run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()}, options);
  EXPECT_TRUE(run.exited(15)) << describe(run);
  expect_injected(run, "rename", EXDEV);
}

// ------------------------------------------------------------- disk-full --

TEST(DiskFullPlan, CrossingWriteIsShortThenENOSPC) {
  Sandbox box;
  for (std::string mode : {"write", "stdio"}) {
    SubjectOptions options;
    options.plan = {FaultPlan::Kind::disk_full, 0, 0, 25};
    SubjectRun run = run_subject(box, {CRASHCHECK_CHUNK_WRITER, box.scope().string(), "4", "10", mode}, options);
    ASSERT_TRUE(run.exited(0)) << describe(run);
    if (mode == "write")
      EXPECT_EQ(run.out, "10 OK\n10 OK\n5 OK\n-1 ENOSPC\n");
    else
      EXPECT_EQ(run.out, "10 OK\n10 OK\n5 ENOSPC\n0 ENOSPC\n");
    EXPECT_EQ(std::filesystem::file_size(box.scope() / "out"), 25u) << mode;
    std::vector<std::int64_t> results, offsets;
    std::uint64_t bytes = 0;
    for (const TraceRecord& r : run.trace.records)
      if (r.op == OpClass::write) results.push_back(r.result), offsets.push_back(r.offset), bytes += r.data.size();
    EXPECT_EQ(results, (std::vector<std::int64_t>{10, 10, 5, -1})) << mode << describe(run);
    EXPECT_EQ(offsets, (std::vector<std::int64_t>{0, 10, 20, 25})) << mode;
    EXPECT_EQ(bytes, 25u);
  }
}

TEST(DiskFullPlan, FailedWriteGivesItsReservationBack) {
  Sandbox box;
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::disk_full, 0, 0, 5};
  SubjectRun run = run_subject(box, {CRASHCHECK_PROBE, "budget_giveback", box.scope().string()}, options);
  EXPECT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(read_file(box.scope() / "f"), "hello");
}

TEST(DiskFullPlan, BudgetIsSharedByChildProcesses) {
  Sandbox box;
  SubjectOptions options;
  options.plan = {FaultPlan::Kind::disk_full, 0, 0, 15};
  std::string dir = box.scope().string();
  std::string script = std::string(CRASHCHECK_CHUNK_WRITER) + " " + dir + " 1 10; cd " + dir + " && mv out first && " +
                       CRASHCHECK_CHUNK_WRITER + " " + dir + " 2 10";
  SubjectRun run = run_subject(box, {"/bin/sh", "-c", script}, options);
  EXPECT_EQ(run.out, "10 OK\n5 OK\n-1 ENOSPC\n") << describe(run);
  EXPECT_GE(run.processes_loaded, 3u);  // sh, two writers (and mv)
}

TEST(Trace, ConcurrentProcessesShareNumberingAndNeverInterleave) {
  Sandbox box;
  std::string script = "cd " + box.scope().string() + " && for i in 1 2 3 4; do mkdir $i; " + CRASHCHECK_CHUNK_WRITER +
                       " $PWD/$i 150 100 >/dev/null & done; wait";
  SubjectRun run = run_subject(box, {"/bin/sh", "-c", script});
  ASSERT_TRUE(run.exited(0));
  ASSERT_EQ(run.trace.records.size(), run.calls_counted);
  std::uint64_t written = 0;
  for (std::size_t i = 0; i < run.trace.records.size(); ++i) {
    EXPECT_EQ(run.trace.records[i].seq, i + 1);
    written += run.trace.records[i].data.size();
  }
  EXPECT_EQ(written, 4u * 150u * 100u);
  EXPECT_EQ(run.trace.records.size(), 4u * (1 + 1 + 150));  // mkdir, open, writes
}

// ----------------------------------------------------- real interpreters --

TEST(Subjects, PythonAtomicJsonWriter) {
  Sandbox box;
  box.reset({{"health.json", "{\"old\": true}"}});
  std::ofstream(box.scope() / "../writer.py") << R"(
import json, os, sys, tempfile
target = sys.argv[1]
d = os.path.dirname(target)
with open(os.path.join(d, "log.txt"), "w") as f:
    f.write("plain open\n")
fd = os.open(os.path.join(d, "raw.bin"), os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"raw")
os.close(fd)
fd, tmp = tempfile.mkstemp(dir=d, prefix=".health-")
with os.fdopen(fd, "w") as f:
    json.dump({"status": "ok", "n": 3}, f)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, target)
)";
  SubjectRun run = run_subject(
      box, {CRASHCHECK_PYTHON, (box.scope() / "../writer.py").string(), (box.scope() / "health.json").string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(run.processes_loaded, 1u);
  EXPECT_EQ(ops_on(run, "log.txt"), (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::close}));
  EXPECT_EQ(ops_on(run, "raw.bin"), (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::close}));
  auto rename = std::find_if(run.trace.records.begin(), run.trace.records.end(),
                             [](const TraceRecord& r) { return r.op == OpClass::rename; });
  ASSERT_NE(rename, run.trace.records.end()) << describe(run);
  EXPECT_EQ(rename->path2, "health.json");
  EXPECT_TRUE(starts_with(rename->path, ".health-"));
  EXPECT_EQ(ops_on(run, rename->path),
            (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::sync, OpClass::close, OpClass::rename}))
      << describe(run);
  std::string json;
  for (const TraceRecord& r : run.trace.records)
    if (r.path == rename->path && r.op == OpClass::write) json += r.data;
  EXPECT_EQ(json, R"({"status": "ok", "n": 3})");
  EXPECT_EQ(read_file(box.scope() / "health.json"), json);
}

TEST(Subjects, NodeSyncFsApi) {
  if (std::string(CRASHCHECK_NODE).empty()) GTEST_SKIP() << "node not found at configure time";
  Sandbox box;
  std::ofstream(box.scope() / "../writer.js") << R"(
const fs = require('fs'), path = require('path');
const d = process.argv[2];
fs.writeFileSync(path.join(d, 'simple.txt'), 'hello');
const tmp = path.join(d, 'target.tmp');
const fd = fs.openSync(tmp, 'w');
fs.writeSync(fd, 'node data');
fs.fsyncSync(fd);
fs.closeSync(fd);
fs.renameSync(tmp, path.join(d, 'target'));
)";
  SubjectOptions options;
  options.env = {{"UV_USE_IO_URING", "0"}};
  SubjectRun run =
      run_subject(box, {CRASHCHECK_NODE, (box.scope() / "../writer.js").string(), box.scope().string()}, options);
  ASSERT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(ops_on(run, "simple.txt"), (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::close}))
      << describe(run);
  EXPECT_EQ(ops_on(run, "target.tmp"),
            (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::sync, OpClass::close, OpClass::rename}))
      << describe(run);
  auto rename = std::find_if(run.trace.records.begin(), run.trace.records.end(),
                             [](const TraceRecord& r) { return r.op == OpClass::rename; });
  ASSERT_NE(rename, run.trace.records.end());
  EXPECT_EQ(rename->path2, "target");
  EXPECT_EQ(read_file(box.scope() / "target"), "node data");
}

TEST(Subjects, ShellRedirectionInTheShellAndInAChild) {
  Sandbox box;
  std::ofstream(box.scope() / "../payload") << "from cat\n";
  std::string dir = box.scope().string();
  SubjectRun run = run_subject(box, {"/bin/sh", "-c", "cd " + dir + " && echo hello > a && cat ../payload > b"});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  std::string echoed, copied;
  std::set<std::int32_t> echo_pids, cat_pids;
  for (const TraceRecord& r : run.trace.records) {
    if (r.op == OpClass::write && r.path == "a") echoed += r.data, echo_pids.insert(r.pid);
    if (r.op == OpClass::write && r.path == "b") copied += r.data, cat_pids.insert(r.pid);
  }
  EXPECT_EQ(echoed, "hello\n") << describe(run);
  // cat inherits the descriptor from the shell and copies with copy_file_range
  EXPECT_EQ(copied, "from cat\n") << describe(run);
  EXPECT_EQ(cat_pids.size(), 1u);
  EXPECT_NE(cat_pids, echo_pids);
}

TEST(Subjects, CppIostreamAndFilesystemRename) {
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_IOSTREAM_WRITER, box.scope().string()});
  ASSERT_TRUE(run.exited(0)) << describe(run);
  EXPECT_EQ(ops_on(run, "target.tmp"),
            (std::vector<OpClass>{OpClass::open, OpClass::write, OpClass::close, OpClass::rename}))
      << describe(run);
  std::string data;
  for (const TraceRecord& r : run.trace.records)
    if (r.op == OpClass::write) data += r.data;
  EXPECT_EQ(data, "hello from c++");
}

TEST(Subjects, WriterIgnoringTheScopeCountsNothing) {
  Sandbox box;
  SubjectRun run = run_subject(box, {"/bin/sh", "-c", "echo elsewhere > /dev/null; true"});
  EXPECT_TRUE(run.exited(0));
  EXPECT_GE(run.processes_loaded, 1u);
  EXPECT_EQ(run.calls_counted, 0u);
  EXPECT_TRUE(run.trace.records.empty());
}

TEST(Subjects, HungSubjectIsKilledWithItsChildren) {
  Sandbox box;
  SubjectOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  SubjectRun run = run_subject(box, {"/bin/sh", "-c", "sleep 30 & sleep 30; wait"}, options);
  EXPECT_TRUE(run.killed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "the background sleep kept stdout open";
}

TEST(Subjects, StaticBinaryLoadsNoAgent) {
#ifndef CRASHCHECK_STATIC_PROBE
  GTEST_SKIP() << "no static libc at configure time";
#else
  Sandbox box;
  SubjectRun run = run_subject(box, {CRASHCHECK_STATIC_PROBE, "write", box.scope().string()});
  EXPECT_TRUE(run.exited(0));
  EXPECT_TRUE(std::filesystem::exists(box.scope() / "f")) << "the subject did write";
  EXPECT_EQ(run.processes_loaded, 0u);
  EXPECT_EQ(run.calls_counted, 0u);
#endif
}
