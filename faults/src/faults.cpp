// Runner side of faults.hpp: the call table, plans, environment, the shared
// control block and the trace reader. The layouts it reads and writes are in
// shared.h, shared with the agent.
#include "crashcheck/faults.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "shared.h"

namespace crashcheck::faults {

static_assert(static_cast<int>(OpClass::allocate) == CC_OP_allocate, "OpClass and cc_op_class must agree");
static_assert(static_cast<int>(FaultPlan::Kind::kill_within) == CC_PLAN_kill_within, "plan kinds must agree");

namespace {

// calls.def → one errno array per row (a leading 0 keeps empty lists legal);
// a *64 twin shares its row's.
#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  constexpr int errnos_##name[] = {0, CC_UNPAREN errnos};
#define CC_ERRNUM_CALL CC_CALL
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) constexpr int errnos_##name[] = {0, CC_UNPAREN errnos};
#include "calls.def"
#undef CC_CALL
#undef CC_HAND

#define CC_CALL_INFO(name, op, row) CallInfo{#name, OpClass::op, std::span<const int>(errnos_##row).subspan(1)},
#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  CC_CALL_INFO(name, op, name) CC_WITH_TWIN(twin64, CC_CALL_INFO, op, name)
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) \
  CC_CALL_INFO(name, op, name) CC_WITH_TWIN(twin64, CC_CALL_INFO, op, name)
const CallInfo call_table[] = {
#include "calls.def"
};
#undef CC_CALL
#undef CC_ERRNUM_CALL
#undef CC_HAND
#undef CC_CALL_INFO

constexpr std::array<std::string_view, 13> op_names = {"open",   "write", "sync",    "sync_all", "close",
                                                       "rename", "link",  "unlink",  "mkdir",    "truncate",
                                                       "chmod",  "chown", "allocate"};

}  // namespace

std::string_view op_name(OpClass op) noexcept {
  auto i = static_cast<std::size_t>(op);
  return i < op_names.size() ? op_names[i] : "unknown";
}

std::span<const CallInfo> intercepted_calls() noexcept { return call_table; }

const CallInfo* find_call(std::string_view name) noexcept {
  for (const CallInfo& c : call_table)
    if (c.name == name) return &c;
  return nullptr;
}

// ------------------------------------------------------------------- plans --

std::string FaultPlan::encode() const {
  cc_plan p{static_cast<int>(kind), call, error, byte_budget};
  char buf[96];
  std::size_t n = cc_plan_format(&p, buf, sizeof buf);
  return std::string(buf, std::min(n, sizeof buf - 1));
}

std::optional<FaultPlan> FaultPlan::parse(std::string_view text) {
  cc_plan p{};
  if (cc_plan_parse(text.data(), text.size(), &p) != 0) return std::nullopt;
  FaultPlan plan;
  plan.kind = static_cast<Kind>(p.kind);
  plan.call = p.call;
  plan.error = p.error;
  plan.byte_budget = p.byte_budget;
  return plan;
}

int errno_from_name(std::string_view name) noexcept { return cc_errno_from_name(name.data(), name.size()); }

std::string errno_name(int error) {
  const char* name = cc_errno_name(error);
  return name ? std::string(name) : "E" + std::to_string(error);
}

// ------------------------------------------------------------- environment --

std::vector<std::pair<std::string, std::string>> agent_environment(const AgentSetup& setup) {
  std::string preload = setup.agent_library.string();
  if (const char* existing = std::getenv("LD_PRELOAD"); existing && *existing) preload += std::string(":") + existing;
  return {
      {"LD_PRELOAD", preload},
      {CC_ENV_SCOPE, std::filesystem::absolute(setup.scope).lexically_normal().string()},
      {CC_ENV_TRACE, setup.trace_file.string()},
      {CC_ENV_CONTROL, setup.control_file.string()},
      {CC_ENV_PLAN, setup.plan.encode()},
  };
}

std::filesystem::path default_agent_library() {
  if (const char* env = std::getenv("CRASHCHECK_AGENT"); env && *env) return env;
#ifdef CRASHCHECK_AGENT_BUILD_PATH
  if (std::filesystem::path built = CRASHCHECK_AGENT_BUILD_PATH; std::filesystem::exists(built)) return built;
#endif
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "lib" / "crashcheck" / "libcrashcheck_agent.so";
}

// ----------------------------------------------------------- control block --

struct AgentControl::Mapping {
  cc_control* block = nullptr;
  std::uint32_t last_resumed = 0;
  ~Mapping() {
    if (block) munmap(block, sizeof *block);
  }
};

AgentControl::AgentControl(std::unique_ptr<Mapping> mapping) : mapping_(std::move(mapping)) {}
AgentControl::AgentControl(AgentControl&&) noexcept = default;
AgentControl& AgentControl::operator=(AgentControl&&) noexcept = default;
AgentControl::~AgentControl() = default;

