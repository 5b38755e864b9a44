// A case: one run of the subject in its own scratch directory under one
// fault plan, and what it left behind. Case IDs are stable strings, one per
// fault plan, so a report's failure can be replayed by ID alone:
//   baseline, kill-before-7, kill-after-12, errno-5-ENOSPC, disk-full-1024, reader-3
// and, computed rather than run, one per power-loss state: power-loss-4b.
#pragma once

#include <crashcheck/faults.hpp>
#include <crashcheck/faults/backend.hpp>
#include <crashcheck/report.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/scenario.hpp"
#include "crashcheck/runner/scratch_case.hpp"
#include "crashcheck/runner/subject_process.hpp"

namespace crashcheck::runner {

struct CaseSpec {
  std::string id;
  reports::Model model = reports::Model::baseline;
  faults::FaultPlan plan;
  std::uint32_t reader_call = 0;  // reader-N: the pause at which the reader looks
  // power-loss-N<letters> (plan.call is N): the state's index at that crash
  // point; none for a bare power-loss-N, as reports wrote before the letters.
  std::optional<std::uint64_t> power_state = std::nullopt;
  // Collect call sites (faults::RunSetup::sites): the baseline only, whose
  // trace the report shows.
  bool sites = false;
};

// Paused runs stop at every call while the runner snapshots: they may take
// this many times the case timeout (runner/README.md, --timeout).
inline constexpr int kPausedTimeoutFactor = 3;

std::string case_id(reports::Model model, const faults::FaultPlan& plan, std::uint32_t reader_call = 0);
// "power-loss-<N><letters>": the crash state with that index (powerloss.hpp,
// CrashState::index) just after counted call N; the letters count a, b, …,
// z, aa, ab, … from index 0 (the last-synced state). Two states of one crash
// point never share an id, and reruns of the same writer give the same ids.
std::string power_loss_case_id(std::uint32_t after, std::uint64_t state);
std::optional<CaseSpec> parse_case_id(std::string_view id);

// A backend that was asked for (--backend, the scenario's "backend") but
// cannot run on this machine: exit 3, the message says why.
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The interception backend a run uses, and the report note when the default
// had to fall back.
struct BackendChoice {
  faults::BackendKind kind = faults::BackendKind::preload;
  std::optional<std::string> note;  // e.g. why seccomp was not used
};

// The flag wins over the scenario. With neither: seccomp when it can run
// here, else preload with a note saying why. Throws BackendUnavailable when
// the backend asked for cannot run.
BackendChoice choose_backend(std::optional<faults::BackendKind> flag, std::optional<faults::BackendKind> scenario,
                             const std::filesystem::path& agent_library);

// Everything a case needs that does not change from case to case.
struct SubjectSetup {
  Scenario scenario;
  Contents contents;
  BackendChoice backend;
  std::filesystem::path agent_library;     // preload backend
  std::filesystem::path crashcheck_write;  // {crashcheck_write}
  std::filesystem::path work_root;         // case directories go below it
  std::filesystem::path backend_root;      // their backend files below this (empty: each in its own harness/)
  std::chrono::milliseconds timeout{30000};
  // Without a payload, once the baseline ran (adopt_baseline_content): how
  // its trace made the target's content, to rebuild a case's own; or why not.
  std::optional<ContentRecipe> recipe;
  std::string no_recipe;
};

// What a run asks for beyond its scenario (flags, or a report being replayed).
struct SetupRequest {
  std::optional<double> timeout_s;             // overrides the scenario's
  std::filesystem::path agent_library;         // empty: the default lookup
  std::optional<faults::BackendKind> backend;  // overrides the scenario's
  std::filesystem::path work_root;             // case directories go below it
  std::filesystem::path backend_root;          // and their backend files below this (WorkDir::backend_files)
};

// Reads the old and new content (none without a payload: new_bytes stays
// empty, Contents::from_payload false); resolves the agent, the backend,
// {crashcheck_write} and the work root. Throws InputError when a file cannot
// be read, BackendUnavailable when the backend asked for cannot run.
SubjectSetup make_setup(const Scenario& scenario, const SetupRequest& request);

// The agent library the preload backend loads (faults::default_agent_library,
// the one lookup); a requested or $CRASHCHECK_AGENT file that does not exist
// is InputError (exit 2), naming it.
std::filesystem::path locate_agent(const std::filesystem::path& requested);

// The last `bytes` of a log, trimmed, on one line: it goes into one-line messages.
std::string log_tail(const std::filesystem::path& file, std::size_t bytes);

// crashcheck-write next to the running program (installed or built), else the
// one this build made; empty when there is none.
std::filesystem::path find_crashcheck_write();

// argv with {target} {payload} {dir} {scenario_dir} {crashcheck_write} replaced.
std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch);
// The same with {payload} naming `payload` (the concurrent model's instance B).
std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch, const std::filesystem::path& payload);

