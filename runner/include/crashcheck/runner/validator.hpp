// `valid_content`'s validators: "json" (nlohmann::json::accept) or a user
// command that gets the state as {target} and on stdin and exits 0 when it is
// valid. Results are cached per distinct content: most states repeat.
#pragma once

#include "crashcheck/runner/cases.hpp"
#include "crashcheck/runner/properties.hpp"

namespace crashcheck::runner {

// Empty std::function when the scenario has no validator.
ContentValidator make_content_validator(const SubjectSetup& setup);

}  // namespace crashcheck::runner
