#include "text.hpp"

#include <algorithm>
#include <limits>
#include <cstdio>
#include <filesystem>

namespace crashcheck::reports::text {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the byte
// there does not start one (stray continuation, overlong form, surrogate,
// beyond U+10FFFF, truncated sequence).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

void append_hex_escape(std::string& out, unsigned char byte) {
  char buffer[5];
  std::snprintf(buffer, sizeof buffer, "\\x%02x", byte);
  out += buffer;
}

bool is_control(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F; }

// Walks `raw` by UTF-8 sequence; invalid bytes (and, when asked, controls)
// become "\xNN".
std::string sanitised(std::string_view raw, bool escape_controls) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t length = utf8_sequence_length(raw, i);
    const auto lead = static_cast<unsigned char>(raw[i]);
    if (length == 0 || (length == 1 && escape_controls && is_control(lead))) {
      append_hex_escape(out, lead);
      ++i;
    } else {
      out.append(raw.substr(i, length));
      i += length;
    }
  }
  return out;
}

}  // namespace

std::string displayable(std::string_view raw) { return sanitised(raw, true); }
std::string valid_utf8(std::string_view raw) { return sanitised(raw, false); }

std::string shortened(std::string_view raw, std::size_t limit) {
  std::string shown = displayable(raw);
  if (shown.size() <= limit) return shown;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;
  shown.resize(cut);
  return shown + "…";
}

