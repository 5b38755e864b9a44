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
  StepFeature feature;
};

#define CRASHCHECK_STEP(s, feature) \
  StepInfo { WriteStep::s, #s, "crashcheck/reference/" #s, StepFeature::feature }
constexpr std::array kSteps{
    StepInfo{WriteStep::none, "none", nullptr, StepFeature::sequence},
    CRASHCHECK_STEP(resolve, sequence),
    CRASHCHECK_STEP(open_temp, sequence),
    CRASHCHECK_STEP(write, sequence),
    CRASHCHECK_STEP(chmod, sequence),
    CRASHCHECK_STEP(chown, sequence),
    CRASHCHECK_STEP(fsync_file, sequence),
    CRASHCHECK_STEP(close, sequence),
    CRASHCHECK_STEP(backup_link, backup),
    CRASHCHECK_STEP(backup_copy, backup),
    CRASHCHECK_STEP(backup_rename, backup),
    CRASHCHECK_STEP(rename, sequence),
    CRASHCHECK_STEP(fsync_dir, sequence),
    CRASHCHECK_STEP(lock, lock),
    CRASHCHECK_STEP(read_current, lock),
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

StepFeature step_feature(WriteStep step) noexcept { return info(step).feature; }

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

int make_under_temp_name(const std::filesystem::path& file,
                         const std::function<int(const std::filesystem::path&)>& make, std::filesystem::path& made) {
  constexpr int kMaxNameAttempts = 100;  // EEXIST on a 64-bit random name: someone is racing us
  const std::string name = file.filename().string();
  for (int tries = 0; tries < kMaxNameAttempts; ++tries) {
    std::filesystem::path candidate = file.parent_path() / random_temp_name(name);
    const int error = make(candidate);
    if (error == EEXIST) continue;
    if (error == 0) made = std::move(candidate);
    return error;
  }
  return EEXIST;
}

const char* failure_point_cstr(WriteStep step) noexcept { return info(step).point; }

int injected_errno(WriteStep step) noexcept {
  const char* point = failure_point_cstr(step);
  return point ? fiu_fail(point) : 0;
}

}  // namespace detail
}  // namespace crashcheck
