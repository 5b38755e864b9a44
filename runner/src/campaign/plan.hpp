// Stage 1 of a campaign, planning: which models run, and which cases each
// model asks for, derived from the baseline run's trace. Deterministic, so a
// report's case ids can be replayed and shards agree on the plan.
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/report.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/campaign.hpp"
#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/sampling.hpp"
#include "crashcheck/runner/scratch_case.hpp"

namespace crashcheck::runner {

// The models to run: --models, else the scenario's list, else all but the opt-in ones.
std::vector<std::string> chosen_models(const Scenario& scenario, const RunOptions& options);
bool has(const std::vector<std::string>& models, reports::Model m);
// The options a campaign of `scenario` runs with: the chosen models, exhaustive when either says so.
RunOptions campaign_options(const Scenario& scenario, const RunOptions& given);

// The last call's index (calls are numbered from 1); 0 for an empty trace.
std::uint32_t last_seq(const faults::Trace& trace);

// The fault-free run every campaign starts with; paused before every call
// when fast kills or readers will be read off it, and always on the preload
// backend: its pauses are where the file times show writes it cannot see
// (a raw syscall), and that check needs them (issue 11, adv4 F1).
CaseSpec baseline_run(const std::vector<std::string>& models, KillMode mode, faults::BackendKind backend);

// How many cases a model could ask for, and how many it asks for once
// repeated calls are sampled (sampling.hpp).
struct PlanCount {
  std::size_t possible = 0;
  std::size_t run = 0;
};

// Every case the chosen models ask for beyond the baseline run, and a note
// per model whose cases were sampled, with both counts and the seed.
struct Plan {
  std::vector<CaseSpec> cases;
  std::vector<std::string> notes;
  std::map<reports::Model, std::string> sampled;  // models whose cases were sampled: their sampling note
};
// A pass says nothing of the calls a sample skipped: every property that
// passed on a model of `sampled` (Plan::sampled) gets a note saying so in its
// own entry (kSampledPass), not only in the report's notes.
void note_sampled_passes(reports::Report& report, const std::map<reports::Model, std::string>& sampled);

// The sizes the files had before the run, by inode (Snapshot::entries): a
// write below a file's allocated end needs no new space, so a full disk
// cannot fail it (faults: cc_disk_full_fit). A file not named starts empty.
using InitialSizes = std::map<std::uint64_t, std::uint64_t>;
InitialSizes initial_sizes(const Snapshot& initial);

Plan plan_cases(const faults::Trace& trace, const std::vector<std::string>& models, KillMode mode,
                std::uint64_t payload_size, const SamplingPolicy& policy, const InitialSizes& sizes = {});

// "errno: 1,680 possible cases, 96 run: repeated calls sampled, seed S; `--exhaustive` runs all"
std::string sampling_note(reports::Model model, PlanCount count, const SamplingPolicy& policy);

// SIGKILL before each call of the trace (each one `policy` chooses; every
// one by default), and after the last. Only the
// trace's numbers: the seccomp backend also numbers calls on files created
// outside the scope that never entered it (its trace skips them); killing
// there leaves the scope as the next traced call's kill does.
std::vector<CaseSpec> plan_exact_kills(const faults::Trace& trace, const SamplingPolicy& policy = {.exhaustive = true});

// The write that runs out of space under `budget` in the baseline's
// sequence (a disk-full case planned here carries it as its plan's call).
std::uint32_t write_at_budget(const faults::Trace& trace, std::uint64_t budget, const InitialSizes& sizes = {});

// --shard K/N: keeps this shard's round-robin share of `cases` and says so
// in `notes`; the shard's fingerprint covers the settings and the whole plan.
std::optional<reports::Shard> take_slice(std::vector<CaseSpec>& cases, std::vector<std::string>& notes,
                                         const RunOptions& options);

}  // namespace crashcheck::runner
