// Running one concurrent case: instances A and B share one scratch
// directory; each has its own observer, payload, output and backend files.
// A schedule case runs both under the pause plan (each stops before every
// counted call) and resumes them one call at a time, as the schedule says. A
// race case starts both with no plan and lets them run.
//
// An instance can wait for the other between two counted calls (flock on a
// lock file the other holds: flock is not a counted call). Such an instance
// neither pauses nor ends, so the driver looks at what its threads are
// blocked in (/proc/<tid>/syscall: flock, or fcntl F_SETLKW/F_OFD_SETLKW)
// and lets the other instance run instead; the steps really taken are kept.
// The rules (whoever cannot run gives way; after the schedule, A to its end,
// then B) are fixed, so a schedule replays the same way.
#include <sys/syscall.h>

#include <fcntl.h>

#include <crashcheck/reference.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "concurrent.hpp"

namespace crashcheck::runner {
namespace fs = std::filesystem;
using Kind = faults::FaultPlan::Kind;

namespace {

constexpr auto kTick = std::chrono::milliseconds(5);  // how often a running instance is looked at

enum class State { paused, blocked, done };

struct Instance {
  char name;
  PreparedSubject prepared;
  std::optional<SubjectProcess> process;
  State state = State::done;
  SubjectOutcome outcome;
};

pid_t parent_pid(const fs::path& stat_file) {
  std::ifstream in(stat_file);
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 1));
  char state = 0;
  pid_t parent = -1;
  rest >> state >> parent;
  return parent;
}

// Every process below `root` (the instance's supervisor, a subreaper).
std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    children.emplace(parent_pid(entry.path() / "stat"), static_cast<pid_t>(std::stol(name)));
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    for (auto [it, end] = children.equal_range(p); it != end; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

// One thread sleeps in a lock wait: flock(2), or fcntl(2) F_SETLKW / F_OFD_SETLKW.
bool thread_waits_on_lock(const fs::path& syscall_file) {
  std::ifstream in(syscall_file);
  std::string number, fd, command;
  if (!(in >> number >> fd >> command) || number == "running") return false;
  const long call = std::strtol(number.c_str(), nullptr, 10);
  const long cmd = std::strtol(command.c_str(), nullptr, 16);
  return call == SYS_flock || (call == SYS_fcntl && (cmd == F_SETLKW || cmd == F_OFD_SETLKW));
}

bool waits_on_lock(pid_t supervisor) {
  std::error_code ec;
  for (const pid_t pid : descendants(supervisor))
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
      if (thread_waits_on_lock(task.path() / "syscall")) return true;
  return false;
}

// Waits until the instance pauses, ends, or waits on a lock.
State settle(Instance& x) {
  for (;;) {
    if (cancel_requested().load()) x.process->stop();
    if (x.prepared.observer->wait_paused(kTick)) return State::paused;
    if (x.process->finished()) {
      x.outcome = x.process->wait();
      return State::done;
    }
    if (waits_on_lock(x.process->supervisor_pid())) return State::blocked;
  }
}

// Resumes the instance the schedule names (or, when it cannot run, the
// other) one call at a time; after the schedule, A to its end, then B.
Schedule drive(Instance& a, Instance& b, const Schedule& schedule, const std::function<void(const Schedule&)>& look) {
  Schedule executed;
  a.state = settle(a);
  b.state = settle(b);
  std::size_t step = 0;
  while (a.state != State::done || b.state != State::done) {
    Instance* want = step < schedule.size() ? (schedule[step++] == 'A' ? &a : &b) : (a.state != State::done ? &a : &b);
    Instance* other = want == &a ? &b : &a;
    Instance* run = want->state == State::paused ? want : other->state == State::paused ? other : nullptr;
    if (!run) {  // neither paused: one waits on a lock the other holds or held; it ends at the timeout at worst
      Instance& waiting = want->state == State::blocked ? *want : *other;
      waiting.state = settle(waiting);
      continue;
    }
    run->prepared.observer->resume();
    executed += run->name;
    run->state = settle(*run);
    for (Instance* x : {&a, &b})
      if (x->state == State::blocked) x->state = settle(*x);  // the step may have released its lock
    look(executed);
  }
  return executed;
}

// Whether `file` holds exactly one of `candidates`, read a piece at a time:
// a reader looks after every step, and the file may be hundreds of MiB.
bool holds_one_of(const fs::path& file, std::vector<std::string_view> candidates) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::string piece(1 << 16, '\0');
  std::size_t at = 0;
  while (!candidates.empty()) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    const std::string_view read(piece.data(), got);
    std::erase_if(candidates, [&](std::string_view c) { return c.size() < at + got || c.substr(at, got) != read; });
    at += got;
    if (got < piece.size()) break;  // the end: a candidate must end here too
  }
  return std::any_of(candidates.begin(), candidates.end(), [&](std::string_view c) { return c.size() == at; });
}

