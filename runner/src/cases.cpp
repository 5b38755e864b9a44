#include "crashcheck/runner/cases.hpp"

#include <crashcheck/reference.hpp>

#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

extern char** environ;

namespace crashcheck::runner {
namespace fs = std::filesystem;
using Kind = faults::FaultPlan::Kind;
namespace {

constexpr auto kPauseTick = std::chrono::milliseconds(5);  // how soon the end of the run is noticed

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string read_required(const fs::path& file) {
  auto bytes = read_file(file);
  if (!bytes) throw InputError(file.string() + ": cannot be read");
  return *bytes;
}

fs::path self_directory() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path();
}

fs::path first_existing(std::initializer_list<fs::path> candidates) {
  std::error_code ec;
  for (const auto& c : candidates)
    if (!c.empty() && fs::exists(c, ec)) return c;
  return {};
}

}  // namespace

// The end of a log, trimmed, on one line: it goes into one-line messages.
std::string log_tail(const fs::path& file, std::size_t bytes) {
  std::string all = read_file(file).value_or("");
  while (!all.empty() && std::isspace(static_cast<unsigned char>(all.back()))) all.pop_back();
  if (all.size() > bytes) all = "…" + all.substr(all.size() - bytes);
  for (char& c : all)
    if (c == '\n') c = ' ';
  return all;
}

fs::path locate_agent(const fs::path& requested) {
  try {
    return faults::default_agent_library(requested);
  } catch (const faults::AgentNotFound& e) {
    throw InputError(e.what());
  }
}

fs::path find_crashcheck_write() {
  return first_existing({self_directory() / "crashcheck-write", self_directory() / "../reference/crashcheck-write",
                         fs::path(CRASHCHECK_WRITE_PATH)});
}

namespace {

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
}

// The runner's environment with TMPDIR inside the case; the backend adds its own.
std::map<std::string, std::string> subject_environment(const ScratchCase& scratch) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  env["TMPDIR"] = fs::absolute(scratch.temp_dir()).string();
  return env;
}

std::vector<std::string> environment_list(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

// The pause plan: snapshot the directory at every stop, let the call go on.
void drive_pauses(SubjectProcess& process, faults::Observer& observer, const ScratchCase& scratch,
                  const PauseVisitor& on_pause, CaseResult& result) {
  while (!process.finished()) {
    if (cancel_requested().load()) process.stop();
    if (auto call = observer.wait_paused(kPauseTick)) {
      // Directory mode has no target: every file's bytes are the state.
      const std::string target = scratch.target().filename().string();
      Snapshot now = take_snapshot(scratch.scratch(), target.empty() ? std::nullopt : std::optional(target));
      if (on_pause)
        on_pause(*call, now, scratch.initial());
      else
        result.pauses[*call] = std::move(now);
      // Read as late as possible before the call goes on: the subject's
      // group is held, so an exit seen now came before call N's effect.
      if (!result.reported_after && process.subject_ended().value_or(false)) result.reported_after = *call - 1;
      observer.resume();
    }
  }
}

// Paths into the case's own TMPDIR become "$TMPDIR/…" (faults::tmpdir_relative):
// every case has another, and a temp staged there is the same step in each run.
void take_observation(faults::Observation seen, const fs::path& named_root, CaseResult& result) {
  result.processes_seen = seen.processes_seen;
  result.calls_counted = seen.calls_counted;
  if (seen.trace) {
    const std::string tmpdir = fs::absolute(named_root / "tmp").lexically_normal().string();
    for (auto& r : seen.trace->records) {
      r.path = faults::tmpdir_relative(r.path, tmpdir);
      r.path2 = faults::tmpdir_relative(r.path2, tmpdir);
    }
  }
  result.trace = std::move(seen.trace);
  result.trace_error = std::move(seen.trace_error);
  result.notes = std::move(seen.notes);
  result.conflict = std::move(seen.conflict);
}

}  // namespace

std::string case_id(reports::Model model, const faults::FaultPlan& plan, std::uint32_t reader_call) {
  const std::string prefix(reports::model_info(model).case_prefix);
  const std::string n = std::to_string(plan.call);
  switch (plan.kind) {
    case Kind::none:
      return std::string(reports::model_info(reports::Model::baseline).case_prefix);
    case Kind::kill_before:
      return prefix + "before-" + n;
    case Kind::kill_after:
      return prefix + "after-" + n;
    case Kind::kill_within:
      return prefix + "within-" + n + "-" + std::to_string(plan.byte_budget);
    case Kind::fail_call:
      return prefix + n + "-" + faults::errno_name(plan.error);
    case Kind::disk_full:
      return prefix + std::to_string(plan.byte_budget);
    case Kind::pause:
      return model == reports::Model::reader ? prefix + std::to_string(reader_call) : "paused-run";
  }
  return "?";
}

std::string power_loss_case_id(std::uint32_t after, std::uint64_t state) {
  std::string letters;  // bijective base 26: a … z, aa …
  for (std::uint64_t n = state + 1; n > 0; n = (n - 1) / 26)
    letters.insert(letters.begin(), static_cast<char>('a' + (n - 1) % 26));
  return std::string(reports::model_info(reports::Model::power_loss).case_prefix) + std::to_string(after) + letters;
}

