// Native call sites under the seccomp backend (faults/README.md, "Call
// sites"). The notification's instruction pointer is inside libc, so the
// supervisor looks for the writer's own code: the pc itself when the
// syscall instruction is there (a static binary, Go), then the words on the
// stack, from the stack pointer /proc/<tid>/syscall reports up to 4 KiB,
// that point just after a call instruction into an executable file mapping
// that is not a system library or interpreter — up to kCandidates of them,
// innermost first; the symboliser takes the first whose line is the
// writer's. The scan starts above the system frames the unwind tables can
// step over (libc's wrapper: its frame can hold stale return addresses),
// and the return address found that way comes first. Still a heuristic
// where no table says (a stale word above them could be taken), cheap
// enough to run on every counted call of the one run that collects sites.
#include <algorithm>
#include <charconv>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <vector>

#include "../sites/sites.hpp"
#include "tracee.hpp"

namespace crashcheck::faults::seccomp {
namespace {

// A runtime's own frames (Go's syscall package) come first: the symboliser
// skips those whose source is the system's and takes the first of the rest.
constexpr std::size_t kCandidates = 64;

struct Mapping {
  std::uint64_t lo = 0, hi = 0, offset = 0;
  bool exec = false;
  std::string path;
};

std::uint64_t hex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  std::uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v, 16);
  return v;
}

std::vector<Mapping> mappings(pid_t tid) {
  std::vector<Mapping> out;
  std::ifstream maps("/proc/" + std::to_string(tid) + "/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode;
    Mapping m;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, m.path);
    const auto dash = range.find('-');
    if (dash == std::string::npos || perms.size() < 3) continue;
    m.lo = hex(std::string_view(range).substr(0, dash));
    m.hi = hex(std::string_view(range).substr(dash + 1));
    m.offset = hex(offset);
    m.exec = perms[2] == 'x';
    out.push_back(std::move(m));
  }
  return out;
}

const Mapping* holding(const std::vector<Mapping>& maps, std::uint64_t address) {
  for (const Mapping& m : maps)
    if (address >= m.lo && address < m.hi) return &m;
  return nullptr;
}

// The writer's own code: an executable file mapping outside the system.
const Mapping* own_code(const std::vector<Mapping>& maps, std::uint64_t address) {
  const Mapping* m = holding(maps, address);
  return m && m->exec && !sites::system_object(m->path) ? m : nullptr;
}

// The bytes before `address` end with a call instruction (x86-64: call
// rel32, or an indirect call through a register or memory).
bool after_call(const Tracee& t, std::uint64_t address) {
#if defined(__x86_64__)
  unsigned char b[8];
  if (address < sizeof b || !t.read(address - sizeof b, b, sizeof b)) return false;
  const auto at = [&](int back) { return b[sizeof b - back]; };
  if (at(5) == 0xe8) return true;
  for (int back : {2, 3, 6, 7})
    if (at(back) == 0xff && ((at(back - 1) >> 3) & 7) == 2) return true;
  return false;
#else
  (void)t, (void)address;
  return true;
#endif
}

// The stack pointer of a thread blocked in a system call.
std::uint64_t stack_pointer(pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/syscall");
  std::string field;
  for (int i = 0; i < 8 && in >> field; ++i) {
  }
  return in ? hex(field) : 0;  // fields: nr, six arguments, sp, pc
}

// A system shared library (libc, libpthread, libstdc++): its frames are
// stepped over. An interpreter or a runtime linked into the executable
// (python3, node) is not: its many frames are left to the scan.
bool shared_library(const std::string& path) {
  return path.starts_with('/') && sites::system_object(path) && path.find(".so") != std::string::npos;
}

// At most this many library frames are stepped over (fclose's internals
// are the deepest seen: 3), so a runtime's deep stack costs no more.
constexpr int kLibraryFrames = 6;

// Frames of system code (libc's syscall wrapper, fclose's internals) are
// stepped over with their unwind tables while the frame is the stack
// pointer plus a constant: the words inside such a frame are stale (a
// variadic open's register save area can hold the return address of the
// writer's previous call), so the scan starts above them. Returns the
// stack pointer and pc of the first frame that is not system code (or the
// last one reached).
struct Frame {
  std::uint64_t sp = 0, pc = 0;
};
Frame above_system_frames(const Tracee& t, const std::vector<Mapping>& maps, Frame f) {
  static std::mutex lock;  // one symboliser for every supervisor thread: libdw's handles are not shared safely
  static sites::Symboliser unwind_tables;
  const std::lock_guard hold(lock);
  for (int step = 0; step < kLibraryFrames && f.sp != 0; ++step) {
    const bool innermost = step == 0;
    const Mapping* m = holding(maps, f.pc);
    // A static binary's libc wrapper is in the executable itself: its frame
    // is stepped over too (the pc stays the first candidate, for a writer
    // that makes the syscall itself).
    const bool own_wrapper = innermost && own_code(maps, f.pc);
    if (!m || !m->exec || !(shared_library(m->path) || own_wrapper)) return f;
    const auto size = unwind_tables.frame_size(m->path, f.pc - m->lo + m->offset, !innermost);
    std::uint64_t return_address = 0;
    if (!size || *size < 8 || !t.read(f.sp + *size - 8, &return_address, sizeof return_address)) return f;
    f = {f.sp + static_cast<std::uint64_t>(*size), return_address};  // the caller's sp is this frame's CFA
  }
  return f;
}

}  // namespace

std::string native_site_line(const Tracee& t, std::uint32_t seq, std::uint64_t pc) {
  const auto maps = mappings(t.tid());
  std::vector<sites::NativeAddress> found;
  const auto take = [&](const Mapping& m, std::uint64_t address) {
    found.push_back({m.path, address - m.lo + m.offset});
  };
  // the pc is just after the syscall instruction: like a return address, the symboliser looks one byte back
  if (const Mapping* m = own_code(maps, pc)) take(*m, pc);
  const Frame caller = above_system_frames(t, maps, {stack_pointer(t.tid()), pc});
  if (caller.pc != pc)
    if (const Mapping* m = own_code(maps, caller.pc)) take(*m, caller.pc);
  const std::uint64_t sp = caller.sp;
  const Mapping* stack = holding(maps, sp);
  std::vector<std::uint64_t> words(stack ? std::min<std::uint64_t>(stack->hi - sp, 4096) / 8 : 0);
  if (!words.empty() && t.read(sp, words.data(), words.size() * 8))
    for (std::uint64_t w : words) {
      if (found.size() >= kCandidates) break;
      const Mapping* m = own_code(maps, w);
      if (m && after_call(t, w)) take(*m, w);
    }
  return found.empty() ? "" : sites::native_line(seq, true, found);
}

}  // namespace crashcheck::faults::seccomp
