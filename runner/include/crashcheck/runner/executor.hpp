// Runs independent jobs on N threads, stops handing out new ones once
// cancel_requested() is set, and keeps a progress line on stderr when it is a
// terminal.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace crashcheck::runner {

unsigned default_jobs();  // the number of cores

// Calls job(i) for every i in [0, count) on up to `jobs` threads. Returns how
// many jobs ran (fewer than count when cancelled). Exceptions thrown by a job
// are rethrown (the first one) after every thread has stopped.
std::size_t run_parallel(std::size_t count, unsigned jobs, const std::function<void(std::size_t)>& job,
                         const std::string& progress_label);

}  // namespace crashcheck::runner
