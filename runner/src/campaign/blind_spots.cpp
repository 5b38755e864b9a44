// blind_spots.hpp says why; one function per kind of blind spot.
#include "blind_spots.hpp"

#include "crashcheck/runner/power_loss.hpp"

namespace crashcheck::runner {
namespace {

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

}  // namespace

std::vector<BlindSpot> outliving_spots(const CaseResult& baseline) {
  std::vector<BlindSpot> out;
  if (auto spot = killed_descendants(baseline.outliving)) out.push_back(std::move(*spot));
  if (auto spot = unplaced_report(baseline)) out.push_back(std::move(*spot));
  return out;
}

std::vector<BlindSpot> blind_spots(const std::vector<Unexplained>& unexplained, const std::string& pause_difference) {
  std::vector<BlindSpot> out;
  if (auto spot = unexplained_run(unexplained)) out.push_back(std::move(*spot));
  if (auto spot = unexplained_pause(pause_difference)) out.push_back(std::move(*spot));
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
