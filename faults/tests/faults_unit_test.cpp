// Runner-side pieces of faults.hpp that need no subject: call table, plans,
// environment, trace reader.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "crashcheck/faults.hpp"
#include "shared.h"
#include "subject.hpp"

namespace cf = crashcheck::faults;
using crashcheck::faults::testing::read_file;
using crashcheck::faults::testing::Sandbox;

TEST(CallTable, NamesAreUniqueAndFindable) {
  std::set<std::string_view> names;
  for (const cf::CallInfo& c : cf::intercepted_calls()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    ASSERT_EQ(cf::find_call(c.name), &c);
    EXPECT_NE(cf::op_name(c.op), "unknown");
  }
  EXPECT_EQ(cf::find_call("read"), nullptr);
  EXPECT_EQ(cf::find_call("renameat2")->op, cf::OpClass::rename);
  auto write_errnos = cf::find_call("write")->errnos;
  EXPECT_NE(std::find(write_errnos.begin(), write_errnos.end(), ENOSPC), write_errnos.end());
  EXPECT_TRUE(cf::find_call("sync")->errnos.empty());  // void: nothing to inject
}

// The README's table of counted calls is the table in calls.def.
TEST(CallTable, ReadmeListsExactlyTheInterceptedCalls) {
  std::istringstream readme(read_file(CRASHCHECK_FAULTS_README));
  std::regex row(R"(^\| `([A-Za-z0-9_]+)` \| ([a-z_]+) \| ([A-Z, ]*) \|$)");
  std::set<std::string> documented;
  for (std::string line; std::getline(readme, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    const cf::CallInfo* call = cf::find_call(m[1].str());
    ASSERT_NE(call, nullptr) << "README documents a call the agent does not count: " << m[1];
    EXPECT_EQ(cf::op_name(call->op), m[2].str()) << m[1];
    std::string errnos;
    for (int e : call->errnos) errnos += (errnos.empty() ? "" : ", ") + cf::errno_name(e);
    EXPECT_EQ(errnos, m[3].str()) << m[1];
    documented.insert(m[1].str());
  }
  for (const cf::CallInfo& c : cf::intercepted_calls())
    EXPECT_TRUE(documented.count(std::string(c.name))) << "README misses " << c.name;
}

TEST(Errno, NamesRoundTrip) {
  EXPECT_EQ(cf::errno_from_name("ENOSPC"), ENOSPC);
  EXPECT_EQ(cf::errno_from_name("EXDEV"), EXDEV);
  EXPECT_EQ(cf::errno_from_name("ENOPE"), 0);
  EXPECT_EQ(cf::errno_name(EDQUOT), "EDQUOT");
  EXPECT_EQ(cf::errno_name(4000), "E4000");
}

namespace {
rc::Gen<cf::FaultPlan> plans() {
  using K = cf::FaultPlan::Kind;
  auto call = rc::gen::inRange<std::uint32_t>(1, 1u << 31);
  auto error = rc::gen::element(ENOSPC, EDQUOT, EIO, EINTR, EXDEV, EACCES, EROFS, 200);
  return rc::gen::oneOf(rc::gen::element(cf::FaultPlan{K::none}, cf::FaultPlan{K::pause}),
                        rc::gen::map(call,
                                     [](std::uint32_t n) {
                                       return cf::FaultPlan{K::kill_before, n};
                                     }),
                        rc::gen::map(call,
                                     [](std::uint32_t n) {
                                       return cf::FaultPlan{K::kill_after, n};
                                     }),
                        rc::gen::apply(
                            [](std::uint32_t n, int e) {
                              return cf::FaultPlan{K::fail_call, n, e};
                            },
                            call, error),
                        rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t b) {
                          return cf::FaultPlan{K::disk_full, 0, 0, b};
                        }));
}
}  // namespace

RC_GTEST_PROP(FaultPlan, ParseInvertsEncode, ()) {
  cf::FaultPlan plan = *plans();
  auto back = cf::FaultPlan::parse(plan.encode());
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->kind == plan.kind);
  RC_ASSERT(back->call == plan.call);
  RC_ASSERT(back->error == plan.error);
  RC_ASSERT(back->byte_budget == plan.byte_budget);
}

