#include "steps.hpp"

#include <fiu.h>

#include <array>
#include <climits>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace crashcheck {
namespace {

struct StepInfo {
  WriteStep step;
  std::string_view name;
  const char* point;  // nullptr: no failure point
};

#define CRASHCHECK_STEP(s) \
  StepInfo { WriteStep::s, #s, "crashcheck/reference/" #s }
constexpr std::array kSteps{
    StepInfo{WriteStep::none, "none", nullptr},
    CRASHCHECK_STEP(resolve),
    CRASHCHECK_STEP(open_temp),
    CRASHCHECK_STEP(write),
    CRASHCHECK_STEP(chmod),
    CRASHCHECK_STEP(chown),
    CRASHCHECK_STEP(fsync_file),
    CRASHCHECK_STEP(close),
    CRASHCHECK_STEP(rename),
    CRASHCHECK_STEP(fsync_dir),
};
#undef CRASHCHECK_STEP

const StepInfo& info(WriteStep step) noexcept {
  for (const auto& entry : kSteps)
    if (entry.step == step) return entry;
  return kSteps[0];
}

// 1 for the dot before the name, 1 for the dot after it, 16 hex digits.
constexpr std::size_t kRandomDigits = 16;
constexpr std::size_t kMaxNameInTemp = NAME_MAX - 2 - kRandomDigits - kTempNameSuffix.size();

class WriteCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "crashcheck.reference"; }
  std::string message(int value) const override {
    switch (static_cast<WriteErrc>(value)) {
      case WriteErrc::not_regular_file:
        return "target exists but is not a regular file";
    }
    return "unknown reference writer error";
  }
};

}  // namespace

std::string_view step_name(WriteStep step) noexcept { return info(step).name; }

std::span<const WriteStep> steps_with_failure_points() noexcept {
  static constexpr auto steps = [] {
    std::array<WriteStep, kSteps.size() - 1> out{};
    for (std::size_t i = 1; i < kSteps.size(); ++i) out[i - 1] = kSteps[i].step;
    return out;
  }();
  return steps;
}

std::string failure_point(WriteStep step) {
  const char* point = info(step).point;
  return point ? point : "";
}

const std::error_category& write_category() noexcept {
  static const WriteCategory category;
  return category;
}

std::error_code make_error_code(WriteErrc e) noexcept { return {static_cast<int>(e), write_category()}; }

std::string WriteError::message() const {
  if (code) return std::string(step_name(step)) + ": " + code.message();
  if (durability_warning)
    return std::string(step_name(step)) + ": " + durability_warning.message() +
           " (target replaced, rename not durable)";
  return "ok";
}

std::string temp_name_prefix(std::string_view target_name) {
  std::string prefix(kTempNamePrefix);
  prefix += target_name.substr(0, kMaxNameInTemp);
  prefix += '.';
  return prefix;
}

bool is_temp_name_for(std::string_view target_name, std::string_view candidate) {
  const std::string prefix = temp_name_prefix(target_name);
  if (candidate.size() != prefix.size() + kRandomDigits + kTempNameSuffix.size()) return false;
  if (!candidate.starts_with(prefix) || !candidate.ends_with(kTempNameSuffix)) return false;
  for (char c : candidate.substr(prefix.size(), kRandomDigits))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

namespace detail {

std::string random_temp_name(std::string_view target_name) {
  static_assert(kRandomDigits == 2 * sizeof(std::uint64_t));
  std::uint64_t random = 0;
  ::arc4random_buf(&random, sizeof random);  // glibc >= 2.36: getrandom-backed, never fails
  char digits[kRandomDigits + 1];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(random));
  return temp_name_prefix(target_name) + digits + std::string(kTempNameSuffix);
}

const char* failure_point_cstr(WriteStep step) noexcept { return info(step).point; }

int injected_errno(WriteStep step) noexcept {
  const char* point = failure_point_cstr(step);
  return point ? fiu_fail(point) : 0;
}

}  // namespace detail
}  // namespace crashcheck
