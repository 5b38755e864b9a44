// pause_check.hpp says why; this is how: a print per pause, then one replay
// of the trace cut before each checked pause's call.
#include "pause_check.hpp"

#include <crashcheck/powerloss.hpp>

#include <fcntl.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "crashcheck/runner/power_loss.hpp"

namespace crashcheck::runner {
namespace pl = powerloss;

PausePrints::EntryPrint PausePrints::print_of(const std::string& name, Entry::Kind kind, mode_t mode,
                                              std::string_view bytes) const {
  EntryPrint print{kind, static_cast<mode_t>(mode & 07777u)};
  if (name == target_ && kind == Entry::Kind::file)
    print.size = bytes.size(), print.hash = std::hash<std::string_view>{}(bytes);
  return print;
}

void PausePrints::add(std::uint32_t call, const Snapshot& now) {
  stamps_[call] = stamps_of(now);
  DirectoryPrint& print = prints_[call];
  for (const auto& [name, entry] : now.entries)
    print[name] = print_of(name, entry.kind == Entry::Kind::directory ? Entry::Kind::directory : Entry::Kind::file,
                           entry.mode, entry.content);
}

std::string PausePrints::difference(const DirectoryPrint& seen, const DirectoryPrint& traced) const {
  for (const auto& [name, print] : seen) {
    const auto other = traced.find(name);
    if (other == traced.end()) return "`" + name + "` exists, but no traced call before it made it";
    if (other->second.kind != print.kind) return "`" + name + "` is another kind of entry than its trace made";
    if (other->second.mode != print.mode) return "`" + name + "` has another mode than its trace says";
    if (other->second.size != print.size)
      return "`" + name + "` holds " + std::to_string(print.size) + " bytes, its trace " +
             std::to_string(other->second.size);
    if (other->second.hash != print.hash) return "`" + name + "` holds other bytes than its trace wrote";
  }
  for (const auto& [name, print] : traced)  // a pause sees the scratch directory; the trace also names files outside it
    if (!faults::outside_scope(name) && !seen.count(name)) return "`" + name + "` is missing, though its trace made it";
  return "";
}

namespace {

// Up to `bound` of `all`, spread evenly, the first and the last included.
std::vector<std::uint32_t> spread(const std::vector<std::uint32_t>& all, std::size_t bound) {
  if (all.size() <= bound) return all;
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < bound; ++i) out.push_back(all[i * (all.size() - 1) / (bound - 1)]);
  return out;
}

}  // namespace

PausePrints::Stamps PausePrints::stamps_of(const Snapshot& snapshot) {
  Stamps out;
  for (const auto& [name, entry] : snapshot.entries)
    if (entry.kind == Entry::Kind::file && entry.inode != 0) out[entry.inode] = {name, entry.mtime_ns, entry.ctime_ns};
  return out;
}

namespace {

// Whether a call the trace shows between the pauses before calls `from` and
// `to` may have set `inode`'s mtime: one that writes, resizes, creates or
// truncates it (an open without O_TRUNC sets no time), or
// stores through a mapping of it (those stores reach the page cache before
// the record that shows them: any such record from `from` on, `mapped_until`).
bool written_in_trace(const faults::Trace& trace, const std::map<std::uint64_t, std::uint32_t>& mapped_until,
                      std::uint64_t inode, std::uint32_t from, std::uint32_t to) {
  using faults::OpClass;
  if (const auto m = mapped_until.find(inode); m != mapped_until.end() && m->second >= from) return true;
  auto r = std::lower_bound(trace.records.begin(), trace.records.end(), from,
                            [](const faults::TraceRecord& r, std::uint32_t seq) { return r.seq < seq; });
  for (; r != trace.records.end() && r->seq < to; ++r)
    if (r->inode == inode && (r->op == OpClass::write || r->op == OpClass::truncate || r->op == OpClass::allocate ||
                              (r->op == OpClass::open && (r->created || (r->flags & O_TRUNC) != 0))))
      return true;
  return false;
}

}  // namespace

std::string PausePrints::unseen_write(const faults::Trace& trace, const Snapshot& initial,
                                      const Snapshot& final) const {
  if (stamps_.empty()) return "";  // a run without pauses: no moment to place a change at
  const std::uint32_t end = trace.records.empty() ? 1 : trace.records.back().seq + 1;
  std::map<std::uint64_t, std::uint32_t> mapped_until;  // inode -> its last record of mapped stores
  for (const auto& r : trace.records)
    if (faults::is_mapped_store(r) || faults::carries_mapped_range(r)) mapped_until[r.inode] = r.seq;
  const Stamps first = stamps_of(initial), last = stamps_of(final);
  struct Moment {
    std::uint32_t call;  // the next call to run
    const Stamps* stamps;
    std::string name;
  };
  std::vector<Moment> seen{{1, &first, "the start"}};
  for (const auto& [call, stamps] : stamps_)
    if (call < end) seen.push_back({call, &stamps, "the pause before call " + std::to_string(call)});
  seen.push_back({end, &last, "the end of the run"});
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const Moment &from = seen[i - 1], &to = seen[i];
    for (const auto& [inode, now] : *to.stamps) {
      const auto was = from.stamps->find(inode);
      if (was == from.stamps->end() || now.mtime_ns == was->second.mtime_ns || now.mtime_ns != now.ctime_ns) continue;
      if (written_in_trace(trace, mapped_until, inode, from.call, to.call)) continue;
      return "`" + now.name + "` was written between " + from.name + " and " + to.name +
             " (its mtime and ctime changed together), but no call the trace shows there writes it";
    }
  }
  return "";
}

PausePrints::Check PausePrints::check(const faults::Trace& trace, const Snapshot& initial,
                                      const Snapshot& final) const {
  Check out;
  out.unseen_write = unseen_write(trace, initial, final);
  std::vector<std::uint32_t> calls;
  for (const auto& [call, print] : prints_)
    if (!trace.records.empty() && call <= trace.records.back().seq) calls.push_back(call);
  out.pauses = calls.size();
  std::vector<pl::Cut> cuts;
  for (std::uint32_t call : spread(calls, kChecked)) cuts.push_back({call, 0});
  out.checked = cuts.size();
  std::map<std::string, std::uint32_t> mapped_until;  // file -> its last record of mapped stores
  for (const auto& r : trace.records)
    if (faults::is_mapped_store(r)) mapped_until[r.path] = r.seq;
  pl::for_each_cut(trace, power_loss_initial(initial), cuts, [&](const pl::Cut& cut, const auto& images) {
    if (!out.unexplained.empty()) return;
    DirectoryPrint traced;
    for (const auto& [name, image] : images)
      traced[name] = print_of(name, image.is_directory ? Entry::Kind::directory : Entry::Kind::file, image.mode,
                              image.content.get());
    DirectoryPrint seen = prints_.at(cut.seq);
    // Stores through a mapping are in the page cache before the record that
    // shows them (the trace says so, runner/powerloss/README.md): not a
    // disagreement while such a record is still to come.
    for (const auto& [name, last] : mapped_until)
      if (last >= cut.seq && seen.count(name) && traced.count(name))
        seen[name].size = traced[name].size, seen[name].hash = traced[name].hash;
    if (auto differs = difference(seen, traced); !differs.empty())
      out.unexplained = "the paused run's directory before call " + std::to_string(cut.seq) +
                        " is not what its trace says: " + differs;
  });
  return out;
}

}  // namespace crashcheck::runner
