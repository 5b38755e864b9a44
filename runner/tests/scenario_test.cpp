// Scenario files: the bundled ones load; malformed ones are rejected with a
// message that names the file, the field and the problem.
#include "crashcheck/runner/scenario.hpp"

#include <gtest/gtest.h>

#include "support.hpp"

namespace crashcheck::runner {
namespace {

using testing::TempDir;

TEST(Scenario, BundledScenariosLoad) {
  for (const char* name : {"pipeline_health_original", "pipeline_health_fix", "reference", "node_writefilesync"}) {
    const Scenario s = load_scenario(testing::scenarios_dir() / (std::string(name) + ".json"));
    EXPECT_EQ(s.name, name);
    EXPECT_TRUE(s.old.has_value());
    EXPECT_EQ(s.old->mode, 0644u);
    EXPECT_TRUE(s.payload.is_absolute());
    EXPECT_EQ(s.validator.kind, Validator::Kind::json);
    EXPECT_FALSE(s.expect.empty());
  }
}

class MalformedScenario : public ::testing::Test {
 protected:
  // A valid scenario with `field` replaced by `value` (raw JSON; empty: removed).
  std::string load_error(const std::string& field, const std::string& value) {
    testing::write_text(dir_ / "new.json", "{}");
    std::map<std::string, std::string> fields = {{"name", "\"demo\""},
                                                 {"command", "[\"/bin/sh\", \"-c\", \"cat > {target}\"]"},
                                                 {"target", "\"out.json\""},
                                                 {"old", "null"},
                                                 {"payload", "{\"file\": \"new.json\"}"},
                                                 {"validate", "\"json\""},
                                                 {"timeout_s", "5"}};
    if (value.empty())
      fields.erase(field);
    else
      fields[field] = value;
    std::string json = "{";
    for (const auto& [k, v] : fields) json += (json.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
    testing::write_text(dir_ / "bad.json", json + "}");
    try {
      load_scenario(dir_ / "bad.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "(accepted)";
  }
  void expect_names(const std::string& message, const std::string& field) {
    EXPECT_NE(message.find((dir_ / "bad.json").string()), std::string::npos) << message;
    EXPECT_NE(message.find("\"" + field + "\""), std::string::npos) << message;
  }
  TempDir dir_;
};

TEST_F(MalformedScenario, ValidBaseIsAccepted) { EXPECT_EQ(load_error("name", "\"demo\""), "(accepted)"); }

TEST_F(MalformedScenario, ExhaustiveIsABoolean) { EXPECT_EQ(load_error("exhaustive", "true"), "(accepted)"); }

TEST_F(MalformedScenario, PayloadBAndTheConcurrentModelAreAccepted) {
  EXPECT_EQ(load_error("payload_b", "{\"file\": \"new.json\"}"), "(accepted)");
  EXPECT_EQ(load_error("models", "[\"concurrent\"]"), "(accepted)");
}

// Issue 13: the payload is optional; "compare" says how states meet the new content.
TEST_F(MalformedScenario, PayloadIsOptionalAndCompareIsBytesOrJson) {
  EXPECT_EQ(load_error("payload", ""), "(accepted)");
  EXPECT_EQ(load_error("payload", "null"), "(accepted)");
  EXPECT_EQ(load_error("compare", "\"json\""), "(accepted)");
  EXPECT_EQ(load_error("compare", "\"bytes\""), "(accepted)");
  EXPECT_EQ(load_error("compare", "\"xml\""),
            (dir_ / "bad.json").string() + ": field \"compare\": expected \"bytes\" or \"json\", got \"xml\"");
}

TEST(Scenario, BundledLiveScenariosHaveNoPayloadAndCompareJson) {
  for (const char* name : {"pipeline_health_live", "pipeline_health_live_inplace"}) {
    const Scenario s = load_scenario(testing::scenarios_dir() / (std::string(name) + ".json"));
    EXPECT_TRUE(s.payload.empty()) << name;
    EXPECT_EQ(s.compare, Compare::json) << name;
    EXPECT_EQ(s.expect.size(), 8u) << name;
  }
}

TEST(Scenario, BundledConcurrentScenariosOptIn) {
  for (const char* name : {"fixed_temp_concurrent", "unique_temp_concurrent", "pipeline_health_fix_concurrent",
                           "reference_lock_concurrent"}) {
    const Scenario s = load_scenario(testing::scenarios_dir() / (std::string(name) + ".json"));
    EXPECT_EQ(s.models, std::vector<std::string>{"concurrent"}) << name;
    EXPECT_EQ(s.expect.count("concurrent_safe"), 1u) << name;
  }
}

TEST_F(MalformedScenario, EachProblemNamesFileAndField) {
  struct Case {
    std::string field, value, reported_field;
  } cases[] = {
      {"name", "", "name"},
      {"name", "42", "name"},
      {"name", "\"a/b\"", "name"},
      {"command", "[]", "command"},
      {"command", "[\"x\", 3]", "command[1]"},
      {"target", "\"../escape\"", "target"},
      {"old", "{\"file\": \"missing.json\"}", "old.file"},
      {"old", "{\"file\": \"new.json\", \"mode\": \"rw-r--r--\"}", "old.mode"},
      {"old", "{\"file\": \"new.json\", \"owner\": \"root\"}", "old.owner"},
      {"payload", "{\"file\": \"nope.bin\"}", "payload.file"},
      {"payload", "\"new.json\"", "payload"},
      {"validate", "\"xml\"", "validate"},
      {"validate", "{\"command\": \"sh\"}", "validate.command"},
      {"timeout_s", "-1", "timeout_s"},
      {"models", "[\"kill\", \"cosmic-ray\"]", "models"},
      {"exhaustive", "\"yes\"", "exhaustive"},
      {"compare", "\"xml\"", "compare"},
      {"compare", "true", "compare"},
      {"payload_b", "{\"file\": \"nope.bin\"}", "payload_b.file"},
      {"payload_b", "{}", "payload_b.file"},
      {"payload_b", "\"new.json\"", "payload_b"},
      {"expect", "{\"crash_atomic\": \"maybe\"}", "expect.crash_atomic"},
      {"expect", "{\"fast\": \"pass\"}", "expect.fast"},
      {"colour", "\"blue\"", "(top level).colour"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field + " = " + c.value);
    expect_names(load_error(c.field, c.value), c.reported_field);
  }
}

// "expect_by_profile" (issue 15): what differs on one fs profile, over "expect".
TEST_F(MalformedScenario, ExpectByProfileOverridesExpectOnItsProfileOnly) {
  EXPECT_EQ(load_error("expect", "{\"durable\": \"fail\", \"crash_atomic\": \"pass\"}"), "(accepted)");
  testing::write_text(dir_ / "ok.json", R"({"name": "demo", "command": ["/bin/true"], "target": "t",
    "expect": {"durable": "fail", "crash_atomic": "pass"},
    "expect_by_profile": {"ext4-ordered": {"durable": "pass"}}})");
  const Scenario s = load_scenario(dir_ / "ok.json");
  EXPECT_EQ(s.expected("posix").at("durable"), "fail");
  EXPECT_EQ(s.expected("ext4-ordered").at("durable"), "pass");
  EXPECT_EQ(s.expected("ext4-ordered").at("crash_atomic"), "pass");
}

// The bundled directory scenario whose verdict differs by profile (measured; its description says why).
TEST(Scenario, BundledSqliteWalOffExpectsPowerLossToFailUnderPosixOnly) {
  const Scenario s = load_scenario(testing::scenarios_dir() / "sqlite_wal_off.json");
  EXPECT_EQ(s.expected("posix").at("powerloss_consistent"), "fail");
  EXPECT_EQ(s.expected("ext4-ordered").at("powerloss_consistent"), "pass");
  EXPECT_EQ(s.expected("ext4-ordered").at("durable"), "fail");
}

TEST_F(MalformedScenario, ExpectByProfileProblemsNameFileAndField) {
  const std::string expect = ", \"expect\": {\"durable\": \"fail\"}";
  struct Case {
    std::string value, reported_field, says;
  } cases[] = {
      {"[]", "expect_by_profile", "expected an object"},
      {"{\"xfs\": {\"durable\": \"pass\"}}", "expect_by_profile.xfs", "unknown fs profile"},
      {"{\"posix\": {\"fast\": \"pass\"}}", "expect_by_profile.posix.fast", "unknown property"},
      {"{\"posix\": {\"durable\": \"maybe\"}}", "expect_by_profile.posix.durable", "expected \"pass\""},
      {"{\"posix\": {\"durable\": \"fail\"}}", "expect_by_profile.posix.durable", "repeats \"expect\""},
      {"{\"posix\": {\"crash_atomic\": \"pass\"}}", "expect_by_profile.posix.crash_atomic", "not in \"expect\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    testing::write_text(dir_ / "bad.json", "{\"name\": \"demo\", \"command\": [\"/bin/true\"], \"target\": \"t\"" +
                                               expect + ", \"expect_by_profile\": " + c.value + "}");
    std::string message = "(accepted)";
    try {
      load_scenario(dir_ / "bad.json");
    } catch (const InputError& e) {
      message = e.what();
    }
    expect_names(message, c.reported_field);
    EXPECT_NE(message.find(c.says), std::string::npos) << message;
  }
}

TEST_F(MalformedScenario, InvalidJsonNamesTheFile) {
  testing::write_text(dir_ / "bad.json", "{\"name\": ");
  try {
    load_scenario(dir_ / "bad.json");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(ScenarioFlags, ModelsAndModes) {
  EXPECT_EQ(parse_models("kill,errno,kill", "--models"), (std::vector<std::string>{"kill", "errno"}));
  EXPECT_THROW(parse_models("kill,fire", "--models"), InputError);
  EXPECT_EQ(parse_mode("0644", "--mode"), 0644u);
  EXPECT_EQ(parse_mode("600", "--mode"), 0600u);
  EXPECT_THROW(parse_mode("0999", "--mode"), InputError);
  EXPECT_EQ(format_mode(0600), "0600");
}

TEST(ScenarioFlags, ValidatorDescriptionRoundTrips) {
  const Validator command{Validator::Kind::command, {"python3", "-c", "print('a b')"}};
  const Validator back = Validator::from_description(command.describe(), "report");
  EXPECT_EQ(back.kind, Validator::Kind::command);
  EXPECT_EQ(back.command, command.command);
  EXPECT_EQ(Validator::from_description("json", "r").kind, Validator::Kind::json);
  EXPECT_THROW(Validator::from_description("yaml", "r"), InputError);
}

}  // namespace
}  // namespace crashcheck::runner
