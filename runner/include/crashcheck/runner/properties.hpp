// The property checkers: from the states the cases found to the verdicts
// (property meanings: docs/ARCHITECTURE.md, runner/README.md). Each checker reads only observations, never runs
// anything except the validator, so fast and exact kill exploration are judged alike.
#pragma once

#include <crashcheck/report.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/scenario.hpp"
#include "crashcheck/runner/scratch_case.hpp"

namespace crashcheck::runner {

// What one case (or one pause of the paused run) left behind.
struct Observation {
  std::string case_id;
  reports::Model model = reports::Model::baseline;
  std::uint32_t call_index = 0;
  std::string call;   // the call the fault hit, human form
  std::string fault;  // what was done, human form
  reports::FileState target;
  std::optional<std::string> target_bytes;  // for the validator: kept only for states neither old nor new
  std::vector<std::string> leftovers;       // entries other than the target that were not there before
  int exit_status = 0;                      // -N: killed by signal N
  bool timed_out = false;
  // Without a payload: why this state could not be judged old-or-new (its
  // run's new content is unknown, Contents::unknown_new). Such a state
  // counts for no property that needs the new content, and a pass it would
  // have rested on becomes not_run.
  std::optional<std::string> unjudged;
  // Its fault hit another call than its id names (`unjudged` says why):
  // it counts for no property at all, temp_clean and mode_preserved included.
  bool off_plan = false;
};

// Says whether the bytes are valid content; cached per distinct content.
using ContentValidator = std::function<bool(const std::string& bytes)>;

struct Judgement {
  std::map<std::string, reports::PropertyResult> properties;  // every name in reports::kProperties
  std::vector<reports::Cell> cells;
};

// `models_run` says which models produced observations, so a property no case
// could check is not_run with the reason.
Judgement judge(const std::vector<Observation>& observations, const Contents& contents,
                const std::vector<std::string>& models_run, const ContentValidator& validator);

// The exit status other processes get: 0 all run properties hold, 1 one failed.
bool any_failed(const std::map<std::string, reports::PropertyResult>& properties);

}  // namespace crashcheck::runner
