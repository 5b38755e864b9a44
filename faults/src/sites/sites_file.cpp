// The sites file (sites.hpp): its lines, and attaching what they say to the
// trace once the run is over — each distinct native address symbolised once.
#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>
#include <unordered_map>

#include <cerrno>
#include <system_error>
#include "../shared.h"
#include "sites.hpp"

namespace crashcheck::faults::sites {
namespace {

std::string hex(std::uint64_t v) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, v, 16).ptr;
  return std::string(buf, end);
}

// Splits a line at tabs.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    const std::size_t tab = line.find('\t', at);
    out.push_back(line.substr(at, tab == std::string_view::npos ? std::string_view::npos : tab - at));
    if (tab == std::string_view::npos) return out;
    at = tab + 1;
  }
}

template <typename T>
bool number(std::string_view text, T& out, int base = 10) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::filesystem::path file_in(const std::filesystem::path& work_dir) { return work_dir / "sites"; }

std::string site_marker_literal() {
  std::string literal = "\"";
  for (char c : std::string_view(CC_SITE_MARKER)) literal += c == '\x01' ? std::string("\\x01") : std::string(1, c);
  return literal + "\"";
}

void write_hook(const std::filesystem::path& file, std::string_view source) {
  std::string text(source);
  text.replace(text.find("MARKER"), 6, site_marker_literal());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::system_error(errno, std::generic_category(), "writing " + file.string());
}

std::string src_line(std::uint32_t seq, std::string_view site) {
  return std::to_string(seq) + "\tsrc\t" + std::string(site) + "\n";
}

std::string native_line(std::uint32_t seq, bool file_offset, const std::vector<NativeAddress>& candidates) {
  std::string out = std::to_string(seq) + (file_offset ? "\tfile" : "\telf");
  for (const auto& c : candidates) out += "\t" + c.module + "\t" + hex(c.address);
  return out + "\n";
}

void attach(Trace& trace, const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return;  // a run that caught no site, or did not collect them
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  attach_lines(trace, text);
}

void attach_lines(Trace& trace, std::string_view lines) {
  std::unordered_map<std::uint32_t, std::string_view> raw;
  for (std::size_t at = 0; at < lines.size();) {
    const std::size_t end = std::min(lines.find('\n', at), lines.size());
    const std::string_view line = lines.substr(at, end - at);
    at = end + 1;
    const auto tab = line.find('\t');
    std::uint32_t seq = 0;
    if (tab != std::string_view::npos && number(line.substr(0, tab), seq)) raw[seq] = line.substr(tab + 1);
  }
  if (raw.empty()) return;
  Symboliser symboliser;
  std::map<std::tuple<std::string, bool, std::uint64_t>, std::string> resolved;
  for (TraceRecord& r : trace.records) {
    const auto found = raw.find(r.seq);
    if (found == raw.end()) continue;
    const auto f = fields(found->second);
    if (f.size() == 2 && f[0] == "src") {
      r.site = f[1];
      continue;
    }
    if (f[0] != "elf" && f[0] != "file") continue;
    for (std::size_t i = 1; i + 1 < f.size() && r.site.empty(); i += 2) {
      std::uint64_t address = 0;
      if (!number(f[i + 1], address, 16)) break;
      if (system_object(f[i])) continue;  // the preload agent records the caller's module unfiltered
      auto key = std::make_tuple(std::string(f[i]), f[0] == "file", address);
      auto [it, fresh] = resolved.try_emplace(key);
      if (fresh) it->second = symboliser.lookup(std::get<0>(key), std::get<1>(key), address);
      r.site = it->second;
    }
  }
}

}  // namespace crashcheck::faults::sites
