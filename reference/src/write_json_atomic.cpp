#include "steps.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <new>

namespace crashcheck {

WriteError write_json_atomic(const std::filesystem::path& target, const nlohmann::json& value, int indent,
                             const WriteOptions& options) noexcept {
  std::string text;
  try {
    text = value.dump(indent < 0 ? -1 : indent);
    text += '\n';
  } catch (const nlohmann::json::type_error&) {  // a string that is not valid UTF-8
    return detail::step_failed(WriteStep::none, EILSEQ);
  } catch (const std::bad_alloc&) {
    return detail::step_failed(WriteStep::none, ENOMEM);
  }
  return write_file_atomic(target, text, options);
}

}  // namespace crashcheck
