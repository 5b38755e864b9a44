// Durability under injected errors (the "fsyncgate" class): a writer that
// exits 0 after an fsync failed has told its caller the data is safe when it
// may never reach the disk. The baseline's power-loss analysis cannot see
// that, so the power-loss model also runs on the trace of every errno and
// disk-full case that exited 0 — each distinct trace once, and only where
// the trace self-check shows the trace explains the case. A target that can
// then come back old or torn fails `durable`, naming the injected call. A
// case whose trace does not explain its final directory cannot be judged:
// a `durable` pass then becomes `not_run`, naming the case, the file and the
// first differing byte range (a fail found elsewhere stays). The same states
// are given to the content validator (valid_content), each distinct target
// content once: an error case's power loss can leave contents the baseline's
// never does (an empty target after an ignored fsync failure). The
// validator runs once per distinct content; each trace counts its own.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "crashcheck/runner/properties.hpp"

namespace crashcheck::runner {

class DurableAfterError {
 public:
  DurableAfterError(const SubjectSetup& setup, const RunOptions& options, const faults::Trace& baseline);

  // Called from the case's worker thread with the ended case and how it was observed.
  // `contents`: what the case is judged against (case_contents). The end
  // state's file bytes are released once compared: the judge replays the
  // trace, and a large file must not be held once more through it.
  void add(CaseResult& ended, const Observation& seen, Contents contents);

  // `durable` judged again with what the error cases showed; adds a note.
  void apply(reports::PropertyResult& durable, std::vector<std::string>& notes) const;
  // valid_content on those states when the validator rejected one (else not_run: nothing to add).
  reports::PropertyResult validated() const;
  // A turn among the power-loss analyses, held while one runs: the
  // baseline's, run beside the cases, takes its turn too.
  std::unique_lock<std::mutex> analysis_turn() { return std::unique_lock(judging_); }

 private:
  void add_validated(reports::PropertyResult& judged, const Observation& seen);

  const SubjectSetup& setup_;
  const RunOptions& options_;
  bool enabled_;
  mutable std::mutex mutex_;
  // One power-loss analysis at a time: each holds a few copies of the file,
  // and -j workers judging together would multiply the peak by -j.
  std::mutex judging_;
  std::set<std::size_t> traces_seen_;  // hashes of the traces already judged
  std::size_t exited_zero_ = 0, unexplained_ = 0, unknown_new_ = 0;
  std::vector<reports::Failure> failures_;
  ContentValidator validator_;
  ValidatedContents validated_;                             // the validator's verdicts, by content; under judging_
  reports::PropertyResult valid_;                           // what the validator said of the error cases' states
  std::string first_unexplained_case_, first_unexplained_;  // "case errno-5-EIO: the trace does not explain …"
};

}  // namespace crashcheck::runner
