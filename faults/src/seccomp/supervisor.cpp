// The seccomp user-notification supervisor: the Observer behind
// --backend seccomp.
//
// wrap() puts crashcheck-launch in front of the subject's argv and starts one
// supervisor thread per run. The launcher installs the filter built from
// syscalls.def and sends its listener here; the thread then receives every
// notified call of every thread and child of the subject, one at a time:
//   - a call that does not touch the scope (by inode: the scratch directory,
//     anything inside it, or a file created elsewhere on its file system that
//     may be renamed in later) is let through with
//     SECCOMP_USER_NOTIF_FLAG_CONTINUE;
//   - a counted call gets the next number, may be faulted (the libfiu points
//     of the preload agent), is *performed here* on the subject's behalf —
//     descriptors obtained with pidfd_getfd, paths resolved from
//     /proc/<tid>/cwd or the dirfd, bytes read with process_vm_readv, opens
//     installed with SECCOMP_IOCTL_NOTIF_ADDFD — so its result and written
//     bytes are known exactly, then recorded in the preload agent's trace
//     format (shared.h) and answered with that result. close, msync,
//     munmap and exit_group are recorded and continued (their effect needs
//     the subject's own descriptor table or address space); an injected
//     close failure still lets go of the file (vacate()).
// Records of a file created outside the scope wait on its node and go to the
// trace when the file is renamed or linked into the scope.
//
// Forked cases (src/fork/): a template run (RunSetup::fork_template) is
// parked before its first counted call and forks the cases; a forked run
// (RunSetup::forked) launches nothing, takes its listener from the child and
// works in the child's mount namespace, where the case's directory has the
// template's name.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS  // Linux 6.6 uapi, newer than some distributions' headers
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "../backends.hpp"
#include "../fork/fork_client.hpp"
#include "../fork/protocol.h"
#include "../shared.h"
#include "../sites/sites.hpp"
#include "syscalls.hpp"
#include "tracee.hpp"

namespace crashcheck::faults {
namespace seccomp {
namespace {

namespace fs = std::filesystem;
using namespace role;

// Linux transfers at most MAX_RW_COUNT (INT_MAX rounded down to a page) per
// call and returns short past it; the supervisor does the same, no less, so a
// writer that does not loop is not judged on a short write Linux never makes.
constexpr std::uint64_t max_transfer = 0x7ffff000u;
constexpr auto pause_timeout = std::chrono::seconds(30);
constexpr std::size_t trace_batch = 64u << 10;

// ------------------------------------------------------------- fault points --

// libfiu points are process-wide and several runs are supervised at once:
// they are enabled once, and the callback asks the run whose supervisor
// thread is deciding (thread-local).
struct Decision {
  const FaultPlan* plan;
  std::uint32_t seq;
};
thread_local const Decision* deciding = nullptr;

constexpr std::string_view point_kill_before = "crashcheck/kill/before";
constexpr std::string_view point_kill_after = "crashcheck/kill/after";
constexpr std::string_view point_kill_within = "crashcheck/kill/within";
constexpr std::string_view point_io = "crashcheck/io/";

int at_planned_call(const char* name, int*, void**, unsigned*) {
  if (!deciding || deciding->seq != deciding->plan->call) return 0;
  std::string_view point = name;
  switch (deciding->plan->kind) {
    case FaultPlan::Kind::kill_before:
      return point == point_kill_before;
    case FaultPlan::Kind::kill_after:
      return point == point_kill_after;
    case FaultPlan::Kind::kill_within:
      return point == point_kill_within;
    case FaultPlan::Kind::fail_call:
      return point.starts_with(point_io);
    default:
      return 0;
  }
}

void enable_fault_points() {
  static std::once_flag once;
  std::call_once(once, [] {
    fiu_init(0);
    for (std::string_view p : {point_kill_before, point_kill_after, point_kill_within})
      fiu_enable_external(std::string(p).c_str(), 1, nullptr, 0, at_planned_call);
    fiu_enable_external("crashcheck/io/*", 1, nullptr, 0, at_planned_call);
  });
}

bool fails(std::string_view point) { return fiu_fail(std::string(point).c_str()) != 0; }

// ------------------------------------------------------------------ records --

struct Key {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  std::size_t operator()(const Key& k) const { return std::hash<std::uint64_t>()(k.ino * 31 + k.dev); }
};
Key key_of(const struct stat& st) { return {st.st_dev, st.st_ino}; }

// A file or directory the supervisor follows: inside the scope, or created
// elsewhere on the scope's file system (records wait in `pending` until it
// is renamed or linked in).
struct Node {
  bool in_scope = false;
  bool dir = false;
  std::string name;                  // scope-relative ("." the scope) when in scope, else absolute
  std::vector<std::string> pending;  // encoded records
};

// One counted call, as shared.h's trace record describes it.
struct Record {
  std::uint32_t seq = 0;
  std::int32_t pid = 0;
  std::string_view call;
  OpClass op = OpClass::open;
  std::string path, path2, data;
  std::int32_t fd = -1, flags = 0, error = 0;
  std::uint32_t mode = 0;
  std::uint64_t inode = 0, length = 0;
  std::int64_t offset = -1, result = 0;
  bool created = false, dir = false, injected = false;
};

std::string encode(const Record& r) {
  cc_trace_record h{};
  auto cut16 = [](const std::string& s) { return static_cast<std::uint16_t>(std::min<std::size_t>(s.size(), 65535)); };
  h.call_len = static_cast<std::uint16_t>(r.call.size());
  h.path_len = cut16(r.path);
  h.path2_len = cut16(r.path2);
  h.data_len = static_cast<std::uint32_t>(r.data.size());
  h.record_size = static_cast<std::uint32_t>(sizeof h + h.call_len + h.path_len + h.path2_len + h.data_len);
  h.seq = r.seq;
  h.pid = r.pid;
  h.op = static_cast<std::uint8_t>(r.op);
  h.bits = static_cast<std::uint8_t>((r.created ? CC_REC_CREATED : 0) | (r.dir ? CC_REC_DIRECTORY : 0) |
                                     (r.injected ? CC_REC_INJECTED : 0));
  h.fd = r.fd;
  h.flags = r.flags;
  h.mode = r.mode;
  h.error = r.error;
  h.inode = r.inode;
  h.offset = r.offset;
  h.length = r.length;
  h.result = r.result;
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(r.call).append(r.path, 0, h.path_len).append(r.path2, 0, h.path2_len).append(r.data);
  return out;
}

// ---------------------------------------------------------------- decoding --

// A notified call's arguments by role (syscalls.def says which is which).
struct Args {
  std::array<std::uint64_t, ROLE_COUNT> v{};
  std::uint64_t u(ArgRole r) const { return v[r]; }
  std::int64_t s(ArgRole r) const { return static_cast<std::int64_t>(v[r]); }
  int i(ArgRole r) const { return static_cast<int>(v[r]); }
  void set(ArgRole r, std::int64_t value) { v[r] = static_cast<std::uint64_t>(value); }
};

Args decode(const SyscallEntry& e, const seccomp_data& d) {
  Args a;
  // what an absent argument means: no descriptor, the cwd, no offset, no owner change
  for (ArgRole r : {FD, FDIN, OFF, UID, GID}) a.set(r, -1);
  for (ArgRole r : {DIRFD, DIRFD2}) a.set(r, AT_FDCWD);
  for (std::size_t i = 0; i < e.roles.size(); ++i)
    if (e.roles[i] != NONE) a.v[e.roles[i]] = d.args[i];
  return a;
}

// --------------------------------------------------------------- replies --

// How a performed call is answered.
struct Outcome {
  enum Kind { value, error, proceed, install } kind = value;
  std::int64_t result = 0;  // value; error: the errno
  UniqueFd fd;              // install: our descriptor for the subject's new one
  bool cloexec = false;
  bool kill = false;  // kill_within: the prefix is written, the subject dies now
};
Outcome outcome(Outcome::Kind kind, std::int64_t result = 0) {
  Outcome o;
  o.kind = kind;
  o.result = result;
  return o;
}
Outcome value(std::int64_t v) { return outcome(Outcome::value, v); }
Outcome failure(int e) { return outcome(Outcome::error, e); }
Outcome proceed() { return outcome(Outcome::proceed); }
// the result of a syscall-like call: -1/errno or a value
Outcome result_of(std::int64_t r) { return r < 0 ? failure(errno) : value(r); }

// ---------------------------------------------------------------- places --

// A path the subject named, resolved in its context: the base directory it
// is relative to and what the scope makes of it.
struct Place {
  UniqueFd base;     // -1: absolute path
  std::string path;  // as we must spell it (/proc/self rewritten)
  std::string leaf;  // last component ("" when the path names a directory itself: ".", "/", "dir/")
  std::string dir_part;
  Node* parent = nullptr;  // the containing directory's node, when followed
  bool exists = false;
  struct stat st {};
  Node* node = nullptr;  // the entry's node, when followed
  int at() const { return base.valid() ? base.get() : AT_FDCWD; }
  bool parent_in_scope() const { return parent && parent->in_scope && parent->dir && !leaf.empty(); }
  bool in_scope() const { return parent_in_scope() || (node && node->in_scope); }
};

std::string join(const std::string& dir, const std::string& leaf) { return dir == "." ? leaf : dir + "/" + leaf; }

// Splits path into directory part and leaf; a leaf of "." or ".." is no leaf.
void split(Place& p) {
  std::string s = p.path;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  auto slash = s.rfind('/');
  p.leaf = slash == std::string::npos ? s : s.substr(slash + 1);
  p.dir_part = slash == std::string::npos ? "" : slash == 0 ? "/" : s.substr(0, slash);
  if (p.leaf == "." || p.leaf == ".." || p.leaf == "/" || s.size() < p.path.size()) p.leaf.clear();
}

// ------------------------------------------------------------- supervisor --

class Supervisor final : public Observer {
 public:
  explicit Supervisor(const RunSetup& setup);
  ~Supervisor() override;
  void wrap(Launch& launch) override;
  std::optional<std::uint32_t> wait_paused(std::chrono::milliseconds timeout) override;
  void resume() override;
  Observation finish() override;
  std::optional<std::string> await_template(std::chrono::milliseconds timeout) override;
  ForkedSubject fork_subject(const fs::path& case_root, const fs::path& template_root, Observer& forked,
                             std::string& why) override;

