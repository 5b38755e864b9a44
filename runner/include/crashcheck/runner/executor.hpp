// Runs independent jobs on N threads, stops handing out new ones once
// cancel_requested() is set, and reports each job's end to a Progress.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "crashcheck/runner/progress.hpp"

namespace crashcheck::runner {

unsigned default_jobs();  // the number of cores

// Calls job(i) for every i in [0, count) on up to `jobs` threads. Returns how
// many jobs ran (fewer than count when cancelled). Exceptions thrown by a job
// are rethrown (the first one) after every thread has stopped. `progress`
// (may be null) hears of every job that ended.
std::size_t run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& job,
                         Progress* progress = nullptr);

}  // namespace crashcheck::runner
