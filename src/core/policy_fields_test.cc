#include "core/policy_fields.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace mlcanary::core {
namespace {

// Converts to any member type: T{AnyMember{}...} compiles for as many
// initializers as T has members, and no more.
struct AnyMember {
  template <typename T>
  operator T() const;  // never called: only in unevaluated requires-expressions
};

template <typename T, typename... Init>
constexpr std::size_t MemberCount() {
  if constexpr (requires { T{Init{}..., AnyMember{}}; }) {
    return MemberCount<T, Init..., AnyMember>();
  } else {
    return sizeof...(Init);
  }
}

static_assert(std::is_aggregate_v<Policy>, "MemberCount counts an aggregate's members");

// A member of Policy without a row would be read by no reader, written by no
// writer and missing from the OpenAPI schema: one row per member, each its own.
TEST(PolicyFieldsTest, EveryMemberOfPolicyHasOneRow) {
  EXPECT_EQ(PolicyFields().size(), MemberCount<Policy>())
      << "a member of core::Policy has no row in core/policy_fields.cc (or a row too many)";
  std::set<std::string_view> names;
  for (const PolicyField& field : PolicyFields()) {
    EXPECT_TRUE(names.insert(field.name).second) << field.name << " has two rows";
    for (const PolicyField& other : PolicyFields()) {
      if (&other != &field) {
        EXPECT_TRUE(field.member != other.member) << field.name << " and " << other.name;
      }
    }
  }
}

TEST(PolicyFieldsTest, NamesAreTheFieldsInOrder) {
  ASSERT_EQ(PolicyFieldNames().size(), PolicyFields().size());
  for (std::size_t i = 0; i < PolicyFields().size(); ++i) {
    EXPECT_EQ(PolicyFieldNames()[i], PolicyFields()[i].name);
  }
}

TEST(PolicyFieldsTest, ReadOrderIsTheTableWithTheListLast) {
  std::vector<std::string_view> order;
  for (const PolicyField& field : PolicyFieldsInReadOrder()) order.push_back(field.name);
  std::vector<std::string_view> expected;
  for (const PolicyField& field : PolicyFields()) {
    if (field.name != "steps") expected.push_back(field.name);
  }
  expected.push_back("steps");
  EXPECT_EQ(order, expected);
}

// The rules CheckPolicy knows per type; a row that pairs them otherwise would be
// checked by nothing.
TEST(PolicyFieldsTest, RulesFitTheirTypes) {
  for (const PolicyField& field : PolicyFields()) {
    const PolicyFieldType type = TypeOf(field);
    switch (field.rule) {
      case PolicyRule::kWeight:
        EXPECT_EQ(type, PolicyFieldType::kNumber) << field.name;
        break;
      case PolicyRule::kWeightSchedule:
        EXPECT_EQ(type, PolicyFieldType::kStepList) << field.name;
        break;
      case PolicyRule::kPositive:
      case PolicyRule::kNonNegative:
        EXPECT_NE(type, PolicyFieldType::kStepList) << field.name;
        EXPECT_NE(type, PolicyFieldType::kBoolean) << field.name;
        break;
      case PolicyRule::kAlpha:
      case PolicyRule::kShare:
      case PolicyRule::kFraction:
        EXPECT_EQ(type, PolicyFieldType::kNumber) << field.name;
        break;
      case PolicyRule::kHook:
        EXPECT_TRUE(type == PolicyFieldType::kHooks || type == PolicyFieldType::kHookList)
            << field.name;
        break;
      case PolicyRule::kNone:
        // An integer without a rule is held by its read range (divergence_output).
        EXPECT_TRUE(type == PolicyFieldType::kBoolean || type == PolicyFieldType::kChoice ||
                    (type == PolicyFieldType::kInteger && field.read_max != 0))
            << field.name;
        break;
    }
    EXPECT_FALSE(field.unit.empty() && type != PolicyFieldType::kBoolean) << field.name;
    EXPECT_EQ(type == PolicyFieldType::kChoice, !field.choices.empty()) << field.name;
  }
}

// A group's fields are adjacent (the JSON writer opens its object once), its
// first one is its switch, and the readers see the group as one top-level key.
TEST(PolicyFieldsTest, GroupsAreAdjacentAndOneTopLevelKey) {
  std::vector<std::string_view> groups;
  for (const PolicyField& field : PolicyFields()) {
    const std::string_view group = GroupOf(field);
    if (group.empty()) continue;
    if (groups.empty() || groups.back() != group) {
      EXPECT_EQ(std::count(groups.begin(), groups.end(), group), 0) << group << " split";
      groups.push_back(group);
    }
  }
  EXPECT_EQ(groups, std::vector<std::string_view>{"shadow"});
  const auto top = PolicyTopKeys();
  EXPECT_EQ(std::count(top.begin(), top.end(), "shadow"), 1);
  EXPECT_EQ(std::count(top.begin(), top.end(), "shadow.sample"), 0);
  EXPECT_EQ(PolicyGroupKeys("shadow"), (std::vector<std::string_view>{"duration", "sample"}));
  Policy p;
  EXPECT_FALSE(PolicyGroupOn("shadow", p));
  p.shadow_duration = std::chrono::minutes(1);
  EXPECT_TRUE(PolicyGroupOn("shadow", p));
  EXPECT_EQ(GroupOffError("shadow").ToError().message().substr(0, 23), "policy.shadow.duration:");
}

TEST(PolicyFieldsTest, SharesAndFractionsHaveTheirRanges) {
  Policy p;
  p.shadow_duration = std::chrono::minutes(10);
  for (double bad : {0.0, -0.5, 1.01}) {
    p.shadow_sample = bad;
    auto s = CheckPolicy(p);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().Path(), "shadow.sample");
  }
  p.shadow_sample = 1.0;
  EXPECT_TRUE(CheckPolicy(p));
  p.divergence_max_disagreement = 1.5;
  ASSERT_FALSE(CheckPolicy(p));
  EXPECT_EQ(CheckPolicy(p).error().Path(), "divergence_max_disagreement");
  p.divergence_max_disagreement = 0;  // off
  EXPECT_TRUE(CheckPolicy(p));
  // A shadow that is off is neither checked nor written.
  p.shadow_duration = Duration(0);
  p.shadow_sample = 7;
  EXPECT_TRUE(CheckPolicy(p));
}

