// The power-loss model: from one recorded trace (no re-runs), the directory
// states a power failure at any moment can leave, and the two properties
// docs/ARCHITECTURE.md names, `powerloss_atomic` and `durable`.
//
// A SIGKILL leaves the page cache intact; a power loss drops whatever was not
// made durable. The model replays the trace on an in-memory copy of the
// scratch directory and tracks, per file and per directory, which effects a
// sync made durable. What each file-system profile lets survive is documented
// in README.md next to this header.
//
// The library's one public header. It reads faults.hpp's Trace (target
// crashcheck_faults) and returns its own small result types; the runner maps
// them into the report's Failure / PropertyResult.
#pragma once

#include <crashcheck/faults.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashcheck::powerloss {

// ---- input -----------------------------------------------------------------

// One file of the scratch directory before the subject ran. Everything in the
// initial state is durable.
struct InitialFile {
  std::string name;  // relative to the scratch directory, e.g. "pipeline_health.json"
  std::string content;
  std::uint32_t mode = 0644;
  std::uint64_t inode = 0;  // as the trace will name it; 0: unknown (a fresh one is made up)
  bool is_directory = false;
};

struct InitialState {
  std::uint64_t directory_inode = 0;  // the scratch directory itself
  std::vector<InitialFile> files;
  std::uint32_t umask = 0;  // the subject's: a created file's mode is the requested one less these bits
};

// Which guarantees the file system below the subject gives (README.md).
enum class Profile {
  posix,         // strict: only fsync'd data and fsync'd directories survive
  ext4_ordered,  // ext4 data=ordered + auto_da_alloc: journaled metadata in order
};

// "posix" / "ext4-ordered"; nullopt for anything else.
std::optional<Profile> parse_profile(std::string_view text);
std::string_view profile_name(Profile profile) noexcept;

struct Options {
  Profile profile = Profile::posix;
  std::uint32_t block_size = 4096;           // granularity of lost / torn data
  std::uint32_t max_states_per_point = 256;  // above this, a crash point is sampled (at least 2)
  std::uint64_t seed = 1;                    // drives the sampling, nothing else
  std::uint32_t max_failures = 16;           // counterexamples listed per property (2 per crash point at most)
  // Set: check_properties judges this one state alone (replaying one case);
  // every other state is still visited, for also_visit, but not judged.
  struct StateRef {
    std::uint32_t after_seq = 0;
    std::uint64_t index = 0;
  };
  std::optional<StateRef> only;
};

// ---- the states ------------------------------------------------------------

// One entry of a directory as a power loss leaves it.
struct FileImage {
  bool is_directory = false;
  std::uint32_t mode = 0;
  std::string content;

  bool operator==(const FileImage&) const = default;
};

// How completely one crash point was explored.
struct Coverage {
  std::uint32_t after_seq = 0;  // crash just after this counted call; 0: before the first
  std::string call;             // that call's libc symbol ("" before the first)
  std::uint64_t explored = 0;   // distinct states visited
  std::uint64_t total = 0;      // distinct states reachable
  bool total_exact = true;      // false: too many to count; `total` is the number of
                                // combinations of choices (an upper bound), possibly saturated
  bool sampled = false;         // true: more states than Options::max_states_per_point

  std::string describe() const;  // "after #7 rename: 256 of 6561 states (sampled, seed 1)"
};

// A state visited by for_each_state. Valid only during the callback: it reads
// the model lazily so large files are materialised only when asked for.
class CrashState {
 public:
  virtual ~CrashState() = default;
  virtual std::vector<std::string> names() const = 0;  // sorted, relative paths
  virtual bool contains(std::string_view name) const = 0;
  virtual std::optional<FileImage> file(std::string_view name) const = 0;
  // Compares without materialising. False when `name` is absent or a directory.
  virtual bool content_equals(std::string_view name, std::string_view expected) const = 0;
  // Human text: the unsynced operations this state dropped or tore, e.g.
  // "dropped #9 rename(a.tmp → target); lost #5 write(a.tmp, 74 bytes at 0)".
  virtual std::string lost() const = 0;
  // Its place among the states of its crash point, in visit order (0: the
  // last-synced state). The order depends only on the trace and the options,
  // so (after_seq, index) names one state across runs of the same writer:
  // the runner's case id power-loss-<after_seq><letters>.
  virtual std::uint64_t index() const = 0;
  // True when every state of this crash point holds the same file under
  // `name` (the same entry, bytes and mode) or none holds it: then file(),
  // contains() and content_equals() answer for `name` as they did for the
  // point's other states, and a visitor may ask once per point. False when
  // unknown.
  virtual bool same_in_every_state(std::string_view /*name*/) const { return false; }
};

using StateVisitor = std::function<void(const Coverage& point, const CrashState& state)>;

// Replays `trace` from `initial` and calls `visit` for every distinct state at
// every crash point (before the first counted call and after each one), with
// that point's coverage; the returned vector holds every point's coverage, in order.
std::vector<Coverage> for_each_state(const faults::Trace& trace, const InitialState& initial, const Options& options,
                                     const StateVisitor& visit);

