// Data-driven rollout tests: every test/scenarios/NAME.expected.yaml runs its
// scenario through the simulator and compares the outcome exactly; every
// test/scenarios/invalid/*.yaml must be refused with the error in its first line.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/simulator.h"

namespace mlcanary {
namespace {

namespace fs = std::filesystem;

fs::path ScenarioDir() { return fs::path(MLCANARY_SOURCE_DIR) / "test" / "scenarios"; }

std::vector<std::string> FilesEndingWith(const fs::path& dir, const std::string& suffix) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string TestName(std::string name) {
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class ScenarioFileTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioFileTest, OutcomeMatchesExpectation) {
  const fs::path expected_path = ScenarioDir() / GetParam();
  const YAML::Node expected = YAML::LoadFile(expected_path.string());
  std::string stem = GetParam().substr(0, GetParam().size() - std::string(".expected.yaml").size());
  fs::path scenario_path = ScenarioDir() / (stem + ".yaml");
  if (expected["scenario"]) scenario_path = ScenarioDir() / expected["scenario"].as<std::string>();

  auto scenario = sim::LoadScenarioFile(scenario_path.string());
  ASSERT_TRUE(scenario) << scenario.error().ToString();
  auto result = sim::Simulate(*scenario);
  ASSERT_TRUE(result) << result.error().ToString();
  const std::string json = sim::FormatJson(*result);

  EXPECT_EQ(core::StateName(result->final_state), expected["final_state"].as<std::string>())
      << json;
  EXPECT_NEAR(result->final_canary_weight, expected["final_canary_weight"].as<double>(), 1e-9)
      << json;
  EXPECT_EQ(result->paused, expected["paused"] ? expected["paused"].as<bool>() : false) << json;
  if (expected["checks"]) {
    EXPECT_EQ(static_cast<int>(result->checks.size()), expected["checks"].as<int>()) << json;
  }

  const YAML::Node events = expected["events"];
  ASSERT_EQ(result->events.size(), events.size()) << json;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& got = result->events[i];
    SCOPED_TRACE("event " + std::to_string(i) + ": " + got.reason);
    EXPECT_NEAR(got.minute, events[i][0].as<double>(), 1e-9);
    EXPECT_EQ(core::StateName(got.state), events[i][1].as<std::string>());
    EXPECT_NEAR(got.canary_weight, events[i][2].as<double>(), 1e-9);
    // A fourth entry: "paused", or the kind of an event that is no state or
    // weight change ("gate", "approved").
    const std::string mark = events[i].size() > 3 ? events[i][3].as<std::string>() : "";
    EXPECT_EQ(got.paused, mark == "paused");
    const bool marked_kind =
        got.kind == core::EventKind::kGate || got.kind == core::EventKind::kApproved;
    if (!mark.empty() && mark != "paused") {
      EXPECT_EQ(core::EventKindName(got.kind), mark);
    } else {
      EXPECT_FALSE(marked_kind) << "mark the event with its kind: "
                                << core::EventKindName(got.kind);
    }
    EXPECT_FALSE(got.reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioFileTest,
                         ::testing::ValuesIn(FilesEndingWith(ScenarioDir(), ".expected.yaml")),
                         [](const auto& param_info) { return TestName(param_info.param); });

class InvalidScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidScenarioTest, IsRefusedWithAnErrorNamingFileAndField) {
  const fs::path path = ScenarioDir() / "invalid" / GetParam();
  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  const std::string marker = "# error: ";
  ASSERT_TRUE(first_line.starts_with(marker)) << "first line must be '# error: <text>'";
  const std::string expected_error = first_line.substr(marker.size());

  auto scenario = sim::LoadScenarioFile(path.string());
  ASSERT_FALSE(scenario) << "accepted an invalid scenario";
  EXPECT_EQ(scenario.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(scenario.error().message().find(expected_error), std::string::npos)
      << "got: " << scenario.error().message();
  EXPECT_NE(scenario.error().message().find(GetParam()), std::string::npos)
      << "the error must name the file: " << scenario.error().message();
}

INSTANTIATE_TEST_SUITE_P(Invalid, InvalidScenarioTest,
                         ::testing::ValuesIn(FilesEndingWith(ScenarioDir() / "invalid", ".yaml")),
                         [](const auto& param_info) { return TestName(param_info.param); });

}  // namespace
}  // namespace mlcanary