namespace {

// The text after `model`'s case-id prefix (and `more`), when `id` starts with them.
std::optional<std::string_view> after_prefix(std::string_view id, reports::Model model, std::string_view more = "") {
  const std::string prefix = std::string(reports::model_info(model).case_prefix) + std::string(more);
  if (id.substr(0, prefix.size()) != prefix) return std::nullopt;
  return id.substr(prefix.size());
}

std::optional<CaseSpec> parse_errno_case(std::string_view id, std::string_view rest) {
  const auto dash = rest.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto call = number(rest.substr(0, dash));
  const int error = faults::errno_from_name(rest.substr(dash + 1));
  if (!call || error == 0) return std::nullopt;
  return CaseSpec{
      std::string(id), reports::Model::errno_fault, {Kind::fail_call, static_cast<std::uint32_t>(*call), error, 0}, 0};
}

// "4b" → call 4, state 1; "4" → call 4, no state (reports before the letters).
std::optional<CaseSpec> parse_power_loss_case(std::string_view id, std::string_view rest) {
  const auto digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
  const auto call = number(rest.substr(0, digits));
  const std::string_view letters = rest.substr(digits);
  constexpr std::size_t kMaxLetters = 6;  // 26^6 states at one crash point: far above any budget
  if (!call || *call > std::numeric_limits<std::uint32_t>::max() || letters.size() > kMaxLetters ||
      letters.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string_view::npos)
    return std::nullopt;
  CaseSpec spec{std::string(id), reports::Model::power_loss, {}, 0};
  spec.plan.call = static_cast<std::uint32_t>(*call);
  if (letters.empty()) return spec;
  std::uint64_t n = 0;
  for (char c : letters) n = n * 26 + static_cast<std::uint64_t>(c - 'a' + 1);
  spec.power_state = n - 1;
  return spec;
}

// "kill-within-N-B" / "reader-within-N-B": call N with only its first B bytes applied.
std::optional<CaseSpec> parse_within_case(std::string_view id) {
  for (auto model : {reports::Model::kill, reports::Model::reader}) {
    const auto rest = after_prefix(id, model, "within-");
    const auto dash = rest ? rest->find('-') : std::string_view::npos;
    if (dash == std::string_view::npos) continue;
    const auto call = number(rest->substr(0, dash)), bytes = number(rest->substr(dash + 1));
    if (!call || !bytes || *call == 0 || *bytes == 0 || *call > std::numeric_limits<std::uint32_t>::max())
      return std::nullopt;  // no bytes applied is kill-before-N
    const auto n = static_cast<std::uint32_t>(*call);
    return CaseSpec{std::string(id), model, {Kind::kill_within, n, 0, *bytes}, model == reports::Model::reader ? n : 0};
  }
  return std::nullopt;
}

}  // namespace

std::optional<CaseSpec> parse_case_id(std::string_view id) {
  using reports::Model;
  CaseSpec spec{std::string(id), Model::baseline, {}, 0};
  if (id == reports::model_info(Model::baseline).case_prefix) return spec;
  const auto call = [](std::string_view n) { return static_cast<std::uint32_t>(*number(n)); };
  if (auto within = parse_within_case(id)) return within;
  if (auto rest = after_prefix(id, Model::kill, "before-"); rest && number(*rest)) {
    spec.model = Model::kill, spec.plan.kind = Kind::kill_before, spec.plan.call = call(*rest);
  } else if (auto rest2 = after_prefix(id, Model::kill, "after-"); rest2 && number(*rest2)) {
    spec.model = Model::kill, spec.plan.kind = Kind::kill_after, spec.plan.call = call(*rest2);
  } else if (auto rest3 = after_prefix(id, Model::disk_full); rest3 && number(*rest3)) {
    spec.model = Model::disk_full, spec.plan.kind = Kind::disk_full, spec.plan.byte_budget = *number(*rest3);
  } else if (auto rest4 = after_prefix(id, Model::reader); rest4 && number(*rest4)) {
    spec.model = Model::reader, spec.plan.kind = Kind::pause, spec.reader_call = call(*rest4);
  } else if (auto rest5 = after_prefix(id, Model::errno_fault)) {
    return parse_errno_case(id, *rest5);
  } else if (auto rest6 = after_prefix(id, Model::power_loss)) {
    return parse_power_loss_case(id, *rest6);
  } else {
    return std::nullopt;
  }
  return spec;
}

BackendChoice choose_backend(std::optional<faults::BackendKind> flag, std::optional<faults::BackendKind> scenario,
                             const fs::path& agent_library) {
  using faults::BackendKind;
  if (auto asked = flag ? flag : scenario) {
    if (auto why = faults::backend_unavailable(*asked, agent_library))
      throw BackendUnavailable("the " + std::string(faults::backend_name(*asked)) +
                               " backend cannot run here: " + *why);
    return {*asked, std::nullopt};
  }
  // The default sees what the kernel sees; preload is the fallback, and the
  // report says why it was needed (faults/README.md, "How to choose").
  auto why = faults::backend_unavailable(BackendKind::seccomp, agent_library);
  if (!why) return {BackendKind::seccomp, std::nullopt};
  return {BackendKind::preload, "backend: preload, because the seccomp backend cannot run here: " + *why};
}

