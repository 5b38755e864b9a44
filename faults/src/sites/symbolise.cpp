// Native call sites to "file:line" with libdw (elfutils): one Dwfl per
// module, opened the first time an address in it is asked for, the address
// taken as the module's own virtual address (a file offset is turned into
// one through the program headers). A call inlined from a system header
// (glibc's fortified open) is reported where it was inlined into.
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "sites.hpp"

namespace crashcheck::faults::sites {
namespace {

char* debuginfo_path = nullptr;
const Dwfl_Callbacks callbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo, dwfl_offline_section_address,
                                  &debuginfo_path};

struct DwflDeleter {
  void operator()(Dwfl* d) const { dwfl_end(d); }
};

// Sources that are not the writer's: a site there says nothing it can fix.
bool system_source(std::string_view file) {
  for (std::string_view prefix : {"/usr/include/", "/usr/lib/", "/usr/src/", "/usr/share/"})
    if (file.starts_with(prefix)) return true;
  return false;
}

struct Module {
  std::unique_ptr<Dwfl, DwflDeleter> dwfl;
  Dwfl_Module* mod = nullptr;
};

// The virtual address at file offset `offset`, from the PT_LOAD holding it.
std::optional<std::uint64_t> vaddr_of(Dwfl_Module* mod, std::uint64_t offset) {
  GElf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(mod, &bias);
  std::size_t count = 0;
  if (!elf || elf_getphdrnum(elf, &count) != 0) return std::nullopt;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD && offset >= ph.p_offset &&
        offset < ph.p_offset + ph.p_filesz)
      return ph.p_vaddr + (offset - ph.p_offset) + bias;
  }
  return std::nullopt;
}

