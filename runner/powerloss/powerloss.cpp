#include "crashcheck/powerloss.hpp"

#include "model.hpp"
#include "point.hpp"
#include "space.hpp"

#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <unordered_set>

namespace crashcheck::powerloss {
namespace {

using detail::Choice;
using detail::Decoded;
using detail::Directory;
using detail::PointModel;

// A state read lazily from its crash point's model.
class StateView final : public CrashState {
 public:
  // `complete`, when given, yields the state's full choice: a sampled choice
  // leaves the blocks past a file's length undrawn, and only what the state
  // lost depends on them.
  StateView(const PointModel& model, const Decoded& state, const Directory& overlay, std::uint64_t index,
            const std::function<Decoded()>* complete = nullptr)
      : model_(model), state_(state), overlay_(overlay), index_(index), complete_(complete) {}

  std::vector<std::string> names() const override { return model_.names(overlay_); }
  bool contains(std::string_view name) const override { return model_.find(overlay_, name) != nullptr; }
  std::optional<FileImage> file(std::string_view name) const override {
    const detail::Entry* entry = model_.find(overlay_, name);
    if (entry == nullptr) return std::nullopt;
    return FileImage{entry->is_directory, model_.mode(state_, entry->inode),
                     entry->is_directory ? std::string() : model_.content(state_, entry->inode)};
  }
  bool content_equals(std::string_view name, std::string_view expected) const override {
    const detail::Entry* entry = model_.find(overlay_, name);
    return entry != nullptr && !entry->is_directory && model_.content_equals(state_, entry->inode, expected);
  }
  std::string lost() const override { return complete_ != nullptr ? model_.lost((*complete_)()) : model_.lost(state_); }
  std::uint64_t index() const override { return index_; }
  bool same_in_every_state(std::string_view name) const override { return model_.same_in_every_state(name); }

