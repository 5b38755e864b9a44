// new_content.hpp says why; this is how: the one comparison, and the bytes a
// run wrote into its target rebuilt from its own trace.
#include "crashcheck/runner/new_content.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fcntl.h>
#include <set>

namespace crashcheck::runner {
namespace {

using faults::OpClass;
using faults::TraceRecord;

// Whether the call changes the bytes of the file it acts on.
bool changes_bytes(const TraceRecord& r) {
  if (r.error != 0) return false;
  if (r.op == OpClass::write) return r.result > 0;
  if (r.op == OpClass::truncate) return true;
  return r.op == OpClass::open && (r.flags & O_TRUNC) != 0 && !r.is_directory;
}

// The file's bytes after the call (the power-loss model reads calls alike).
void apply(const TraceRecord& r, std::string& bytes) {
  const auto at = static_cast<std::size_t>(std::max<std::int64_t>(r.offset, 0));
  if (r.op == OpClass::open) {
    bytes.clear();
  } else if (r.op == OpClass::truncate) {
    bytes.resize(at);
  } else {
    if (bytes.size() < at + r.data.size()) bytes.resize(at + r.data.size());
    bytes.replace(at, r.data.size(), r.data);
  }
}

void add_step(ContentShape& shape, const TraceRecord& r, const std::string& target) {
  const ContentStep step{r.op, r.op == OpClass::open && r.path == target};
  if (step.op == OpClass::write && !shape.empty() && shape.back() == step) return;
  shape.push_back(step);
}

std::string shape_words(const ContentShape& shape) {
  if (shape.empty()) return "no call";
  std::string out;
  for (const auto& step : shape) {
    if (!out.empty()) out += ", ";
    if (step.op == OpClass::open) out += step.at_target ? "a truncating open of the target" : "a truncating open";
    if (step.op == OpClass::truncate) out += "a truncate";
    if (step.op == OpClass::write) out += "writes";
  }
  return out;
}

// A write a run still owes: from `offset` on (unknown when the failed call's
// record has none: the next write through the descriptor lands there), what
// broke off and where.
struct Owed {
  std::optional<std::uint64_t> offset;
  std::string what;
};

// A write that did not do all it asked for. A kernel copy that copies
// nothing without an error is its source at its end, the loop's last call.
bool falls_short(const TraceRecord& r, std::uint64_t done) {
  if (r.error != 0) return true;
  return done < r.length && !(faults::is_kernel_copy(r) && done == 0);
}

// A later call makes up for what a write owes: a write whose range covers
// the missing offset (a retry), a kernel copy reaching the source's end
// there, or a truncation that starts the content again.
bool makes_up(const TraceRecord& r, std::uint64_t offset, std::uint64_t done, const Owed& owed) {
  if (r.error != 0) return false;
  if (r.op == OpClass::open) return changes_bytes(r);
  if (!owed.offset) return r.op == OpClass::truncate || (r.op == OpClass::write && done > 0);
  if (r.op == OpClass::truncate) return offset <= *owed.offset;
  if (r.op != OpClass::write) return false;
  if (faults::is_kernel_copy(r) && offset == *owed.offset) return true;
  return done > 0 && offset <= *owed.offset && *owed.offset < offset + done;
}

// A state cut short of `expected` by more than trailing white space: torn,
// even when what is left parses to the same value ("0.12345678901234567891"
// cut to "…789" is the same double).
bool cut_short_of(std::string_view state, std::string_view expected) {
  if (state.size() >= expected.size() || !expected.starts_with(state)) return false;
  return expected.substr(state.size()).find_first_not_of(" \t\r\n") != std::string_view::npos;
}

// A JSON number's exact decimal value as text, the same for every way of
// writing it ("1.50", "15e-1", "1.5E0" -> "15e-1"; "0", "-0.0" -> "0").
// Readers that keep big integers and decimals exactly (Python's int and
// Decimal, Java's BigDecimal, Go's json.Number) tell apart what one double
// cannot, so equal values must be equal decimals, not equal doubles.
std::string exact_decimal(std::string_view text) {
  const bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  const auto e = text.find_first_of("eE");
  const std::string_view mantissa = text.substr(0, e);
  std::string_view exponent_text = e == std::string_view::npos ? "" : text.substr(e + 1);
  if (exponent_text.starts_with('+')) exponent_text.remove_prefix(1);
  const bool exponent_negative = exponent_text.starts_with('-');
  if (exponent_negative) exponent_text.remove_prefix(1);
  if (exponent_text.size() > 15) return "raw:" + std::string(negative ? "-" : "") + std::string(text);
  std::int64_t exponent = 0;
  for (char c : exponent_text) exponent = exponent * 10 + (c - '0');
  if (exponent_negative) exponent = -exponent;
  const auto point = mantissa.find('.');
  std::string digits(mantissa.substr(0, point));
  if (point != std::string_view::npos) {
    digits += mantissa.substr(point + 1);
    exponent -= static_cast<std::int64_t>(mantissa.size() - point - 1);
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty()) return "0";
  const auto last = digits.find_last_not_of('0');
  exponent += static_cast<std::int64_t>(digits.size() - last - 1);
  digits.erase(last + 1);
  return (negative ? "-" : "") + digits + "e" + std::to_string(exponent);
}

// Builds a JSON value whose numbers are their exact decimals (as binary
// values, which JSON text never yields), so == compares numbers exactly.
class ExactNumbers : public nlohmann::json_sax<nlohmann::json> {
 public:
  nlohmann::json root;