// The readers narrow an integer to the member's type: an int member needs a
// read range inside int, or a large value would wrap.
TEST(PolicyFieldsTest, IntMembersHaveAReadRangeThatFits) {
  for (const PolicyField& field : PolicyFields()) {
    if (!std::holds_alternative<int Policy::*>(field.member)) continue;
    EXPECT_GT(field.read_max, 0) << field.name;
    EXPECT_LE(field.read_max, std::numeric_limits<int>::max()) << field.name;
    EXPECT_GE(field.read_min, std::numeric_limits<int>::min()) << field.name;
    EXPECT_EQ(CheckReadRange(field, field.read_max + 1),
              "must be between " + std::to_string(field.read_min) + " and " +
                  std::to_string(field.read_max));
    EXPECT_EQ(CheckReadRange(field, field.read_max), std::nullopt);
  }
}

TEST(PolicyFieldsTest, TheTwoSchedulesExcludeEachOther) {
  Policy simple;
  Policy explicit_steps;
  explicit_steps.steps = {0.5, 1.0};
  for (const PolicyField& field : PolicyFields()) {
    if (!GroupOf(field).empty()) continue;  // in use with their group (below)
    if (field.name == "hooks" || field.name == "analysis") continue;  // in use when given (below)
    const bool simple_only = field.name == "initial_weight" || field.name == "step";
    EXPECT_EQ(PolicyFieldInUse(field, simple), field.name != "steps") << field.name;
    EXPECT_EQ(PolicyFieldInUse(field, explicit_steps), !simple_only) << field.name;
  }
}

