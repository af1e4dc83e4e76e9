// The TrafficControl contract (core/ports.h, core/traffic_weights.h), run
// against every implementation: the gateway's Router, the simulator's
// VirtualTrafficControl and SageMakerTrafficControl (on the moto harness) must
// be interchangeable behind the port.
//
// Header-only and defines the tests: include it in exactly one .cc file of a
// test binary, describe the implementation with a TrafficControlKind and
// instantiate the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Router, TrafficControlContractTest,
//                            ::testing::Values(RouterKind()), ::testing::PrintToStringParamName());
//
// What the port leaves to the implementation is a capability of the kind
// (create_again_succeeds, concurrent_rounds), not a clause of the contract.
#ifndef MLCANARY_CORE_TESTING_TRAFFIC_CONTROL_CONTRACT_H_
#define MLCANARY_CORE_TESTING_TRAFFIC_CONTROL_CONTRACT_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "core/traffic_weights.h"
#include "core/types.h"

namespace mlcanary::core::testing {

// One implementation under the contract.
struct TrafficControlKind {
  std::string name;
  // A TrafficControl that serves `endpoint` (its variants, from `variant`
  // below, with weights summing to 1) and no other endpoint the tests name.
  // Called once per test, with an endpoint name no earlier test used.
  std::function<std::unique_ptr<TrafficControl>(const Endpoint& endpoint)> make;
  // A variant named `name` that CreateVariant on `endpoint` accepts, serving
  // model number `model` (0 or 1: two different models). Its weight is 0.
  std::function<Variant(const std::string& endpoint, const std::string& name, int model)> variant;
  // Optional: runs after each test, with the TrafficControl still alive (e.g.
  // to check that every request a remote implementation sent was well formed).
  std::function<void()> after_each;

  // Capabilities: where implementations may differ.
  // CreateVariant of a variant that is already there with the same model:
  // true, it succeeds and changes nothing (SageMaker: finishing the job of an
  // earlier call that failed after creating it); false, kConflict.
  bool create_again_succeeds = false;
  // SetWeights calls a writer makes while readers describe the endpoint, in
  // the clause that no reader sees a half-applied set; 0 skips the clause.
  int concurrent_rounds = 200;
};

// Test names and failure messages show the implementation's name.
inline void PrintTo(const TrafficControlKind& kind, std::ostream* os) { *os << kind.name; }

class TrafficControlContractTest : public ::testing::TestWithParam<TrafficControlKind> {
 protected:
  void TearDown() override {
    if (GetParam().after_each) GetParam().after_each();
    traffic_.reset();
  }

  // Makes the TrafficControl with endpoint_ serving `weights` (variant, weight)
  // in this order, each variant from the kind's model 0.
  void Serve(const std::vector<VariantWeight>& weights) {
    Endpoint endpoint;
    endpoint.name = endpoint_;
    for (const auto& w : weights) {
      Variant v = GetParam().variant(endpoint_, w.variant, 0);
      v.weight = w.weight;
      endpoint.variants.push_back(std::move(v));
    }
    traffic_ = GetParam().make(endpoint);
    ASSERT_NE(traffic_, nullptr);
  }

  // The endpoint's weights, as DescribeEndpoint gives them (in its order).
  std::vector<VariantWeight> Weights() {
    auto described = traffic_->DescribeEndpoint(endpoint_);
    EXPECT_TRUE(described) << described.error().ToString();
    std::vector<VariantWeight> out;
    if (!described) return out;
    for (const auto& v : described->variants) out.push_back({v.name, v.weight});
    return out;
  }

  // The endpoint has exactly the variants of `expected` (any order), each with
  // its weight (an implementation may round to the 1e-6 grid).
  void ExpectWeights(const std::vector<VariantWeight>& expected, const std::string& after) {
    const std::vector<VariantWeight> actual = Weights();
    EXPECT_EQ(actual.size(), expected.size()) << after;
    for (const auto& e : expected) {
      const VariantWeight* found = nullptr;
      for (const auto& a : actual) {
        if (a.variant == e.variant) found = &a;
      }
      if (found == nullptr) {
        ADD_FAILURE() << after << ": variant '" << e.variant << "' is gone";
        continue;
      }
      EXPECT_NEAR(found->weight, e.weight, 2e-6) << after << ": variant '" << e.variant << "'";
    }
  }