 private:
  struct Call {
    const seccomp_notif& req;
    const SyscallEntry& entry;
    Args a;
    Tracee t;
    pid_t tgid;
    Record rec;
    Node* node = nullptr;  // a file outside the scope: the record waits here
    UniqueFd fd;           // the followed descriptor the call names, duplicated here (on_traced_fd)
    std::string site;      // call sites: the one the thread announced for this call
  };
  using Perform = std::function<Outcome(Call&)>;

  void run();
  void serve_all();
  bool accept_listener();
  void serve(const seccomp_notif& req);
  void reply(std::uint64_t id, std::int64_t val, int error, std::uint32_t flags = 0);
  // not counted: the kernel runs the call as the subject made it
  void let_through(const Call& c) { reply(c.req.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE); }
  int pidfd_of(pid_t tgid);
  pid_t tgid_of(pid_t tid);

  void counted(Call& c, const Perform& perform);
  bool announce(Call& c);
  void note_site(const Call& c);
  void emit(Call& c);
  void write_trace(const std::string& record);
  void enter_scope(Node& n, const std::string& name);
  void rename_tree(const Place& where, const std::string& name, bool in_scope);
  void flush_trace();
  void kill_subject(pid_t tgid);
  void pause_before(std::uint32_t seq, pid_t tgid);
  bool park(const Call& c);
  std::optional<std::string> unparkable(const Call& c) const;
  void hand_over(const seccomp_notif& req);
  Supervisor* route(pid_t tid);
  void claim(pid_t child, Supervisor* to);
  void forget(const Supervisor* forked);

  Place place(const Tracee& t, int dirfd, std::uint64_t addr, bool follow, bool empty_path = false);
  std::string name_of(const Place& p) const;
  Node* fd_node(pid_t tid, int fd, struct stat* st = nullptr);
  Node& remember(const struct stat& st, bool in_scope, const std::string& name, bool fresh = false);
  void walk_scope();

  bool on_traced_fd(Call& c, int fd);
  void on_open(Call& c);
  void on_write(Call& c);
  struct Piece {  // a followed file's shared writable mapping, or part of one
    Node* node;
    std::uint64_t inode, offset, length;
    std::string file;  // /proc/<tid>/map_files/<range>
  };
  std::vector<Piece> shared_pieces(pid_t tid, std::uint64_t lo, std::uint64_t hi);
  void read_piece(Call& c, const Piece& piece);
  void note_mapped_at_sync(Call& c);
  void on_mapping(Call& c);
  void on_punch(Call& c);
  bool numbered(Call& one);
  void on_fd_call(Call& c);
  void on_close(Call& c);
  void vacate(const Call& c);
  void on_close_range(Call& c);
  void on_path_call(Call& c);
  void on_names(Call& c);
  Outcome perform_write(Call& c);
  static bool appends(const Call& c);
  static std::int64_t landing_offset(const Call& c);
  Outcome perform_copy(Call& c, std::uint64_t limit);
  std::optional<std::string> gather(const Call& c, std::uint64_t limit);
  std::uint64_t budget(Call& c, std::uint64_t want, std::uint64_t& charged);

  RunSetup setup_;
  Key scope_;
  fs::path trace_path_;
  std::string socket_path_;
  UniqueFd listen_, wake_, listener_, trace_;
  std::string trace_buffer_;
  std::string trace_error_;  // a failed trace write
  std::thread thread_;
  bool finished_ = false;

  // supervisor thread only
  std::unordered_map<Key, Node, KeyHash> nodes_;
  std::unordered_map<pid_t, pid_t> tgids_;
  std::unordered_map<pid_t, UniqueFd> pidfds_;
  std::set<pid_t> processes_;
  std::set<std::pair<pid_t, int>> vacated_;  // (tgid, fd) a failed close let go; see vacate()
  std::uint32_t calls_ = 0;
  std::uint64_t bytes_spent_ = 0;
  bool mapped_shared_ = false;
  bool killed_ = false;
  std::set<std::string_view> refused_;  // syscalls refused (CC_REFUSE), for the observation's notes
  bool own_listener_ = false;
  bool pause_gave_up_ = false;
  ForkClient fork_client_;                            // template runs
  std::unordered_map<pid_t, std::string> announced_;  // call sites: per thread, for its next notified call
  std::string sites_;                                 // call sites: the sites file's lines

  // shared with the runner's thread (pause plan)
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint32_t paused_ = 0, resumed_ = 0;
  bool finishing_ = false;
  bool ended_ = false;                   // the supervisor thread has stopped: nothing will pause any more
  bool parked_ = false;                  // template runs: parked; later calls go to their case (hand_over)
  std::optional<std::string> unparked_;  // template runs: why it could not park

  // template runs: the forked cases' supervisors by the threads that call
  // them, served on this thread (a process may have one listener only)
  std::mutex routes_mutex_;
  std::unordered_map<pid_t, Supervisor*> routes_;
  Supervisor* pending_ = nullptr;  // the case being forked, until its child is routed
  Supervisor* entered_ = nullptr;  // whose mount namespace this thread is in
  pid_t parked_tgid_ = 0;
  pid_t root_tgid_ = 0;  // the process crashcheck started
  // forked runs
  Supervisor* template_ = nullptr;
  pid_t child_ = 0;
  UniqueFd namespace_;  // the child's mount namespace, opened at its first call
};

fs::path default_launcher();

Supervisor::Supervisor(const RunSetup& setup) : setup_(setup), trace_path_(setup.work_dir / "trace") {
  struct stat st {};
  if (::stat(setup_.scope.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::system_error(errno ? errno : ENOTDIR, std::generic_category(), "scope " + setup_.scope.string());
  scope_ = key_of(st);
  enable_fault_points();
}

Supervisor::~Supervisor() {
  if (!finished_ && thread_.joinable()) finish();
}

void Supervisor::walk_scope() {
  struct stat st {};
  if (::stat(setup_.scope.c_str(), &st) == 0) remember(st, true, ".");
  std::error_code ec;
  for (fs::recursive_directory_iterator it(setup_.scope, ec), end; !ec && it != end; it.increment(ec))
    if (::lstat(it->path().c_str(), &st) == 0) remember(st, true, fs::relative(it->path(), setup_.scope).string());
}

void Supervisor::wrap(Launch& launch) {
  walk_scope();
  if (setup_.sites) sites::add_interpreter_hooks(launch, setup_.work_dir);
  trace_ = UniqueFd(::open(trace_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!trace_.valid()) throw std::system_error(errno, std::generic_category(), "trace " + trace_path_.string());
  cc_trace_header header{};
  std::memcpy(header.magic, CC_TRACE_MAGIC, sizeof header.magic);
  header.version = CC_TRACE_VERSION;
  header.record_header_size = sizeof(cc_trace_record);
  write_trace(std::string(reinterpret_cast<const char*>(&header), sizeof header));
  if (setup_.forked) return;  // nothing to launch: the template's supervisor hands the child over (fork_subject)

  listen_ = listen_unix(setup_.work_dir / "seccomp.sock", "crashcheck", SOCK_STREAM, socket_path_);
  if (!listen_.valid()) throw std::system_error(errno, std::generic_category(), "supervisor socket " + socket_path_);
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (setup_.fork_template && !fork_client_.listen(setup_.work_dir, launch.environment))
    unparked_ = "the fork server library was not found or its socket could not be made";
  launch.argv.insert(launch.argv.begin(), {default_launcher().string(), socket_path_});
  thread_ = std::thread([this] { run(); });
}

// ------------------------------------------------------------ thread body --

bool Supervisor::accept_listener() {
  pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  if (::poll(fds, 2, -1) <= 0 || !(fds[0].revents & POLLIN)) return false;
  UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn.valid()) return false;
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC) != 1) return false;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return false;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  listener_ = UniqueFd(fd);
  // Linux 6.6+: the subject and this thread hand over on one CPU instead of
  // waking each other across CPUs (the round trip is most of the cost)
  std::uint64_t sync_wake = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
  (void)::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync_wake);  // older kernels: EINVAL, no harm
  return ::write(conn.get(), "A", 1) == 1;
}

void Supervisor::run() {
  serve_all();
  flush_trace();
  std::lock_guard lock(mutex_);
  ended_ = true;
  cv_.notify_all();
}

void Supervisor::serve_all() {
  if (!accept_listener()) return;
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  if (seccomp_notify_alloc(&req, &resp) != 0) return;
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) break;
    if (fds[0].revents & POLLIN) {
      std::memset(req, 0, sizeof *req);
      if (seccomp_notify_receive(listener_.get(), req) == 0) serve(*req);
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      break;  // every process holding the filter has ended
    }
  }
  seccomp_notify_free(req, resp);
}

