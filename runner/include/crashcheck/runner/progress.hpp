// Progress that tells the truth: per model, how many cases are done of how
// many, and an estimate of the time left from the pace so far. On a terminal
// one line is redrawn in place; elsewhere (CI logs) a line is printed every
// 10 s and one when a model's last case ends, so a log shows a run is alive
// without flooding.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace crashcheck::runner {

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Sink = std::function<void(const std::string& line, bool redraw)>;  // redraw: replace the terminal line

  // `groups[i]` names the model of item i. `terminal` picks the redrawn line.
  Progress(std::string label, std::vector<std::string> groups, bool terminal, Sink sink, Clock clock);
  // Writes to stderr; a terminal when stderr is one.
  static std::unique_ptr<Progress> to_stderr(std::string label, std::vector<std::string> groups);
  ~Progress();

  void done(std::size_t item);  // thread-safe

 private:
  struct Group {
    std::string name;
    std::size_t total = 0, done = 0;
  };
  std::string status_line() const;  // "name: kill 3/3, errno 40/70 — about 12 s left"
  Group& group_of(std::size_t item);

  std::string label_;
  std::vector<std::size_t> group_index_;
  std::vector<Group> groups_;
  bool terminal_;
  Sink sink_;
  Clock clock_;
  std::chrono::steady_clock::time_point started_, last_line_;
  std::size_t done_ = 0;
  std::mutex mutex_;
};

}  // namespace crashcheck::runner