  // SetWeights(`request`) is refused with `code` and a message holding
  // `message_part`, and leaves the weights as `before`.
  void ExpectRefused(const std::vector<VariantWeight>& request, ErrorCode code,
                     const std::string& message_part, const std::vector<VariantWeight>& before) {
    std::string what = "SetWeights {";
    for (const auto& w : request) {
      what += " " + w.variant + ": " + ::testing::PrintToString(w.weight);
    }
    what += " }";
    auto s = traffic_->SetWeights(endpoint_, request);
    if (s) {
      ADD_FAILURE() << what << " was accepted";
    } else {
      EXPECT_EQ(s.error().code(), code) << what << ": " << s.error().ToString();
      EXPECT_THAT(s.error().message(), ::testing::HasSubstr(message_part)) << what;
    }
    ExpectWeights(before, what + " (refused)");
  }

  static std::string NewEndpointName() {
    static int count = 0;
    return "tc" + std::to_string(++count) + "-recs";
  }

  const std::string endpoint_ = NewEndpointName();
  std::unique_ptr<TrafficControl> traffic_;
};

// --- DescribeEndpoint ------------------------------------------------------------

TEST_P(TrafficControlContractTest, DescribeEndpointGivesTheVariantsAndTheirWeights) {
  Serve({{"production", 0.75}, {"canary", 0.25}});
  auto described = traffic_->DescribeEndpoint(endpoint_);
  ASSERT_TRUE(described) << described.error().ToString();
  EXPECT_EQ(described->name, endpoint_);
  ExpectWeights({{"production", 0.75}, {"canary", 0.25}}, "served");
}

TEST_P(TrafficControlContractTest, UnknownEndpointIsNotFoundEverywhere) {
  Serve({{"production", 1}});
  const std::string unknown = "nope";
  auto described = traffic_->DescribeEndpoint(unknown);
  ASSERT_FALSE(described);
  EXPECT_EQ(described.error().code(), ErrorCode::kNotFound) << described.error().ToString();
  EXPECT_THAT(described.error().message(), ::testing::HasSubstr("'nope'"));
  auto set = traffic_->SetWeights(unknown, {{"production", 1}});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), ErrorCode::kNotFound) << set.error().ToString();
  auto created = traffic_->CreateVariant(unknown, GetParam().variant(unknown, "canary", 0));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kNotFound) << created.error().ToString();
  auto removed = traffic_->RemoveVariant(unknown, "production");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), ErrorCode::kNotFound) << removed.error().ToString();
  ExpectWeights({{"production", 1}}, "calls on another endpoint");
}

// --- CreateVariant and RemoveVariant ---------------------------------------------

TEST_P(TrafficControlContractTest, CreateVariantAddsItAtWeightZero) {
  Serve({{"production", 1}});
  Variant canary = GetParam().variant(endpoint_, "canary", 0);
  canary.weight = 0.5;  // ignored: a new variant takes no traffic
  auto s = traffic_->CreateVariant(endpoint_, canary);
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 1}, {"canary", 0}}, "CreateVariant canary");
}

TEST_P(TrafficControlContractTest, CreateVariantOfANameTakenByAnotherModelIsConflict) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  auto s = traffic_->CreateVariant(endpoint_, GetParam().variant(endpoint_, "canary", 1));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kConflict) << s.error().ToString();
  ExpectWeights({{"production", 0.9}, {"canary", 0.1}}, "CreateVariant canary again");
}

