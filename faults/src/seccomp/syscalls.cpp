// supervised_syscalls() and the per-number lookup, both generated from
// syscalls.def.
#include "syscalls.hpp"

#include <sys/syscall.h>

#include <cerrno>
#include <span>

namespace crashcheck::faults {
namespace {

#define CC_UNPAREN(...) __VA_ARGS__
// one errno array per entry (a leading 0 keeps empty lists legal)
#define CC_SYSCALL(name, op, roles, errnos) constexpr int errnos_##name[] = {0, CC_UNPAREN errnos};
#define CC_SYSCALL_WHEN(name, op, roles, errnos, arg, value) CC_SYSCALL(name, op, roles, errnos)
#define CC_WATCH(name, roles) constexpr int errnos_##name[] = {0};
#define CC_REFUSE(name, error) constexpr int errnos_##name[] = {0, error};
#define CC_NOTE(name, roles) constexpr int errnos_##name[] = {0};
#include "syscalls.def"
#undef CC_SYSCALL
#undef CC_SYSCALL_WHEN
#undef CC_WATCH
#undef CC_REFUSE
#undef CC_NOTE

using Role = SyscallInfo::Role;
#define CC_SYSCALL(name, op, roles, errnos) \
  SyscallInfo{#name, Role::counted, OpClass::op, std::span<const int>(errnos_##name).subspan(1)},
#define CC_SYSCALL_WHEN(name, op, roles, errnos, arg, value) CC_SYSCALL(name, op, roles, errnos)
#define CC_WATCH(name, roles) SyscallInfo{#name, Role::watched, OpClass::open, {}},
#define CC_REFUSE(name, error) \
  SyscallInfo{#name, Role::refused, OpClass::open, std::span<const int>(errnos_##name).subspan(1)},
#define CC_NOTE(name, roles) SyscallInfo{#name, Role::noted, OpClass::open, {}},
const SyscallInfo syscall_infos[] = {
#include "syscalls.def"
};
#undef CC_SYSCALL
#undef CC_SYSCALL_WHEN
#undef CC_WATCH
#undef CC_REFUSE
#undef CC_NOTE

}  // namespace

std::span<const SyscallInfo> supervised_syscalls() noexcept { return syscall_infos; }

namespace seccomp {
namespace {

using namespace role;
#define CC_SYSCALL(name, op, roles, errnos) {SYS_##name, nullptr, {CC_UNPAREN roles}},
#define CC_SYSCALL_WHEN(name, op, roles, errnos, arg, value) CC_SYSCALL(name, op, roles, errnos)
#define CC_WATCH(name, roles) {SYS_##name, nullptr, {CC_UNPAREN roles}},
#define CC_REFUSE(name, error) {SYS_##name, nullptr, {}},
#define CC_NOTE(name, roles) {SYS_##name, nullptr, {CC_UNPAREN roles}},
SyscallEntry entries[] = {
#include "syscalls.def"
};
#undef CC_SYSCALL
#undef CC_SYSCALL_WHEN
#undef CC_WATCH
#undef CC_REFUSE
#undef CC_NOTE

constexpr int max_number = 512;

// number -> entry, built once (entries and syscall_infos are in the same order)
struct Index {
  std::array<const SyscallEntry*, max_number> by_number{};
  Index() {
    for (std::size_t i = 0; i < std::size(entries); ++i) {
      entries[i].info = &syscall_infos[i];
      if (entries[i].number >= 0 && entries[i].number < max_number) by_number[entries[i].number] = &entries[i];
    }
  }
};

}  // namespace

const SyscallEntry* find_syscall(int number) noexcept {
  static const Index index;
  return number >= 0 && number < max_number ? index.by_number[number] : nullptr;
}

}  // namespace seccomp
}  // namespace crashcheck::faults
