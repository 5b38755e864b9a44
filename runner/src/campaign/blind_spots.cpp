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

// The target is changed in place through a shared writable mapping: its
// pages reach the page cache at moments no trace shows, so a kill or a reader
// between the stores and the msync/munmap can see any mix of them. States
// inside one write are modelled (within.hpp); these are not yet.
std::optional<BlindSpot> mapped_in_place(const CaseResult& baseline, const SubjectSetup& setup) {
  if (!baseline.initial.find(setup.scenario.target)) return std::nullopt;  // no old content to tear
  for (const auto& r : baseline.trace->records) {
    const bool mapped = r.call == "msync" || r.call == "munmap";
    if (r.path != setup.scenario.target || r.error != 0 || !mapped) continue;
    return BlindSpot{{"crash_atomic", "reader_safe"},
                     "call " + std::to_string(r.seq) + " " + faults::describe_call(*baseline.trace, r.seq) +
                         " publishes stores to the target through a shared mapping: a kill or a reader before it can "
                         "see any mix of the mapped pages, and those states are not modelled yet"};
  }
  return std::nullopt;
}

}  // namespace

std::vector<BlindSpot> blind_spots(const CaseResult& baseline, const SubjectSetup& setup,
                                   const std::vector<Unexplained>& unexplained) {
  std::vector<BlindSpot> out;
  for (auto spot : {unexplained_run(unexplained), mapped_in_place(baseline, setup)})
    if (spot) out.push_back(std::move(*spot));
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
