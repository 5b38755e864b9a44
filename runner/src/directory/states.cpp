// StateBook: the distinct whole-directory states of a directory-mode run and
// the checker's verdict on each. A state is materialised into a throw-away
// copy only while its checker runs (the checker may change its copy — SQLite
// rolls a hot journal back on open — and no other state sees that), in its
// own process group with the case timeout (run_subject).
#include <crashcheck/reference.hpp>

#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

#include "crashcheck/runner/executor.hpp"
#include "crashcheck/runner/power_loss.hpp"
#include "directory.hpp"

extern char** environ;

namespace crashcheck::runner {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kOutputTail = 600;  // bytes of the checker's output kept for a counterexample

// Names, kinds, modes, sizes and a hash of the bytes: two states with the
// same key are one state (a 64-bit collision of equal-sized bytes is the
// accepted risk, as for the validator's cache).
std::string state_key(const StateBook::Entries& entries, bool committed) {
  std::string key = committed ? "1" : "0";
  for (const auto& [name, e] : entries)
    key += name + '\0' + std::to_string(static_cast<int>(e.kind)) + ':' + std::to_string(e.mode) + ':' +
           std::to_string(e.content.size()) + ':' + std::to_string(std::hash<std::string>{}(e.content)) + '\0';
  return key;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), file.string());
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw std::system_error(errno, std::generic_category(), file.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::vector<std::string> checker_argv(const SubjectSetup& setup, const fs::path& dir) {
  std::vector<std::string> argv;
  for (std::string arg : setup.scenario.directory_mode->checker) {
    for (std::size_t at; (at = arg.find("{dir}")) != std::string::npos;) arg.replace(at, 5, dir.string());
    for (std::size_t at; (at = arg.find("{scenario_dir}")) != std::string::npos;)
      arg.replace(at, 14, setup.scenario.directory().string());
    argv.push_back(arg);
  }
  return argv;
}

// A copy the checker cannot clean up after itself: read-only directories it
// left are made writable before the copy is removed.
void remove_copy(const fs::path& root) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(root, ec);
}

CheckerVerdict run_checker(const SubjectSetup& setup, const StateBook::Entries& entries, bool committed,
                           const fs::path& root) {
  const fs::path dir = root / "dir";
  materialise(entries, dir);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).substr(0, 21) != "CRASHCHECK_COMMITTED=") env.emplace_back(*e);
  env.push_back(std::string("CRASHCHECK_COMMITTED=") + (committed ? "1" : "0"));
  const fs::path output = root / "output";
  const auto end = run_subject({checker_argv(setup, fs::absolute(dir)), env, root, {}, output, output, setup.timeout});
  CheckerVerdict v;
  v.consistent = end.succeeded();
  v.timed_out = end.end == SubjectOutcome::End::timed_out;
  v.outcome = v.timed_out ? "did not finish within " + seconds_text(setup.timeout.count() / 1000.0) + " (timeout)"
                          : end.describe();
  v.output = log_tail(output, kOutputTail);
  remove_copy(root);
  return v;
}

}  // namespace

CheckerVerdict check_state(const SubjectSetup& setup, const StateBook::Entries& entries, bool committed,
                           const fs::path& root) {
  return run_checker(setup, entries, committed, root);
}

StateBook::Entries entries_of(const powerloss::CrashState& state, const Snapshot& initial) {
  StateBook::Entries out;
  for (const auto& name : state.names()) {
    const auto image = state.file(name);
    if (!image || faults::outside_scope(name)) continue;  // a temp in $TMPDIR: not in the directory judged
    out[name] = {replayed_kind(initial, name, image->is_directory, image->content), image->mode,
                 image->is_directory ? std::string() : image->content, 0};
  }
  // A power loss that drops a directory's creation drops what is inside it:
  // nothing is reachable without its parent's entry. (The model may keep a
  // file created in a new subdirectory whose mkdir it lost; materialising
  // that was a harness failure.) Parents sort before their children.
  for (auto it = out.begin(); it != out.end();) {
    const auto slash = it->first.rfind('/');
    const bool orphan = slash != std::string::npos && !out.count(it->first.substr(0, slash));
    it = orphan ? out.erase(it) : std::next(it);
  }
  return out;
}

void materialise(const StateBook::Entries& entries, const fs::path& dir) {
  fs::create_directories(dir);
  std::vector<std::pair<fs::path, mode_t>> directories;  // their modes last: a 0555 one would refuse its files
  for (const auto& [name, e] : entries) {
    const fs::path path = dir / name;
    switch (e.kind) {
      case Entry::Kind::directory:
        fs::create_directories(path);
        directories.emplace_back(path, e.mode);
        break;
      case Entry::Kind::symlink:
        fs::create_symlink(e.content.str(), path);
        break;
      case Entry::Kind::file:
        write_bytes(path, e.content);
        ::chmod(path.c_str(), e.mode & 07777);
        break;
      case Entry::Kind::other:  // a fifo or socket: its name is what a checker can see of it
        write_bytes(path, "");
        break;
    }
  }
  for (auto it = directories.rbegin(); it != directories.rend(); ++it) ::chmod(it->first.c_str(), it->second & 07777);
}

std::size_t StateBook::add(Entries entries, bool committed) {
  std::lock_guard lock(mutex_);
  const auto [found, fresh] = by_key_.emplace(state_key(entries, committed), jobs_.size());
  if (fresh) jobs_.push_back({std::move(entries), committed});
  return found->second;
}

void StateBook::judge(const SubjectSetup& setup, unsigned jobs) {
  verdicts_.assign(jobs_.size(), {});
  run_parallel(jobs_.size(), jobs ? jobs : default_jobs(), [&](std::size_t i) {
    verdicts_[i] =
        check_state(setup, jobs_[i].entries, jobs_[i].committed, setup.work_root / ("checker-" + std::to_string(i)));
  });
}

}  // namespace crashcheck::runner