// One instance of the subject, ready to start: its observer (already wrapped
// round the launch) and its process. It works in `shared`'s scratch
// directory and takes {payload}, stdin, output and the backend's files from
// `own` — the same case for a single run, a second one for the concurrent
// model's instance B.
struct PreparedSubject {
  std::unique_ptr<faults::Observer> observer;
  SubjectSpec subject;
};
// `sites`: collect call sites (CaseSpec::sites); `fork_root`: the run cases
// are forked from, and its case root (faults::RunSetup::fork_template).
PreparedSubject prepare_subject(const SubjectSetup& setup, const ScratchCase& shared, const ScratchCase& own,
                                const faults::FaultPlan& plan, bool sites = false,
                                const std::filesystem::path& fork_root = {});

struct CaseResult {
  CaseSpec spec;
  SubjectOutcome outcome;
  Snapshot initial;
  Snapshot final;
  std::optional<faults::Trace> trace;  // nullopt when unreadable (trace_error says why)
  std::string trace_error;
  std::uint32_t processes_seen = 0;  // 0: the backend never saw the subject
  std::uint32_t calls_counted = 0;
  std::vector<std::string> notes;            // the backend's remarks on this run
  std::optional<std::string> conflict;       // why the backend could not observe this subject faithfully
  std::map<std::uint32_t, Snapshot> pauses;  // pause plan without a visitor: the directory before call N
  std::vector<std::string> outside_writes;   // files written in the case root outside scratch/
  std::string stderr_tail;                   // last lines of the subject's stderr
  // The subject's first process ending is its report of success; processes
  // it started may go on (they are waited for, traced, until the timeout).
  // `reported_after`: the calls counted before it ended, when some came
  // after (read at the pauses of a paused run, where every process is held);
  // nullopt: every call came before it, or it is not known which
  // (`report_point_unknown`: something outlived it in a run without pauses).
  std::optional<std::uint32_t> reported_after;
  bool report_point_unknown = false;
  OutlivingProcesses outliving;
  // From the subject's start (or fork) until its end was known (case_timings.hpp).
  std::chrono::steady_clock::duration subject_wall{};
};

// Called while a paused subject is stopped before call N, with the directory
// as it is then and as the case began. A campaign reduces each to what it
// judges right there, so no snapshot outlives its pause.
using PauseVisitor = std::function<void(std::uint32_t call, const Snapshot& now, const Snapshot& initial)>;

// Runs one case to its end (or timeout, or cancellation). A pause plan calls
// `on_pause` at every stop, or, without one, keeps the snapshots in `pauses`.
CaseResult execute_case(const SubjectSetup& setup, const CaseSpec& spec, const PauseVisitor& on_pause = {});

// After the subject of `scratch`'s case has ended: its end state and what
// `observer` saw. `named_root`: the case root as the subject's paths name it
// (another case's for a forked case, src/campaign/forked.hpp).
void collect_case_end(faults::Observer& observer, const ScratchCase& scratch, const std::filesystem::path& named_root,
                      CaseResult& result);

}  // namespace crashcheck::runner
