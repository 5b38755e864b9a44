#include "crashcheck/runner/scratch_case.hpp"

#include <crashcheck/reference.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <sys/stat.h>
#include <system_error>

#include "crashcheck/runner/scenario.hpp"

namespace crashcheck::runner {
namespace fs = std::filesystem;
namespace {

constexpr std::uintmax_t kMaxSnapshotBytes = 256u << 20;  // a runaway subject must not exhaust memory

constexpr std::size_t kShareAtLeast = 64 << 10;  // smaller files are cheaper copied than compared first

// Whether the file holds `bytes`, read a piece at a time: a file that is the
// payload is then held as the payload's buffer, not as a copy of it.
bool file_holds(const fs::path& file, const std::string& bytes) {
  std::ifstream in(file, std::ios::binary);
  std::string piece(std::min<std::size_t>(bytes.size(), 1 << 20), '\0');
  for (std::size_t at = 0; at < bytes.size(); at += piece.size()) {
    const std::size_t n = std::min(piece.size(), bytes.size() - at);
    if (!in.read(piece.data(), static_cast<std::streamsize>(n)) || bytes.compare(at, n, piece.data(), n) != 0)
      return false;
  }
  return in.peek() == std::char_traits<char>::eof();  // no more bytes than when it was stat'ed
}

SharedBytes file_content(const fs::path& file, std::size_t size) {
  if (size >= kShareAtLeast)
    for (auto& known : faults::known_bytes_of_size(size))
      if (file_holds(file, *known)) return SharedBytes(std::move(known));
  return read_file(file).value_or("");
}

Entry entry_at(const fs::directory_entry& item, bool with_content) {
  Entry e;
  struct stat st {};
  if (::lstat(item.path().c_str(), &st) != 0) return e;
  e.mode = st.st_mode & 07777;
  e.inode = st.st_ino;
  e.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  e.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  if (S_ISREG(st.st_mode)) {
    e.kind = Entry::Kind::file;
    if (with_content && static_cast<std::uintmax_t>(st.st_size) <= kMaxSnapshotBytes)
      e.content = file_content(item.path(), static_cast<std::size_t>(st.st_size));
  } else if (S_ISDIR(st.st_mode)) {
    e.kind = Entry::Kind::directory;
  } else if (S_ISLNK(st.st_mode)) {
    e.kind = Entry::Kind::symlink;
    std::error_code ec;
    e.content = fs::read_symlink(item.path(), ec).string();
  } else {
    e.kind = Entry::Kind::other;
  }
  return e;
}

bool is_proper_prefix(const std::string& part, const std::optional<std::string>& whole) {
  return whole && part.size() < whole->size() && whole->compare(0, part.size(), part) == 0;
}

// What a file holds, against the contents. Without a known new content
// (a case that broke off its recipe) a state is still old, or torn when it
// is a prefix of what the run wrote so far; anything else is "other" here
// and new_unknown says it was not judged.
reports::Outcome file_outcome(const Entry& target, const Contents& contents) {
  using reports::Outcome;
  const std::string& bytes = target.content;
  if (target.kind != Entry::Kind::file) return Outcome::other;
  if (!contents.unknown_new && same_content(bytes, contents.new_bytes, contents.compare)) return Outcome::new_content;
  if (contents.old_bytes && bytes == *contents.old_bytes) return Outcome::old_content;
  if (is_proper_prefix(bytes, contents.old_bytes)) return Outcome::torn;
  if (!contents.unknown_new) return is_proper_prefix(bytes, contents.new_bytes) ? Outcome::torn : Outcome::other;
  const std::optional<std::string> partial = contents.partial_new;
  return contents.partial_is_prefix && (bytes == *partial || is_proper_prefix(bytes, partial)) ? Outcome::torn
                                                                                               : Outcome::other;
}

}  // namespace

const std::string& SharedBytes::none() {
  static const std::string none;
  return none;
}

std::string escape_bytes(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

namespace {

std::string printable_excerpt(const std::string& bytes) {
  const auto escape = escape_bytes;
  // Head and tail: a torn file is recognised by where it ends.
  if (bytes.size() <= 64) return escape(bytes);
  return escape(std::string_view(bytes).substr(0, 30)) + " … " +
         escape(std::string_view(bytes).substr(bytes.size() - 30));
}

std::string hex_prefix(const std::string& bytes) {
  std::string out;
  char hex[4];
  for (std::size_t i = 0; i < bytes.size() && i < 32; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(bytes[i]));
    out += hex;
  }
  return out;
}

void write_case_file(const fs::path& file, std::string_view bytes, mode_t mode) {
  WriteOptions options;
  options.durability = Durability::no_sync;  // scratch files need no durability
  options.new_file_mode = mode;
  if (auto error = write_file_atomic(file, bytes, options))
    throw std::system_error(error.code, file.string() + ": " + error.message());
  fs::permissions(file, static_cast<fs::perms>(mode), fs::perm_options::replace);
}

}  // namespace

const Entry* Snapshot::find(const std::string& name) const {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

std::vector<std::string> Snapshot::added_since(const Snapshot& before, const std::string& ignore) const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries) {
    if (name == ignore) continue;
    const Entry* was = before.find(name);
    if (!was || !(*was == entry)) out.push_back(name);
  }
  return out;
}

