// The power-loss model (runner/powerloss/, crashcheck_powerloss) seen from
// the runner: computed from the baseline's trace, no re-run, and mapped into
// the report's vocabulary (powerloss_atomic, durable, cells, case ids
// "power-loss-<N>": a power failure just after counted call N).
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/scratch_case.hpp"

namespace crashcheck::runner {

struct PowerLossJudgement {
  reports::PropertyResult powerloss_atomic;
  reports::PropertyResult durable;
  std::vector<reports::Cell> cells;
  std::vector<std::string> notes;  // profile, sampled crash points
  std::uint64_t states = 0;        // crash states checked
};

// "power-loss-<N>": a power failure just after counted call N.
std::string power_loss_case_id(std::uint32_t after);

// `initial` is the scratch directory before the baseline ran (with inodes).
PowerLossJudgement judge_power_loss(const faults::Trace& trace, const Snapshot& initial, const Contents& contents,
                                    const std::string& target, bool exited_zero, const std::string& profile);

}  // namespace crashcheck::runner