AgentControl AgentControl::create(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "control block " + file.string());
  if (::ftruncate(fd, sizeof(cc_control)) != 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "control block " + file.string());
  }
  void* p = ::mmap(nullptr, sizeof(cc_control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw std::system_error(e, std::generic_category(), "control block " + file.string());
  auto mapping = std::make_unique<Mapping>();
  mapping->block = new (p) cc_control{};  // the file is zero-filled; start the atomics' lifetime
  mapping->block->magic = CC_CONTROL_MAGIC;
  mapping->block->version = CC_CONTROL_VERSION;
  return AgentControl(std::move(mapping));
}

std::uint32_t AgentControl::processes_loaded() const noexcept { return mapping_->block->agents_loaded.load(); }
std::uint32_t AgentControl::calls_counted() const noexcept { return mapping_->block->calls.load(); }

namespace {
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, 0);
}
}  // namespace

std::optional<std::uint32_t> AgentControl::wait_paused(std::chrono::milliseconds timeout) {
  auto& word = mapping_->block->paused_call;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint32_t seen = word.load();
    // the process we resumed may not have cleared its slot yet
    if (seen != 0 && seen != mapping_->last_resumed) return seen;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return std::nullopt;
    // bounded waits: a process that clears its slot wakes us, but we poll too
    auto slice = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(10));
    timespec ts{static_cast<time_t>(slice.count() / 1000000000), static_cast<long>(slice.count() % 1000000000)};
    futex(word, FUTEX_WAIT, seen, &ts);
  }
}

void AgentControl::resume() {
  std::uint32_t paused = mapping_->block->paused_call.load();
  if (paused == 0) return;
  mapping_->last_resumed = paused;
  mapping_->block->resumed_call.store(paused);
  futex(mapping_->block->resumed_call, FUTEX_WAKE, INT_MAX, nullptr);
}

// ------------------------------------------------------------------- trace --

namespace {

[[noreturn]] void bad_trace(const std::filesystem::path& file, const std::string& what) {
  throw TraceError("trace " + file.string() + ": " + what);
}

}  // namespace

Trace read_trace(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) bad_trace(file, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) bad_trace(file, "read error");
  return decode_trace(bytes, file);
}

Trace decode_trace(std::string_view bytes, const std::filesystem::path& file) {
  cc_trace_header header{};
  if (bytes.size() < sizeof header)
    bad_trace(file, "too short for the header (" + std::to_string(bytes.size()) + " bytes)");
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, CC_TRACE_MAGIC, sizeof header.magic) != 0)
    bad_trace(file, "not a crashcheck trace (bad magic)");
  if (header.version != CC_TRACE_VERSION)
    bad_trace(file, "unsupported version " + std::to_string(header.version) + " (expected " +
                        std::to_string(CC_TRACE_VERSION) + ")");
  if (header.record_header_size != sizeof(cc_trace_record)) bad_trace(file, "unexpected record header size");

  Trace trace;
  std::size_t at = sizeof header;
  while (at < bytes.size()) {
    std::string where = "record " + std::to_string(trace.records.size() + 1) + " at byte " + std::to_string(at);
    cc_trace_record r{};
    if (bytes.size() - at < sizeof r) bad_trace(file, where + ": truncated record header");
    std::memcpy(&r, bytes.data() + at, sizeof r);
    std::uint64_t body = std::uint64_t{r.call_len} + r.path_len + r.path2_len + r.data_len;
    if (r.record_size != sizeof r + body) bad_trace(file, where + ": record size does not match its fields");
    if (bytes.size() - at < r.record_size) bad_trace(file, where + ": truncated (file ends inside it)");
    if (r.op > CC_OP_allocate) bad_trace(file, where + ": unknown op class " + std::to_string(r.op));
    const char* p = bytes.data() + at + sizeof r;
    TraceRecord rec;
    rec.seq = r.seq;
    rec.pid = r.pid;
    rec.call.assign(p, r.call_len), p += r.call_len;
    rec.path.assign(p, r.path_len), p += r.path_len;
    rec.path2.assign(p, r.path2_len), p += r.path2_len;
    rec.data.assign(p, r.data_len);
    if (rec.call.empty()) bad_trace(file, where + ": empty call name");
    rec.op = static_cast<OpClass>(r.op);
    rec.fd = r.fd;
    rec.inode = r.inode;
    rec.created = r.bits & CC_REC_CREATED;
    rec.is_directory = r.bits & CC_REC_DIRECTORY;
    rec.injected = r.bits & CC_REC_INJECTED;
    rec.flags = r.flags;
    rec.mode = r.mode;
    rec.offset = r.offset;
    rec.length = r.length;
    rec.result = r.result;
    rec.error = r.error;
    trace.records.push_back(std::move(rec));
    at += r.record_size;
  }
  // processes append in the order their calls returned; the models want call order
  std::stable_sort(trace.records.begin(), trace.records.end(),
                   [](const TraceRecord& a, const TraceRecord& b) { return a.seq < b.seq; });
  return trace;
}

}  // namespace crashcheck::faults
