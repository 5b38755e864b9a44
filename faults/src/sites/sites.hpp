// Call sites (faults/README.md, "Call sites"): where the subject made each
// counted call. A run with RunSetup::sites leaves a sites file next to its
// trace, one line per counted call whose site was caught:
//   <seq>\tsrc\t<file>:<line>            announced by the subject itself (the Python hook)
//   <seq>\telf\t<module>\t<hex>          a return address, as the module's virtual address (preload agent)
//   <seq>\tfile\t<module>\t<hex>…        return addresses, as offsets into their modules' files (seccomp),
//                                      innermost first, more <module>\t<hex> pairs after the first; the
//                                      first one with a line outside the system's sources is the site
// After the run, attach() reads it, symbolises each distinct address once
// (libdw) and fills TraceRecord::site. Private to faults/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashcheck/faults.hpp"
#include "crashcheck/faults/backend.hpp"

struct Dwfl_Module;

namespace crashcheck::faults::sites {

// The file a run's sites go to, in its work directory.
std::filesystem::path file_in(const std::filesystem::path& work_dir);

// One line of the sites file (the agent writes the same format in C).
std::string src_line(std::uint32_t seq, std::string_view site);
struct NativeAddress {
  std::string module;  // ELF file
  std::uint64_t address = 0;
};
std::string native_line(std::uint32_t seq, bool file_offset, const std::vector<NativeAddress>& candidates);

// Reads `file` (absent: nothing to do) and gives every record of `trace`
// whose call has a line its site, "file:line", or none when the address has
// no line information (no debug info, a system library's source).
void attach(Trace& trace, const std::filesystem::path& file);
void attach_lines(Trace& trace, std::string_view lines);  // the same over the file's text

// The "file:line" of the call instruction before return address `address`
// in `module` (an ELF file), "" when unknown. Each module is opened once.
class Symboliser {
 public:
  Symboliser();
  ~Symboliser();
  Symboliser(const Symboliser&) = delete;
  Symboliser& operator=(const Symboliser&) = delete;
  std::string lookup(const std::string& module, bool file_offset, std::uint64_t address);
  // How far above the stack pointer the frame of the code at file offset
  // `offset` of `module` begins (its canonical frame address, from the
  // module's .eh_frame), when that frame is the stack pointer plus a
  // constant there; nullopt otherwise. `return_address`: `offset` follows
  // a call (it is looked up one byte back).
  std::optional<std::int64_t> frame_size(const std::string& module, std::uint64_t offset, bool return_address);

 private:
  struct Modules;
  Modules* modules_;
  Dwfl_Module* module(const std::string& path);  // opened once, null when it cannot be
};

// Python subjects: a sitecustomize hook (written into `work_dir`, put on
// PYTHONPATH) that announces the innermost frame outside the standard library
// before each file call, through the CC_SITE_MARKER open both backends catch.
void add_python_hook(Launch& launch, const std::filesystem::path& work_dir);

// Node subjects (argv[0] named node or nodejs, 18.19/20.6 or later): an ES
// module imported first (NODE_OPTIONS=--import of a data: URL) that
// announces the same way before each synchronous fs call.
void add_node_hook(Launch& launch, const std::filesystem::path& work_dir);

// CC_SITE_MARKER as a string literal ("\x01" reads the same in Python and
// JavaScript), for a hook's MARKER placeholder.
std::string site_marker_literal();
// Writes a hook's `source` to `file`, its MARKER placeholder replaced.
void write_hook(const std::filesystem::path& file, std::string_view source);

// Both hooks: whichever interpreter the subject runs picks up its own.
inline void add_interpreter_hooks(Launch& launch, const std::filesystem::path& work_dir) {
  add_python_hook(launch, work_dir);
  add_node_hook(launch, work_dir);
}

// A mapping path whose code is not the writer's own: system libraries and
// interpreters (/usr/lib, /lib, /usr/bin …, and python*/libpython*/node*
// wherever installed). Native sites skip them.
bool system_object(std::string_view path);

}  // namespace crashcheck::faults::sites