TEST(FaultPlan, KnownTextForms) {
  EXPECT_EQ(cf::FaultPlan::parse("fail:7:ENOSPC")->error, ENOSPC);
  EXPECT_EQ(cf::FaultPlan::parse("fail:7:5")->error, 5);
  EXPECT_EQ(cf::FaultPlan::parse("disk-full:4096")->byte_budget, 4096u);
  EXPECT_EQ((cf::FaultPlan{cf::FaultPlan::Kind::kill_after, 3}.encode()), "kill-after:3");
  for (const char* bad : {"", "kill", "kill-before:", "kill-before:0", "kill-before:x", "fail:3", "fail:3:EWHAT",
                          "fail:0:EIO", "disk-full:-1", "pause:1", "none:", "kill-before:99999999999"})
    EXPECT_FALSE(cf::FaultPlan::parse(bad).has_value()) << bad;
}

TEST(AgentEnvironment, CarriesPlanPathsAndKeepsExistingPreload) {
  ::setenv("LD_PRELOAD", "/other.so", 1);
  cf::AgentSetup setup{"/lib/agent.so", "/tmp/x/../scratch", "/tmp/t", "/tmp/c",
                       cf::FaultPlan{cf::FaultPlan::Kind::kill_before, 4}};
  auto env = cf::agent_environment(setup);
  ::unsetenv("LD_PRELOAD");
  auto get = [&](const std::string& k) {
    for (auto& [name, value] : env)
      if (name == k) return value;
    return std::string("<missing>");
  };
  EXPECT_EQ(get("LD_PRELOAD"), "/lib/agent.so:/other.so");
  EXPECT_EQ(get("CRASHCHECK_SCOPE"), "/tmp/scratch");
  EXPECT_EQ(get("CRASHCHECK_TRACE"), "/tmp/t");
  EXPECT_EQ(get("CRASHCHECK_CONTROL"), "/tmp/c");
  EXPECT_EQ(get("CRASHCHECK_PLAN"), "kill-before:4");
}

TEST(AgentLibrary, BuiltAgentIsFoundAndEnvironmentOverrides) {
  const auto built = cf::default_agent_library();
  EXPECT_TRUE(std::filesystem::exists(built)) << built;
  Sandbox box;
  const auto copy = box.scope() / "agent.so";
  std::filesystem::copy_file(built, copy);
  ::setenv("CRASHCHECK_AGENT", copy.c_str(), 1);
  EXPECT_EQ(cf::default_agent_library(), copy);
  EXPECT_EQ(cf::default_agent_library(built), built);  // a requested library wins over the environment
  ::unsetenv("CRASHCHECK_AGENT");
}

TEST(DescribeCall, OneFormatPerOpClass) {
  cf::TraceRecord write;
  write.seq = 2, write.call = "write", write.op = cf::OpClass::write, write.fd = 3, write.path = "t.json";
  write.length = 2855;
  EXPECT_EQ(cf::describe_call(write), "write(fd 3 → t.json, 2855 bytes)");
  cf::TraceRecord rename;
  rename.seq = 3, rename.call = "rename", rename.op = cf::OpClass::rename, rename.path = "x.tmp";
  rename.path2 = "t.json", rename.error = ENOSPC;
  EXPECT_EQ(cf::describe_call(rename), "rename(x.tmp → t.json) = ENOSPC");
  const cf::Trace trace{{write, rename}};
  EXPECT_EQ(cf::describe_call(trace, 3), cf::describe_call(rename));
  EXPECT_EQ(cf::describe_call(trace, 0), "(before the first call)");
  EXPECT_EQ(cf::describe_call(trace, 9), "");
}

TEST(AgentLibrary, MissingFileIsRefusedByName) {
  ::setenv("CRASHCHECK_AGENT", "/nonexistent-dir/agent.so", 1);
  try {
    cf::default_agent_library();
    ADD_FAILURE() << "a missing $CRASHCHECK_AGENT was accepted";
  } catch (const cf::AgentNotFound& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/agent.so"), std::string::npos) << e.what();
  }
  ::unsetenv("CRASHCHECK_AGENT");
  EXPECT_THROW(cf::default_agent_library("/nonexistent-dir/other.so"), cf::AgentNotFound);
}

TEST(AgentControl, FreshBlockCountsNothing) {
  Sandbox box;
  auto control = cf::AgentControl::create(box.control_file());
  EXPECT_EQ(control.processes_loaded(), 0u);
  EXPECT_EQ(control.calls_counted(), 0u);
  EXPECT_FALSE(control.wait_paused(std::chrono::milliseconds(20)).has_value());
  EXPECT_THROW(cf::AgentControl::create("/nonexistent-dir/control"), std::system_error);
}

// ---------------------------------------------------------------- read_trace

