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

}  // namespace

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