// Hooks (issue 15) are written only when given, and checked naming the hook's key.
TEST(PolicyFieldsTest, HooksAreInUseWhenGivenAndCheckedNamingTheKey) {
  Policy p;
  const PolicyField* hooks = nullptr;
  const PolicyField* analysis = nullptr;
  for (const PolicyField& field : PolicyFields()) {
    if (field.name == "hooks") hooks = &field;
    if (field.name == "analysis") analysis = &field;
  }
  ASSERT_NE(hooks, nullptr);
  ASSERT_NE(analysis, nullptr);
  EXPECT_FALSE(PolicyFieldInUse(*hooks, p));
  EXPECT_FALSE(PolicyFieldInUse(*analysis, p));
  p.hooks[HookPoint::kConfirmStep] = HookSpec{.url = "http://ci.local/x"};
  p.analysis = {HookSpec{.url = "https://eval.local/x"}};
  EXPECT_TRUE(PolicyFieldInUse(*hooks, p));
  EXPECT_TRUE(PolicyFieldInUse(*analysis, p));
  EXPECT_TRUE(ValidatePolicy(p));

  p.hooks[HookPoint::kConfirmStep]->url = "file:///etc/passwd";
  ASSERT_FALSE(ValidatePolicy(p));
  EXPECT_EQ(ValidatePolicy(p).error().message(),
            "policy.hooks.confirm_step.url: 'file:///etc/passwd' must be an http:// or https:// "
            "URL");
  p.hooks[HookPoint::kConfirmStep]->url = "http://";
  EXPECT_EQ(ValidatePolicy(p).error().message(),
            "policy.hooks.confirm_step.url: 'http://' has no host");
  p.hooks[HookPoint::kConfirmStep]->url = "http://ci.local/x";
  p.hooks[HookPoint::kConfirmStep]->timeout = std::chrono::seconds(31);
  EXPECT_EQ(ValidatePolicy(p).error().message(),
            "policy.hooks.confirm_step.timeout: 31s must be > 0 and at most 30s");
  p.hooks[HookPoint::kConfirmStep]->timeout = std::chrono::seconds(30);
  p.analysis[0].retries = -1;
  EXPECT_EQ(ValidatePolicy(p).error().message(),
            "policy.analysis[0].retries: -1 must be between 0 and 3");
}

TEST(PolicyFieldsTest, CheckPolicyNamesTheFieldAndTheIndexApart) {
  Policy p;
  p.steps = {0.1, 0.5, 0.4};
  auto s = CheckPolicy(p);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "steps");
  EXPECT_EQ(s.error().index, 2u);
  EXPECT_EQ(s.error().Path(), "steps[2]");
  EXPECT_EQ(s.error().message, "steps must be strictly increasing (0.5 then 0.4)");
  EXPECT_EQ(s.error().ToError().message(), ValidatePolicy(p).error().message());

  Policy q;
  q.interval = Duration(0);
  s = CheckPolicy(q);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "interval");
  EXPECT_EQ(s.error().index, std::nullopt);
  EXPECT_EQ(s.error().message, "must be > 0");
  EXPECT_EQ(ValidatePolicy(q).error().message(), "policy.interval: must be > 0");
}

TEST(PolicyFieldsTest, ChoicesNameTheirValues) {
  const PolicyField* judge = nullptr;
  for (const PolicyField& field : PolicyFields()) {
    if (field.name == "latency_judge") judge = &field;
  }
  ASSERT_NE(judge, nullptr);
  EXPECT_EQ(TypeOf(*judge), PolicyFieldType::kChoice);
  EXPECT_EQ(ChoiceName(*judge, 0), "threshold");
  EXPECT_EQ(ChoiceName(*judge, 1), "mann_whitney");
  EXPECT_EQ(ChoiceName(*judge, 2), "");
  EXPECT_EQ(ParseChoice(*judge, "mann_whitney"), 1u);
  EXPECT_EQ(ParseChoice(*judge, "kayenta"), std::nullopt);
  EXPECT_EQ(ChoiceError(*judge), "must be one of threshold, mann_whitney");
}

TEST(PolicyFieldsTest, AlphaMustBeInZeroToAHalf) {
  for (double bad : {0.0, -0.1, 0.51, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
    Policy p;
    p.latency_alpha = bad;
    auto s = CheckPolicy(p);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().field, "latency_alpha");
    EXPECT_TRUE(s.error().message.ends_with("must be in (0, 0.5]")) << s.error().message;
  }
  Policy ok;
  ok.latency_alpha = 0.5;
  EXPECT_TRUE(CheckPolicy(ok));
  ok.latency_alpha = 0.001;
  EXPECT_TRUE(CheckPolicy(ok));
  Policy negative_psi;
  negative_psi.divergence_psi_max = -0.1;
  EXPECT_EQ(ValidatePolicy(negative_psi).error().message(),
            "policy.divergence_psi_max: -0.1 must be a finite number >= 0");
  Policy zero_breaches;
  zero_breaches.divergence_breaches_to_rollback = 0;
  EXPECT_EQ(ValidatePolicy(zero_breaches).error().message(),
            "policy.divergence_breaches_to_rollback: must be >= 1");
}

}  // namespace
}  // namespace mlcanary::core
