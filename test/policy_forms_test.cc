// Every form of a policy knows every field of core::PolicyFields(): the YAML
// reader (config), the JSON writer and reader (codec) and the OpenAPI schema
// (api). With core's PolicyFieldsTest (a row for each member of core::Policy)
// a field cannot be added in one place only.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "api/control_api.h"
#include "codec/domain_json.h"
#include "config/policy_yaml.h"
#include "core/policy_fields.h"
#include "util/json_writer.h"

namespace mlcanary {
namespace core {
// A failure shows the policy's JSON, not its bytes.
void PrintTo(const Policy& p, std::ostream* out) {
  util::JsonWriter w;
  codec::WritePolicy(w, p);
  *out << w.Release();
}
}  // namespace core

namespace {

namespace json = boost::json;
using core::Policy;
using core::PolicyField;

// Sets the field to a valid value other than its default.
void SetNonDefault(const PolicyField& field, Policy& p) {
  core::VisitPolicyField(field, p, [&](auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (std::is_same_v<T, std::vector<core::PolicyStep>>) {
      // A plain number, an entry with its own bake, one with a manual gate.
      value = {0.05, 0.375, 1.0};
      value[1].bake = std::chrono::minutes(30);
      value[2].manual_gate = true;
    } else if constexpr (std::is_same_v<T, core::PolicyHooks>) {
      core::HookSpec hook;
      hook.url = "https://ci.local/confirm";
      hook.timeout = std::chrono::seconds(5);
      hook.retries = 2;
      hook.metadata = {{"team", "ranking"}};
      value[core::HookPoint::kConfirmStep] = hook;
      value[core::HookPoint::kOnRollback] = core::HookSpec{.url = "http://pager.local/x"};
    } else if constexpr (std::is_same_v<T, std::vector<core::HookSpec>>) {
      value = {core::HookSpec{.url = "http://eval.local/vote", .retries = 0}};
    } else if constexpr (std::is_same_v<T, double>) {
      value = field.rule == core::PolicyRule::kWeight  ? 0.25
              : field.rule == core::PolicyRule::kAlpha ? value / 2
              : field.rule == core::PolicyRule::kShare ? value / 2
                                                       : value * 2 + 0.5;
      if (field.rule == core::PolicyRule::kFraction) value = std::min(value, 0.5);
    } else if constexpr (std::is_same_v<T, core::Duration>) {
      value += std::chrono::seconds(90);
    } else if constexpr (std::is_same_v<T, bool>) {
      value = !value;
    } else if constexpr (std::is_enum_v<T>) {
      value = static_cast<T>((static_cast<std::size_t>(value) + 1) % field.choices.size());
    } else {
      value += 3;
    }
  });
}

// Turns on every group (shadow): its first field, the switch, away from its default.
void TurnOnGroups(Policy& p) {
  const auto fields = core::PolicyFields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string_view group = core::GroupOf(fields[i]);
    if (group.empty() || (i > 0 && core::GroupOf(fields[i - 1]) == group)) continue;
    if (!core::PolicyGroupOn(group, p)) SetNonDefault(fields[i], p);
  }
}

// The top-level key a field is written under: its name, or its group.
std::string TopKey(const PolicyField& field) {
  const std::string_view group = core::GroupOf(field);
  return std::string(group.empty() ? field.name : group);
}

// The written value of a field (inside its group's object for a grouped one).
const json::value* WrittenValue(const json::value& written, const PolicyField& field) {
  const json::value* top = written.as_object().if_contains(TopKey(field));
  if (top == nullptr || core::GroupOf(field).empty()) return top;
  return top->is_object() ? top->as_object().if_contains(core::KeyOf(field)) : nullptr;
}

std::string PolicyJson(const Policy& p) {
  util::JsonWriter w;
  codec::WritePolicy(w, p);
  return w.Release();
}

core::Result<Policy> FromJson(const std::string& text) {
  auto v = codec::ParseJson(text, "policy");
  if (!v) return std::unexpected(v.error());
  return codec::ParsePolicy(*v, "policy");
}

// JSON is YAML's flow style: the writer's text is a YAML policy as well.
core::Result<Policy> FromYaml(const std::string& text, config::BareNumber bare) {
  auto node = config::LoadYamlString(text, "policy.yaml");
  if (!node) return std::unexpected(node.error());
  return config::ReadPolicy(*node, config::YamlPath("policy.yaml", "policy"), bare);
}

// The keys of the written object, in order.
std::vector<std::string> Keys(const std::string& text) {
  std::vector<std::string> keys;
  const json::value v = json::parse(text);
  for (const auto& kv : v.as_object()) keys.emplace_back(kv.key());
  return keys;
}

TEST(PolicyFormsTest, EveryFieldRoundTripsThroughJsonAndYaml) {
  for (const PolicyField& field : core::PolicyFields()) {
    SCOPED_TRACE(std::string(field.name));
    Policy p;
    SetNonDefault(field, p);
    if (!core::GroupOf(field).empty()) TurnOnGroups(p);  // a group's field is written with it
    ASSERT_NE(p, Policy{});
    ASSERT_TRUE(core::ValidatePolicy(p)) << core::ValidatePolicy(p).error().message();

    const std::string text = PolicyJson(p);
    EXPECT_NE(WrittenValue(json::parse(text), field), nullptr) << text;

    auto from_json = FromJson(text);
    ASSERT_TRUE(from_json) << from_json.error().message();
    EXPECT_EQ(*from_json, p) << text;
    for (auto bare : {config::BareNumber::kRefused, config::BareNumber::kMinutes}) {
      auto from_yaml = FromYaml(text, bare);
      ASSERT_TRUE(from_yaml) << from_yaml.error().message();
      EXPECT_EQ(*from_yaml, p) << text;
    }
    // The key alone, on top of the defaults.
    const json::value written = json::parse(text);
    const std::string one =
        "{\"" + TopKey(field) + "\": " + json::serialize(written.at(TopKey(field))) + "}";
    auto from_one = FromJson(one);
    ASSERT_TRUE(from_one) << from_one.error().message();
    EXPECT_EQ(*from_one, p) << one;
    auto yaml_one = FromYaml(one, config::BareNumber::kRefused);
    ASSERT_TRUE(yaml_one) << yaml_one.error().message();
    EXPECT_EQ(*yaml_one, p) << one;
  }
}

// Both schedules, with every other field away from its default at once:
// YAML -> Policy -> JSON -> Policy gives the policy back.
TEST(PolicyFormsTest, APolicyWithEveryFieldSetSurvivesYamlToJsonAndBack) {
  for (const bool with_steps : {false, true}) {
    SCOPED_TRACE(with_steps ? "steps" : "initial_weight and step");
    Policy p;
    if (with_steps) p.steps = {0.5};  // decides which schedule is in use
    TurnOnGroups(p);
    std::vector<std::string> in_use;
    for (const PolicyField& field : core::PolicyFields()) {
      if (!core::PolicyFieldInUse(field, p)) continue;
      SetNonDefault(field, p);
      if (in_use.empty() || in_use.back() != TopKey(field)) in_use.push_back(TopKey(field));
    }
    ASSERT_TRUE(core::ValidatePolicy(p)) << core::ValidatePolicy(p).error().message();
    for (const PolicyField& field : core::PolicyFields()) {
      if (!core::PolicyFieldInUse(field, p)) continue;
      // Each field in use differs from the default: equal after the round trip
      // means the field travelled.
      core::VisitPolicyField(field, p, [&](const auto& value) {
        using T = std::remove_cvref_t<decltype(value)>;
        EXPECT_NE(value, Policy{}.*std::get<T Policy::*>(field.member)) << field.name;
      });
    }

    const std::string yaml_text = PolicyJson(p);
    EXPECT_EQ(Keys(yaml_text), in_use) << yaml_text;
    auto from_yaml = FromYaml(yaml_text, config::BareNumber::kRefused);
    ASSERT_TRUE(from_yaml) << from_yaml.error().message();
    EXPECT_EQ(*from_yaml, p);
    const std::string json_text = PolicyJson(*from_yaml);
    EXPECT_EQ(json_text, yaml_text);
    auto from_json = FromJson(json_text);
    ASSERT_TRUE(from_json) << from_json.error().message();
    EXPECT_EQ(*from_json, p);
  }
}

// Of two bad keys the readers report a scalar before the schedule (as they
// did before they walked the table, which lists steps third).
TEST(PolicyFormsTest, ABadScalarIsReportedBeforeABadSchedule) {
  const std::string text = R"({"steps": [], "bake": "x"})";
  auto from_json = FromJson(text);
  ASSERT_FALSE(from_json);
  EXPECT_EQ(from_json.error().message(),
            "policy.bake: invalid duration 'x': expected a number followed by ms, s, m or h");
  auto from_yaml = FromYaml(text, config::BareNumber::kRefused);
  ASSERT_FALSE(from_yaml);
  EXPECT_EQ(from_yaml.error().message(),
            "policy.yaml: policy.bake (line 1): invalid duration 'x': expected a number followed "
            "by ms, s, m or h");
}

TEST(PolicyFormsTest, TheOpenApiPolicySchemaHasEveryFieldWithItsTypeAndDoc) {
  const json::value doc = json::parse(api::ControlApi::OpenApiJson());
  const json::object& schema = doc.at("components").at("schemas").at("Policy").as_object();
  EXPECT_FALSE(schema.at("additionalProperties").as_bool());
  const json::object& props = schema.at("properties").as_object();
  const json::object& groups = doc.at("components").at("schemas").as_object();
  // Every field in the table's order: at the top, or in its group's schema
  // (shadow: "#/components/schemas/ShadowPolicy"), the group at the top once.
  std::vector<std::string> top;
  for (const auto& kv : props) top.emplace_back(kv.key());
  std::vector<std::string> expected_top;
  for (const PolicyField& field : core::PolicyFields()) {
    if (expected_top.empty() || expected_top.back() != TopKey(field)) {
      expected_top.push_back(TopKey(field));
    }
  }
  EXPECT_EQ(top, expected_top) << "the schema lists the fields in the table's order";
  for (const PolicyField& field : core::PolicyFields()) {
    const std::string_view group = core::GroupOf(field);
    const json::object* owner = &props;
    if (!group.empty()) {
      const std::string ref(props.at(group).at("allOf").at(0).at("$ref").as_string());
      const std::string name = ref.substr(ref.rfind('/') + 1);
      owner = &groups.at(name).at("properties").as_object();
      EXPECT_FALSE(groups.at(name).at("additionalProperties").as_bool()) << name;
    }
    const json::value* found = owner->if_contains(core::KeyOf(field));
    ASSERT_NE(found, nullptr) << field.name;
    const json::object& prop = found->as_object();
    const char* type = "";
    switch (core::TypeOf(field)) {
      case core::PolicyFieldType::kNumber:
        type = "number";
        break;
      case core::PolicyFieldType::kStepList: {
        type = "array";
        const json::array& one_of = prop.at("items").at("oneOf").as_array();
        ASSERT_EQ(one_of.size(), 2u) << field.name;
        EXPECT_EQ(one_of[0].at("type").as_string(), "number") << field.name;
        EXPECT_EQ(one_of[1].at("allOf").at(0).at("$ref").as_string(),
                  "#/components/schemas/PolicyStep");
        break;
      }
      case core::PolicyFieldType::kDuration:
        type = "string";
        EXPECT_TRUE(prop.contains("pattern")) << field.name;
        break;
      case core::PolicyFieldType::kInteger:
        type = "integer";
        break;
      case core::PolicyFieldType::kBoolean:
        type = "boolean";
        break;
      case core::PolicyFieldType::kChoice: {
        type = "string";
        std::vector<std::string> names;
        for (const auto& e : prop.at("enum").as_array()) names.emplace_back(e.as_string());
        EXPECT_EQ(names, std::vector<std::string>(field.choices.begin(), field.choices.end()))
            << field.name;
        break;
      }
      case core::PolicyFieldType::kHooks:
        EXPECT_EQ(prop.at("allOf").at(0).at("$ref").as_string(),
                  "#/components/schemas/PolicyHooks");
        break;
      case core::PolicyFieldType::kHookList:
        type = "array";
        EXPECT_EQ(prop.at("items").at("allOf").at(0).at("$ref").as_string(),
                  "#/components/schemas/Hook");
        break;
    }
    if (*type != '\0') {
      EXPECT_EQ(prop.at("type").as_string(), type) << field.name;
    }
    if (field.doc.empty()) {
      EXPECT_FALSE(prop.contains("description")) << field.name;
    } else {
      EXPECT_EQ(prop.at("description").as_string(), field.doc) << field.name;
    }
  }
}

// Issue 15: steps are numbers or {weight, bake, gate}; a plain step is
// written back as a number, so a policy of numbers reads and writes as before.
TEST(PolicyFormsTest, StepObjectsRoundTripAndPlainStepsStayNumbers) {
  const std::string yaml =
      "steps: [0.05, {weight: 0.25, bake: 30m}, {weight: 0.5, gate: manual}, 1.0]\n";
  auto p = FromYaml(yaml, config::BareNumber::kRefused);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->steps.size(), 4u);
  EXPECT_TRUE(p->steps[0].plain());
  EXPECT_EQ(p->steps[1].bake, std::chrono::minutes(30));
  EXPECT_FALSE(p->steps[1].manual_gate);
  EXPECT_TRUE(p->steps[2].manual_gate);
  EXPECT_FALSE(p->steps[2].bake.has_value());
  const std::string text = PolicyJson(*p);
  const json::value steps = json::parse(text).at("steps");
  EXPECT_EQ(json::serialize(steps),
            R"([5E-2,{"weight":2.5E-1,"bake":"30m"},{"weight":5E-1,"gate":"manual"},1])");
  auto back = FromJson(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, *p);
  // A stored policy of plain numbers (written before step objects) reads as before.
  auto old = codec::ParsePolicy(json::parse(R"({"steps": [0.1, 0.5, 1.0]})"), "record.policy", {},
                                core::PolicyRules::kStored);
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->steps, (std::vector<core::PolicyStep>{0.1, 0.5, 1.0}));
  EXPECT_EQ(json::serialize(json::parse(PolicyJson(*old)).at("steps")), "[1E-1,5E-1,1]");
}

