// Never a pass when blind. Some runs hold evidence that the models did not
// see everything a crash or a reader could: the trace does not explain the
// run's end state (writes the backend could not see: native AIO, stores
// through a mapping the preload agent misses, a call it does not intercept).
// A `pass` resting on such a run becomes `not_run` with the reason; a `fail`
// stays, since what was seen is real. Stores through a shared mapping that
// the trace does show are modelled (within.hpp, runner/powerloss/README.md),
// as are states inside one write.
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "pause_check.hpp"

namespace crashcheck::runner {

struct BlindSpot {
  std::vector<std::string_view> properties;  // whose pass it withholds
  std::string reason;
};

// What the baseline run shows the models could not see, from its trace
// self-check (unexplained_by_trace) and the same check of its pauses
// (pause_check.hpp: bytes a pause holds that the trace does not, and writes
// the files' times show that the trace lacks).
std::vector<BlindSpot> blind_spots(const std::vector<Unexplained>& unexplained, const PausePrints::Check& pauses);

// Stores through a shared writable mapping are seen only by the bytes at the
// end of their window (powerloss::store_windows): a page wiped and put back
// inside it leaves states no model offers. Where `target` names the mapped
// file during a window (`initial_inode`: what it named before the run; 0
// when nothing), the kill and reader passes are withheld; where it does
// before the file is next synced after the window, the power-loss ones (and
// durable's when nothing syncs it after). A temp mapped, synced and
// unmapped before it is renamed over the target keeps its passes.
std::vector<BlindSpot> mapped_window_spots(const faults::Trace& trace, const std::string& target,
                                           std::uint64_t initial_inode);

// A preload trace with writes through a stdio stream: the agent made the
// stream unbuffered, so the writes' moments, and where a real buffered
// stream's errors surface, differ from the real run's (faults/README.md,
// "stdio and iostreams"). Every pass resting on their order is withheld;
// no error is injected at them (plan.cpp), so no fail rests on them either.
std::vector<BlindSpot> stream_spots(const faults::Trace& trace);

// What the baseline shows about processes that outlived the subject's exit
// (CaseResult::outliving): one killed at the deadline withholds every pass,
// and an exit moment the run could not place withholds durable's.
std::vector<BlindSpot> outliving_spots(const CaseResult& baseline);

// Each pass of a property a blind spot names becomes not_run with its reason.
void withhold_blind_passes(reports::Report& report, const std::vector<BlindSpot>& spots);

}  // namespace crashcheck::runner