// What a reader opening the target finds, when it is neither the old
// content, A's nor B's (as the run compares them); nullopt when it is one.
std::optional<ConcurrentRun::Sighting> reader_sighting(const fs::path& target, const Contents& a,
                                                       const SharedBytes& payload_b, const Schedule& after) {
  std::error_code ec;
  if (!fs::exists(target, ec))
    return a.old_bytes ? std::optional(ConcurrentRun::Sighting{after, std::nullopt}) : std::nullopt;
  std::vector<std::string_view> fine{a.new_bytes.str(), payload_b.str()};
  if (a.old_bytes) fine.push_back(*a.old_bytes);
  if (a.compare == Compare::bytes && holds_one_of(target, fine)) return std::nullopt;
  const auto bytes = read_file(target);
  if (bytes && a.compare != Compare::bytes &&
      (same_content(*bytes, a.new_bytes, a.compare) || same_content(*bytes, payload_b, a.compare) ||
       (a.old_bytes && *bytes == *a.old_bytes)))
    return std::nullopt;
  return ConcurrentRun::Sighting{after, bytes};
}

void finish(Instance& x, ConcurrentRun& run) {
  for (auto& note : x.prepared.observer->finish().notes)
    if (std::find(run.notes.begin(), run.notes.end(), note) == run.notes.end()) run.notes.push_back(note);
}

}  // namespace

ConcurrentRun run_concurrent_case(const SubjectSetup& setup, const SharedBytes& payload_b, const CaseSpec& spec) {
  const auto schedule = schedule_of(spec.id);
  const faults::FaultPlan plan{schedule ? Kind::pause : Kind::none, 0, 0, 0};
  ScratchCase shared(setup.work_root, setup.backend_root, spec.id, setup.scenario.target, setup.contents);
  ScratchCase own_b(setup.work_root, setup.backend_root, spec.id + ".b", setup.scenario.target,
                    Contents{std::nullopt, 0644, payload_b});
  Instance a{'A', prepare_subject(setup, shared, shared, plan), std::nullopt, State::done, {}};
  Instance b{'B', prepare_subject(setup, shared, own_b, plan), std::nullopt, State::done, {}};
  ConcurrentRun run;
  run.initial = shared.initial();
  a.process.emplace(SubjectProcess::start(a.prepared.subject));
  b.process.emplace(SubjectProcess::start(b.prepared.subject));
  // What a reader opening the target between two steps finds.
  auto look = [&](const Schedule& after) {
    if (!run.reader_found) run.reader_found = reader_sighting(shared.target(), setup.contents, payload_b, after);
  };
  if (schedule) {
    run.executed = drive(a, b, *schedule, look);
  } else {
    a.outcome = a.process->wait();
    b.outcome = b.process->wait();
  }
  run.a = a.outcome;
  run.b = b.outcome;
  run.final = take_snapshot(shared.scratch());
  finish(a, run);
  finish(b, run);
  return run;
}

}  // namespace crashcheck::runner