TEST(PolicyFormsTest, BadStepsAndDeadlinesAreRefusedNamingTheKey) {
  struct Case {
    std::string text;
    std::string json_error;
    std::string yaml_error;
  };
  const Case cases[] = {
      {R"({"steps": [{"weight": 0.1, "gate": "manual"}, 1.0]})",
       "policy.steps[0].gate: a gate on the first step (the initial weight) is refused",
       "policy.yaml: policy.steps[0].gate (line 1): a gate on the first step"},
      {R"({"steps": [0.1, {"weight": 0.5, "gate": "webhook"}]})",
       "policy.steps[1].gate: unknown gate 'webhook': the only gate kind is manual",
       "policy.yaml: policy.steps[1].gate (line 1): unknown gate 'webhook'"},
      {R"({"steps": [0.1, {"bake": "5m"}]})", "policy.steps[1].weight: missing",
       "policy.yaml: policy.steps[1] (line 1): a step object needs a weight"},
      {R"({"steps": [0.1, {"weight": 0.5, "hold": true}]})", "policy.steps[1].hold: unknown key",
       "policy.steps[1].hold"},
      {R"({"steps": [0.1, {"weight": 0.5, "bake": "-5m"}]})",
       "policy.steps[1].bake: ", "policy.yaml: policy.steps[1].bake (line 1): "},
      {R"({"progress_deadline": "-1h"})",
       "policy.progress_deadline: ", "policy.yaml: policy.progress_deadline (line 1): "},
      {R"({"on_progress_deadline": "pause"})",
       "policy.on_progress_deadline: must be one of rollback, fail",
       "policy.yaml: policy.on_progress_deadline (line 1): must be one of rollback, fail"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto from_json = FromJson(c.text);
    ASSERT_FALSE(from_json);
    EXPECT_EQ(from_json.error().message().find(c.json_error), 0u) << from_json.error().message();
    auto from_yaml = FromYaml(c.text, config::BareNumber::kRefused);
    ASSERT_FALSE(from_yaml);
    EXPECT_NE(from_yaml.error().message().find(c.yaml_error), std::string::npos)
        << from_yaml.error().message();
  }
}

// Issue 14: a judge that is not one of the names, and an alpha out of
// range, are refused by both readers naming the field.
TEST(PolicyFormsTest, BadJudgeAndAlphaAreRefusedNamingTheField) {
  auto judge = FromJson(R"({"latency_judge": "kayenta"})");
  ASSERT_FALSE(judge);
  EXPECT_EQ(judge.error().message(),
            "policy.latency_judge: must be one of threshold, mann_whitney");
  auto judge_yaml = FromYaml(R"({"latency_judge": "kayenta"})", config::BareNumber::kRefused);
  ASSERT_FALSE(judge_yaml);
  EXPECT_EQ(judge_yaml.error().message(),
            "policy.yaml: policy.latency_judge (line 1): must be one of threshold, mann_whitney");
  auto alpha = FromJson(R"({"latency_judge": "mann_whitney", "latency_alpha": 0.7})");
  ASSERT_FALSE(alpha);
  EXPECT_EQ(alpha.error().message(), "policy.latency_alpha: 0.7 must be in (0, 0.5]");
  auto alpha_yaml = FromYaml("latency_alpha: 0\n", config::BareNumber::kRefused);
  ASSERT_FALSE(alpha_yaml);
  EXPECT_EQ(alpha_yaml.error().message(),
            "policy.yaml: policy.latency_alpha (line 1): 0 must be in (0, 0.5]");
  auto ok =
      FromYaml("latency_judge: mann_whitney\nlatency_alpha: 0.01\n", config::BareNumber::kRefused);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->latency_judge, core::LatencyJudge::kMannWhitney);
  EXPECT_EQ(PolicyJson(*ok).find(R"("latency_judge":"mann_whitney")") != std::string::npos, true);
}

}  // namespace
}  // namespace mlcanary
