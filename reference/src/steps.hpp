// Internal: the one table of write steps and their libfiu failure points.
#pragma once

#include <crashcheck/reference.hpp>

namespace crashcheck::detail {

// libfiu wants a C string; kept beside the step's name so both come from one table.
const char* failure_point_cstr(WriteStep step) noexcept;

// The errno a test asked `step` to fail with (libfiu's failnum), 0 normally.
int injected_errno(WriteStep step) noexcept;

// A fresh temp file name for `target_name`: temp_name_prefix, 16 random hex
// digits, kTempNameSuffix.
std::string random_temp_name(std::string_view target_name);

inline WriteError step_failed(WriteStep step, int error) noexcept {
  return WriteError{std::error_code(error, std::generic_category()), step, {}};
}

}  // namespace crashcheck::detail
