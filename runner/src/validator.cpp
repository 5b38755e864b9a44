#include "crashcheck/runner/validator.hpp"

#include <crashcheck/reference.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

extern char** environ;

namespace crashcheck::runner {
namespace fs = std::filesystem;
namespace {

bool run_command_validator(const SubjectSetup& setup, const std::string& bytes, std::size_t serial) {
  const fs::path dir = setup.work_root / ("validate-" + std::to_string(serial));
  fs::create_directories(dir);
  const fs::path state = dir / setup.scenario.target;
  WriteOptions options;
  options.durability = Durability::no_sync;
  if (auto error = write_file_atomic(state, bytes, options))
    throw std::runtime_error(state.string() + ": " + error.message());
  std::vector<std::string> argv;
  for (std::string arg : setup.scenario.validator.command) {
    for (std::size_t at; (at = arg.find("{target}")) != std::string::npos;) arg.replace(at, 8, state.string());
    for (std::size_t at; (at = arg.find("{scenario_dir}")) != std::string::npos;)
      arg.replace(at, 14, setup.scenario.directory().string());
    argv.push_back(arg);
  }
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  const auto outcome = run_subject({argv, env, dir, state, {}, {}, setup.timeout});
  std::error_code ec;
  fs::remove_all(dir, ec);
  return outcome.succeeded();
}

}  // namespace

ContentValidator make_content_validator(const SubjectSetup& setup) {
  using Kind = Validator::Kind;
  if (setup.scenario.validator.kind == Kind::none) return {};
  struct Cache {
    std::mutex mutex;
    // Keyed by length and hash, not by the bytes: the cache must not keep a
    // copy of every distinct state (a 64-bit collision is the accepted risk).
    std::map<std::pair<std::size_t, std::size_t>, bool> verdicts;
  };
  auto cache = std::make_shared<Cache>();
  return [cache, &setup](const std::string& bytes) {
    std::lock_guard lock(cache->mutex);
    const std::pair key{bytes.size(), std::hash<std::string>{}(bytes)};
    auto found = cache->verdicts.find(key);
    if (found != cache->verdicts.end()) return found->second;
    // Numbered for the process, not the cache: two validators may run at once
    // (the baseline's power-loss analysis beside the error cases').
    static std::atomic<std::size_t> serial{0};
    const bool valid = setup.scenario.validator.kind == Kind::json ? nlohmann::json::accept(bytes)
                                                                   : run_command_validator(setup, bytes, serial++);
    cache->verdicts.emplace(key, valid);
    return valid;
  };
}

}  // namespace crashcheck::runner
