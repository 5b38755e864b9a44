// The supervisor's view of syscalls.def: per system call number, what each
// argument is. Private to src/seccomp/.
#pragma once

#include <array>
#include <cstdint>

#include "crashcheck/faults.hpp"

namespace crashcheck::faults::seccomp {

// What one argument of a supervised call is (syscalls.def names them bare).
namespace role {
enum ArgRole : std::uint8_t {
  NONE,
  FD,        // the descriptor acted on (written, synced, closed…)
  DIRFD,     // base of PATH (AT_FDCWD: the cwd)
  PATH,      // the path acted on (rename/link: the source)
  DIRFD2,    // base of PATH2
  PATH2,     // rename/link/symlink: the new name
  TARGET,    // symlink: the text stored in the link
  BUF,       // bytes to write
  LEN,       // their length (also a range length)
  IOV,       // struct iovec array
  IOVCNT,    // its length
  OFF,       // explicit offset (pwrite, ranges) or new length (truncate)
  OFFPTR,    // loff_t* of the written side (copy_file_range, splice), may be NULL
  FDIN,      // the read side of sendfile/copy_file_range/splice
  OFFINPTR,  // its loff_t*, may be NULL
  FLAGS,     // open flags, renameat2/linkat/unlinkat flags, RWF_*, fallocate mode…
  MODE,      // creation or chmod mode
  HOW,       // openat2's struct open_how
  HOWSIZE,   // its size
  FDLAST,    // close_range's last descriptor
  ADDR,      // a mapping's address
  PROT,      // mmap protection
  UID,
  GID,
  OP,  // seccomp(2)'s operation
  ROLE_COUNT
};
}  // namespace role

struct SyscallEntry {
  int number;
  const SyscallInfo* info;
  std::array<role::ArgRole, 6> roles;
};

// The entry for a system call number; nullptr when it is not supervised.
const SyscallEntry* find_syscall(int number) noexcept;

}  // namespace crashcheck::faults::seccomp