SubjectSetup make_setup(const Scenario& scenario, const SetupRequest& request) {
  SubjectSetup setup;
  setup.scenario = scenario;
  if (scenario.old) {
    setup.contents.old_bytes = read_required(scenario.old->file);
    setup.contents.old_mode = scenario.old->mode;
  }
  setup.contents.compare = scenario.compare;
  setup.contents.from_payload = !scenario.payload.empty();
  if (setup.contents.from_payload) {
    setup.contents.new_bytes = read_required(scenario.payload);
    faults::share_known_bytes(setup.contents.new_bytes.buffer());  // traces and snapshots share it, not copy it
  }
  if (setup.contents.from_payload && scenario.compare == Compare::json && !parses_as_json(setup.contents.new_bytes))
    throw InputError(scenario.payload.string() + ": the payload is not valid JSON, so --compare json cannot use it");
  if (scenario.directory_mode) setup.contents.initial_dir = scenario.directory_mode->initial;
  setup.agent_library = locate_agent(request.agent_library);
  setup.backend = choose_backend(request.backend, scenario.backend, setup.agent_library);
  setup.crashcheck_write = find_crashcheck_write();
  setup.work_root = request.work_root;
  setup.backend_root = request.backend_root;
  setup.timeout =
      std::chrono::milliseconds(static_cast<long long>(request.timeout_s.value_or(scenario.timeout_s) * 1000));
  return setup;
}

std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch) {
  return expand_command(argv, setup, scratch, scratch.payload());
}

std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch, const fs::path& payload) {
  std::vector<std::string> out;
  for (std::string arg : argv) {
    replace_all(arg, "{target}", fs::absolute(scratch.target()).string());
    replace_all(arg, "{payload}", fs::absolute(payload).string());
    replace_all(arg, "{dir}", fs::absolute(scratch.scratch()).string());
    replace_all(arg, "{scenario_dir}", setup.scenario.directory().string());
    replace_all(arg, "{crashcheck_write}", setup.crashcheck_write.string());
    out.push_back(std::move(arg));
  }
  return out;
}

PreparedSubject prepare_subject(const SubjectSetup& setup, const ScratchCase& shared, const ScratchCase& own,
                                const faults::FaultPlan& plan, bool sites, const fs::path& fork_root) {
  PreparedSubject out;
  faults::RunSetup run;
  run.scope = fs::absolute(shared.scratch());
  run.work_dir = own.backend_files();
  run.plan = plan;
  run.agent_library = setup.agent_library;
  run.sites = sites;
  run.fork_template = !fork_root.empty();
  run.fork_root = fork_root;
  out.observer = faults::make_observer(setup.backend.kind, run);
  faults::Launch launch{expand_command(setup.scenario.command, setup, shared, own.payload()), subject_environment(own)};
  out.observer->wrap(launch);
  const bool paused = plan.kind == Kind::pause;
  out.subject = {launch.argv,
                 environment_list(launch.environment),
                 shared.scratch(),
                 own.payload(),
                 own.output("stdout"),
                 own.output("stderr"),
                 paused ? setup.timeout * kPausedTimeoutFactor : setup.timeout};
  out.subject.wait_for_descendants = true;  // their calls are the writer's too (runner/README.md)
  return out;
}

CaseResult execute_case(const SubjectSetup& setup, const CaseSpec& spec, const PauseVisitor& on_pause) {
  CaseResult result;
  result.spec = spec;
  ScratchCase scratch(setup.work_root, setup.backend_root, spec.id, setup.scenario.target, setup.contents);
  result.initial = scratch.initial();
  PreparedSubject prepared = prepare_subject(setup, scratch, scratch, spec.plan, spec.sites);
  auto& observer = prepared.observer;
  const bool paused = spec.plan.kind == Kind::pause;
  const auto started = std::chrono::steady_clock::now();
  auto process = SubjectProcess::start(prepared.subject);
  if (paused) drive_pauses(process, *observer, scratch, on_pause, result);
  result.outcome = process.wait();
  result.subject_wall = std::chrono::steady_clock::now() - started;
  result.outliving = process.outliving();
  result.report_point_unknown = result.outliving.outlived && !(paused && process.subject_ended().has_value());
  collect_case_end(*observer, scratch, scratch.root(), result);
  return result;
}

void collect_case_end(faults::Observer& observer, const ScratchCase& scratch, const fs::path& named_root,
                      CaseResult& result) {
  result.final = take_snapshot(scratch.scratch());
  take_observation(observer.finish(), named_root, result);
  result.outside_writes = scratch.outside_writes();
  result.stderr_tail = log_tail(scratch.output("stderr"), 600);
}

}  // namespace crashcheck::runner