TEST_P(TrafficControlContractTest, CreateVariantAgainWithTheSameModel) {
  Serve({{"production", 1}});
  const Variant canary = GetParam().variant(endpoint_, "canary", 0);
  ASSERT_TRUE(traffic_->CreateVariant(endpoint_, canary));
  auto again = traffic_->CreateVariant(endpoint_, canary);
  if (GetParam().create_again_succeeds) {
    EXPECT_TRUE(again) << again.error().ToString();
  } else {
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), ErrorCode::kConflict) << again.error().ToString();
  }
  ExpectWeights({{"production", 1}, {"canary", 0}}, "CreateVariant canary twice");
}

TEST_P(TrafficControlContractTest, RemoveVariantRemovesAVariantWithoutTraffic) {
  Serve({{"production", 1}, {"canary", 0}});
  auto s = traffic_->RemoveVariant(endpoint_, "canary");
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 1}}, "RemoveVariant canary");
}

TEST_P(TrafficControlContractTest, RemoveVariantRefusesAVariantWithTraffic) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  auto s = traffic_->RemoveVariant(endpoint_, "canary");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition) << s.error().ToString();
  EXPECT_THAT(s.error().message(), ::testing::HasSubstr("'canary'"));
  ExpectWeights({{"production", 0.9}, {"canary", 0.1}}, "RemoveVariant canary");
}

TEST_P(TrafficControlContractTest, RemoveVariantOfAnUnknownVariantIsNotFound) {
  Serve({{"production", 1}, {"canary", 0}});
  auto s = traffic_->RemoveVariant(endpoint_, "ghost");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound) << s.error().ToString();
  EXPECT_THAT(s.error().message(), ::testing::HasSubstr("'ghost'"));
  ExpectWeights({{"production", 1}, {"canary", 0}}, "RemoveVariant ghost");
}

// --- SetWeights ------------------------------------------------------------------

TEST_P(TrafficControlContractTest, SetWeightsSetsTheNamedVariantsAndKeepsTheOthers) {
  Serve({{"production", 0.8}, {"blue", 0.2}, {"canary", 0}});
  auto s = traffic_->SetWeights(endpoint_, {{"canary", 0.2}, {"blue", 0}});
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0.8}, {"blue", 0}, {"canary", 0.2}}, "SetWeights a subset");
  s = traffic_->SetWeights(endpoint_, {{"production", 0}, {"blue", 0}, {"canary", 1}});
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0}, {"blue", 0}, {"canary", 1}}, "SetWeights all");
  s = traffic_->SetWeights(endpoint_, {{"canary", 1}});  // already in force
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0}, {"blue", 0}, {"canary", 1}}, "SetWeights the same");
}

TEST_P(TrafficControlContractTest, SetWeightsRefusesAnEmptySet) {
  Serve({{"production", 1}, {"canary", 0}});
  ExpectRefused({}, ErrorCode::kValidation, "no weights given", {{"production", 1}, {"canary", 0}});
}

TEST_P(TrafficControlContractTest, SetWeightsRefusesAVariantNamedTwice) {
  Serve({{"production", 1}, {"canary", 0}});
  const std::vector<VariantWeight> before = {{"production", 1}, {"canary", 0}};
  // Taken last-one-wins, this set would sum to 1: it must be refused anyway.
  ExpectRefused({{"canary", 0.3}, {"production", 0.5}, {"canary", 0.5}}, ErrorCode::kValidation,
                "twice", before);
  ExpectRefused({{"canary", 0.5}, {"canary", 0.5}, {"production", 0.5}}, ErrorCode::kValidation,
                "twice", before);
}

TEST_P(TrafficControlContractTest, SetWeightsRefusesAnUnknownVariant) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  ExpectRefused({{"production", 0.5}, {"ghost", 0.5}}, ErrorCode::kNotFound, "'ghost'",
                {{"production", 0.9}, {"canary", 0.1}});
}