  bool null() override { return put(nullptr); }
  bool boolean(bool value) override { return put(value); }
  bool number_integer(number_integer_t value) override { return number(std::to_string(value)); }
  bool number_unsigned(number_unsigned_t value) override { return number(std::to_string(value)); }
  bool number_float(number_float_t, const string_t& text) override { return number(text); }
  bool string(string_t& value) override { return put(value); }
  bool binary(binary_t& value) override { return put(nlohmann::json::binary(value)); }
  bool start_object(std::size_t) override { return open(nlohmann::json::object()); }
  bool key(string_t& name) override {
    key_ = name;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(nlohmann::json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  std::vector<nlohmann::json*> open_;  // the containers being filled, innermost last
  std::string key_;

  bool number(std::string_view text) {
    const std::string exact = exact_decimal(text);
    return put(nlohmann::json::binary({exact.begin(), exact.end()}));
  }
  nlohmann::json* put_value(nlohmann::json value) {
    if (open_.empty()) return &(root = std::move(value));
    nlohmann::json& parent = *open_.back();
    if (parent.is_object()) return &(parent[key_] = std::move(value));
    parent.push_back(std::move(value));
    return &parent.back();
  }
  bool put(nlohmann::json value) {
    put_value(std::move(value));
    return true;
  }
  bool open(nlohmann::json container) {
    open_.push_back(put_value(std::move(container)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }
};

std::optional<nlohmann::json> exact_value(std::string_view text) {
  ExactNumbers builder;
  if (!nlohmann::json::sax_parse(text, &builder)) return std::nullopt;
  return std::move(builder.root);
}

}  // namespace

std::string_view compare_name(Compare compare) noexcept { return compare == Compare::json ? "json" : "bytes"; }

std::optional<Compare> compare_from_name(std::string_view name) noexcept {
  if (name == "bytes") return Compare::bytes;
  if (name == "json") return Compare::json;
  return std::nullopt;
}

bool parses_as_json(std::string_view bytes) { return !nlohmann::json::parse(bytes, nullptr, false).is_discarded(); }

bool same_content(std::string_view state, std::string_view expected, Compare compare) {
  if (state == expected) return compare == Compare::bytes || parses_as_json(state);
  if (compare == Compare::bytes || cut_short_of(state, expected)) return false;
  const auto a = exact_value(state);
  if (!a) return false;
  const auto b = exact_value(expected);
  return b && *a == *b;
}

RecipeOrWhy content_recipe(const faults::Trace& baseline, const std::string& target, std::uint64_t target_inode,
                           std::uint64_t old_target_inode, const std::optional<std::string>& old_bytes,
                           const std::string& final_bytes) {
  ContentRecipe recipe;
  recipe.starts_as_old = old_bytes && target_inode == old_target_inode;
  std::string rebuilt = recipe.starts_as_old ? *old_bytes : std::string();
  for (const auto& r : baseline.records) {
    if (target_inode == 0 || r.inode != target_inode || !changes_bytes(r)) continue;
    recipe.steps.push_back(r.seq);
    add_step(recipe.shape, r, target);
    apply(r, rebuilt);
  }
  if (rebuilt != final_bytes)
    return {std::nullopt, "the bytes the baseline's trace wrote to the target's file are not what it holds"};
  return {recipe, ""};
}

WrittenContent written_content(const faults::Trace& run, const std::string& target, std::uint64_t file,
                               bool starts_as_old, const std::optional<std::string>& old_bytes) {
  WrittenContent out;
  std::string bytes = starts_as_old ? old_bytes.value_or("") : std::string();
  std::optional<Owed> owed;
  std::optional<std::uint64_t> truncate_failed;  // the length a truncate just before failed to cut to
  std::optional<std::string> meant;              // the bytes meant, once a failed truncate made them differ
  // A failed call may name no inode: its descriptor says which file it was for.
  std::set<std::pair<std::int32_t, std::int32_t>> descriptors;  // (pid, fd) open on the file
  const auto on_file = [&](const TraceRecord& r) {
    return file != 0 && (r.inode == file || (r.inode == 0 && descriptors.count({r.pid, r.fd}) > 0));
  };
  for (const auto& r : run.records) {
    if (r.op == OpClass::open && r.error == 0 && r.fd >= 0 && file != 0 && r.inode == file)
      descriptors.insert({r.pid, r.fd});
    if (r.op == OpClass::close) descriptors.erase({r.pid, r.fd});
    if (!on_file(r)) continue;
    const auto offset = static_cast<std::uint64_t>(std::max<std::int64_t>(r.offset, 0));
    const auto done = static_cast<std::uint64_t>(std::max<std::int64_t>(r.error == 0 ? r.result : 0, 0));
    if (owed && makes_up(r, offset, done, *owed)) owed.reset();
    // A failed truncate still says what the run meant its file to hold (the
    // old tail cut off): its new content is the one it asked for, which an
    // ignored failure leaves the target without (issue 13 N1c). `bytes`
    // stays what the trace leaves, for the self-check. A retry is the same
    // step, not a second one.
    const bool retried = truncate_failed && r.op == OpClass::truncate && r.error == 0 && offset == *truncate_failed;
    if (changes_bytes(r)) {
      apply(r, bytes);
      if (meant) apply(r, *meant);
    } else if (r.op == OpClass::truncate && r.error != 0 && r.offset >= 0) {
      if (!meant) meant = bytes;
      apply(r, *meant);
    }
    if (changes_bytes(r) || (meant && r.op == OpClass::truncate && r.error != 0)) {
      out.wrote = true;
      if (!retried) add_step(out.shape, r, target);
    }
    if (meant && *meant == bytes) meant.reset();  // retried, or rewritten alike
    truncate_failed = r.op == OpClass::truncate && r.error != 0 ? std::optional(offset) : std::nullopt;
    if (r.op != OpClass::write || owed || !falls_short(r, done)) continue;
    const std::string what = r.error != 0
                                 ? "failed (" + faults::errno_name(r.error) + ")"
                                 : "wrote " + std::to_string(done) + " of " + std::to_string(r.length) + " bytes";
    const std::optional<std::uint64_t> at =
        r.offset >= 0 ? std::optional(offset + done) : std::nullopt;  // a failed call may not say where it was
    owed = Owed{at, "call " + std::to_string(r.seq) + " " + r.call + " " + what};
    out.partial_is_prefix = !at || *at >= bytes.size();
  }
  if (!owed) {
    if (meant) out.left_instead = std::move(bytes);
    out.complete = meant ? std::move(*meant) : std::move(bytes);
    return out;
  }
  out.partial = meant ? std::move(*meant) : std::move(bytes);
  out.came_up_short = true;
  out.why = "this run's new content is unknown: " + owed->what + " and nothing wrote the rest";
  return out;
}

void check_shape(WrittenContent& written, const ContentRecipe& recipe) {
  if (!written.complete || written.shape == recipe.shape) return;
  const auto& mine = written.shape;
  const bool prefix = mine.size() < recipe.shape.size() && recipe.shape[mine.size()].op == OpClass::write &&
                      std::equal(mine.begin(), mine.end(), recipe.shape.begin(),
                                 [](const ContentStep& a, const ContentStep& b) { return a.op == b.op; });
  written.partial = std::move(*written.complete);
  written.complete.reset();
  written.partial_is_prefix = prefix;
  written.why = "this run made its target by other calls than the baseline's (" + shape_words(mine) +
                ", where the baseline made " + shape_words(recipe.shape) + "): what it wrote is not its new content";
}

void cut_short(WrittenContent& written, const ContentRecipe& recipe, const faults::Trace& baseline,
               std::uint32_t stopped_before) {
  if (!written.complete) return;
  const auto step =
      std::find_if(recipe.steps.begin(), recipe.steps.end(), [&](std::uint32_t seq) { return seq >= stopped_before; });
  if (step == recipe.steps.end()) return;
  const TraceRecord* base = baseline.find(*step);
  written.partial = std::move(*written.complete);
  written.complete.reset();
  written.partial_is_prefix = base && base->op == OpClass::write && base->offset >= 0 &&
                              static_cast<std::uint64_t>(base->offset) >= written.partial.size();
  written.why = "this run's new content is unknown: it was killed before call " + std::to_string(*step) + " " +
                (base ? base->call : std::string()) + ", which writes the target's content in the baseline";
}

}  // namespace crashcheck::runner