// The scopes below `die` whose ranges hold `pc`, outermost first. Walked
// here rather than with dwarf_getscopes, which leaks on Go's units (found
// by LeakSanitizer).
void scopes_at(Dwarf_Die* die, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if ((tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
        dwarf_haspc(&child, pc) > 0) {
      chain.push_back(child);
      return scopes_at(&child, pc, chain);  // not &chain.back(): the vector may grow below
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

// Where an inlined call from a system header (or Go's standard library)
// was written by the writer: `cu` holds `pc`, an address of its own.
void outside_system_inlines(Dwarf_Die* cu, Dwarf_Addr pc, const char*& file, int& line) {
  Dwarf_Files* files = nullptr;
  std::size_t nfiles = 0;
  if (!cu || dwarf_getsrcfiles(cu, &files, &nfiles) != 0) return;
  std::vector<Dwarf_Die> chain;
  scopes_at(cu, pc, chain);
  for (auto scope = chain.rbegin(); scope != chain.rend() && system_source(file); ++scope) {  // innermost first
    if (dwarf_tag(&*scope) != DW_TAG_inlined_subroutine) continue;
    Dwarf_Attribute attr;
    Dwarf_Word index = 0, call_line = 0;
    if (dwarf_formudata(dwarf_attr(&*scope, DW_AT_call_file, &attr), &index) != 0 ||
        dwarf_formudata(dwarf_attr(&*scope, DW_AT_call_line, &attr), &call_line) != 0 || index >= nfiles)
      break;
    const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
    if (!name) break;
    file = name;
    line = static_cast<int>(call_line);
  }
}

// Go's linker writes no .debug_aranges, so libdw cannot find the unit
// holding an address: every unit's ranges are asked instead. Go names its
// files by absolute path.
std::string without_aranges(Dwfl_Module* mod, Dwarf_Addr pc) {
  Dwarf_Addr bias = 0;
  Dwarf* dwarf = dwfl_module_getdwarf(mod, &bias);
  if (!dwarf) return "";
  std::size_t header = 0;
  for (Dwarf_Off offset = 0, next = 0; dwarf_nextcu(dwarf, offset, &next, &header, nullptr, nullptr, nullptr) == 0;
       offset = next) {
    Dwarf_Die unit;
    if (!dwarf_offdie(dwarf, offset + header, &unit) || dwarf_haspc(&unit, pc - bias) <= 0) continue;
    Dwarf_Line* found = dwarf_getsrc_die(&unit, pc - bias);
    int line = 0;
    const char* file = found ? dwarf_linesrc(found, nullptr, nullptr) : nullptr;
    if (!file || dwarf_lineno(found, &line) != 0) return "";
    if (system_source(file)) outside_system_inlines(&unit, pc - bias, file, line);
    if (line <= 0 || system_source(file)) return "";
    return std::string(file) + ":" + std::to_string(line);
  }
  return "";
}

}  // namespace

struct Symboliser::Modules {
  std::map<std::string, Module> open;
};

Symboliser::Symboliser() : modules_(new Modules) {}
Symboliser::~Symboliser() { delete modules_; }

Dwfl_Module* Symboliser::module(const std::string& path) {
  auto [it, fresh] = modules_->open.try_emplace(path);
  Module& m = it->second;
  if (fresh) {
    m.dwfl.reset(dwfl_begin(&callbacks));
    if (!m.dwfl) return nullptr;
    dwfl_report_begin(m.dwfl.get());
    // base 0 and p_vaddr added: the module's addresses are its own virtual addresses
    m.mod = dwfl_report_elf(m.dwfl.get(), path.c_str(), path.c_str(), -1, 0, true);
    dwfl_report_end(m.dwfl.get(), nullptr, nullptr);
  }
  return m.mod;
}

std::optional<std::int64_t> Symboliser::frame_size(const std::string& path, std::uint64_t offset, bool return_address) {
#if defined(__x86_64__)
  constexpr Dwarf_Word kStackPointer = 7;  // DWARF's number for rsp
  Dwfl_Module* mod = module(path);
  const auto vaddr = mod ? vaddr_of(mod, offset) : std::nullopt;
  Dwarf_Addr bias = 0;
  Dwarf_CFI* cfi = mod ? dwfl_module_eh_cfi(mod, &bias) : nullptr;
  Dwarf_Frame* frame = nullptr;
  if (!vaddr || !cfi || dwarf_cfi_addrframe(cfi, *vaddr - bias - (return_address ? 1 : 0), &frame) != 0)
    return std::nullopt;
  std::unique_ptr<Dwarf_Frame, decltype(&std::free)> owned(frame, &std::free);
  Dwarf_Op* ops = nullptr;
  std::size_t count = 0;
  if (dwarf_frame_cfa(frame, &ops, &count) != 0 || count != 1 || ops[0].atom != DW_OP_bregx ||
      ops[0].number != kStackPointer)
    return std::nullopt;  // the frame is kept by another register (rbp): not known from sp alone
  return static_cast<std::int64_t>(ops[0].number2);
#else
  (void)path, (void)offset, (void)return_address;
  return std::nullopt;
#endif
}

std::string Symboliser::lookup(const std::string& module_path, bool file_offset, std::uint64_t address) {
  Dwfl_Module* mod = module(module_path);
  if (!mod || address == 0) return "";
  std::uint64_t vaddr = address;
  if (file_offset) {
    auto v = vaddr_of(mod, address);
    if (!v) return "";
    vaddr = *v;
  }
  const Dwarf_Addr pc = vaddr - 1;  // inside the call instruction, not after it
  Dwfl_Line* found = dwfl_module_getsrc(mod, pc);
  if (!found) return without_aranges(mod, pc);
  int line = 0;
  const char* file = dwfl_lineinfo(found, nullptr, &line, nullptr, nullptr, nullptr);
  if (!file || line <= 0) return "";
  if (Dwarf_Addr bias = 0; system_source(file))
    outside_system_inlines(dwfl_module_addrdie(mod, pc, &bias), pc - bias, file, line);
  // a relative name is relative to the directory the unit was compiled in
  std::filesystem::path path(file);
  const char* comp_dir = dwfl_line_comp_dir(found);
  if (path.is_relative() && comp_dir) path = (std::filesystem::path(comp_dir) / path).lexically_normal();
  if (system_source(path.string()) || line <= 0) return "";
  return path.string() + ":" + std::to_string(line);
}

namespace {
// An interpreter's own code wherever it was installed (pyenv, conda, a
// source build with debug info): its C sources say nothing about the script.
bool interpreter_object(std::string_view path) {
  const std::string_view name = path.substr(path.rfind('/') + 1);
  for (std::string_view stem : {"python", "libpython", "node", "libnode"}) {
    if (!name.starts_with(stem)) continue;
    const std::string_view rest = name.substr(stem.size());
    if (rest.empty() || std::isdigit(static_cast<unsigned char>(rest[0])) || rest[0] == '.') return true;
  }
  return path.find("/lib-dynload/") != std::string_view::npos;
}
}  // namespace

bool system_object(std::string_view path) {
  if (!path.starts_with('/')) return true;  // [vdso], anonymous (JIT) code
  if (interpreter_object(path)) return true;
  for (std::string_view prefix :
       {"/usr/lib/", "/usr/lib64/", "/lib/", "/lib64/", "/usr/libexec/", "/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"})
    if (path.starts_with(prefix)) return true;
  return false;
}

}  // namespace crashcheck::faults::sites
