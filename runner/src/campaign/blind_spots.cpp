// blind_spots.hpp says why; one function per kind of blind spot.
#include "blind_spots.hpp"

#include "crashcheck/runner/power_loss.hpp"

namespace crashcheck::runner {
namespace {

constexpr std::uint64_t kPage = 4096;  // Linux checks for a fatal signal between pages of one write

// The trace does not explain the end state: calls were missed, so kill
// points, readers and injected errors at them were never tried.
std::optional<BlindSpot> unexplained_run(const std::vector<Unexplained>& unexplained) {
  if (unexplained.empty()) return std::nullopt;
  return BlindSpot{{"crash_atomic", "reader_safe", "error_safe", "temp_clean", "valid_content"},
                   describe_unexplained(unexplained) +
                       "; kill points, readers and injected errors at calls the backend did not see were never tried"};
}

// Whether a write touches more than one page of the file: Linux copies a
// write page by page and takes a fatal signal between pages, so such a
// write can be cut at a page boundary. An unknown offset counts by length.
bool spans_pages(const faults::TraceRecord& r) {
  if (r.result <= 0) return false;
  const auto start = static_cast<std::uint64_t>(std::max<std::int64_t>(r.offset, 0));
  const auto length = static_cast<std::uint64_t>(r.result);
  return r.offset < 0 ? length > kPage : start / kPage != (start + length - 1) / kPage;
}

// One call changes the existing target in place across a page boundary.
std::optional<BlindSpot> torn_inside_one_call(const CaseResult& baseline, const SubjectSetup& setup) {
  if (!baseline.initial.find(setup.scenario.target)) return std::nullopt;  // no old content to tear
  for (const auto& r : baseline.trace->records) {
    const bool mapped = r.call == "msync" || r.call == "munmap";
    const bool large = r.op == faults::OpClass::write && spans_pages(r);
    if (r.path != setup.scenario.target || r.error != 0 || !(mapped || large)) continue;
    return BlindSpot{{"crash_atomic", "reader_safe"},
                     "call " + std::to_string(r.seq) + " " + faults::describe_call(*baseline.trace, r.seq) +
                         " changes the target in place across a page boundary: a kill or a reader inside it can "
                         "see part of it, and states inside one call are not modelled yet"};
  }
  return std::nullopt;
}

}  // namespace

std::vector<BlindSpot> blind_spots(const CaseResult& baseline, const SubjectSetup& setup,
                                   const std::vector<Unexplained>& unexplained) {
  std::vector<BlindSpot> out;
  for (auto spot : {unexplained_run(unexplained), torn_inside_one_call(baseline, setup)})
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
