// Forked cases: the fault cases of a campaign forked from one template run
// parked before its first counted call, instead of each starting the subject
// anew (faults/README.md, "Forked cases", says how the fork is made and why it
// is the same run). A subject's start-up is most of what a case costs, and is
// the same in every case up to that call.
//
// Opt-in (--fork): a fork is not the same run for a writer that reads the
// clock, its pid or its files' identity before its first file call
// (faults/README.md, "What a fork cannot stand for").
//
// Only what a template can faithfully stand for is forked: kill, errno and
// disk-full cases of a single-file campaign under the seccomp backend, run as
// root (each case gets a mount namespace of its own), of a subject that is one
// single-threaded process, the one crashcheck started, at its first counted
// call (the supervisor checks). Everything else, and any case whose fork
// fails, runs the usual way.
#pragma once

#include <condition_variable>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/scratch_case.hpp"
#include "crashcheck/runner/subject_process.hpp"

namespace crashcheck::runner {

// One template run, parked before its first counted call; cases are forked
// from it one at a time.
class CaseTemplate {
 public:
  // Starts the template run; ready() then waits until it is parked.
  CaseTemplate(const SubjectSetup& setup, std::size_t index);
  ~CaseTemplate();  // ends the template run
  std::optional<std::string> ready();
  // Runs `spec` forked from the template; nullopt, with `why`, when no fork
  // could become the case (then nothing of it ran).
  std::optional<CaseResult> execute(const SubjectSetup& setup, const CaseSpec& spec, std::string& why);

 private:
  ScratchCase scratch_;
  std::filesystem::path root_;  // canonical: as /proc names the files the template holds open
  PreparedSubject prepared_;
  std::optional<SubjectProcess> process_;
};

// The templates a campaign's workers fork their cases from: one per worker,
// so neither a fork server nor a supervisor thread is shared between them.
class ForkedCases {
 public:
  // Why the cases of this campaign are not forked, when they are not.
  static std::optional<std::string> unforkable(const SubjectSetup& setup);
  static bool forkable(const CaseSpec& spec);
  // Starts `count` templates (the campaign starts them before its baseline
  // run, so their start-up overlaps it) ...
  static std::unique_ptr<ForkedCases> launch(const SubjectSetup& setup, std::size_t count);
  // ... and waits until they are parked: why not, when one cannot be.
  std::optional<std::string> ready();

  // Runs `spec` forked from an idle template; nullopt when no fork could
  // become the case (then nothing of it ran: run it the usual way).
  std::optional<CaseResult> execute(const SubjectSetup& setup, const CaseSpec& spec);
  // What the report says: how many cases were forked, and why any were not.
  std::vector<std::string> notes(std::size_t forkable_cases) const;

 private:
  std::vector<std::unique_ptr<CaseTemplate>> templates_;
  std::vector<CaseTemplate*> idle_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::size_t forked_ = 0, failed_ = 0;
  std::string first_failure_;
};

}  // namespace crashcheck::runner
