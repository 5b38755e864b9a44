// runner: fast vs exact kill exploration on the seed's fixed writer, with the
// bundled payload and with a larger one (more crash points)
// (scenarios/pipeline_health_fix.json), and exact mode's wall time against the
// ideal "cases × one bare run ÷ cores", all measured in this one run.
// Goals (issue 4): fast ≥ 10× faster than exact; exact ≤ 1.25 × ideal.
// Prints the figures; exits 0 (a benchmark, not a test).
#include <crashcheck/runner/campaign.hpp>
#include <crashcheck/runner/executor.hpp>
#include <crashcheck/runner/subject_process.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace fs = std::filesystem;
using namespace crashcheck::runner;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kRepeats = 5;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One run of the subject with no agent and no supervisor bookkeeping beyond
// the process itself: the cost a case cannot go below.
double bare_run_seconds(const Scenario& s) {
  const fs::path dir = fs::temp_directory_path() / "runner-bench-bare";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(s.old->file, dir / s.target);
  std::vector<std::string> argv = s.command;
  for (auto& a : argv) {
    if (a == "{target}")
      a = (dir / s.target).string();
    else if (a == "{payload}")
      a = s.payload.string();
    else if (auto at = a.find("{scenario_dir}"); at != std::string::npos)
      a.replace(at, 14, s.directory().string());
  }
  const auto start = Clock::now();
  const auto outcome = run_subject({argv, {}, dir, s.payload, {}, {}, std::chrono::seconds(30)});
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  fs::remove_all(dir);
  if (!outcome.succeeded()) std::fprintf(stderr, "bare run failed: %s\n", outcome.describe().c_str());
  return seconds;
}

struct Timed {
  double seconds = 0;
  std::size_t kill_cases = 0;
};

Timed campaign_seconds(const Scenario& s, KillMode mode, unsigned jobs) {
  RunOptions options;
  options.models = {"kill"};
  options.kill_mode = mode;
  options.jobs = jobs;
  options.progress = false;
  const auto start = Clock::now();
  const CampaignResult result = run_campaigns(s, options);
  Timed t{std::chrono::duration<double>(Clock::now() - start).count(), 0};
  for (const auto& o : result.observations) t.kill_cases += o.model == crashcheck::reports::Model::kill;
  return t;
}

// The seed's writer with a bigger health report: json.dump then reaches the
// file in 8 KiB buffer flushes, so there are as many crash points as a real
// multi-write writer has. The payload is produced by Python's own json.dumps
// so the writer's output matches it byte for byte.
Scenario with_large_payload(Scenario s, int copies) {
  const fs::path payload = fs::temp_directory_path() / "runner-bench-large-payload.json";
  const std::string script =
      "import json,sys; d=json.load(open(sys.argv[1])); "
      "open(sys.argv[2],'w').write(json.dumps({'history': [d] * int(sys.argv[3])}, indent=2))";
  const auto outcome =
      run_subject({{CRASHCHECK_PYTHON, "-c", script, s.payload.string(), payload.string(), std::to_string(copies)},
                   {},
                   fs::temp_directory_path(),
                   s.payload,
                   {},
                   {},
                   std::chrono::seconds(30)});
  if (!outcome.succeeded()) std::fprintf(stderr, "making the large payload failed: %s\n", outcome.describe().c_str());
  s.name += " (" + std::to_string(fs::file_size(payload) / 1024) + " KiB payload)";
  s.payload = payload;
  return s;
}

void measure(const Scenario& s, unsigned cores) {
  std::vector<double> bare, fast, exact, exact_serial;
  std::size_t cases = 0;
  for (int i = 0; i < kRepeats; ++i) {  // interleaved, so load changes hit all alike
    bare.push_back(bare_run_seconds(s));
    fast.push_back(campaign_seconds(s, KillMode::fast, cores).seconds);
    const Timed e = campaign_seconds(s, KillMode::exact, cores);
    exact.push_back(e.seconds);
    cases = e.kill_cases + 1;  // + the baseline
    exact_serial.push_back(campaign_seconds(s, KillMode::exact, 1).seconds);
  }
  const double b = median(bare), f = median(fast), e = median(exact), e1 = median(exact_serial);
  const double ideal = cases * b / cores;
  std::printf("runner_bench on %s, %u cores, median of %d\n", s.name.c_str(), cores, kRepeats);
  std::printf("  one bare run of the subject      %8.1f ms\n", b * 1000);
  std::printf("  kill, fast (-j%u)                %8.1f ms\n", cores, f * 1000);
  std::printf("  kill, exact (-j%u), %zu cases      %8.1f ms\n", cores, cases, e * 1000);
  std::printf("  kill, exact (-j1)                %8.1f ms\n", e1 * 1000);
  std::printf("  exact / fast, -j%u                %8.2f x   (goal >= 10: %s)\n", cores, e / f,
              e / f >= 10 ? "met" : "missed");
  std::printf("  exact -j1 / fast                 %8.2f x\n", e1 / f);
  std::printf("  exact / (cases x bare / cores)   %8.2f     (goal <= 1.25: %s)\n", e / ideal,
              e / ideal <= 1.25 ? "met" : "missed");
}

}  // namespace

int main() {
  const Scenario s = load_scenario(fs::path(CRASHCHECK_SOURCE_DIR) / "scenarios" / "pipeline_health_fix.json");
  const unsigned cores = default_jobs();
  measure(s, cores);
  const Scenario large = with_large_payload(s, 64);
  measure(large, cores);
  fs::remove(large.payload);  // made in the temp directory for this run only
  return 0;
}
