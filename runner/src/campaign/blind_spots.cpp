// blind_spots.hpp says why; one function per kind of blind spot.
#include "blind_spots.hpp"

#include <sys/mman.h>

#include <algorithm>

#include <crashcheck/powerloss.hpp>

#include "crashcheck/runner/power_loss.hpp"

namespace crashcheck::runner {
namespace {

using faults::OpClass;

// The trace does not explain the end state: calls were missed, so kill
// points, readers and injected errors at them were never tried.
std::optional<BlindSpot> unexplained_run(const std::vector<Unexplained>& unexplained) {
  if (unexplained.empty()) return std::nullopt;
  return BlindSpot{{"crash_atomic", "reader_safe", "error_safe", "temp_clean", "valid_content"},
                   describe_unexplained(unexplained) +
                       "; kill points, readers and injected errors at calls the backend did not see were never tried"};
}

// A pause the trace does not explain: the kill and reader states read off
// the pauses and the states rebuilt from the trace describe different runs.
std::optional<BlindSpot> unexplained_pause(const std::string& difference) {
  if (difference.empty()) return std::nullopt;
  return BlindSpot{{"crash_atomic", "reader_safe", "valid_content", "powerloss_atomic", "durable"},
                   difference +
                       "; neither the kill and reader states read off the paused run nor the power-loss "
                       "states rebuilt from its trace were used for a pass"};
}

// A write the files' times show and the trace lacks (a raw syscall the
// preload agent did not see, stores through a mapping of it): its kill
// points, readers, injected errors and its bytes' states were never tried,
// even when the bytes ended where they began and every pause agrees.
std::optional<BlindSpot> unseen_write(const std::string& write) {
  if (write.empty()) return std::nullopt;
  return BlindSpot{
      {"crash_atomic", "reader_safe", "error_safe", "temp_clean", "valid_content", "powerloss_atomic", "durable"},
      write +
          "; kill points, readers, injected errors and power-loss states at a write the backend "
          "did not see were never tried"};
}

// Killed at the deadline: what it would still have done was never seen, so
// no verdict resting on what follows the exit can pass. That is every file
// property: kill and reader states of later calls (crash_atomic,
// reader_safe) and the end states (error_safe, temp_clean, mode_preserved,
// valid_content, concurrent_safe) would show its later writes, and the
// trace the power-loss model replays (powerloss_atomic, durable) lacks them.
std::optional<BlindSpot> killed_descendants(const OutlivingProcesses& rest) {
  if (rest.killed == 0) return std::nullopt;
  std::string named;
  for (const auto& n : rest.named) named += (named.empty() ? "" : ", ") + n;
  return BlindSpot{{"crash_atomic", "reader_safe", "error_safe", "temp_clean", "mode_preserved", "valid_content",
                    "powerloss_atomic", "durable", "concurrent_safe"},
                   std::to_string(rest.killed) + " process(es) the subject started were still running when the " +
                       "case timeout ended the baseline run, and were killed: " + named +
                       "; what they would have written later was never seen"};
}

// Something outlived the exit, but a run without pauses cannot say which
// of its calls came after the success report: durable cannot be judged.
std::optional<BlindSpot> unplaced_report(const CaseResult& baseline) {
  if (!baseline.report_point_unknown || baseline.outliving.killed > 0) return std::nullopt;
  return BlindSpot{{"durable"},
                   "processes the subject started went on after it exited 0, and a run that does not pause at every "
                   "call cannot tell which calls came after that success report (the kill model in fast mode or "
                   "the reader model pause it)"};
}

// The inode `target` names in each state: [k] after k records applied ([0]
// before any); 0 when it names nothing, or what the trace cannot say (the
// other side of an exchange).
std::vector<std::uint64_t> target_inodes(const faults::Trace& trace, const std::string& target, std::uint64_t now) {
  std::vector<std::uint64_t> out{now};
  for (const auto& r : trace.records) {
    if (r.error == 0) {
      if ((r.op == OpClass::rename || r.op == OpClass::link) && r.path2 == target)
        now = r.inode;
      else if ((r.op == OpClass::rename || r.op == OpClass::unlink) && r.path == target)
        now = 0;
      else if (r.op == OpClass::open && r.path == target && r.inode != 0)
        now = r.inode;
    }
    out.push_back(now);
  }
  return out;
}

// Whether `r` writes back what the page cache holds of `inode` (msync with
// MS_SYNC only for its range, taken here for the file: the record that
// shows stores is one the window ends at anyway).
bool syncs(const faults::TraceRecord& r, std::uint64_t inode) {
  if (r.error != 0) return false;
  if (r.op == OpClass::sync_all) return true;
  if (r.inode != inode) return false;
  if (r.op == OpClass::sync) return r.call != "sync_file_range";  // which promises nothing
  return faults::is_mapped_store(r) && r.call == "msync" && (r.flags & MS_SYNC) != 0;
}

// The first of several windows a blind spot names, and how many more.
struct Windows {
  std::size_t count = 0;
  std::string first;
  void add(const std::string& text) {
    if (count++ == 0) first = text;
  }
  std::string said() const {
    return count > 1 ? first + " (and " + std::to_string(count - 1) + " more such windows)" : first;
  }
};

}  // namespace

std::vector<BlindSpot> mapped_window_spots(const faults::Trace& trace, const std::string& target,
                                           std::uint64_t initial_inode) {
  const auto& records = trace.records;
  const auto named = target_inodes(trace, target, initial_inode);
  auto names = [&](std::size_t from, std::size_t to, std::uint64_t inode) {  // states from..to, inclusive
    for (std::size_t k = from; k <= to && k < named.size(); ++k)
      if (named[k] == inode) return true;
    return false;
  };
  Windows kill, power, unsynced;
  for (const auto& window : powerloss::store_windows(trace)) {
    const auto& stores = records[window.record];
    std::size_t synced = window.record;  // the first record at or after the window's end that syncs the file
    while (synced < records.size() && !syncs(records[synced], stores.inode)) ++synced;
    const std::string from =
        window.opens_after == 0 ? "the start" : "call " + std::to_string(records[window.opens_after - 1].seq);
    const std::string span = "stores through a shared writable mapping of `" + target + "` made between " + from +
                             " and call " + std::to_string(stores.seq) + " (" + faults::describe_call(stores) +
                             ") are not observed one by one, only the bytes there";
    if (names(window.opens_after, window.record, stores.inode)) kill.add(span);
    if (!names(window.opens_after, synced, stores.inode)) continue;
    power.add(span);
    if (synced == records.size()) unsynced.add(span);
  }
  std::vector<BlindSpot> out;
  if (kill.count)
    out.push_back({{"crash_atomic", "reader_safe", "valid_content", "concurrent_safe"},
                   kill.said() + ": a page changed and put back in between (a buffer cleared and refilled, a hole "
                                 "punched and rewritten) leaves kill and reader states no model offers"});
  if (power.count)
    out.push_back({{"powerloss_atomic", "valid_content"},
                   power.said() + ": a page changed in between may reach the disk and stay there until the file "
                                  "is next synced, while it is the target: power-loss states no model offers"});
  if (unsynced.count)
    out.push_back({{"durable"},
                   unsynced.said() + ", and nothing syncs the file after them: a page changed in "
                                     "between may be what stays on disk after the subject's exit"});
  return out;
}

std::vector<BlindSpot> stream_spots(const faults::Trace& trace) {
  const auto found = std::find_if(trace.records.begin(), trace.records.end(),
                                  [](const faults::TraceRecord& r) { return faults::is_stream_write(r); });
  if (found == trace.records.end()) return {};
  return {BlindSpot{{"crash_atomic", "reader_safe", "error_safe", "temp_clean", "valid_content", "powerloss_atomic",
                     "durable", "concurrent_safe"},
                    "the subject writes through a stdio stream (call " + std::to_string(found->seq) + ", " +
                        found->call +
                        "), which the preload agent makes unbuffered: when a buffered stream's "
                        "bytes really reach the file (at fflush, fclose or a full buffer), and where its write "
                        "errors surface, was not seen, so errors were not injected at its writes; "
                        "--backend seccomp sees the real writes"}};
}

std::vector<BlindSpot> outliving_spots(const CaseResult& baseline) {
  std::vector<BlindSpot> out;
  if (auto spot = killed_descendants(baseline.outliving)) out.push_back(std::move(*spot));
  if (auto spot = unplaced_report(baseline)) out.push_back(std::move(*spot));
  return out;
}

std::vector<BlindSpot> blind_spots(const std::vector<Unexplained>& unexplained, const PausePrints::Check& pauses) {
  std::vector<BlindSpot> out;
  if (auto spot = unexplained_run(unexplained)) out.push_back(std::move(*spot));
  if (auto spot = unexplained_pause(pauses.unexplained)) out.push_back(std::move(*spot));
  if (auto spot = unseen_write(pauses.unseen_write)) out.push_back(std::move(*spot));
  return out;
}

void withhold_blind_passes(reports::Report& report, const std::vector<BlindSpot>& spots) {
  for (const auto& spot : spots) {
    bool withheld = false;
    for (auto name : spot.properties) {
      auto& result = report.properties[std::string(name)];
      if (result.verdict != reports::Verdict::pass) continue;
      result.verdict = reports::Verdict::not_run;
      result.reason = "not judged, the run was partly unseen: " + spot.reason;
      withheld = true;
    }
    if (withheld) report.notes.push_back("passes withheld: " + spot.reason);
  }
}

}  // namespace crashcheck::runner