Snapshot take_snapshot(const fs::path& dir, const std::optional<std::string>& content_only_of) {
  Snapshot snapshot;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) snapshot.directory_inode = st.st_ino;
  std::error_code ec;
  // Entries are named by their place, cut from the iterator's own spelling:
  // fs::relative would resolve a symlink and name `CUR -> data-1.bin` after
  // its target, losing the link from every state a checker sees.
  const std::size_t prefix = dir.native().size();
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().native().substr(prefix);
    if (name.starts_with('/')) name.erase(0, 1);
    snapshot.entries[name] = entry_at(*it, !content_only_of || name == *content_only_of);
  }
  return snapshot;
}

void release_contents(Snapshot& snapshot, const std::string& keep) {
  for (auto& [name, entry] : snapshot.entries)
    if (entry.kind == Entry::Kind::file && name != keep) entry.content = SharedBytes();
}

reports::FileState describe_target(const Entry* target, const Contents& contents) {
  reports::FileState state;
  if (!target) {
    state.matches = reports::outcome_name(reports::Outcome::missing);
    return state;
  }
  state.exists = true;
  state.size = target->content.size();
  state.mode = format_mode(target->mode);
  state.excerpt = printable_excerpt(target->content);
  state.excerpt_hex = hex_prefix(target->content);
  state.matches = reports::outcome_name(file_outcome(*target, contents));
  return state;
}

bool new_unknown(const reports::FileState& state, const Contents& contents) {
  return contents.unknown_new && !contents.short_yet_succeeded && state.is(reports::Outcome::other);
}

bool is_old_or_new(const reports::FileState& state, const Contents& contents) {
  using reports::Outcome;
  if (state.is(Outcome::new_content) || state.is(Outcome::old_content)) return true;
  return state.is(Outcome::missing) && !contents.old_bytes;  // no old file: "missing" is the old state
}

namespace {

fs::path make_agent_files_dir(const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

void remove_tree(const fs::path& root) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(root, ec);
}

ScratchCase::ScratchCase(const fs::path& parent, const fs::path& backend_parent, const std::string& id,
                         const std::string& target, const Contents& contents)
    : root_(parent / id), target_name_(target) {
  fs::remove_all(root_);
  fs::create_directories(scratch());
  fs::create_directories(temp_dir());
  fs::create_directories(root_ / "harness");
  agent_files_ = make_agent_files_dir(backend_parent.empty() ? root_ / "harness" / "backend" : backend_parent / id);
  if (contents.old_bytes) write_case_file(this->target(), *contents.old_bytes, contents.old_mode);
  if (!contents.initial_dir.empty())  // directory mode: the whole initial directory, modes kept
    fs::copy(contents.initial_dir, scratch(), fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  // A view either way: `cond ? str() : std::string()` would copy the payload per case.
  write_case_file(payload(), contents.from_payload ? std::string_view(contents.new_bytes) : std::string_view(), 0600);
  initial_ = take_snapshot(scratch());
}

ScratchCase::~ScratchCase() {
  remove_tree(root_);
  remove_tree(agent_files_);
}

std::vector<std::string> ScratchCase::outside_writes() const {
  // Names only, and never below scratch/ or harness/: this runs after every case.
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = fs::relative(it->path(), root_, ec).string();
    if (name == "scratch" || name == "harness") it.disable_recursion_pending();
    if (name == "scratch" || name == "harness" || name == "tmp") continue;
    out.push_back(name);  // tmp/<anything> included
  }
  return out;
}

}  // namespace crashcheck::runner