namespace {
void expect_trace_error(const std::filesystem::path& file, const std::string& problem) {
  try {
    cf::read_trace(file);
    ADD_FAILURE() << "read_trace accepted " << file;
  } catch (const cf::TraceError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(file.string()), std::string::npos) << what;
    EXPECT_NE(what.find(problem), std::string::npos) << what;
  }
}

// A real trace from the agent, so the reader is tested against the writer.
std::string recorded_trace(Sandbox& box) {
  auto run = crashcheck::faults::testing::run_subject(box, {CRASHCHECK_SEQUENCE_WRITER, box.scope().string()});
  EXPECT_TRUE(run.exited(0));
  EXPECT_EQ(run.trace.records.size(), 5u);
  return read_file(box.trace_file());
}

void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}
}  // namespace

TEST(ReadTrace, RejectsBadFilesNamingFileAndProblem) {
  Sandbox box;
  std::string good = recorded_trace(box);
  auto file = box.scope() / "t.bin";
  expect_trace_error(box.scope() / "missing.bin", "cannot open");
  write_bytes(file, "");
  expect_trace_error(file, "too short");
  write_bytes(file, std::string(200, 'x'));
  expect_trace_error(file, "bad magic");
  std::string wrong_version = good;
  wrong_version[8] = 9;
  write_bytes(file, wrong_version);
  expect_trace_error(file, "unsupported version 9");
  write_bytes(file, good.substr(0, good.size() - 1));
  expect_trace_error(file, "record 5");
  write_bytes(file, good.substr(0, good.size() - 30));
  expect_trace_error(file, "truncated");
  std::string garbage = good + std::string(80, '\x7f');
  write_bytes(file, garbage);
  expect_trace_error(file, "record 6");
  write_bytes(file, good);
  EXPECT_EQ(cf::read_trace(file).records.size(), 5u);
}

namespace {
// One `write` record of `bytes` at `offset`, as the agent lays it out.
std::string write_record(std::uint32_t seq, std::int64_t offset, const std::string& bytes) {
  cc_trace_record r{};
  const std::string call = "write", path = "t";
  r.record_size = static_cast<std::uint32_t>(sizeof r + call.size() + path.size() + bytes.size());
  r.seq = seq;
  r.op = CC_OP_write;
  r.call_len = static_cast<std::uint16_t>(call.size());
  r.path_len = static_cast<std::uint16_t>(path.size());
  r.data_len = static_cast<std::uint32_t>(bytes.size());
  r.offset = offset;
  r.length = bytes.size();
  r.result = static_cast<std::int64_t>(bytes.size());
  return std::string(reinterpret_cast<const char*>(&r), sizeof r) + call + path + bytes;
}
}  // namespace

// A file streamed in 4 KiB writes repeats the payload in every trace: those
// writes are views into the registered payload (issue 12), anything else owns
// its bytes, and the bytes read back are the written ones either way.
TEST(ReadTrace, PageWritesOfAKnownBufferAreViewsIntoIt) {
  auto payload = std::make_shared<const std::string>([] {
    std::string p(3 * 4096, '\0');
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>(i * 131 % 251);
    return p;
  }());
  cf::share_known_bytes(payload);
  cc_trace_header header{};
  std::memcpy(header.magic, CC_TRACE_MAGIC, sizeof header.magic);
  header.version = CC_TRACE_VERSION;
  header.record_header_size = sizeof(cc_trace_record);
  const std::string other(4096, 'x');
  const std::string trace = std::string(reinterpret_cast<const char*>(&header), sizeof header) +
                            write_record(1, 0, payload->substr(0, 4096)) +
                            write_record(2, 4096, payload->substr(4096, 4096)) + write_record(3, 8192, other) +
                            write_record(4, 100, payload->substr(8192, 4096)) +  // where the last view stopped
                            write_record(5, 0, payload->substr(0, 4095));        // under a page: owned
  const auto records = cf::decode_trace(trace, "mem.trace").records;
  ASSERT_EQ(records.size(), 5u);
  for (int i : {0, 1, 3}) {
    EXPECT_TRUE(records[i].data.borrowed()) << i;
    EXPECT_GE(records[i].data.data(), payload->data()) << i;
    EXPECT_LT(records[i].data.data(), payload->data() + payload->size()) << i;
  }
  for (int i : {2, 4}) EXPECT_FALSE(records[i].data.borrowed()) << i;
  EXPECT_EQ(records[1].data, payload->substr(4096, 4096));
  EXPECT_EQ(records[2].data, other);
  EXPECT_EQ(records[3].data, payload->substr(8192, 4096));
  EXPECT_EQ(records[4].data, payload->substr(0, 4095));
}
