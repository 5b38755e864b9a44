// Case timings (case_timings.hpp says what they are for and when they are on).
#include "crashcheck/runner/case_timings.hpp"

#include <crashcheck/reference.hpp>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

namespace crashcheck::runner {

std::shared_ptr<CaseTimings> CaseTimings::from_environment() {
  const char* file = std::getenv("CRASHCHECK_CASE_TIMINGS");
  if (file == nullptr || *file == '\0') return nullptr;
  return std::make_shared<CaseTimings>(std::filesystem::absolute(file));
}

void CaseTimings::add(bool forked, Duration whole, Duration subject) {
  std::lock_guard lock(mutex_);
  Totals& totals = forked ? forked_ : from_start_;
  ++totals.cases;
  totals.whole += whole;
  totals.subject += subject;
}

std::string CaseTimings::json() const {
  auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  auto entry = [&](const Totals& t) {
    return nlohmann::json{{"cases", t.cases}, {"whole_s", seconds(t.whole)}, {"subject_s", seconds(t.subject)}};
  };
  std::lock_guard lock(mutex_);
  return nlohmann::json{{"from_start", entry(from_start_)}, {"forked", entry(forked_)}}.dump(2) + "\n";
}

void CaseTimings::write() const {
  if (auto error = write_file_atomic(file_, json()))
    std::cerr << "crashcheck: CRASHCHECK_CASE_TIMINGS: " << file_.string() << ": " << error.message() << "\n";
}

}  // namespace crashcheck::runner