TEST_P(TrafficControlContractTest, SetWeightsRefusesWeightsOutsideZeroToOne) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  const std::vector<VariantWeight> before = {{"production", 0.9}, {"canary", 0.1}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Each set sums to 1 where the numbers allow it: only the range is wrong.
  for (double w : {-0.5, -1e-9}) {
    ExpectRefused({{"canary", w}, {"production", 1 - w}}, ErrorCode::kValidation, "[0, 1]", before);
  }
  // 1 + 1e-7 alone sums to 1 within the tolerance: the weight itself is refused.
  for (double w : {1.0000001, 1.5}) {
    ExpectRefused({{"canary", w}, {"production", 0}}, ErrorCode::kValidation, "[0, 1]", before);
  }
  for (double w : {nan, inf, -inf}) {
    ExpectRefused({{"canary", w}, {"production", 0.9}}, ErrorCode::kValidation, "[0, 1]", before);
  }
}

TEST_P(TrafficControlContractTest, SetWeightsRefusesASetThatDoesNotSumToOne) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  const std::vector<VariantWeight> before = {{"production", 0.9}, {"canary", 0.1}};
  ExpectRefused({{"production", 0.6}, {"canary", 0.5}}, ErrorCode::kValidation, "sum to 1", before);
  ExpectRefused({{"production", 0.4}, {"canary", 0.5}}, ErrorCode::kValidation, "sum to 1", before);
  // Variants not named keep their weight, and it counts: 0.9 + 0.3.
  ExpectRefused({{"canary", 0.3}}, ErrorCode::kValidation, "sum to 1", before);
  ExpectRefused({{"production", 0.500002}, {"canary", 0.5}}, ErrorCode::kValidation, "sum to 1",
                before);
}

TEST_P(TrafficControlContractTest, SetWeightsAcceptsASumWithinTheTolerance) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  ASSERT_LT(0.4e-6, kWeightSumTolerance);
  auto s = traffic_->SetWeights(endpoint_, {{"production", 0.5000004}, {"canary", 0.5}});
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0.5}, {"canary", 0.5}}, "SetWeights 1 + 4e-7");
  s = traffic_->SetWeights(endpoint_, {{"production", 0.7}, {"canary", 0.2999996}});
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0.7}, {"canary", 0.3}}, "SetWeights 1 - 4e-7");
}

TEST_P(TrafficControlContractTest, SetWeightsAcceptsAValidSetAfterRefusals) {
  Serve({{"production", 0.9}, {"canary", 0.1}});
  ASSERT_FALSE(traffic_->SetWeights(endpoint_, {{"canary", 0.3}}));
  ASSERT_FALSE(traffic_->SetWeights(endpoint_, {{"canary", 2}, {"production", -1}}));
  auto s = traffic_->SetWeights(endpoint_, {{"canary", 0.3}, {"production", 0.7}});
  ASSERT_TRUE(s) << s.error().ToString();
  ExpectWeights({{"production", 0.7}, {"canary", 0.3}}, "SetWeights after refusals");
}

// No reader sees a half-applied set: while a writer switches between two sets,
// every description is one of them.
TEST_P(TrafficControlContractTest, ReadersNeverSeeAHalfAppliedSet) {
  const int rounds = GetParam().concurrent_rounds;
  if (rounds == 0) GTEST_SKIP() << GetParam().name << " does not run this clause";
  Serve({{"production", 0.9}, {"canary", 0.1}});
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0}, failed{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto described = traffic_->DescribeEndpoint(endpoint_);
        if (!described) {
          failed.fetch_add(1);
          continue;
        }
        const Variant* p = described->FindVariant("production");
        const Variant* c = described->FindVariant("canary");
        const bool a = p != nullptr && c != nullptr && std::fabs(p->weight - 0.9) < 2e-6 &&
                       std::fabs(c->weight - 0.1) < 2e-6;
        const bool b = p != nullptr && c != nullptr && std::fabs(p->weight - 0.2) < 2e-6 &&
                       std::fabs(c->weight - 0.8) < 2e-6;
        if (!a && !b) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < rounds; ++i) {
    const bool to_b = i % 2 == 0;
    auto s = traffic_->SetWeights(endpoint_,
                                  {{"canary", to_b ? 0.8 : 0.1}, {"production", to_b ? 0.2 : 0.9}});
    EXPECT_TRUE(s) << s.error().ToString();
  }
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_EQ(failed.load(), 0);
}

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_TRAFFIC_CONTROL_CONTRACT_H_
