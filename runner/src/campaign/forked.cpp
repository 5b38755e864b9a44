// Forked cases: see forked.hpp.
#include "forked.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

namespace crashcheck::runner {
namespace fs = std::filesystem;
using Kind = faults::FaultPlan::Kind;

namespace {

constexpr auto kParkTimeout = std::chrono::seconds(30);  // a subject's start-up up to its first counted call
constexpr int kWaitTick = 100;                           // ms: how soon a cancellation is noticed

// Waits for the forked case to end (its status descriptor readable), killing
// its group at the timeout or on cancellation. nullopt: it never became the
// case (`why` says why).
std::optional<SubjectOutcome> wait_forked(const faults::ForkedSubject& child, std::chrono::milliseconds timeout,
                                          std::string& why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  SubjectOutcome::End stopped = SubjectOutcome::End::exited;
  for (;;) {
    pollfd p{child.status_fd(), POLLIN, 0};
    if (::poll(&p, 1, kWaitTick) == 1) break;
    if (cancel_requested().load())
      stopped = SubjectOutcome::End::cancelled;
    else if (std::chrono::steady_clock::now() >= deadline)
      stopped = SubjectOutcome::End::timed_out;
    else
      continue;
    ::kill(-child.pid(), SIGKILL);  // the template reaps it and then reports
  }
  const auto end = child.read_end();
  if (!end.wait_status) {
    why = end.why;
    return std::nullopt;
  }
  SubjectOutcome outcome;
  const int status = *end.wait_status;
  outcome.end = stopped != SubjectOutcome::End::exited ? stopped
                : WIFSIGNALED(status)                  ? SubjectOutcome::End::signaled
                                                       : SubjectOutcome::End::exited;
  outcome.code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
  return outcome;
}

void copy_output(const ScratchCase& from, const ScratchCase& to, const char* stream) {
  std::error_code ec;  // what the template wrote before it parked is the case's output too
  fs::copy_file(from.output(stream), to.output(stream), fs::copy_options::overwrite_existing, ec);
}

}  // namespace

// ------------------------------------------------------------- CaseTemplate --

CaseTemplate::CaseTemplate(const SubjectSetup& setup, std::size_t index)
    : scratch_(setup.work_root, setup.backend_root, "template-" + std::to_string(index), setup.scenario.target,
               setup.contents),
      root_(fs::canonical(scratch_.root())) {
  prepared_ = prepare_subject(setup, scratch_, scratch_, {}, false, root_);
  prepared_.subject.timeout = std::chrono::hours(24);  // it lives as long as its cases; ended by the destructor
  process_.emplace(SubjectProcess::start(prepared_.subject));
}

CaseTemplate::~CaseTemplate() {
  if (process_) {  // parked in its fork server, it would never make the call: its group is killed
    process_->stop();
    process_->wait();
  }
  if (prepared_.observer) prepared_.observer->finish();
}

std::optional<std::string> CaseTemplate::ready() { return prepared_.observer->await_template(kParkTimeout); }

std::optional<CaseResult> CaseTemplate::execute(const SubjectSetup& setup, const CaseSpec& spec, std::string& why) {
  CaseResult result;
  result.spec = spec;
  ScratchCase scratch(setup.work_root, setup.backend_root, spec.id, setup.scenario.target, setup.contents);
  result.initial = scratch.initial();
  copy_output(scratch_, scratch, "stdout");
  copy_output(scratch_, scratch, "stderr");
  faults::RunSetup run{fs::absolute(scratch.scratch()), scratch.backend_files(), spec.plan, setup.agent_library};
  run.forked = true;  // served by the template's supervisor, in the child's mount namespace
  auto observer = faults::make_observer(setup.backend.kind, run);
  faults::Launch nothing;
  observer->wrap(nothing);
  const auto started = std::chrono::steady_clock::now();
  auto child = prepared_.observer->fork_subject(fs::canonical(scratch.root()), root_, *observer, why);
  std::optional<SubjectOutcome> outcome;
  if (child) outcome = wait_forked(child, setup.timeout, why);
  if (!outcome) {
    observer->finish();
    return std::nullopt;
  }
  result.outcome = *outcome;
  result.subject_wall = std::chrono::steady_clock::now() - started;
  collect_case_end(*observer, scratch, fs::absolute(scratch_.root()), result);  // as its paths name it
  return result;
}

// -------------------------------------------------------------- ForkedCases --

std::optional<std::string> ForkedCases::unforkable(const SubjectSetup& setup) {
  if (setup.backend.kind != faults::BackendKind::seccomp) return "the backend is not seccomp";
  if (::geteuid() != 0) return "crashcheck does not run as root (each forked case needs a mount namespace)";
  return std::nullopt;
}

bool ForkedCases::forkable(const CaseSpec& spec) {
  switch (spec.plan.kind) {
    case Kind::kill_before:
    case Kind::kill_after:
    case Kind::kill_within:
    case Kind::fail_call:
    case Kind::disk_full:
      return !spec.sites;
    default:
      return false;
  }
}

std::unique_ptr<ForkedCases> ForkedCases::launch(const SubjectSetup& setup, std::size_t count) {
  std::unique_ptr<ForkedCases> cases(new ForkedCases);
  for (std::size_t i = 0; i < count; ++i) cases->templates_.push_back(std::make_unique<CaseTemplate>(setup, i));
  return cases;
}

std::optional<std::string> ForkedCases::ready() {
  for (auto& t : templates_) {
    if (auto not_parked = t->ready()) return not_parked;
    idle_.push_back(t.get());
  }
  return std::nullopt;
}

std::optional<CaseResult> ForkedCases::execute(const SubjectSetup& setup, const CaseSpec& spec) {
  CaseTemplate* from = nullptr;
  {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty(); });
    from = idle_.back();
    idle_.pop_back();
  }
  std::string why;
  auto result = from->execute(setup, spec, why);
  std::lock_guard lock(mutex_);
  idle_.push_back(from);
  returned_.notify_one();
  ++(result ? forked_ : failed_);
  if (!result && first_failure_.empty()) first_failure_ = why;
  return result;
}

std::vector<std::string> ForkedCases::notes(std::size_t forkable_cases) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out{std::to_string(forked_) + " of " + std::to_string(forkable_cases) +
                               " kill, errno and disk-full cases were forked from a template run parked at its "
                               "first counted call (--fork)"};
  if (failed_ > 0)
    out.push_back(std::to_string(failed_) + " case(s) could not be forked and ran from the start: " + first_failure_);
  return out;
}

}  // namespace crashcheck::runner
