// preload/agent.hpp: the agent's environment and the shared control block.
// The block's layout is in shared.h, shared with the agent.
#include "agent.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <system_error>

#include "../shared.h"

namespace crashcheck::faults {

// ------------------------------------------------------------- environment --

std::vector<std::pair<std::string, std::string>> agent_environment(const AgentSetup& setup) {
  std::string preload = setup.agent_library.string();
  if (const char* existing = std::getenv("LD_PRELOAD"); existing && *existing) preload += std::string(":") + existing;
  return {
      {"LD_PRELOAD", preload},
      {CC_ENV_SCOPE, std::filesystem::absolute(setup.scope).lexically_normal().string()},
      {CC_ENV_TRACE, setup.trace_file.string()},
      {CC_ENV_CONTROL, setup.control_file.string()},
      {CC_ENV_PLAN, setup.plan.encode()},
  };
}

// ----------------------------------------------------------- control block --

struct AgentControl::Mapping {
  cc_control* block = nullptr;
  std::uint32_t last_resumed = 0;
  ~Mapping() {
    if (block) munmap(block, sizeof *block);
  }
};

AgentControl::AgentControl(std::unique_ptr<Mapping> mapping) : mapping_(std::move(mapping)) {}
AgentControl::AgentControl(AgentControl&&) noexcept = default;
AgentControl& AgentControl::operator=(AgentControl&&) noexcept = default;
AgentControl::~AgentControl() = default;

AgentControl AgentControl::create(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "control block " + file.string());
  if (::ftruncate(fd, sizeof(cc_control)) != 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "control block " + file.string());
  }
  void* p = ::mmap(nullptr, sizeof(cc_control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw std::system_error(e, std::generic_category(), "control block " + file.string());
  auto mapping = std::make_unique<Mapping>();
  mapping->block = new (p) cc_control{};  // the file is zero-filled; start the atomics' lifetime
  mapping->block->magic = CC_CONTROL_MAGIC;
  mapping->block->version = CC_CONTROL_VERSION;
  return AgentControl(std::move(mapping));
}

std::uint32_t AgentControl::processes_loaded() const noexcept { return mapping_->block->agents_loaded.load(); }
std::uint32_t AgentControl::calls_counted() const noexcept { return mapping_->block->calls.load(); }

namespace {
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, 0);
}
}  // namespace

std::optional<std::uint32_t> AgentControl::wait_paused(std::chrono::milliseconds timeout) {
  auto& word = mapping_->block->paused_call;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint32_t seen = word.load();
    // the process we resumed may not have cleared its slot yet
    if (seen != 0 && seen != mapping_->last_resumed) return seen;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return std::nullopt;
    // bounded waits: a process that clears its slot wakes us, but we poll too
    auto slice = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(10));
    timespec ts{static_cast<time_t>(slice.count() / 1000000000), static_cast<long>(slice.count() % 1000000000)};
    futex(word, FUTEX_WAIT, seen, &ts);
  }
}

void AgentControl::resume() {
  std::uint32_t paused = mapping_->block->paused_call.load();
  if (paused == 0) return;
  mapping_->last_resumed = paused;
  mapping_->block->resumed_call.store(paused);
  futex(mapping_->block->resumed_call, FUTEX_WAKE, INT_MAX, nullptr);
}

}  // namespace crashcheck::faults
