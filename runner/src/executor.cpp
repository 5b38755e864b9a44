#include "crashcheck/runner/executor.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

#include "crashcheck/runner/subject_process.hpp"

namespace crashcheck::runner {
namespace {

class Progress {
 public:
  Progress(const std::string& label, std::size_t total)
      : label_(label), total_(total), enabled_(!label.empty() && ::isatty(STDERR_FILENO)) {}
  ~Progress() {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }
  void tick() {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    std::fprintf(stderr, "\r\033[K%s: %zu/%zu cases", label_.c_str(), ++done_, total_);
    std::fflush(stderr);
  }

 private:
  std::string label_;
  std::size_t total_, done_ = 0;
  bool enabled_;
  std::mutex mutex_;
};

}  // namespace

unsigned default_jobs() { return std::max(1u, std::thread::hardware_concurrency()); }

std::size_t run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& job,
                         const std::string& progress_label) {
  Progress progress(progress_label, count);
  std::atomic<std::size_t> next{0}, ran{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (std::size_t i; !cancel_requested().load() && (i = next++) < count;) {
      try {
        job(i);
        ++ran;
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next = count;  // stop handing out work
      }
      progress.tick();
    }
  };
  std::vector<std::thread> threads;
  const unsigned n = static_cast<unsigned>(std::min<std::size_t>(std::max(1u, jobs), std::max<std::size_t>(count, 1)));
  for (unsigned t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
  return ran;
}

}  // namespace crashcheck::runner
