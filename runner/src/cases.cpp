#include "crashcheck/runner/cases.hpp"

#include <crashcheck/reference.hpp>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <unistd.h>

extern char** environ;

namespace crashcheck::runner {
namespace fs = std::filesystem;
using Kind = faults::FaultPlan::Kind;
namespace {

// Paused runs stop at every call while the runner snapshots; give them room.
constexpr int kPausedTimeoutFactor = 3;
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

// The end of a log, trimmed, on one line: it goes into one-line messages.
std::string tail(const fs::path& file, std::size_t bytes) {
  std::string all = read_file(file).value_or("");
  while (!all.empty() && std::isspace(static_cast<unsigned char>(all.back()))) all.pop_back();
  if (all.size() > bytes) all = "…" + all.substr(all.size() - bytes);
  for (char& c : all)
    if (c == '\n') c = ' ';
  return all;
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

fs::path resolve_agent(const fs::path& requested) {
  if (!requested.empty()) return requested;
  const char* env = std::getenv("CRASHCHECK_AGENT");
  // An installed crashcheck (bin/) takes the agent installed with it
  // (lib/crashcheck/) before the build tree's, which may still exist.
  return first_existing({env ? fs::path(env) : fs::path(),
                         self_directory() / "../lib/crashcheck/libcrashcheck_agent.so", faults::default_agent_library(),
                         self_directory() / "../faults/libcrashcheck_agent.so",
#ifdef CRASHCHECK_AGENT_PATH
                         fs::path(CRASHCHECK_AGENT_PATH)
#endif
  });
}

}  // namespace

fs::path find_crashcheck_write() {
  return first_existing({self_directory() / "crashcheck-write", self_directory() / "../reference/crashcheck-write",
#ifdef CRASHCHECK_WRITE_PATH
                         fs::path(CRASHCHECK_WRITE_PATH)
#endif
  });
}

namespace {

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
}

std::vector<std::string> subject_environment(const SubjectSetup& setup, const ScratchCase& scratch,
                                             const faults::FaultPlan& plan) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  faults::AgentSetup agent{setup.agent_library, fs::absolute(scratch.scratch()), scratch.trace(), scratch.control(),
                           plan};
  for (auto& [name, value] : faults::agent_environment(agent)) env[name] = value;
  env["UV_USE_IO_URING"] = "0";  // libuv's io_uring bypasses libc: the agent would see nothing
  // An ASan-built subject refuses a preloaded library ahead of its runtime, and
  // would report libfiu's never-freed allocations as its own leaks.
  std::string& asan = env["ASAN_OPTIONS"];
  asan += std::string(asan.empty() ? "" : ":") + "verify_asan_link_order=0:detect_leaks=0";
  env["TMPDIR"] = fs::absolute(scratch.temp_dir()).string();
  std::vector<std::string> out;
  for (auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

// The pause plan: snapshot the directory at every stop, let the call go on.
void drive_pauses(SubjectProcess& process, faults::AgentControl& control, const ScratchCase& scratch,
                  CaseResult& result) {
  while (!process.finished()) {
    if (cancel_requested().load()) process.stop();
    if (auto call = control.wait_paused(kPauseTick)) {
      result.pauses[*call] = take_snapshot(scratch.scratch());
      control.resume();
    }
  }
}

}  // namespace

std::string case_id(const std::string& model, const faults::FaultPlan& plan, std::uint32_t reader_call) {
  const std::string n = std::to_string(plan.call);
  switch (plan.kind) {
    case Kind::none:
      return "baseline";
    case Kind::kill_before:
      return "kill-before-" + n;
    case Kind::kill_after:
      return "kill-after-" + n;
    case Kind::fail_call:
      return "errno-" + n + "-" + faults::errno_name(plan.error);
    case Kind::disk_full:
      return "disk-full-" + std::to_string(plan.byte_budget);
    case Kind::pause:
      return model == "reader" ? "reader-" + std::to_string(reader_call) : "paused-run";
  }
  return "?";
}

std::optional<CaseSpec> parse_case_id(std::string_view id) {
  auto after = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (id.substr(0, prefix.size()) != prefix) return std::nullopt;
    return id.substr(prefix.size());
  };
  CaseSpec spec{std::string(id), "", {}, 0};
  if (id == "baseline") return spec.model = "baseline", spec;
  if (auto rest = after("kill-before-"); rest && number(*rest)) {
    spec.model = "kill", spec.plan.kind = Kind::kill_before,
    spec.plan.call = static_cast<std::uint32_t>(*number(*rest));
  } else if (auto rest2 = after("kill-after-"); rest2 && number(*rest2)) {
    spec.model = "kill", spec.plan.kind = Kind::kill_after,
    spec.plan.call = static_cast<std::uint32_t>(*number(*rest2));
  } else if (auto rest3 = after("disk-full-"); rest3 && number(*rest3)) {
    spec.model = "disk-full", spec.plan.kind = Kind::disk_full, spec.plan.byte_budget = *number(*rest3);
  } else if (auto rest4 = after("reader-"); rest4 && number(*rest4)) {
    spec.model = "reader", spec.plan.kind = Kind::pause, spec.reader_call = static_cast<std::uint32_t>(*number(*rest4));
  } else if (auto rest5 = after("errno-")) {
    const auto dash = rest5->find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const auto call = number(rest5->substr(0, dash));
    const int error = faults::errno_from_name(rest5->substr(dash + 1));
    if (!call || error == 0) return std::nullopt;
    spec.model = "errno", spec.plan.kind = Kind::fail_call, spec.plan.call = static_cast<std::uint32_t>(*call);
    spec.plan.error = error;
  } else {
    return std::nullopt;
  }
  return spec;
}

SubjectSetup make_setup(const Scenario& scenario, std::optional<double> timeout_s, const fs::path& agent_library,
                        const fs::path& work_root) {
  SubjectSetup setup;
  setup.scenario = scenario;
  if (scenario.old) {
    setup.contents.old_bytes = read_required(scenario.old->file);
    setup.contents.old_mode = scenario.old->mode;
  }
  setup.contents.new_bytes = read_required(scenario.payload);
  setup.agent_library = resolve_agent(agent_library);
  setup.crashcheck_write = find_crashcheck_write();
  setup.work_root = work_root;
  setup.timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s.value_or(scenario.timeout_s) * 1000));
  return setup;
}