// The same, materialised: convenient for small traces and tests.
struct DirectoryState {
  std::map<std::string, FileImage> entries;
  std::string lost;
};
struct CrashPoint {
  Coverage coverage;
  std::vector<DirectoryState> states;  // deduplicated, canonical states first
};
std::vector<CrashPoint> enumerate(const faults::Trace& trace, const InitialState& initial, const Options& options);

// A failed fsync/fdatasync of a file. Linux reports a write-back error once
// and marks the failed pages clean (errseq_t, 4.13+), so a later sync of the
// file returns 0 without writing them: the PostgreSQL "fsyncgate". The model
// keeps the file's writes made before it lost-or-kept past every later sync
// until they are rewritten (README, "After a failed fsync"). The one failed
// call that changes the power-loss states.
bool failed_file_sync(const faults::TraceRecord& record) noexcept;

// What the subject itself sees once the whole trace has run, nothing lost:
// every entry with its bytes and mode. A run whose real final directory differs
// from this did something its trace does not show (trace self-check).
std::map<std::string, FileImage> visible_state(const faults::Trace& trace, const InitialState& initial);

// Each record of stores through a shared mapping (faults::is_mapped_store)
// and its window: the stores may be in the page cache from the state after
// `opens_after` records applied (just after the last record that wrote,
// resized or synced that file, else its first open, else the start) up to
// the record that shows them, records[record]. A window that starts before
// the real mmap only offers more states. Only the bytes at its end are seen:
// stores inside it are not observed one by one (runner/README.md).
struct StoreWindow {
  std::size_t opens_after = 0;
  std::size_t record = 0;
};
std::vector<StoreWindow> store_windows(const faults::Trace& trace);

// ---- inside one write ------------------------------------------------------

// Linux copies a write page by page and takes a fatal signal between pages
// (generic_perform_write), so a SIGKILL inside one write-class call, or a
// reader racing it, finds the call's bytes up to a page boundary applied and
// the rest not. One such moment: the first `bytes` bytes of counted call `seq`.
struct Cut {
  std::uint32_t seq = 0;
  std::uint64_t bytes = 0;
};

// One entry as a cut sees it: its bytes are the replay's own, not a copy (a
// file of hundreds of MiB is held once), valid only during the callback.
struct SeenFile {
  bool is_directory = false;
  std::uint32_t mode = 0;
  std::reference_wrapper<const std::string> content;
};
using CutVisitor = std::function<void(const Cut& cut, const std::map<std::string, SeenFile>& seen)>;

// For each cut (visited ascending by seq, then bytes), what the subject sees then, as
// visible_state shows it: every call before `seq` applied, and of call `seq`
// only its first `bytes` bytes. A cut of a call that writes no bytes (or
// that failed) sees the state before the call.
void for_each_cut(const faults::Trace& trace, const InitialState& initial, const std::vector<Cut>& cuts,
                  const CutVisitor& visit);

// ---- the properties --------------------------------------------------------

enum class Verdict { pass, fail, not_run };

struct Failure {
  std::uint32_t after_seq = 0;  // crash just after this counted call; 0: before the first
  std::uint64_t index = 0;      // the state's CrashState::index() at that point
  std::string call;             // libc symbol of that call ("" before the first)
  std::string lost;             // which operations were dropped or torn
  bool target_exists = false;
  std::string target_content;  // empty when it does not exist
  std::uint32_t target_mode = 0;
  std::vector<std::string> entries;  // every name in the directory in that state
  std::string detail;                // one sentence: why this breaks the property
};

struct PropertyOutcome {
  Verdict verdict = Verdict::not_run;
  std::uint64_t cases = 0;    // states checked
  std::uint64_t failing = 0;  // failing states (failures lists at most Options::max_failures)
  std::vector<Failure> failures;
  std::string reason;              // why not_run
  std::vector<std::string> notes;  // sampling coverage, unlisted failures
};

struct Subject {
  std::string target;            // target file name inside the scratch directory
  std::string_view new_content;  // the payload, held by the caller: not copied, it may be large
  bool exited_zero = false;      // the baseline run exited 0 (durable is judged only then)
  // The counted calls made before the subject reported success (its first
  // process exited) when processes it started made more after: durable is
  // judged at every crash point from there on, not only after the last call.
  std::optional<std::uint32_t> reported_after = std::nullopt;
};

struct Verdicts {
  PropertyOutcome powerloss_atomic;
  PropertyOutcome durable;
  std::vector<Coverage> coverage;  // every crash point
};

// The state as a Failure would show it (`detail` left empty): what replaying
// one state prints, judged or not.
Failure describe_state(const Coverage& point, const CrashState& state, const std::string& target);

// Old content is the initial file named `subject.target` (none: there was no
// old file, and absence counts as old). `also_visit`, when given, sees every
// state judged, so a caller needing more from the states (the report's
// picture) does not enumerate them a second time.
Verdicts check_properties(const faults::Trace& trace, const InitialState& initial, const Subject& subject,
                          const Options& options, const StateVisitor& also_visit = {});

}  // namespace crashcheck::powerloss