 private:
  const PointModel& model_;
  const Decoded& state_;
  const Directory& overlay_;  // entries of the names pending entry ops touched
  std::uint64_t index_;
  const std::function<Decoded()>* complete_;
};

void check_options(const Options& options) {
  if (options.block_size == 0) throw std::invalid_argument("power-loss block size must be positive");
  if (options.max_states_per_point < 2) {
    throw std::invalid_argument(
        "max states per crash point must be at least 2 (the last-synced and the fully persisted state)");
  }
}

// Choices are enumerated in full when there are at most this many times the
// budget: the distinct states are then known exactly, and a sample of them
// is drawn; above it, seeded random choices are drawn directly.
constexpr std::uint64_t kEnumerableFactor = 16;

// A distinct state, kept as its choice (decoded again, in place, when
// visited), in the crash point's arena.
struct Found {
  std::pmr::vector<std::uint32_t> choice;
  const detail::Overlay* overlay;       // shared by every state that kept the same entry ops
  std::optional<detail::Rng> drawn_by;  // sampled: the generator before its draw (redraws it in full)
};

// Seeded Fisher-Yates with our own index draw: the same seed gives the same
// sample with any standard library.
template <class It>
void seeded_shuffle(It first, It last, detail::Rng& rng) {
  for (auto n = last - first; n > 1; --n)
    std::iter_swap(first + (n - 1), first + static_cast<std::ptrdiff_t>(rng() % n));
}

// Visits the distinct states of one crash point: first the "prefix" states
// (the first k unsynced ops persisted: k = 0 is the last-synced state, k = all
// the fully persisted one), then the rest of the reachable states, or, when
// there are more than the budget, a seeded sample of them.
Coverage explore_point(const detail::Replay& replay, detail::FileModelCache& cache, Coverage coverage,
                       const Options& options, const StateVisitor& visit) {
  PointModel model(replay.snapshot(), options.block_size, cache);
  auto space = detail::make_space(model, options.profile);
  const auto count = space->count();
  const std::uint64_t budget = options.max_states_per_point;

  // What one crash point keeps lives and dies with it: one arena, no
  // allocation per state.
  std::pmr::monotonic_buffer_resource arena;
  std::pmr::unordered_set<std::uint64_t> seen(&arena);
  std::vector<Found> found;
  auto kept = [&](const Choice& choice) {
    return std::pmr::vector<std::uint32_t>(choice.begin(), choice.end(), &arena);
  };
  // The overlay depends only on which pending entry ops persisted, and a
  // crash point has few of those: build each once, not once per state.
  std::map<std::vector<std::uint8_t>, detail::Overlay> overlays;
  Decoded state;  // decoded in place: a choice already seen costs no allocation
  auto overlay_of = [&](const Decoded& kept_entries) -> const detail::Overlay& {
    auto overlay = overlays.find(kept_entries.entry_kept);
    if (overlay == overlays.end())
      overlay = overlays.emplace(kept_entries.entry_kept, model.overlay(kept_entries)).first;
    return overlay->second;
  };
  // The overlay of the state `choice` makes if that state was not seen yet, else nullptr.
  auto if_new = [&](const Choice& choice) -> const detail::Overlay* {
    space->decode(choice, state);
    const auto& overlay = overlay_of(state);
    return seen.insert(model.hash(state, overlay)).second ? &overlay : nullptr;
  };
  auto keep_if_new = [&](const Choice& choice) {
    if (const auto* overlay = if_new(choice)) found.push_back({kept(choice), overlay, std::nullopt});
  };
  const std::size_t pending = model.pending().size();
  const std::size_t prefixes = std::min<std::size_t>(pending + 1, std::max<std::uint64_t>(2, budget / 2));
  Choice choice;
  for (std::size_t i = 0; i < prefixes; ++i) {
    space->prefix(prefixes == 1 ? 0 : i * pending / (prefixes - 1), choice);
    keep_if_new(choice);
  }
  const auto canonical = static_cast<std::ptrdiff_t>(found.size());

  detail::Rng rng(detail::mix(options.seed, coverage.after_seq));
  detail::Shape shape;  // sampling only
  if (count.exact && count.value <= kEnumerableFactor * budget) {
    detail::for_each_choice(*space, keep_if_new);
    coverage.total = found.size();
    coverage.total_exact = true;
    coverage.sampled = found.size() > budget;
    if (coverage.sampled) {
      seeded_shuffle(found.begin() + canonical, found.end(), rng);
      found.resize(budget);
    }
  } else {
    // Too many to enumerate: `total` counts combinations of choices, an
    // upper bound on distinct states.
    coverage.sampled = true;
    coverage.total = count.value;
    coverage.total_exact = false;
    shape = detail::shape_of(*space);
    std::vector<detail::Deferred> deferred;
    // A file no entry of the state names adds nothing to it: its dimensions
    // are left undrawn (a crash point before a new file's name persisted
    // draws no block of it in the many states that lost the name).
    Decoded entries;
    const detail::Named named = [&](std::size_t file, const Choice& earlier) {
      space->decode_entries(earlier, entries);
      return overlay_of(entries).named[file];
    };
    for (std::uint64_t attempt = 0; attempt < 8 * budget && found.size() < budget; ++attempt) {
      const detail::Rng before = rng;
      detail::random_choice(*space, shape, rng, choice, deferred, &named);
      if (const auto* overlay = if_new(choice)) found.push_back({kept(choice), overlay, before});
    }
  }
  coverage.explored = found.size();
  const Found* visiting = nullptr;
  const std::function<Decoded()> redraw = [&] {  // the visited sampled state, every dimension drawn
    detail::Rng again = *visiting->drawn_by;
    Choice full;
    std::vector<detail::Deferred> deferred;
    detail::random_choice(*space, shape, again, full, deferred);
    detail::draw_deferred(shape, deferred, full);
    Decoded decoded;
    space->decode(full, decoded);
    return decoded;
  };
  for (std::size_t i = 0; i < found.size(); ++i) {
    visiting = &found[i];
    space->decode(found[i].choice, state);
    visit(coverage, StateView(model, state, found[i].overlay->dir, i, found[i].drawn_by ? &redraw : nullptr));
  }
  return coverage;
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view text) {
  if (text == "posix") return Profile::posix;
  if (text == "ext4-ordered") return Profile::ext4_ordered;
  return std::nullopt;
}

std::string_view profile_name(Profile profile) noexcept {
  return profile == Profile::ext4_ordered ? "ext4-ordered" : "posix";
}

std::string Coverage::describe() const {
  std::string text = after_seq == 0 ? "before the first call" : "after #" + std::to_string(after_seq) + " " + call;
  text += ": " + std::to_string(explored) + " of ";
  // The count saturates at 2^64 - 1: printed, that number would read as a
  // real count, so a saturated one says only how large it is at least.
  if (total == std::numeric_limits<std::uint64_t>::max())
    text += "more than 10^19";
  else
    text += total_exact ? std::to_string(total) : "at most " + std::to_string(total);
  text += " states";
  if (sampled) text += " (sampled)";
  return text;
}

namespace {

// Whether `r` changes the bytes or the size of a file, or syncs it: a store
// through a mapping that the next record of that file shows cannot have
// reached the disk before such a call (it had its own bytes to write, or
// synced what was there).
bool bounds_stores(const faults::TraceRecord& r) {
  using faults::OpClass;
  if (r.op == OpClass::sync) return r.call != "sync_file_range";  // which promises nothing
  return r.op == OpClass::write || r.op == OpClass::truncate || r.op == OpClass::allocate ||
         (r.op == OpClass::open && (r.created || (r.flags & O_TRUNC) != 0));
}

// A sync of the mapped file that already saw these stores: the seccomp
// supervisor records the mapped range as it is at an fsync/fdatasync, and
// when it holds the stores' bytes they were made before that sync, which
// wrote them back (fsync(2) writes back pages dirtied through a mapping).
bool synced_with_stores(const faults::TraceRecord& sync, const faults::TraceRecord& stores) {
  if (sync.op != faults::OpClass::sync || sync.data.empty() || sync.offset < 0 || stores.offset < sync.offset)
    return false;
  const auto at = static_cast<std::size_t>(stores.offset - sync.offset);
  return at + stores.data.size() <= sync.data.size() && sync.data.compare(at, stores.data.size(), stores.data) == 0;
}

}  // namespace

std::vector<StoreWindow> store_windows(const faults::Trace& trace) {
  std::vector<StoreWindow> out;
  const auto& records = trace.records;
  for (std::size_t n = 0; n < records.size(); ++n) {
    const auto& stores = records[n];
    if (!faults::is_mapped_store(stores) || stores.error != 0 || stores.data.empty()) continue;
    std::size_t start = 0;  // records applied before the stores count
    for (std::size_t j = n; j-- > 0;) {
      const auto& r = records[j];
      if (r.error != 0) continue;
      if (r.op == faults::OpClass::sync_all) {
        start = j + 1;
        break;
      }
      if (r.inode != stores.inode || synced_with_stores(r, stores)) continue;
      if (bounds_stores(r)) {
        start = j + 1;
        break;
      }
      if (r.op == faults::OpClass::open) start = j + 1;  // the earliest open of the file so far
    }
    out.push_back({start, n});
  }
  return out;
}

std::vector<Coverage> for_each_state(const faults::Trace& trace, const InitialState& initial, const Options& options,
                                     const StateVisitor& visit) {
  check_options(options);
  detail::Replay replay(initial, options.profile);
  detail::FileModelCache cache;
  std::multimap<std::size_t, std::size_t> windows;  // records applied -> the stores that may be early from then
  for (const auto& w : store_windows(trace)) windows.emplace(w.opens_after, w.record);
  auto open_windows = [&](std::size_t applied) {
    for (auto [it, end] = windows.equal_range(applied); it != end; ++it) replay.apply_early(trace.records[it->second]);
  };
  open_windows(0);
  std::vector<Coverage> points{explore_point(replay, cache, Coverage{}, options, visit)};
  for (std::size_t i = 0; i < trace.records.size(); ++i) {
    const auto& record = trace.records[i];
    replay.apply(record);
    open_windows(i + 1);
    Coverage start;
    start.after_seq = record.seq;
    start.call = record.call;
    points.push_back(explore_point(replay, cache, start, options, visit));
  }
  return points;
}

bool failed_file_sync(const faults::TraceRecord& record) noexcept {
  return record.error != 0 && record.op == faults::OpClass::sync && !record.is_directory &&
         record.call != "sync_file_range";  // which promises nothing, failed or not
}

std::map<std::string, FileImage> visible_state(const faults::Trace& trace, const InitialState& initial) {
  // the profile shapes what survives, not what is seen
  detail::Replay replay(initial, Profile::posix, detail::Replay::Visible::bytes);
  replay.expect_extents(trace);
  for (const auto& record : trace.records) replay.apply(record);
  return replay.take_visible();
}

namespace {

// The views of copied images (a cut of a record that is not a plain write).
std::map<std::string, SeenFile> views_of(const std::map<std::string, FileImage>& images) {
  std::map<std::string, SeenFile> out;
  for (const auto& [name, image] : images) out.emplace(name, SeenFile{image.is_directory, image.mode, image.content});
  return out;
}

// The first `bytes` of the record's data, from `applied` on, written at its offset.
detail::Op part_of(const faults::TraceRecord& record, std::uint64_t applied, std::uint64_t upto) {
  detail::Op next;
  next.kind = detail::Op::Kind::write;
  next.offset = static_cast<std::uint64_t>(std::max<std::int64_t>(record.offset, 0)) + applied;
  next.bytes = std::string_view(record.data).substr(applied, upto - applied);  // the trace outlives the op
  return next;
}

// Visits the cuts of one record, ascending by bytes. `seen` starts as the
// state before the record; each cut applies the record's next bytes to the
// changed files, so the whole call costs its own bytes, not a copy of the
// directory per cut.
template <typename It>
It visit_cuts(It cut, It end, const faults::TraceRecord& record, std::map<std::string, FileImage> seen,
              const std::vector<std::string>& changed, const CutVisitor& visit) {
  std::uint64_t applied = 0;
  for (; cut != end && cut->seq == record.seq; ++cut) {
    const std::uint64_t upto = std::max(applied, std::min<std::uint64_t>(cut->bytes, record.data.size()));
    const detail::Op next = part_of(record, applied, upto);
    for (const auto& name : changed) detail::apply_data_op(next, seen[name].content);
    applied = upto;
    visit(*cut, views_of(seen));
  }
  return cut;
}

// The same for a plain write, in the replay's own bytes: the written range
// is put back as it was before the call, each cut writes the call's next
// bytes, and the end puts the call's whole effect back. It costs the range
// written, not a copy of the file (a 200 MiB file written in 8 MiB writes).
template <typename It>
It visit_cuts_in_place(It cut, It end, const faults::TraceRecord& record, detail::Replay& replay,
                       const CutVisitor& visit) {
  const auto start = static_cast<std::uint64_t>(record.offset);
  const auto range = [&](const std::string* file) {
    return file && start < file->size() ? file->substr(start, record.data.size()) : std::string();
  };
  std::string* file = replay.written_file(record);
  const std::uint64_t old_size = file ? file->size() : 0;
  const std::string old_range = range(file);
  replay.apply(record);
  file = replay.written_file(record);
  if (!file) {  // nothing written after all: every cut sees the state as it is
    for (const auto seen = replay.views(); cut != end && cut->seq == record.seq; ++cut) visit(*cut, seen);
    return cut;
  }
  const std::uint64_t new_size = file->size();
  const std::string new_range = range(file);
  file->replace(start, old_range.size(), old_range);
  file->resize(old_size);
  const auto seen = replay.views();  // views of the bytes changed in place below
  std::uint64_t applied = 0;
  for (; cut != end && cut->seq == record.seq; ++cut) {
    const std::uint64_t upto = std::max(applied, std::min<std::uint64_t>(cut->bytes, record.data.size()));
    detail::apply_data_op(part_of(record, applied, upto), *file);
    applied = upto;
    visit(*cut, seen);
  }
  file->resize(new_size);
  file->replace(start, new_range.size(), new_range);
  return cut;
}

// A successful write of bytes at a known offset, not stores through a
// mapping (applied early, at their window's start).
bool plain_write(const faults::TraceRecord& record) {
  return record.op == faults::OpClass::write && record.error == 0 && record.offset >= 0 && !record.data.empty() &&
         !faults::is_mapped_store(record);
}

}  // namespace

void for_each_cut(const faults::Trace& trace, const InitialState& initial, const std::vector<Cut>& given,
                  const CutVisitor& visit) {
  std::vector<Cut> cuts = given;
  std::sort(cuts.begin(), cuts.end(),
            [](const Cut& a, const Cut& b) { return std::pair(a.seq, a.bytes) < std::pair(b.seq, b.bytes); });
  detail::Replay replay(initial, Profile::posix, detail::Replay::Visible::bytes);  // what is seen, as in visible_state
  replay.expect_extents(trace);
  auto cut = cuts.begin();
  for (const auto& record : trace.records) {
    while (cut != cuts.end() && cut->seq < record.seq) ++cut;  // names no call of this trace
    if (cut == cuts.end()) return;
    if (cut->seq != record.seq) {
      replay.apply(record);
      continue;
    }
    const auto here = std::find_if(cut, cuts.end(), [&](const Cut& c) { return c.seq != record.seq; });
    if (std::all_of(cut, here, [](const Cut& c) { return c.bytes == 0; })) {  // before the call: no copy at all
      for (const auto seen = replay.views(); cut != here; ++cut) visit(*cut, seen);
      replay.apply(record);
      continue;
    }
    if (plain_write(record)) {
      cut = visit_cuts_in_place(cut, cuts.end(), record, replay, visit);
      continue;
    }
    auto before = replay.visible();
    replay.apply(record);
    const auto changed = replay.changed_since(before);
    cut = visit_cuts(cut, cuts.end(), record, std::move(before), changed, visit);
  }
}

std::vector<CrashPoint> enumerate(const faults::Trace& trace, const InitialState& initial, const Options& options) {
  std::vector<CrashPoint> points;
  auto coverage = for_each_state(trace, initial, options, [&](const Coverage& point, const CrashState& state) {
    if (points.empty() || points.back().coverage.after_seq != point.after_seq ||
        points.back().coverage.call != point.call) {
      points.push_back(CrashPoint{point, {}});
    }
    DirectoryState materialised;
    for (const auto& name : state.names()) materialised.entries.emplace(name, *state.file(name));
    materialised.lost = state.lost();
    points.back().states.push_back(std::move(materialised));
  });
  for (std::size_t i = 0; i < coverage.size(); ++i) points[i].coverage = coverage[i];
  return points;
}

}  // namespace crashcheck::powerloss