std::string markup_escape(std::string_view raw) {
  std::string out;
  for (const char c : displayable(raw)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string markdown_inline(std::string_view raw) {
  // What can open emphasis, code, links, tables, headings, lists or
  // quotes; '(' and '!' are harmless once '[' is escaped.
  // '&' and '<' are escaped the same way (not as character references, which
  // read badly in the raw text): they could start an entity or an HTML tag.
  static constexpr std::string_view kPunctuation = "\\`*_[]#+-.|~><&";
  std::string out;
  for (const char c : displayable(raw)) {
    if (c == '\n' || c == '\t') {
      out += ' ';
    } else {
      if (kPunctuation.find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  return out;
}

std::string markdown_code_span(std::string_view raw) {
  std::string body = displayable(raw);
  std::replace(body.begin(), body.end(), '\n', ' ');
  std::replace(body.begin(), body.end(), '\t', ' ');
  std::size_t longest = 0, run = 0;
  for (const char c : body) {
    run = (c == '`') ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  // A span that starts or ends with a backtick needs a space inside each
  // delimiter (CommonMark strips exactly one from each side).
  const bool pad = body.empty() || body.front() == '`' || body.back() == '`' || body.front() == ' ';
  return fence + (pad ? " " : "") + body + (pad ? " " : "") + fence;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

std::string count_text(std::uint64_t count) {
  return count == std::numeric_limits<std::uint64_t>::max() ? "more than 10^19" : std::to_string(count);
}

std::string markdown_code_block(std::string_view raw, std::string_view language) {
  const std::string body = displayable(raw);
  std::size_t longest = 0, run = 0;
  for (const char c : body) {
    run = (c == '`') ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  return fence + std::string(language) + "\n" + body + "\n" + fence + "\n";
}

std::string new_content_words(const Subject& subject) {
  std::string out = subject.payload_given
                        ? subject.payload_file + " (" + std::to_string(subject.payload_size) + " bytes)"
                        : std::string("no payload: each run's own content");
  return out + (subject.compare == "json" ? ", compared as JSON values" : "");
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) out += (out.empty() ? "" : " ") + shell_quote(arg);
  return out;
}

}  // namespace crashcheck::reports::text

namespace crashcheck::reports {

std::string shell_quote(std::string_view arg) {
  static constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%{}";
  // bash expands a{b,c} and a{1..3}; "{target}" alone is left as it is
  const bool expands = arg.find('{') != std::string_view::npos &&
                       (arg.find(',') != std::string_view::npos || arg.find("..") != std::string_view::npos);
  if (!arg.empty() && !expands && arg.find_first_not_of(kPlain) == std::string_view::npos) return std::string(arg);
  std::string out = "'";
  for (const char c : arg) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace crashcheck::reports

namespace crashcheck::reports::text {

std::string state_summary(const FileState& state) {
  if (!state.exists) return "missing";
  std::string out = "exists, " + std::to_string(state.size) + " bytes";
  if (!state.mode.empty()) out += ", mode " + state.mode;
  if (!state.matches.empty()) out += ", matches " + state.matches;
  return out;
}

std::string site_label(std::string_view site) {
  const auto slash = site.rfind('/');
  return std::string(slash == std::string_view::npos ? site : site.substr(slash + 1));
}

std::string call_at_site(std::string_view call, std::string_view site) {
  if (site.empty()) return std::string(call);
  return site_label(site) + (call.empty() ? "" : " ") + std::string(call);
}

std::string failure_summary(const Failure& failure) {
  std::string out = failure.model;
  if (failure.call_index != 0) out += " at call " + std::to_string(failure.call_index);
  if (!failure.call.empty() || !failure.site.empty()) out += " " + call_at_site(failure.call, failure.site);
  if (!failure.fault.empty()) out += ": " + failure.fault;
  if (failure.target.matches.empty() && !failure.target.exists) {  // directory mode: no one target
    std::string names;
    for (const auto& name : failure.leftovers) names += (names.empty() ? "" : ", ") + name;
    out += " → the directory holds " + (names.empty() ? std::string("nothing") : names);
  } else {
    out += " → target " + state_summary(failure.target);
  }
  out += ", exit status " + std::to_string(failure.exit_status);
  return out;
}

std::size_t count_verdict(const Report& report, Verdict verdict) {
  return static_cast<std::size_t>(std::count_if(report.properties.begin(), report.properties.end(),
                                                [&](const auto& entry) { return entry.second.verdict == verdict; }));
}

std::vector<std::string> property_order(const Report& report) {
  std::vector<std::string> names(kProperties.begin(), kProperties.end());
  for (const auto& [name, result] : report.properties) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

const PropertyResult& result_of(const Report& report, const std::string& name) {
  static const PropertyResult kAbsent{Verdict::not_run, 0, {}, "not in the report", {}};
  const auto found = report.properties.find(name);
  return found == report.properties.end() ? kAbsent : found->second;
}

std::vector<FixLine> fix_lines(const Report& report) {
  const std::string language = fix_language(report.subject.command);
  std::vector<FixLine> out;
  for (const auto& name : property_order(report)) {
    const auto explains = [&](const Diagnosis& d) { return d.property == name; };
    const auto found = std::find_if(report.diagnoses.begin(), report.diagnoses.end(), explains);
    const bool failing = result_of(report, name).verdict == Verdict::fail;
    if (!failing && found == report.diagnoses.end()) continue;
    FixLine line{name, found == report.diagnoses.end() ? nullptr : &*found, "", ""};
    for (const auto& earlier : out)
      if (line.diagnosis && earlier.diagnosis && earlier.diagnosis->rule == line.diagnosis->rule &&
          earlier.same_as.empty())
        line.same_as = earlier.property;
    if (line.diagnosis) {
      const auto snippet = line.diagnosis->fix.find(language);
      line.snippet = snippet != line.diagnosis->fix.end() ? snippet->second : "";
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace crashcheck::reports::text

namespace crashcheck::reports {

std::string fix_language(const std::vector<std::string>& command) {
  if (command.empty()) return "c";
  const auto base = [](const std::string& arg) { return std::filesystem::path(arg).filename().string(); };
  const std::string program = base(command[0]);
  const std::string script = command.size() > 1 ? base(command[1]) : "";
  if (program.starts_with("python") || script.ends_with(".py")) return "python";
  if (program == "node" || program == "nodejs" || script.ends_with(".js")) return "node";
  if (program == "go") return "go";
  if (program == "sh" || program == "bash" || program == "dash" || program.ends_with(".sh")) return "sh";
  return "c";
}

std::vector<std::string> fix_summary(const Report& report) {
  std::vector<std::string> out;
  for (const auto& line : text::fix_lines(report)) {
    std::string text = line.property + " — Fix: ";
    if (!line.diagnosis) {
      out.push_back(text + std::string(text::kNoKnownPattern) + ".");
      continue;
    }
    const Diagnosis& d = *line.diagnosis;
    if (!line.same_as.empty()) {
      out.push_back(text + "as " + line.same_as + " (" + d.rule + ")");
      continue;
    }
    text += d.hint;
    if (d.call_index != 0)
      text += " At call " + std::to_string(d.call_index) + " " + text::call_at_site(d.call, d.site) + ":";
    if (!line.snippet.empty()) text += " " + line.snippet;
    out.push_back(text::displayable(text + " (" + d.rule + "; steps: " + std::string(kReferenceSteps) + ")"));
  }
  return out;
}

}  // namespace crashcheck::reports
