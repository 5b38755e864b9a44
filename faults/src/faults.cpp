// faults.hpp: the call table, plans, the agent lookup and the trace reader.
// The layouts it reads are in shared.h, shared with the agent.
#include "crashcheck/faults.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <ostream>
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

// A row whose parameters name a FILE * takes a stdio stream.
constexpr bool takes_stream(std::string_view params) { return params.find("FILE") != std::string_view::npos; }

#define CC_CALL_INFO(name, op, row, params) \
  CallInfo{#name, OpClass::op, std::span<const int>(errnos_##row).subspan(1), takes_stream(#params)},
#define CC_CALL(name, op, ret, params, args, fill, errnos, sys, twin64) \
  CC_CALL_INFO(name, op, name, params) CC_WITH_TWIN(twin64, CC_CALL_INFO, op, name, params)
#define CC_HAND(name, op, ret, params, errnos, sys, twin64) \
  CC_CALL_INFO(name, op, name, params) CC_WITH_TWIN(twin64, CC_CALL_INFO, op, name, params)
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

bool is_stream_write(const TraceRecord& r) noexcept {
  const CallInfo* c = find_call(r.call);
  return c && c->stream && c->op == OpClass::write;
}

std::span<const int> injectable_errnos(std::string_view call) noexcept {
  if (const CallInfo* c = find_call(call)) return c->errnos;
  for (const SyscallInfo& s : supervised_syscalls())
    if (s.name == call && s.role == SyscallInfo::Role::counted) return s.errnos;
  return {};
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

// ------------------------------------------------------------ agent lookup --

std::filesystem::path default_agent_library(const std::filesystem::path& requested) {
  std::error_code ec;
  const char* env = std::getenv("CRASHCHECK_AGENT");
  if (!requested.empty() || (env && *env)) {
    const std::filesystem::path named = !requested.empty() ? requested : std::filesystem::path(env);
    if (std::filesystem::is_regular_file(named, ec)) return named;
    throw AgentNotFound((!requested.empty() ? "the agent library " : "$CRASHCHECK_AGENT names ") + named.string() +
                        ", which does not exist");
  }
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto installed = exe.parent_path().parent_path() / "lib" / "crashcheck" / "libcrashcheck_agent.so";
  if (std::filesystem::is_regular_file(installed, ec)) return installed;
  if (std::filesystem::path built = CRASHCHECK_AGENT_BUILD_PATH; std::filesystem::is_regular_file(built, ec))
    return built;
  return installed;
}

// ------------------------------------------------------------------- trace --

namespace {

[[noreturn]] void bad_trace(const std::filesystem::path& file, const std::string& what) {
  throw TraceError("trace " + file.string() + ": " + what);
}

}  // namespace

namespace {

// Where decode reads from: bytes already in memory, or the trace file read
// record by record, so a trace of a large file is held once (in its
// records), never also as the whole file's bytes.
class MemorySource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t left() const { return bytes_.size() - at_; }
  std::uint64_t at() const { return at_; }
  void read(char* out, std::size_t n) { std::memcpy(out, bytes_.data() + at_, n), at_ += n; }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

class FileSource {
 public:
  FileSource(std::ifstream& in, std::uint64_t size, const std::filesystem::path& file)
      : in_(in), size_(size), file_(file) {}
  std::uint64_t left() const { return size_ - at_; }
  std::uint64_t at() const { return at_; }
  void read(char* out, std::size_t n) {
    if (!in_.read(out, static_cast<std::streamsize>(n))) bad_trace(file_, "read error");
    at_ += n;
  }

 private:
  std::ifstream& in_;
  std::uint64_t size_, at_ = 0;
  const std::filesystem::path& file_;
};

void read_field(auto& source, std::string& out, std::size_t n) {
  out.resize(n);
  if (n) source.read(out.data(), n);
}

// Smaller writes are cheaper copied than looked up. A page: a writer that
// streams a large file in 4 KiB writes repeats it in every trace too (issue
// 12: 10,000 such writes held 40 MiB per trace).
constexpr std::size_t kShareAtLeast = 4 << 10;

struct KnownBytes {
  std::mutex mutex;
  std::vector<std::weak_ptr<const std::string>> buffers;
};

KnownBytes& known() {
  static KnownBytes k;
  return k;
}

// Where the last write read as a view stopped, and in which buffer: the next
// write of a stream continues there, found without the registry's lock.
struct SharedCursor {
  std::shared_ptr<const std::string> buffer;
  std::uint64_t end = 0;
};

// `buffer` holding `bytes` at `at` (the write's offset) or at the cursor's
// end, as a view into it.
std::optional<Bytes> view_in(std::shared_ptr<const std::string> buffer, std::string_view bytes, std::uint64_t at,
                             SharedCursor& cursor) {
  for (std::uint64_t from : {at, cursor.end}) {
    if (!buffer || from > buffer->size() || buffer->size() - from < bytes.size()) continue;
    const std::string_view view = std::string_view(*buffer).substr(from, bytes.size());
    if (view != bytes) continue;
    cursor = {buffer, from + bytes.size()};
    return Bytes(std::move(buffer), view);
  }
  return std::nullopt;
}

// A registered buffer holding `bytes`: the cursor's first, then the others.
std::optional<Bytes> known_view(std::string_view bytes, std::uint64_t at, SharedCursor& cursor) {
  if (auto view = view_in(cursor.buffer, bytes, at, cursor)) return view;
  KnownBytes& k = known();
  std::lock_guard lock(k.mutex);
  std::erase_if(k.buffers, [](const auto& b) { return b.expired(); });
  for (const auto& weak : k.buffers)
    if (auto view = view_in(weak.lock(), bytes, at, cursor)) return view;
  return std::nullopt;
}

// A record's data: a large write's bytes are read once into a scratch buffer
// and kept as a view into a registered buffer that holds them, else owned.
template <class Source>
Bytes read_data(Source& source, const cc_trace_record& r, SharedCursor& cursor) {
  std::string bytes;
  read_field(source, bytes, r.data_len);
  if (bytes.size() >= kShareAtLeast && r.op == CC_OP_write && r.offset >= 0)
    if (auto view = known_view(bytes, static_cast<std::uint64_t>(r.offset), cursor)) return std::move(*view);
  return Bytes(std::move(bytes));
}

template <class Source>
Trace decode(Source& source, const std::filesystem::path& file) {
  cc_trace_header header{};
  if (source.left() < sizeof header)
    bad_trace(file, "too short for the header (" + std::to_string(source.left()) + " bytes)");
  source.read(reinterpret_cast<char*>(&header), sizeof header);
  if (std::memcmp(header.magic, CC_TRACE_MAGIC, sizeof header.magic) != 0)
    bad_trace(file, "not a crashcheck trace (bad magic)");
  if (header.version != CC_TRACE_VERSION)
    bad_trace(file, "unsupported version " + std::to_string(header.version) + " (expected " +
                        std::to_string(CC_TRACE_VERSION) + ")");
  if (header.record_header_size != sizeof(cc_trace_record)) bad_trace(file, "unexpected record header size");

  Trace trace;
  SharedCursor cursor;
  while (source.left() > 0) {
    std::string where =
        "record " + std::to_string(trace.records.size() + 1) + " at byte " + std::to_string(source.at());
    cc_trace_record r{};
    if (source.left() < sizeof r) bad_trace(file, where + ": truncated record header");
    source.read(reinterpret_cast<char*>(&r), sizeof r);
    std::uint64_t body = std::uint64_t{r.call_len} + r.path_len + r.path2_len + r.data_len;
    if (r.record_size != sizeof r + body) bad_trace(file, where + ": record size does not match its fields");
    if (source.left() < body) bad_trace(file, where + ": truncated (file ends inside it)");
    if (r.op > CC_OP_allocate) bad_trace(file, where + ": unknown op class " + std::to_string(r.op));
    TraceRecord rec;
    rec.seq = r.seq;
    rec.pid = r.pid;
    read_field(source, rec.call, r.call_len);
    read_field(source, rec.path, r.path_len);
    read_field(source, rec.path2, r.path2_len);
    rec.data = read_data(source, r, cursor);
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
  }
  // processes append in the order their calls returned; the models want call order
  std::stable_sort(trace.records.begin(), trace.records.end(),
                   [](const TraceRecord& a, const TraceRecord& b) { return a.seq < b.seq; });
  return trace;
}

}  // namespace

Trace read_trace(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) bad_trace(file, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) bad_trace(file, "cannot stat: " + ec.message());
  FileSource source(in, size, file);
  return decode(source, file);
}

Trace decode_trace(std::string_view bytes, const std::filesystem::path& file) {
  MemorySource source(bytes);
  return decode(source, file);
}

Bytes::Bytes(std::string bytes) {
  if (bytes.empty()) return;  // most records write nothing: no buffer for them
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  view_ = *owned;
  owner_ = std::move(owned);
}

void Bytes::resize(std::size_t n) {
  std::string copy(view_.substr(0, n));
  copy.resize(n, '\0');
  *this = Bytes(std::move(copy));
}

std::ostream& operator<<(std::ostream& out, const Bytes& bytes) { return out << bytes.view_; }

void share_known_bytes(const std::shared_ptr<const std::string>& bytes) {
  KnownBytes& k = known();
  std::lock_guard lock(k.mutex);
  k.buffers.push_back(bytes);
}

std::vector<std::shared_ptr<const std::string>> known_bytes_of_size(std::size_t size) {
  KnownBytes& k = known();
  std::lock_guard lock(k.mutex);
  std::vector<std::shared_ptr<const std::string>> out;
  for (const auto& weak : k.buffers)
    if (auto buffer = weak.lock(); buffer && buffer->size() == size) out.push_back(std::move(buffer));
  return out;
}

const TraceRecord* Trace::find(std::uint32_t seq) const {
  const auto it = std::lower_bound(records.begin(), records.end(), seq,
                                   [](const TraceRecord& r, std::uint32_t s) { return r.seq < s; });
  return it != records.end() && it->seq == seq ? &*it : nullptr;
}

bool synchronous_pwritev2(const TraceRecord& r) {
  return (r.call == "pwritev2" || r.call == "pwritev64v2") && (r.flags & (kRwfDsync | kRwfSync)) != 0;
}

bool is_mapped_store(const TraceRecord& r) {
  return r.op == OpClass::write && (r.call == "msync" || r.call == "munmap" || r.call == "exit_group");
}

bool carries_mapped_range(const TraceRecord& r) {
  return r.op == OpClass::sync && !r.is_directory && r.error == 0 && r.offset >= 0 && !r.data.empty();
}

bool is_kernel_copy(const TraceRecord& r) {
  return r.op == OpClass::write &&
         (r.call == "sendfile" || r.call == "sendfile64" || r.call == "copy_file_range" || r.call == "splice");
}

bool outside_scope(std::string_view path) {
  return path.starts_with('/') || path.starts_with(kTmpdirPrefix) || path == ".." || path.starts_with("../");
}

std::string tmpdir_relative(const std::string& path, const std::string& tmpdir) {
  if (tmpdir.empty() || !path.starts_with(tmpdir) || path.size() <= tmpdir.size() + 1 || path[tmpdir.size()] != '/')
    return path;
  return std::string(kTmpdirPrefix) + path.substr(tmpdir.size() + 1);
}

std::string unnamed_in(std::string_view dir) {
  return dir.empty() || dir == "." ? std::string(CC_UNNAMED_LEAF) : std::string(dir) + "/" + CC_UNNAMED_LEAF;
}

bool is_unnamed(std::string_view path) {
  constexpr std::string_view leaf = CC_UNNAMED_LEAF;
  return path == leaf || path.ends_with("/" + std::string(leaf));
}

std::string describe_call(const TraceRecord& r) {
  std::string out = r.call + "(";
  switch (r.op) {
    case OpClass::open:
      if (is_unnamed(r.path)) {  // what the writer named: the directory
        const auto slash = r.path.rfind('/');
        out += (slash == std::string::npos ? std::string(".") : r.path.substr(0, slash)) + ", O_TMPFILE";
      } else {
        out += r.path;
      }
      break;
    case OpClass::write:
      out += "fd " + std::to_string(r.fd) + " → " + r.path + ", " + std::to_string(r.length) + " bytes";
      break;
    case OpClass::sync:
    case OpClass::close:
      out += "fd " + std::to_string(r.fd) + " → " + r.path;
      break;
    case OpClass::rename:
    case OpClass::link:
      out += r.path + " → " + r.path2;
      break;
    default:
      out += r.path;
      break;
  }
  out += ")";
  if (r.error) out += " = " + errno_name(r.error);
  return out;
}

std::string describe_call(const Trace& trace, std::uint32_t seq) {
  if (seq == 0) return "(before the first call)";
  for (const auto& r : trace.records)
    if (r.seq == seq) return describe_call(r);
  return "";
}

}  // namespace crashcheck::faults
