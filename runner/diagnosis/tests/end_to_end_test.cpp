// Planted writers through the built `crashcheck check`: each defect gets its
// rule's diagnosis on the right property and call, and no other rule's; the
// correct writers, the reference and the bundled scenarios as expected.
#include "support.hpp"

#include <crashcheck/report.hpp>

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace crashcheck::diagnosis {
namespace {

namespace fs = std::filesystem;
using runner::testing::run_crashcheck;
using runner::testing::TempDir;

const fs::path kWriters = fs::path(CRASHCHECK_SOURCE_DIR) / "runner/diagnosis/tests/writers";

struct Planted {
  std::string rule;
  std::string property;     // the property the diagnosis must name
  std::string call;         // the libc call it must point at (prefix: "open" matches open64)
  std::string defect = {};  // the writer's defect when it is another form of the rule's mistake
};

void PrintTo(const Planted& planted, std::ostream* out) { *out << planted.rule; }

// Runs `crashcheck check` on one writer around old/new JSON; the report.
reports::Report check(const TempDir& dir, std::vector<std::string> writer) {
  runner::testing::write_text(dir / "old.json", "{\"v\": 1}\n");
  runner::testing::write_text(dir / "new.json", "{\"v\": 2, \"items\": [1, 2, 3]}\n");
  std::vector<std::string> args{"check",
                                "--old",
                                (dir / "old.json").string(),
                                "--mode",
                                "0644",
                                "--payload",
                                (dir / "new.json").string(),
                                "--validate",
                                "json",
                                "--target",
                                "t.json",
                                "-o",
                                (dir / "out").string(),
                                "--"};
  args.insert(args.end(), writer.begin(), writer.end());
  const auto result = run_crashcheck(args);
  EXPECT_TRUE(result.status == 0 || result.status == 1) << result.output;
  return reports::load_report(dir / "out/report.json");
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// The 1-based number of the first line of `file` holding `text`; 0 when none does.
int line_holding(const fs::path& file, std::string_view text) {
  std::istringstream in(runner::testing::read_text(file));
  int number = 0;
  for (std::string line; std::getline(in, line);)
    if (++number, line.find(text) != std::string::npos) return number;
  return 0;
}

std::set<std::string> rules_named(const reports::Report& report) {
  std::set<std::string> out;
  for (const auto& d : report.diagnoses) out.insert(d.rule);
  return out;
}

std::string symbol_at(const reports::Report& report, std::uint32_t seq) {
  for (const auto& c : report.calls)
    if (c.seq == seq) return c.call;
  return "";
}

void expect_diagnosed(const reports::Report& report, const Planted& planted) {
  EXPECT_EQ(rules_named(report), std::set<std::string>{planted.rule});
  bool on_property = false;
  for (const auto& d : report.diagnoses) {
    EXPECT_TRUE(symbol_at(report, d.call_index).starts_with(planted.call))
        << d.rule << " points at call " << d.call_index << " " << d.call;
    on_property |= d.property == planted.property;
  }
  EXPECT_TRUE(on_property) << planted.rule << " not on " << planted.property;
}

std::vector<std::string> python(const std::string& defect) {
  return {CRASHCHECK_PYTHON, (kWriters / "planted.py").string(), defect, "{target}", "{payload}"};
}
std::vector<std::string> native(const std::string& defect) {
  return {CRASHCHECK_PLANTED_C, defect, "{target}", "{payload}"};
}

class PythonWriter : public ::testing::TestWithParam<Planted> {};
class CWriter : public ::testing::TestWithParam<Planted> {};

TEST_P(PythonWriter, GetsExactlyItsRule) {
  TempDir dir;
  const Planted& planted = GetParam();
  expect_diagnosed(check(dir, python(planted.defect.empty() ? planted.rule : planted.defect)), planted);
}

TEST_P(CWriter, GetsExactlyItsRule) {
  TempDir dir;
  expect_diagnosed(check(dir, native(GetParam().rule)), GetParam());
}

const Planted kShared[] = {
    {"write_temp_then_rename", "crash_atomic", "open"},
    {"fsync_file_before_rename", "durable", "rename"},
    {"fsync_dir_after_rename", "durable", "rename"},
    {"preserve_mode", "mode_preserved", "open"},
    {"remove_temp_on_error", "temp_clean", "open"},
    {"check_write_result", "error_safe", "write"},
    {"check_fsync_result", "durable", "fsync"},
    {"check_close_result", "error_safe", "close"},
    {"no_unlink_before_rename", "crash_atomic", "unlink"},
};
const Planted kPythonOnly[] = {
    {"fsync_dir_of_temp_and_target", "durable", "rename"},
    {"temp_in_same_directory", "durable", "rename"},
};
// Other forms of a rule's mistake (planted.py's VARIANTS, with their truth).
const Planted kPythonVariants[] = {
    {"no_unlink_before_rename", "crash_atomic", "rename", "rename_target_away"},
    {"no_unlink_before_rename", "crash_atomic", "unlink", "unlink_then_link"},
    {"write_temp_then_rename", "crash_atomic", "open", "truncate_first"},
    {"finish_writes_before_rename", "crash_atomic", "rename", "write_after_rename"},
    {"flush_before_fsync", "crash_atomic", "fsync", "fsync_without_flush"},
};
// Python retries EINTR itself (PEP 475): only C can give up on it.
const Planted kCOnly[] = {{"retry_eintr", "error_safe", "open"}};

std::string name_of(const ::testing::TestParamInfo<Planted>& info) {
  return info.param.defect.empty() ? info.param.rule : info.param.defect;
}

INSTANTIATE_TEST_SUITE_P(Shared, PythonWriter, ::testing::ValuesIn(kShared), name_of);
INSTANTIATE_TEST_SUITE_P(Only, PythonWriter, ::testing::ValuesIn(kPythonOnly), name_of);
INSTANTIATE_TEST_SUITE_P(Variant, PythonWriter, ::testing::ValuesIn(kPythonVariants), name_of);
INSTANTIATE_TEST_SUITE_P(Shared, CWriter, ::testing::ValuesIn(kShared), name_of);
INSTANTIATE_TEST_SUITE_P(Only, CWriter, ::testing::ValuesIn(kCOnly), name_of);

TEST(CorrectWriters, GetNoDiagnosis) {
  for (const auto& writer : {python("none"), python("none_cross_directory"), native("none")}) {
    TempDir dir;
    const reports::Report report = check(dir, writer);
    EXPECT_TRUE(report.diagnoses.empty()) << writer[1] << ": " << report.diagnoses.front().rule;
    EXPECT_FALSE(has(runner::testing::read_text(dir / "out/report.md"), "Fix:")) << writer[1];
  }
}

// The bundled scenarios: the reference gets none, the seed's fix gets its two
// missing steps, and every rendering carries the Fix line.
TEST(BundledScenarios, NameTheMissingSteps) {
  TempDir dir;
  const auto scenarios = runner::testing::scenarios_dir();
  const auto result = run_crashcheck({"run", (scenarios / "pipeline_health_fix.json").string(),
                                      (scenarios / "reference.json").string(), "-o", dir.path().string()});
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_TRUE(has(result.output, "durable — Fix: ")) << result.output;
  const auto fix = reports::load_report(dir / "pipeline_health_fix/report.json");
  std::set<std::pair<std::string, std::string>> named;
  for (const auto& d : fix.diagnoses) named.insert({d.rule, d.property});
  EXPECT_EQ(named, (std::set<std::pair<std::string, std::string>>{{"fsync_dir_after_rename", "durable"},
                                                                  {"preserve_mode", "mode_preserved"}}));
  const std::string md = runner::testing::read_text(dir / "pipeline_health_fix/report.md");
  EXPECT_TRUE(has(md, "os.fsync(dfd)")) << md;  // the Python snippet: the subject is Python
  EXPECT_TRUE(has(md, "reference/README\\.md")) << md;
  EXPECT_TRUE(has(runner::testing::read_text(dir / "pipeline_health_fix/report.html"), "id=\"fixes\""));
  EXPECT_TRUE(reports::load_report(dir / "reference/report.json").diagnoses.empty());
  // The directory fsync is missing after the writer's own os.replace line, and every rendering says where.
  const std::string label = "pipeline_health_fix.py:" +
                            std::to_string(line_holding(scenarios / "subjects/pipeline_health_fix.py", "os.replace("));
  for (const auto& d : fix.diagnoses)
    if (d.rule == "fsync_dir_after_rename") {
      EXPECT_TRUE(d.site.ends_with("/" + label)) << d.site << " " << label;
    }
  EXPECT_TRUE(has(md, "`" + label + " rename(")) << md;
  EXPECT_TRUE(has(result.output, " " + label + " rename(")) << result.output;
  const std::string html = runner::testing::read_text(dir / "pipeline_health_fix/report.html");
  EXPECT_TRUE(has(html, ">" + label + " rename(")) << label;
  EXPECT_TRUE(has(html, "<code class=\"site\"")) << label;
}

// Directory mode: the planted ordering defect (the data file never fsynced,
// yet the manifest naming it renamed in) is named at the manifest's rename on
// both properties it fails; its corrected twin gets no diagnosis.
TEST(BundledScenarios, NameTheManifestsUnsyncedDataFile) {
  TempDir dir;
  const auto scenarios = runner::testing::scenarios_dir();
  const auto result =
      run_crashcheck({"run", (scenarios / "manifest_data.json").string(),
                      (scenarios / "manifest_data_fixed.json").string(), "-j2", "-o", dir.path().string()});
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_TRUE(has(result.output, "powerloss_consistent — Fix: ")) << result.output;
  const auto defect = reports::load_report(dir / "manifest_data/report.json");
  std::set<std::pair<std::string, std::string>> named;
  for (const auto& d : defect.diagnoses) {
    named.insert({d.rule, d.property});
    EXPECT_TRUE(symbol_at(defect, d.call_index).starts_with("rename")) << d.call_index << " " << d.call;
    EXPECT_TRUE(has(d.call, "MANIFEST.tmp")) << d.call;
    // the writer's own line, as in single-file mode
    EXPECT_TRUE(d.site.ends_with(
        "/manifest_writer.py:" +
        std::to_string(line_holding(scenarios / "subjects/manifest_writer.py", "os.rename(temp_path"))))
        << d.site;
  }
  EXPECT_EQ(named, (std::set<std::pair<std::string, std::string>>{{"fsync_file_before_rename", "powerloss_consistent"},
                                                                  {"fsync_file_before_rename", "durable"}}));
  EXPECT_TRUE(has(runner::testing::read_text(dir / "manifest_data/report.md"), "os.fsync(")) << "a Python snippet";
  EXPECT_TRUE(reports::load_report(dir / "manifest_data_fixed/report.json").diagnoses.empty());
}

// The concurrent scenarios: the fixed temp name is named at the temp's open;
// its mkstemp twin and the locked reference get no concurrency rule.
TEST(BundledScenarios, NameTheSharedTempName) {
  TempDir dir;
  const auto scenarios = runner::testing::scenarios_dir();
  const auto result = run_crashcheck(
      {"run", (scenarios / "fixed_temp_concurrent.json").string(), (scenarios / "unique_temp_concurrent.json").string(),
       (scenarios / "reference_lock_concurrent.json").string(), "-j2", "-o", dir.path().string()});
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_TRUE(has(result.output, "concurrent_safe — Fix: ")) << result.output;
  const auto fixed = reports::load_report(dir / "fixed_temp_concurrent/report.json");
  ASSERT_EQ(fixed.diagnoses.size(), 1u);
  EXPECT_EQ(fixed.diagnoses[0].rule, "unique_temp_name");
  EXPECT_EQ(fixed.diagnoses[0].property, "concurrent_safe");
  EXPECT_TRUE(has(fixed.diagnoses[0].call, "open")) << fixed.diagnoses[0].call;
  EXPECT_TRUE(has(fixed.diagnoses[0].call, "pipeline_health.json.tmp")) << fixed.diagnoses[0].call;
  EXPECT_TRUE(reports::load_report(dir / "unique_temp_concurrent/report.json").diagnoses.empty());
  EXPECT_TRUE(reports::load_report(dir / "reference_lock_concurrent/report.json").diagnoses.empty());
}

// A read-modify-write with no lock: advised even though each file stays whole.
TEST(ConcurrentWriters, ReadingTheTargetWithoutALockIsAdvised) {
  TempDir dir;
  const std::string script = (runner::testing::scenarios_dir() / "subjects/fixed_temp_writer.py").string();
  runner::testing::write_text(dir / "old.json", "{\"v\": 1}\n");
  runner::testing::write_text(dir / "new.json", "{\"v\": 2, \"name\": \"x\"}\n");
  const auto result =
      run_crashcheck({"check", "--models", "concurrent", "--old", (dir / "old.json").string(), "--payload",
                      (dir / "new.json").string(), "--target", "t.json", "-o", (dir / "out").string(), "--",
                      CRASHCHECK_PYTHON, script, "read-unique", "{target}", "{payload}"});
  EXPECT_EQ(result.status, 0) << result.output;  // concurrent_safe holds: the rule is advisory
  const auto report = reports::load_report(dir / "out/report.json");
  ASSERT_EQ(report.diagnoses.size(), 1u) << result.output;
  EXPECT_EQ(report.diagnoses[0].rule, "lock_read_modify_write");
  EXPECT_TRUE(has(report.diagnoses[0].call, "t.json")) << report.diagnoses[0].call;
  EXPECT_TRUE(has(result.output, "concurrent_safe — Fix: ")) << result.output;
}

}  // namespace
}  // namespace crashcheck::diagnosis