void Supervisor::reply(std::uint64_t id, std::int64_t val, int error, std::uint32_t flags) {
  seccomp_notif_resp r{};
  r.id = id;
  r.val = val;
  r.error = error ? -error : 0;
  r.flags = flags;
  ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, &r);  // ENOENT: the caller died meanwhile
}

pid_t Supervisor::tgid_of(pid_t tid) {
  auto it = tgids_.find(tid);
  if (it != tgids_.end()) return it->second;
  auto status = task_status(tid);
  pid_t tgid = status ? status->tgid : tid;
  tgids_.emplace(tid, tgid);
  return tgid;
}

int Supervisor::pidfd_of(pid_t tgid) {
  auto& fd = pidfds_[tgid];
  if (!fd.valid()) fd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, tgid, 0)));
  return fd.get();
}

void Supervisor::serve(const seccomp_notif& req) {
  std::uint32_t continue_flag = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  const SyscallEntry* e = find_syscall(req.data.nr);
  if (killed_) return;  // the subject is dying: nothing more happens
  if (parked_) return hand_over(req);
  pid_t tid = static_cast<pid_t>(req.pid);
  pid_t tgid = tgid_of(tid);
  if (processes_.empty()) root_tgid_ = tgid;  // the launcher's process, now the subject: notified first
  processes_.insert(tgid);
  if (!e || e->info->role == SyscallInfo::Role::watched) {
    if (e && fd_node(tid, static_cast<int>(req.data.args[4]))) mapped_shared_ = true;
    return reply(req.id, 0, 0, continue_flag);
  }
  if (e->info->role == SyscallInfo::Role::refused) {
    refused_.insert(e->info->name);
    return reply(req.id, -1, e->info->errnos[0]);
  }
  if (e->info->role == SyscallInfo::Role::noted) {  // seccomp(2): a listener of its own conflicts with ours
    Args a = decode(*e, req.data);
    own_listener_ |= a.u(OP) == SECCOMP_SET_MODE_FILTER && (a.u(FLAGS) & SECCOMP_FILTER_FLAG_NEW_LISTENER);
    return reply(req.id, 0, 0, continue_flag);
  }
  Call c{req, *e, decode(*e, req.data), Tracee(tid, pidfd_of(tgid)), tgid, {}, nullptr, {}, {}};
  c.rec.pid = tgid;
  c.rec.call = e->info->name;
  c.rec.op = e->info->op;
  if (setup_.sites && announce(c)) return;
  try {
    switch (e->info->op) {
      case OpClass::open:
        return on_open(c);
      case OpClass::write:
        return e->roles[0] == ADDR || e->roles[0] == NONE ? on_mapping(c) : on_write(c);
      case OpClass::close:
        return e->roles[1] == FDLAST ? on_close_range(c) : on_close(c);
      case OpClass::rename:
      case OpClass::link:
        return on_names(c);
      case OpClass::unlink:
      case OpClass::mkdir:
        return on_path_call(c);
      default:
        return e->roles[0] == FD || e->roles.empty() || e->roles[0] == NONE ? on_fd_call(c) : on_path_call(c);
    }
  } catch (const std::exception&) {
    reply(req.id, 0, 0, continue_flag);  // out of memory and the like: let the kernel run it
  }
}

// ------------------------------------------------------------ counted call --

void Supervisor::counted(Call& c, const Perform& perform) {
  // the arguments were read from a process that may have died and had its pid reused
  if (seccomp_notify_id_valid(listener_.get(), c.req.id) != 0) return;
  if (setup_.fork_template && park(c)) return;
  Record& r = c.rec;
  r.seq = ++calls_;
  if (setup_.sites) note_site(c);
  Decision decision{&setup_.plan, r.seq};
  deciding = &decision;
  struct Reset {
    ~Reset() { deciding = nullptr; }
  } reset;
  if (setup_.plan.kind == FaultPlan::Kind::pause) pause_before(r.seq, c.tgid);
  if (fails(point_kill_before)) return kill_subject(c.tgid);
  Outcome o;
  if (fails(std::string(point_io) + std::string(c.entry.info->name))) {
    auto info = reinterpret_cast<std::intptr_t>(fiu_failinfo());
    r.error = setup_.plan.kind == FaultPlan::Kind::fail_call ? setup_.plan.error
              : info > 0 && info < 4096                      ? static_cast<int>(info)
                                                             : EIO;
    r.injected = true;
    o = failure(r.error);
    if (c.entry.info->op == OpClass::close) vacate(c);
  } else {
    o = perform(c);
  }
  // our duplicate must not outlive the subject's call: after a continued
  // close the subject's reference may be the last but ours, and the file is
  // released (ext4's flush-on-release heuristics, leases) only when both go
  c.fd = UniqueFd();
  bool kill_after = fails(point_kill_after);
  if (o.kind == Outcome::install && !kill_after) {
    seccomp_notif_addfd add{};
    add.id = c.req.id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;
    add.srcfd = static_cast<std::uint32_t>(o.fd.get());
    add.newfd_flags = o.cloexec ? O_CLOEXEC : 0;
    int fd = ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    r.fd = fd;
    r.result = fd;
    if (fd < 0) o = failure(errno);  // nothing was sent: answer with the error
  }
  if (o.kind == Outcome::error) {
    r.result = -1;
    r.error = static_cast<int>(o.result);
  } else if (o.kind == Outcome::value) {
    r.result = o.result;
  }
  emit(c);
  if (kill_after || o.kill) return kill_subject(c.tgid);
  if (o.kind == Outcome::value) reply(c.req.id, o.result, 0);
  if (o.kind == Outcome::error) reply(c.req.id, -1, r.error);
  if (o.kind == Outcome::proceed) reply(c.req.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

// Call sites: an open of CC_SITE_MARKER "file:line" announces the site of
// the thread's next call; it is answered as the path would be (ENOENT) and
// never counted. Any other notified call of the thread takes the site.
bool Supervisor::announce(Call& c) {
  static constexpr std::string_view marker = CC_SITE_MARKER;
  const std::string_view name = c.entry.info->name;
  if (name == "openat" || name == "open") {
    const auto path = c.t.read_string(c.a.u(PATH));
    if (path && path->starts_with(marker)) {
      announced_[c.t.tid()] = path->substr(marker.size());
      reply(c.req.id, -1, ENOENT);
      return true;
    }
  }
  if (const auto it = announced_.find(c.t.tid()); it != announced_.end()) {
    c.site = std::move(it->second);
    announced_.erase(it);
  }
  return false;
}

// While the thread is still stopped in the call: /proc/<tid>/syscall and its stack are readable.
void Supervisor::note_site(const Call& c) {
  sites_ += c.site.empty() ? native_site_line(c.t, c.rec.seq, c.req.data.instruction_pointer)
                           : sites::src_line(c.rec.seq, c.site);
}

void Supervisor::emit(Call& c) {
  std::string bytes = encode(c.rec);
  if (c.node && !c.node->in_scope)
    c.node->pending.push_back(std::move(bytes));
  else
    write_trace(bytes);
}

// Records are batched (one write per 64 KiB, not per call): the trace is
// only read once the run is over, and is flushed before a kill, a pause and
// the end of the supervisor thread.
void Supervisor::write_trace(const std::string& record) {
  trace_buffer_ += record;
  if (trace_buffer_.size() >= trace_batch) flush_trace();
}

void Supervisor::flush_trace() {
  const char* at = trace_buffer_.data();
  std::size_t left = trace_buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(trace_.get(), at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // the run goes on; finish() reports the trace as unusable, never as short
      if (trace_error_.empty()) trace_error_ = "writing trace " + trace_path_.string() + ": " + std::strerror(errno);
      break;
    }
    at += n;
    left -= static_cast<std::size_t>(n);
  }
  trace_buffer_.clear();
}

void Supervisor::enter_scope(Node& n, const std::string& name) {
  n.in_scope = true;
  n.name = name;
  for (const std::string& record : n.pending) write_trace(record);
  n.pending.clear();
}

// A directory renamed: everything under it now has a name under its new
// one, and enters (or leaves) the scope with it. Files created under it
// while it was outside bring their pending records.
void Supervisor::rename_tree(const Place& where, const std::string& name, bool in_scope) {
  fs::path top = where.base.valid() ? fs::path("/proc/self/fd/" + std::to_string(where.base.get())) / where.path
                                    : fs::path(where.path);
  std::error_code ec;
  fs::path real = fs::canonical(top, ec);
  if (ec) return;
  struct stat st {};
  for (fs::recursive_directory_iterator it(real, ec), end; !ec && it != end; it.increment(ec)) {
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    fs::path rel = fs::relative(it->path(), real);
    auto known = nodes_.find(key_of(st));
    if (in_scope) {
      remember(st, true, (fs::path(name) / rel).string());
    } else if (known != nodes_.end()) {  // left the scope: followed on, by its absolute name
      known->second.in_scope = false;
      known->second.name = (fs::path(name).is_absolute() ? fs::path(name) / rel : real / rel).string();
    }
  }
}

void Supervisor::kill_subject(pid_t tgid) {
  killed_ = true;
  flush_trace();
  pid_t group = ::getpgid(tgid);
  if (group > 0 && group != ::getpgrp()) {
    ::kill(-group, SIGKILL);
    return;
  }
  for (pid_t p : processes_)  // not in a group of its own: never signal ours
    if (p != ::getpid()) ::kill(p, SIGKILL);
}

// Holds the call; the subject's other processes are stopped first so what
// the runner snapshots is a consistent cut. (Other threads of the caller's
// process block at their next supervised call: this thread does not answer.)
void Supervisor::pause_before(std::uint32_t seq, pid_t tgid) {
  if (pause_gave_up_) return;
  flush_trace();
  std::vector<pid_t> stopped;
  pid_t group = ::getpgid(tgid);
  for (pid_t p : processes_)
    if (p != tgid && group > 0 && ::getpgid(p) == group && ::kill(p, SIGSTOP) == 0) stopped.push_back(p);
  {
    std::unique_lock lock(mutex_);
    paused_ = seq;
    cv_.notify_all();
    if (!cv_.wait_for(lock, pause_timeout, [&] { return resumed_ == seq || finishing_; })) pause_gave_up_ = true;
    paused_ = 0;
  }
  for (pid_t p : stopped) ::kill(p, SIGCONT);
}

std::optional<std::uint32_t> Supervisor::wait_paused(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return (paused_ != 0 && paused_ != resumed_) || ended_; });
  if (paused_ == 0 || paused_ == resumed_) return std::nullopt;  // timed out, or the subject has ended
  return paused_;
}

