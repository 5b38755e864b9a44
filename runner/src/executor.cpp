#include "crashcheck/runner/executor.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "crashcheck/runner/subject_process.hpp"

namespace crashcheck::runner {

unsigned default_jobs() { return std::max(1u, std::thread::hardware_concurrency()); }

std::size_t run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& job,
                         Progress* progress) {
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
      if (progress) progress->done(i);
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
