// Progress lines for a run of cases (progress.hpp says what they promise).
#include "crashcheck/runner/progress.hpp"

#include <cstdio>
#include <unistd.h>

namespace crashcheck::runner {
namespace {

constexpr auto kLogInterval = std::chrono::seconds(10);  // non-terminal: one line this often, at most

std::string seconds_left(double seconds) {
  if (seconds < 1) return "under 1 s left";
  if (seconds < 120) return "about " + std::to_string(static_cast<long>(seconds + 0.5)) + " s left";
  return "about " + std::to_string(static_cast<long>(seconds / 60 + 0.5)) + " min left";
}

}  // namespace

Progress::Progress(std::string label, std::vector<std::string> groups, bool terminal, Sink sink, Clock clock)
    : label_(std::move(label)), terminal_(terminal), sink_(std::move(sink)), clock_(std::move(clock)) {
  for (const auto& name : groups) {
    std::size_t index = 0;
    while (index < groups_.size() && groups_[index].name != name) ++index;
    if (index == groups_.size()) groups_.push_back({name});
    ++groups_[index].total;
    group_index_.push_back(index);
  }
  started_ = last_line_ = clock_();
}

std::unique_ptr<Progress> Progress::to_stderr(std::string label, std::vector<std::string> groups) {
  const bool terminal = ::isatty(STDERR_FILENO);
  auto sink = [](const std::string& line, bool redraw) {
    std::fprintf(stderr, redraw ? "\r\033[K%s" : "%s\n", line.c_str());
    std::fflush(stderr);
  };
  return std::make_unique<Progress>(std::move(label), std::move(groups), terminal, sink,
                                    [] { return std::chrono::steady_clock::now(); });
}

Progress::~Progress() {
  if (terminal_ && done_ > 0) sink_("", true);  // leave the terminal line clean
}

Progress::Group& Progress::group_of(std::size_t item) { return groups_[group_index_.at(item)]; }

std::string Progress::status_line() const {
  std::string line = label_ + ":";
  for (const auto& g : groups_)
    line +=
        (&g == &groups_.front() ? " " : ", ") + g.name + " " + std::to_string(g.done) + "/" + std::to_string(g.total);
  const double elapsed = std::chrono::duration<double>(clock_() - started_).count();
  const std::size_t total = group_index_.size();
  if (done_ > 0 && done_ < total) line += " — " + seconds_left(elapsed / done_ * (total - done_));
  return line;
}

void Progress::done(std::size_t item) {
  std::lock_guard lock(mutex_);
  Group& group = group_of(item);
  ++group.done;
  ++done_;
  if (terminal_) {
    sink_(status_line(), true);
    return;
  }
  const auto now = clock_();
  if (group.done == group.total) {
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", elapsed);
    sink_(label_ + ": " + group.name + " finished, " + std::to_string(group.total) + " cases (" + took +
              " s into the run)",
          false);
  } else if (now - last_line_ >= kLogInterval) {
    sink_(status_line(), false);
  } else {
    return;
  }
  last_line_ = now;
}

}  // namespace crashcheck::runner