void Supervisor::resume() {
  std::lock_guard lock(mutex_);
  if (paused_ != 0) resumed_ = paused_;
  cv_.notify_all();
}

// ------------------------------------------------------------ fork server --

namespace {

// A field of /proc/<id>/status as text ("" when absent).
std::string status_field(pid_t id, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(id) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key + ":")) return line.substr(line.find_first_not_of(" \t", key.size() + 1));
  return "";
}

bool has_signal(const std::string& hex_mask, int signal) {
  if (hex_mask.empty()) return false;
  const unsigned long long mask = std::stoull(hex_mask, nullptr, 16);
  return (mask >> (signal - 1)) & 1;
}

}  // namespace

// A file the subject holds open outside the directory each case gets its own
// of: every case would share its offset, its lock or its contents with the
// template and the other cases. /dev/null and the like share nothing.
std::optional<std::string> shared_open_file(pid_t tgid, const fs::path& root) {
  const std::string fds = "/proc/" + std::to_string(tgid) + "/fd";
  const std::string under = root.string() + "/";
  std::error_code ec;
  for (fs::directory_iterator it(fds, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string target = fs::read_symlink(it->path(), ec).string();
    if (ec || target.starts_with(under) || target == "/dev/null" || target == "/dev/zero" || target == "/dev/urandom" ||
        target == "/dev/random" || target.starts_with("anon_inode:"))
      continue;
    return target;
  }
  return std::nullopt;
}

// Why the template cannot park at this call: the fork server forks one
// thread of one process, with our handler, and only at the first counted call
// (no earlier call of it made a file the supervisor would follow), holding no
// file the cases would share.
std::optional<std::string> Supervisor::unparkable(const Call& c) const {
  const int signal = SIGRTMAX - CC_FORK_SIGNAL_FROM_RTMAX;
  if (c.tgid != root_tgid_) return "its first counted call came from a process it started, not from itself";
  for (pid_t p : processes_)
    if (p != c.tgid && ::kill(p, 0) == 0 && status_field(p, "State").rfind("Z", 0) != 0)
      return "other processes of the subject were running at its first counted call";
  if (status_field(c.tgid, "Threads") != "1") return "the subject had more than one thread at its first counted call";
  std::ifstream children("/proc/" + std::to_string(c.tgid) + "/task/" + std::to_string(c.t.tid()) + "/children");
  if (std::string child; children >> child) return "the subject had started a process by its first counted call";
  if (auto file = shared_open_file(c.tgid, setup_.fork_root))
    return "the subject held " + *file + " open at its first counted call (forked cases would share it)";
  if (!has_signal(status_field(c.tgid, "SigCgt"), signal))
    return "the fork server library was not loaded in the process that made the first counted call (a static "
           "binary, a program started through another such as env or a shell, or one that replaced the signal "
           "handlers)";
  if (has_signal(status_field(c.t.tid(), "SigBlk"), signal)) return "the subject blocks the fork server's signal";
  return std::nullopt;
}

// Template runs: holds the first counted call in the fork server's handler
// (the signal is pending when the call is answered with ERESTARTNOINTR, so
// the handler runs and the call is made again when it returns). False, and
// the run goes on as any other, when it cannot.
bool Supervisor::park(const Call& c) {
  if (parked_ || unparked_) return false;
  unparked_ = unparkable(c);
  // this thread will serve the forked cases, each in its mount namespace (setns needs an fs context of its own)
  if (!unparked_ && ::unshare(CLONE_FS) != 0) unparked_ = std::string("unshare: ") + std::strerror(errno);
  if (!unparked_ && ::syscall(SYS_tgkill, c.tgid, c.t.tid(), SIGRTMAX - CC_FORK_SIGNAL_FROM_RTMAX) != 0)
    unparked_ = std::string("cannot signal the subject: ") + std::strerror(errno);
  if (!unparked_) reply(c.req.id, -1, CC_ERESTARTNOINTR);
  parked_tgid_ = c.tgid;
  std::lock_guard lock(mutex_);
  parked_ = !unparked_;
  cv_.notify_all();
  return parked_;
}

std::optional<std::string> Supervisor::await_template(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return parked_ || unparked_ || ended_; });
    if (unparked_) return unparked_;
    if (!parked_)
      return ended_ ? "the template run ended before its first counted call (the fork server library may not load into "
                      "it: a "
                      "sanitizer-instrumented program insists on its runtime coming first)"
                    : "the subject did not reach its first counted call in time";
  }
  // parked, the fork server connects at once, unless the subject's own handler took the signal
  constexpr auto hello_timeout = std::chrono::seconds(2);
  if (!fork_client_.accept(std::min<std::chrono::milliseconds>(timeout, hello_timeout)))
    return "the fork server did not answer (the subject handles its signal itself)";
  return std::nullopt;
}

// The case's supervisor is told of first: the child's first call may come
// before the fork server's reply does.
ForkedSubject Supervisor::fork_subject(const fs::path& case_root, const fs::path& template_root, Observer& forked,
                                       std::string& why) {
  auto* to = dynamic_cast<Supervisor*>(&forked);
  if (!to || !to->setup_.forked || !parked_) {
    why = "not a forked run of a parked template";
    return {};
  }
  to->listener_ = UniqueFd(::fcntl(listener_.get(), F_DUPFD_CLOEXEC, 0));
  to->template_ = this;
  {
    std::lock_guard lock(routes_mutex_);
    pending_ = to;
  }
  ForkedSubject child = fork_client_.fork(case_root, template_root, why);
  std::lock_guard lock(routes_mutex_);
  if (pending_ == to) {  // no call of the child yet
    pending_ = nullptr;
    if (child) claim(child.pid(), to);
  }
  return child;
}

// The child's mount namespace is known once it makes its first call: the fork
// server makes none before it is set up.
void Supervisor::claim(pid_t child, Supervisor* to) {
  routes_[child] = to;
  to->child_ = child;
}