std::vector<std::string> expand_command(const std::vector<std::string>& argv, const SubjectSetup& setup,
                                        const ScratchCase& scratch) {
  std::vector<std::string> out;
  for (std::string arg : argv) {
    replace_all(arg, "{target}", fs::absolute(scratch.target()).string());
    replace_all(arg, "{payload}", fs::absolute(scratch.payload()).string());
    replace_all(arg, "{dir}", fs::absolute(scratch.scratch()).string());
    replace_all(arg, "{scenario_dir}", setup.scenario.directory().string());
    replace_all(arg, "{crashcheck_write}", setup.crashcheck_write.string());
    out.push_back(std::move(arg));
  }
  return out;
}

CaseResult execute_case(const SubjectSetup& setup, const CaseSpec& spec) {
  CaseResult result;
  result.spec = spec;
  ScratchCase scratch(setup.work_root, spec.id, setup.scenario.target, setup.contents);
  result.initial = scratch.initial();
  auto control = faults::AgentControl::create(scratch.control());
  const bool paused = spec.plan.kind == Kind::pause;
  SubjectSpec subject{expand_command(setup.scenario.command, setup, scratch),
                      subject_environment(setup, scratch, spec.plan),
                      scratch.scratch(),
                      scratch.payload(),
                      scratch.output("stdout"),
                      scratch.output("stderr"),
                      paused ? setup.timeout * kPausedTimeoutFactor : setup.timeout};
  auto process = SubjectProcess::start(subject);
  if (paused) drive_pauses(process, control, scratch, result);
  result.outcome = process.wait();
  result.final = take_snapshot(scratch.scratch());
  result.agents_loaded = control.processes_loaded();
  result.calls_counted = control.calls_counted();
  result.outside_writes = scratch.outside_writes();
  result.stderr_tail = tail(scratch.output("stderr"), 600);
  try {
    result.trace = faults::read_trace(scratch.trace());
  } catch (const faults::TraceError& e) {
    result.trace_error = e.what();
  }
  return result;
}

}  // namespace crashcheck::runner