// Template runs, once parked: a call of a forked case is served by that
// case's supervisor, on this thread, in the case's mount namespace; any other
// (the fork server's own) runs as made.
void Supervisor::hand_over(const seccomp_notif& req) {
  std::lock_guard lock(routes_mutex_);
  Supervisor* to = route(static_cast<pid_t>(req.pid));
  if (!to) return reply(req.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  if (!to->namespace_.valid())
    to->namespace_ =
        UniqueFd(::open(("/proc/" + std::to_string(to->child_) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (entered_ != to) {
    if (::setns(to->namespace_.get(), CLONE_NEWNS) != 0) {  // never served blind: the case ends unjudged
      to->trace_error_ = std::string("the forked case's mount namespace could not be entered: ") + std::strerror(errno);
      return to->kill_subject(static_cast<pid_t>(req.pid));
    }
    entered_ = to;
  }
  to->serve(req);
}

// The case a thread belongs to: its own entry, else its process's, else the
// nearest forebear's (a process the case started); a new child of the
// template is the case being forked. None for the template itself.
Supervisor* Supervisor::route(pid_t tid) {
  constexpr int max_depth = 64;
  for (pid_t id = tid, depth = 0; id > 1 && id != parked_tgid_ && depth < max_depth; ++depth) {
    if (auto it = routes_.find(id); it != routes_.end()) {
      if (id != tid) routes_[tid] = it->second;
      return it->second;
    }
    auto status = task_status(id);
    if (!status) return nullptr;
    if (status->tgid == id && status->ppid == parked_tgid_ && pending_) {
      Supervisor* to = std::exchange(pending_, nullptr);
      claim(id, to);
      if (id != tid) routes_[tid] = to;
      return to;
    }
    id = status->tgid != id ? status->tgid : status->ppid;
  }
  return nullptr;
}

void Supervisor::forget(const Supervisor* forked) {
  std::lock_guard lock(routes_mutex_);
  std::erase_if(routes_, [&](const auto& entry) { return entry.second == forked; });
  if (entered_ == forked) entered_ = nullptr;
  if (pending_ == forked) pending_ = nullptr;
}

Observation Supervisor::finish() {
  finished_ = true;
  if (template_) {  // forked: the template's thread serves it no more
    template_->forget(this);
    flush_trace();
  }
  {
    std::lock_guard lock(mutex_);
    finishing_ = true;
  }
  cv_.notify_all();
  if (wake_.valid()) {
    std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  Observation o;
  o.processes_seen = static_cast<std::uint32_t>(processes_.size());
  o.calls_counted = calls_;
  for (const auto& name : refused_)
    o.notes.push_back(std::string(name) +
                      " refused with ENOSYS (the subject fell back to plain calls, or failed without them)");
  if (own_listener_)
    o.conflict =
        "the subject installs a seccomp listener of its own, which the kernel refuses (EBUSY) under the seccomp "
        "backend's";
  if (pause_gave_up_) o.notes.push_back("pause: the runner did not resume within 30 s; later calls ran unpaused");
  trace_ = UniqueFd();
  try {
    o.trace = read_trace(trace_path_);
    if (setup_.sites) sites::attach_lines(*o.trace, sites_);
  } catch (const TraceError& e) {
    o.trace_error = e.what();
  }
  if (!trace_error_.empty()) {
    o.trace.reset();
    o.trace_error = trace_error_;
  }
  return o;
}

// ---------------------------------------------------------------- places --

Node& Supervisor::remember(const struct stat& st, bool in_scope, const std::string& name, bool fresh) {
  Node& n = nodes_[key_of(st)];
  if (fresh) n = Node{};  // a new file that reuses a deleted one's inode number
  n.dir = S_ISDIR(st.st_mode);
  if (in_scope && !n.in_scope)
    enter_scope(n, name);
  else if (!n.in_scope || in_scope)
    n.name = name;
  return n;
}

Node* Supervisor::fd_node(pid_t tid, int fd, struct stat* out) {
  struct stat st {};
  if (fd < 0 || ::stat(("/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd)).c_str(), &st) != 0)
    return nullptr;
  if (out) *out = st;
  auto it = nodes_.find(key_of(st));
  return it == nodes_.end() ? nullptr : &it->second;
}

Place Supervisor::place(const Tracee& t, int dirfd, std::uint64_t addr, bool follow, bool empty_path) {
  Place p;
  auto text = t.read_string(addr);
  if (!text) throw std::runtime_error("unreadable path");  // the kernel will say EFAULT itself
  p.path = t.absolute(*text);
  if (p.path.empty() || p.path[0] != '/') p.base = t.base(dirfd);
  split(p);
  struct stat st {};
  bool parent_ok = p.dir_part.empty() ? ::fstat(p.at(), &st) == 0 : ::fstatat(p.at(), p.dir_part.c_str(), &st, 0) == 0;
  if (parent_ok) {
    auto it = nodes_.find(key_of(st));
    if (it != nodes_.end()) p.parent = &it->second;
  }
  int at_flags = (follow ? 0 : AT_SYMLINK_NOFOLLOW) | (p.path.empty() && empty_path ? AT_EMPTY_PATH : 0);
  struct stat entry {};
  if (::fstatat(p.at(), p.path.c_str(), &entry, at_flags) == 0) {
    p.exists = true;
    p.st = entry;
    auto it = nodes_.find(key_of(entry));
    if (it != nodes_.end()) p.node = &it->second;
  } else if (parent_ok) {
    p.st.st_dev = st.st_dev;  // where it would be created: "the scope's file system?"
  }
  return p;
}

// How a record names the place: scope-relative inside, absolute outside.
std::string Supervisor::name_of(const Place& p) const {
  if (p.parent_in_scope()) return join(p.parent->name, p.leaf);
  if (p.node && p.node->in_scope) return p.node->name;
  std::string dir = p.dir_part.empty() ? "." : p.dir_part;
  std::string through =
      p.base.valid() && dir[0] != '/' ? "/proc/self/fd/" + std::to_string(p.base.get()) + "/" + dir : dir;
  std::error_code ec;
  fs::path real = fs::canonical(through, ec);
  return ec ? p.path : p.leaf.empty() ? real.string() : (real / p.leaf).string();
}

// ------------------------------------------------------------------ opens --

void Supervisor::on_open(Call& c) {
  const std::string_view name = c.entry.info->name;
  open_how how{};
  how.flags = static_cast<std::uint64_t>(c.a.i(FLAGS));
  how.mode = static_cast<mode_t>(c.a.u(MODE));
  if (name == "creat") how.flags = O_CREAT | O_WRONLY | O_TRUNC;
  if (name == "openat2" && !c.t.read(c.a.u(HOW), &how, std::min<std::uint64_t>(c.a.u(HOWSIZE), sizeof how)))
    return let_through(c);
  int flags = static_cast<int>(how.flags);
  if (!(flags & (O_CREAT | O_TMPFILE))) how.mode = 0;  // openat2 insists; open ignores it
  bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
  Place p = place(c.t, c.a.i(DIRFD), c.a.u(PATH), !(flags & O_NOFOLLOW));
  bool creates = tmpfile || ((flags & O_CREAT) && !p.exists);
  bool candidate = creates && p.st.st_dev == scope_.dev;  // may be renamed into the scope later
  bool in_scope = tmpfile ? p.node && p.node->in_scope : p.in_scope();
  if (!in_scope && !p.node && !candidate) return let_through(c);
  // an O_TMPFILE names a directory and makes a file with no name in it (its
  // trace name is unnamed_in(directory) until a linkat names it: on_names)
  c.rec.path = tmpfile ? unnamed_in(name_of(p)) : name_of(p);
  c.rec.flags = flags;
  c.rec.mode = static_cast<std::uint32_t>(how.mode);
  counted(c, [&](Call& c) -> Outcome {
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, p.at(), p.path.c_str(), &how, sizeof how)));
    if (!fd.valid()) return failure(errno);
    struct stat st {};
    ::fstat(fd.get(), &st);
    c.rec.created = creates;
    if (creates) {  // as the subject would have made it: its umask, its owner
      auto status = task_status(c.t.tid());
      mode_t mask = status ? status->umask : 022;
      ::fchmod(fd.get(), static_cast<mode_t>(how.mode) & ~mask & 07777);
      if (status) (void)!::fchown(fd.get(), status->fsuid, status->fsgid);
    }
    c.rec.inode = st.st_ino;
    c.rec.dir = S_ISDIR(st.st_mode);
    Node& n = remember(st, in_scope, c.rec.path, creates);
    c.node = &n;
    Outcome o = outcome(Outcome::install);
    o.fd = std::move(fd);
    o.cloexec = flags & O_CLOEXEC;
    return o;
  });
}

// ----------------------------------------------------------------- writes --

// sendfile, copy_file_range, splice: the kernel moves the bytes.
bool kernel_copy(std::string_view name) { return name == "sendfile" || name == "copy_file_range" || name == "splice"; }

// Disk-full: what this write may transfer (0: ENOSPC), sets `charged` to
// the new space that takes (cc_disk_full_fit: overwrites inside the file
// need none). A copy's place is known only once it ran: all of it counts.
std::uint64_t Supervisor::budget(Call& c, std::uint64_t want, std::uint64_t& charged) {
  charged = 0;
  if (setup_.plan.kind != FaultPlan::Kind::disk_full) return want;
  std::uint64_t left = bytes_spent_ >= setup_.plan.byte_budget ? 0 : setup_.plan.byte_budget - bytes_spent_;
  const std::int64_t at = kernel_copy(c.entry.info->name) || appends(c) ? -1 : c.rec.offset;
  return cc_disk_full_fit(c.fd.get(), at, want, left, &charged);
}

// A call on descriptor fd counts when it is a followed file: fills the
// record's file fields and keeps the duplicate for performing the call
// (one pidfd_getfd + fstat per call: cheaper than a /proc path walk, and
// the same open file description the subject's call would use).
bool Supervisor::on_traced_fd(Call& c, int fd) {
  struct stat st {};
  UniqueFd dup = fd < 0 ? UniqueFd() : c.t.grab(fd);
  if (!dup.valid() || ::fstat(dup.get(), &st) != 0) return false;
  auto it = nodes_.find(key_of(st));
  if (it == nodes_.end()) return false;
  Node* n = &it->second;
  c.fd = std::move(dup);
  c.node = n;
  c.rec.path = n->name;
  c.rec.fd = fd;
  c.rec.inode = st.st_ino;
  c.rec.dir = n->dir;
  return true;
}

void Supervisor::on_write(Call& c) {
  if (!on_traced_fd(c, c.a.i(FD))) return let_through(c);
  c.rec.flags = c.entry.info->name == "pwritev2" ? c.a.i(FLAGS) : 0;
  c.rec.length = c.a.u(LEN);
  c.rec.offset = landing_offset(c);  // a failed write says where it was to land too (a retry makes up for it there)
  if (c.a.u(IOV)) {
    std::vector<iovec> iov(std::min<std::uint64_t>(c.a.u(IOVCNT), IOV_MAX));
    if (c.t.read(c.a.u(IOV), iov.data(), iov.size() * sizeof(iovec)))
      for (const iovec& v : iov) c.rec.length += v.iov_len;
  }
  counted(c, [this](Call& c) { return perform_write(c); });
}

// Whether Linux lands this write at the file's end: on an O_APPEND
// descriptor even a pwrite does, whatever its offset argument (pwrite(2),
// BUGS), and so does a pwritev2 with RWF_APPEND (RWF_NOAPPEND undoes
// O_APPEND for one call).
bool Supervisor::appends(const Call& c) {
  const int rwf = c.entry.info->name == "pwritev2" ? c.a.i(FLAGS) : 0;
  if (rwf & RWF_APPEND) return true;
#ifdef RWF_NOAPPEND
  if (rwf & RWF_NOAPPEND) return false;
#endif
  const int flags = c.fd.get() < 0 ? -1 : ::fcntl(c.fd.get(), F_GETFL);
  return flags >= 0 && (flags & O_APPEND) != 0;
}

// Where a write would land: the file's end when it appends, else its offset
// argument or the descriptor's position (the same open file description,
// so the subject's position is read, not moved).
std::int64_t Supervisor::landing_offset(const Call& c) {
  const std::string_view name = c.entry.info->name;
  if (name == "copy_file_range" || name == "splice") return -1;  // set from their own offset pointer when they copy
  const int fd = c.fd.get();
  struct stat st {};
  if (appends(c)) return ::fstat(fd, &st) == 0 ? st.st_size : -1;
  if (name == "pwrite64" || name == "pwritev" || (name == "pwritev2" && c.a.s(OFF) != -1)) return c.a.s(OFF);
  return fd < 0 ? -1 : ::lseek(fd, 0, SEEK_CUR);
}

// The bytes a write of at most limit bytes would take from the subject.
std::optional<std::string> Supervisor::gather(const Call& c, std::uint64_t limit) {
  std::string data;
  if (!c.a.u(IOV)) {
    data.resize(std::min(limit, c.a.u(LEN)));
    return c.t.read(c.a.u(BUF), data.data(), data.size()) ? std::optional(data) : std::nullopt;
  }
  std::vector<iovec> iov(std::min<std::uint64_t>(c.a.u(IOVCNT), IOV_MAX));
  if (!c.t.read(c.a.u(IOV), iov.data(), iov.size() * sizeof(iovec))) return std::nullopt;
  for (const iovec& v : iov) {
    std::size_t take = std::min<std::uint64_t>(v.iov_len, limit - data.size());
    std::size_t at = data.size();
    data.resize(at + take);
    if (!c.t.read(reinterpret_cast<std::uint64_t>(v.iov_base), data.data() + at, take)) return std::nullopt;
    if (data.size() == limit) break;
  }
  return data;
}

Outcome Supervisor::perform_write(Call& c) {
  std::uint64_t charged = 0;
  std::uint64_t limit = budget(c, std::min(c.rec.length, max_transfer), charged);
  const std::uint64_t allowed = limit;
  if (limit == 0 && c.rec.length > 0) {
    c.rec.injected = true;
    c.rec.error = ENOSPC;
    return failure(ENOSPC);
  }
  bool kill = fails(point_kill_within);
  if (kill) limit = std::min(limit, setup_.plan.byte_budget);
  std::string_view name = c.entry.info->name;
  Outcome o;
  if (kernel_copy(name)) {
    o = perform_copy(c, limit);
  } else {
    UniqueFd& fd = c.fd;
    auto data = gather(c, limit);
    if (!fd.valid() || !data) return failure(fd.valid() ? EFAULT : EBADF);
    iovec v{data->data(), data->size()};
    bool positioned = name == "pwrite64" || name == "pwritev" || (name == "pwritev2" && c.a.s(OFF) != -1);
    int flags = name == "pwritev2" ? c.a.i(FLAGS) : 0;
    ssize_t n = ::pwritev2(fd.get(), &v, 1, positioned ? c.a.s(OFF) : -1, flags);
    o = result_of(n);
    struct stat st {};
    if (n >= 0 && positioned && appends(c) && ::fstat(fd.get(), &st) == 0) {
      c.rec.offset = st.st_size - n;  // a positioned write appended: the offset argument does not say where
      c.rec.data = data->substr(0, static_cast<std::size_t>(n));
    } else if (n >= 0) {
      c.rec.offset = positioned ? c.a.s(OFF) : ::lseek(fd.get(), 0, SEEK_CUR) - n;
      c.rec.data = data->substr(0, static_cast<std::size_t>(n));
    }
  }
  if (o.kind == Outcome::value)
    bytes_spent_ += cc_disk_full_spent(allowed, charged, static_cast<std::uint64_t>(o.result));
  o.kill = kill;
  return o;
}

// The bytes now at [offset, offset + n) of the file behind fd. A descriptor
// opened write-only (the shell's `> target`, which cat copies into) cannot
// be read: the file is reopened for reading through /proc/self/fd, which
// gives a new open file description, so the subject's offset is untouched.
std::string read_back(int fd, std::int64_t offset, std::size_t n) {
  std::string data(n, '\0');
  ssize_t got = ::pread(fd, data.data(), n, offset);
  if (got < 0 && errno == EBADF) {
    UniqueFd readable(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC));
    got = readable.valid() ? ::pread(readable.get(), data.data(), n, offset) : -1;
  }
  data.resize(got > 0 ? static_cast<std::size_t>(got) : 0);  // unreadable even so: the record has no data
  return data;
}

// sendfile, copy_file_range, splice: the kernel moves the bytes; the written
// range is read back from the destination afterwards.
Outcome Supervisor::perform_copy(Call& c, std::uint64_t limit) {
  UniqueFd in = c.t.grab(c.a.i(FDIN));
  UniqueFd& out = c.fd;
  if (!in.valid() || !out.valid()) return failure(EBADF);
  loff_t off_in = 0, off_out = 0;
  bool has_in = c.a.u(OFFINPTR) && c.t.read(c.a.u(OFFINPTR), &off_in, sizeof off_in);
  bool has_out = c.a.u(OFFPTR) && c.t.read(c.a.u(OFFPTR), &off_out, sizeof off_out);
  loff_t start_out = off_out;
  std::string_view name = c.entry.info->name;
  ssize_t n;
  if (name == "sendfile") {
    off_t o = off_in;
    n = ::sendfile(out.get(), in.get(), has_in ? &o : nullptr, limit);
    off_in = o;
  } else if (name == "copy_file_range") {
    n = ::copy_file_range(in.get(), has_in ? &off_in : nullptr, out.get(), has_out ? &off_out : nullptr, limit,
                          static_cast<unsigned>(c.a.i(FLAGS)));
  } else {
    n = ::splice(in.get(), has_in ? &off_in : nullptr, out.get(), has_out ? &off_out : nullptr, limit,
                 static_cast<unsigned>(c.a.i(FLAGS)));
  }
  if (n < 0) return failure(errno);
  if (has_in) c.t.write(c.a.u(OFFINPTR), &off_in, sizeof off_in);
  if (has_out) c.t.write(c.a.u(OFFPTR), &off_out, sizeof off_out);
  c.rec.offset = has_out ? start_out : ::lseek(out.get(), 0, SEEK_CUR) - n;
  c.rec.data = read_back(out.get(), c.rec.offset, static_cast<std::size_t>(n));
  return value(n);
}

// The followed files' shared writable mappings overlapping [lo, hi) of a
// thread's address space, from /proc/<tid>/maps.
std::vector<Supervisor::Piece> Supervisor::shared_pieces(pid_t tid, std::uint64_t lo, std::uint64_t hi) {
  std::vector<Piece> out;
  std::ifstream maps("/proc/" + std::to_string(tid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, dev;
    std::uint64_t offset = 0, inode = 0;
    in >> range >> perms >> std::hex >> offset >> dev >> std::dec >> inode;
    auto dash = range.find('-');
    std::uint64_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    std::uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (end <= lo || start >= hi || perms.size() < 4 || perms[1] != 'w' || perms[3] != 's') continue;
    auto colon = dev.find(':');
    dev_t d = makedev(std::stoul(dev.substr(0, colon), nullptr, 16), std::stoul(dev.substr(colon + 1), nullptr, 16));
    auto it = nodes_.find({d, static_cast<ino_t>(inode)});
    if (it == nodes_.end()) continue;
    std::uint64_t from = std::max(lo, start), to = std::min(hi, end);
    out.push_back({&it->second, inode, offset + (from - start), to - from,
                   "/proc/" + std::to_string(tid) + "/map_files/" + range});
  }
  return out;
}

// A mapped range as a record's data: the stores are in the page cache
// already, so the range is read back from the file.
void read_range(Record& rec, const std::string& file, std::uint64_t offset, std::uint64_t length) {
  rec.offset = static_cast<std::int64_t>(offset);
  rec.length = length;
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  std::string data(length, '\0');
  ssize_t got = fd.valid() ? ::pread(fd.get(), data.data(), data.size(), rec.offset) : -1;
  data.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  rec.data = std::move(data);
}

// A mapped range as a write record.
void Supervisor::read_piece(Call& c, const Piece& piece) {
  c.node = piece.node;
  c.rec.path = piece.node->name;
  c.rec.inode = piece.inode;
  read_range(c.rec, piece.file, piece.offset, piece.length);
}

// An fsync or fdatasync of a file the subject maps shared and writable
// carries the mapped range as it is at the sync (record data): the model
// tells stores made before the sync (made durable by it) from stores made
// after it by comparing with what the later msync/munmap/exit shows.
void Supervisor::note_mapped_at_sync(Call& c) {
  for (const Piece& piece : shared_pieces(c.t.tid(), 0, UINT64_MAX))
    if (piece.inode == c.rec.inode) return read_range(c.rec, piece.file, piece.offset, piece.length);
}

// msync/munmap of a shared writable file mapping: its (first followed)
// range, recorded as a write. exit_group: every followed range the process
// still maps, so stores never synced nor unmapped reach the trace too.
// Nothing shared was ever mapped (the common case): continued at once.
void Supervisor::on_mapping(Call& c) {
  if (!mapped_shared_) return let_through(c);
  if (c.entry.info->name == "madvise") return on_punch(c);
  bool exiting = c.entry.info->name == "exit_group";
  std::uint64_t lo = exiting ? 0 : c.a.u(ADDR), hi = exiting ? UINT64_MAX : c.a.u(ADDR) + c.a.u(LEN);
  std::vector<Piece> pieces = shared_pieces(c.t.tid(), lo, hi);
  if (pieces.empty()) return let_through(c);
  if (!exiting)
    return counted(c, [&](Call& c) {
      read_piece(c, pieces.front());
      if (c.entry.info->name == "msync") c.rec.flags = c.a.i(FLAGS);  // MS_SYNC: the model makes the range durable
      return proceed();
    });
  for (const Piece& piece : pieces) {
    Call one{c.req, c.entry, c.a, c.t, c.tgid, c.rec, nullptr, {}, {}};
    read_piece(one, piece);
    if (!numbered(one)) return;
  }
  let_through(c);
}

// madvise(MADV_REMOVE) of a followed file's shared writable mapping punches a
// hole in the file: the kernel's madvise_remove is fallocate(PUNCH_HOLE |
// KEEP_SIZE) over the mapped pages. Performed the same way on the file, so a
// kill after it finds it done, and recorded as a write of the zeros the range
// reads as from then on: the model sees the bytes change at this call, and a
// later msync/munmap that puts them back is a change it cuts. A range over
// more than one mapping is left to the kernel, its first followed piece
// recorded; an unaligned address fails in the kernel (EINVAL) and changes nothing.
void Supervisor::on_punch(Call& c) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t addr = c.a.u(ADDR), end = addr + ((c.a.u(LEN) + page - 1) & ~(page - 1));
  std::vector<Piece> pieces = shared_pieces(c.t.tid(), addr, end);
  if (pieces.empty() || addr % page != 0) return let_through(c);
  counted(c, [&](Call& c) -> Outcome {
    const Piece& piece = pieces.front();
    c.node = piece.node;
    c.rec.path = piece.node->name;
    c.rec.inode = piece.inode;
    c.rec.offset = static_cast<std::int64_t>(piece.offset);
    c.rec.length = piece.length;
    UniqueFd file(::open(piece.file.c_str(), O_RDWR | O_CLOEXEC));
    struct stat st {};
    const bool whole = pieces.size() == 1 && piece.length == end - addr && file.valid();
    if (whole && ::fallocate(file.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, c.rec.offset,
                             static_cast<off_t>(piece.length)) != 0)
      return failure(errno);
    const auto size = ::stat(piece.file.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    c.rec.data = std::string(size > piece.offset ? std::min(piece.length, size - piece.offset) : 0, '\0');
    return whole ? value(0) : proceed();
  });
}

// -------------------------------------------------------- descriptor calls --

// fsync, fdatasync, sync_file_range, syncfs, sync, ftruncate, fallocate,
// fchmod, fchown: performed on a duplicate of the subject's descriptor.
void Supervisor::on_fd_call(Call& c) {
  std::string_view name = c.entry.info->name;
  if (name != "sync" && !on_traced_fd(c, c.a.i(FD))) return let_through(c);
  c.rec.flags = c.a.i(FLAGS);
  c.rec.mode = static_cast<mode_t>(c.a.u(MODE));
  if (c.entry.info->op == OpClass::truncate || c.entry.info->op == OpClass::allocate) c.rec.offset = c.a.s(OFF);
  c.rec.length = c.a.u(LEN);
  if (mapped_shared_ && (name == "fsync" || name == "fdatasync")) note_mapped_at_sync(c);
  counted(c, [name](Call& c) -> Outcome {
    if (name == "sync") {
      ::sync();
      return value(0);
    }
    int f = c.fd.get();
    if (f < 0) return failure(EBADF);
    if (name == "fsync") return result_of(::fsync(f));
    if (name == "fdatasync") return result_of(::fdatasync(f));
    if (name == "syncfs") return result_of(::syncfs(f));
    if (name == "sync_file_range")
      return result_of(
          ::sync_file_range(f, c.a.s(OFF), static_cast<off_t>(c.a.u(LEN)), static_cast<unsigned>(c.a.i(FLAGS))));
    if (name == "ftruncate") return result_of(::ftruncate(f, c.a.s(OFF)));
    if (name == "fallocate") return result_of(::fallocate(f, c.a.i(FLAGS), c.a.s(OFF), static_cast<off_t>(c.a.u(LEN))));
    if (name == "fchmod") return result_of(::fchmod(f, static_cast<mode_t>(c.a.u(MODE))));
    if (name == "fchown") return result_of(::fchown(f, static_cast<uid_t>(c.a.u(UID)), static_cast<gid_t>(c.a.u(GID))));
    return failure(ENOSYS);
  });
}

// close runs in the subject (only it can free its descriptor slot).
void Supervisor::on_close(Call& c) {
  // A descriptor an injected close failure let go (vacate()) is gone, as
  // after a real failed close: closing it again fails with EBADF.
  if (vacated_.erase({c.tgid, c.a.i(FD)})) return reply(c.req.id, -1, EBADF);
  if (!on_traced_fd(c, c.a.i(FD))) return let_through(c);
  counted(c, [](Call&) { return proceed(); });
}

// An injected close failure: Linux releases the descriptor even when close
// fails, so the subject's file must be let go too. The supervisor cannot
// free the slot, but SECCOMP_ADDFD_FLAG_SETFD replaces what it holds (as
// dup2 does: the old file is closed, flushed like a close) with /dev/null
// opened for neither reading nor writing, so every later use of the
// descriptor fails with EBADF as it would after a real failed close, and
// closing it again fails with EBADF too (on_close). The one difference left:
// the number stays taken, so the kernel does not hand it out again.
void Supervisor::vacate(const Call& c) {
  UniqueFd inert(::open("/dev/null", O_ACCMODE | O_CLOEXEC));  // O_ACCMODE: no read, no write
  seccomp_notif_addfd add{};
  add.id = c.req.id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<std::uint32_t>(inert.get());
  add.newfd = static_cast<std::uint32_t>(c.a.i(FD));
  if (inert.valid() && ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &add) >= 0)
    vacated_.insert({c.tgid, c.a.i(FD)});
}

// One close record per traced descriptor in the range (each its own number;
// kill plans apply to each, errno plans are not offered here).
void Supervisor::on_close_range(Call& c) {
  std::vector<int> traced;
  if (!(c.a.i(FLAGS) & CLOSE_RANGE_CLOEXEC)) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(c.t.tid()) + "/fd", ec)) {
      auto fd = std::strtoull(e.path().filename().c_str(), nullptr, 10);
      if (fd >= static_cast<unsigned>(c.a.i(FD)) && fd <= c.a.u(FDLAST) && fd_node(c.t.tid(), static_cast<int>(fd)))
        traced.push_back(static_cast<int>(fd));
    }
  }
  for (int fd : traced) {
    Call one{c.req, c.entry, c.a, c.t, c.tgid, c.rec, nullptr, {}, {}};
    if (on_traced_fd(one, fd) && !numbered(one)) return;
  }
  let_through(c);
}

// One record of a call that makes several (close_range, exit_group): its
// own number; kill plans apply to it, errno plans do not (the call is
// continued, whole). False when the subject has been killed.
bool Supervisor::numbered(Call& one) {
  one.rec.seq = ++calls_;
  Decision decision{&setup_.plan, one.rec.seq};
  deciding = &decision;
  bool before = fails(point_kill_before), after = !before && fails(point_kill_after);
  deciding = nullptr;
  if (before) return kill_subject(one.tgid), false;
  emit(one);
  if (after) return kill_subject(one.tgid), false;
  return true;
}

// ------------------------------------------------------------- path calls --

// unlink, rmdir, mkdir, truncate, chmod, chown by path.
void Supervisor::on_path_call(Call& c) {
  std::string_view name = c.entry.info->name;
  OpClass op = c.entry.info->op;
  bool follow = op != OpClass::unlink && op != OpClass::mkdir && name != "lchown" &&
                !(name == "fchownat" && (c.a.i(FLAGS) & AT_SYMLINK_NOFOLLOW));
  Place p = place(c.t, c.a.i(DIRFD), c.a.u(PATH), follow, name == "fchownat" && (c.a.i(FLAGS) & AT_EMPTY_PATH));
  bool in_scope = op == OpClass::mkdir || op == OpClass::unlink ? p.parent_in_scope() : p.in_scope();
  if (!in_scope && !p.node) return let_through(c);
  c.node = in_scope ? nullptr : p.node;
  c.rec.path = name_of(p);
  c.rec.mode = static_cast<mode_t>(c.a.u(MODE));
  c.rec.flags = name == "rmdir" ? AT_REMOVEDIR : c.a.i(FLAGS);
  c.rec.inode = p.exists ? p.st.st_ino : 0;
  c.rec.dir = p.exists && S_ISDIR(p.st.st_mode);
  if (op == OpClass::truncate) c.rec.offset = c.a.s(OFF);
  counted(c, [&, name, op, in_scope](Call& c) -> Outcome {
    const char* path = p.path.c_str();
    if (op == OpClass::unlink) {
      return result_of(::unlinkat(p.at(), path, name == "rmdir" ? AT_REMOVEDIR : c.a.i(FLAGS)));
    }
    if (op == OpClass::mkdir) {
      auto status = task_status(c.t.tid());
      if (::mkdirat(p.at(), path, static_cast<mode_t>(c.a.u(MODE)) & ~(status ? status->umask : 022)) != 0)
        return failure(errno);
      if (status) (void)!::fchownat(p.at(), path, status->fsuid, status->fsgid, AT_SYMLINK_NOFOLLOW);
      struct stat st {};
      if (::fstatat(p.at(), path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        remember(st, in_scope, c.rec.path, true);
        c.rec.inode = st.st_ino;
        c.rec.dir = true;
        c.rec.created = true;
      }
      return value(0);
    }
    if (op == OpClass::truncate) {
      UniqueFd fd(::openat(p.at(), path, O_WRONLY | O_CLOEXEC));
      return fd.valid() ? result_of(::ftruncate(fd.get(), c.a.s(OFF))) : failure(errno);
    }
    if (op == OpClass::chmod) return result_of(::fchmodat(p.at(), path, static_cast<mode_t>(c.a.u(MODE)), 0));
    int at_flags = name == "lchown" ? AT_SYMLINK_NOFOLLOW : name == "fchownat" ? c.a.i(FLAGS) : 0;
    return result_of(
        ::fchownat(p.at(), path, static_cast<uid_t>(c.a.u(UID)), static_cast<gid_t>(c.a.u(GID)), at_flags));
  });
}

// rename, link, symlink: a file entering the scope brings its pending records.
void Supervisor::on_names(Call& c) {
  std::string_view name = c.entry.info->name;
  bool is_link = c.entry.info->op == OpClass::link;
  bool is_symlink = name.starts_with("symlink");
  std::optional<Place> src;
  std::string target;
  if (is_symlink) {
    auto text = c.t.read_string(c.a.u(TARGET));
    if (!text) return let_through(c);
    target = *text;
  } else {
    bool follow = is_link && (c.a.i(FLAGS) & AT_SYMLINK_FOLLOW);
    src = place(c.t, c.a.i(DIRFD), c.a.u(PATH), follow, is_link && (c.a.i(FLAGS) & AT_EMPTY_PATH));
  }
  Place dst = place(c.t, c.a.i(DIRFD2), c.a.u(PATH2), false);
  Node* moving = src ? src->node : nullptr;
  bool src_in = src && src->in_scope();
  bool dst_in = dst.parent_in_scope();
  if (!src_in && !dst_in && !moving) return let_through(c);
  c.node = src_in || dst_in ? nullptr : moving;
  // an O_TMPFILE file linked through /proc/self/fd/N or AT_EMPTY_PATH: its own trace name, not the descriptor's
  const bool names_unnamed = is_link && moving && is_unnamed(moving->name);
  c.rec.path = names_unnamed ? moving->name : src ? name_of(*src) : target;
  c.rec.path2 = name_of(dst);
  c.rec.flags = c.a.i(FLAGS);
  c.rec.inode = src && src->exists ? src->st.st_ino : 0;
  c.rec.dir = src && src->exists && S_ISDIR(src->st.st_mode);
  counted(c, [&](Call& c) -> Outcome {
    int r = is_symlink ? ::symlinkat(target.c_str(), dst.at(), dst.path.c_str())
            : is_link  ? ::linkat(src->at(), src->path.c_str(), dst.at(), dst.path.c_str(), c.a.i(FLAGS))
                       : static_cast<int>(::syscall(SYS_renameat2, src->at(), src->path.c_str(), dst.at(),
                                                    dst.path.c_str(), static_cast<unsigned>(c.a.i(FLAGS))));
    if (r != 0) return failure(errno);
    c.rec.created = is_link;
    struct stat st {};
    if (is_symlink && ::fstatat(dst.at(), dst.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      remember(st, dst_in, c.rec.path2, true);
      c.rec.inode = st.st_ino;
    }
    if (!moving && src && src->exists && dst_in) moving = &remember(src->st, true, c.rec.path2);
    if (moving && dst_in && !moving->in_scope) enter_scope(*moving, c.rec.path2);
    if (names_unnamed) moving->name = c.rec.path2;  // its first name: later calls on its descriptor say it
    if (moving && !is_link) {                       // a rename: the file now has only its new name
      moving->in_scope = dst_in;
      moving->name = c.rec.path2;
    }
    if (!is_link && (c.a.i(FLAGS) & RENAME_EXCHANGE) && dst.node) {
      dst.node->in_scope = src_in;
      dst.node->name = c.rec.path;
      if (dst.node->dir) rename_tree(*src, c.rec.path, src_in);
    }
    if (!is_link && c.rec.dir) rename_tree(dst, c.rec.path2, dst_in);
    return value(0);
  });
}

// -------------------------------------------------------------- launcher --

fs::path exe_dir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path();
}

fs::path default_launcher() {
  if (const char* env = std::getenv("CRASHCHECK_LAUNCH")) return env;
#ifdef CRASHCHECK_LAUNCH_BUILD_PATH
  if (::access(CRASHCHECK_LAUNCH_BUILD_PATH, X_OK) == 0) return CRASHCHECK_LAUNCH_BUILD_PATH;
#endif
  return exe_dir() / ".." / "lib" / "crashcheck" / "crashcheck-launch";
}

}  // namespace
}  // namespace seccomp

std::optional<std::string> seccomp_unavailable() {
  std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
  std::string word;
  bool user_notif = false;
  while (actions >> word) user_notif |= word == "user_notif";
  if (!user_notif) return "the kernel has no seccomp user notification (user_notif not in actions_avail)";
  std::filesystem::path launcher = seccomp::default_launcher();
  if (::access(launcher.c_str(), X_OK) != 0) return "the seccomp launcher " + launcher.string() + " is missing";
  return std::nullopt;
}

std::unique_ptr<Observer> make_seccomp_observer(const RunSetup& setup) {
  return std::make_unique<seccomp::Supervisor>(setup);
}

}  // namespace crashcheck::faults
