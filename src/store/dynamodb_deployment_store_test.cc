// DynamoDbDeploymentStore on the moto harness (test/aws): the shared store
// contract (core/testing/deployment_store_contract.h, instantiated here), and what is
// DynamoDB's own: several store instances on one table, retried throttling, a
// refused request that writes nothing, the transaction limit, the item layout.
// After every test the harness must have seen only well-signed requests that
// match botocore's model of their operation.
#include "store/dynamodb_deployment_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <latch>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "codec/domain_json.h"
#include "core/testing/deployment_store_contract.h"
#include "moto_fixture.h"
#include "store/testing/sample_records.h"

namespace mlcanary::store {
namespace {

using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::ErrorCode;
using core::testing::DeploymentStoreContractTest;
using core::testing::DeploymentStoreKind;
using ::testing::HasSubstr;
namespace json = boost::json;

// One harness for the whole binary: starting moto takes seconds.
class HarnessEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto harness = mlcanary::testing::MotoHarness::Start();
    ASSERT_TRUE(harness) << harness.error().ToString();
    harness_ = std::move(*harness);
  }
  void TearDown() override { harness_.reset(); }
  static mlcanary::testing::MotoHarness* harness() { return harness_.get(); }

 private:
  static inline std::unique_ptr<mlcanary::testing::MotoHarness> harness_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new HarnessEnvironment);

aws::ClientOptions ClientOptions() {
  aws::ClientOptions options;
  options.region = "us-east-1";
  return mlcanary::testing::MotoClientOptions(*HarnessEnvironment::harness(), options);
}

// A fresh table per test: tests never see each other's items.
std::string FreshTable() {
  static std::atomic<int> counter{0};
  return "mlcanary-test-" + std::to_string(++counter);
}

core::Result<std::unique_ptr<DynamoDbDeploymentStore>> OpenStore(const std::string& table,
                                                                 bool create) {
  DynamoDbStoreOptions options;
  options.client = ClientOptions();
  options.table = table;
  options.create_table = create;
  return DynamoDbDeploymentStore::Open(std::move(options));
}

std::unique_ptr<core::DeploymentStore> MakeDynamoDb() {
  if (HarnessEnvironment::harness() == nullptr) {
    ADD_FAILURE() << "moto harness did not start";
    return nullptr;
  }
  auto store = OpenStore(FreshTable(), /*create=*/true);
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

// Every request so far was well signed and valid for botocore; then a clean slate.
void ExpectNoViolationsAndReset() {
  auto* harness = HarnessEnvironment::harness();
  if (harness == nullptr) return;
  auto violations = harness->Violations();
  ASSERT_TRUE(violations) << violations.error().ToString();
  EXPECT_EQ(*violations, "[]");
  ASSERT_TRUE(harness->Reset());
}

INSTANTIATE_TEST_SUITE_P(Stores, DeploymentStoreContractTest,
                         ::testing::Values(DeploymentStoreKind{"DynamoDb", MakeDynamoDb,
                                                               ExpectNoViolationsAndReset}),
                         ::testing::PrintToStringParamName());

using testing::At;
// A SageMaker canary, so that the model's SageMaker fields make the round trip.
Deployment MakeDeployment(std::string id, std::string endpoint) {
  Deployment d = testing::InProgressDeployment(std::move(id), std::move(endpoint));
  d.canary_model = {};
  d.canary_model.kind = core::ModelKind::kSagemaker;
  d.canary_model.name = "model-v2";
  d.canary_model.instance_type = "ml.m5.xlarge";
  return d;
}
DeploymentEvent MakeEvent(std::string reason) {
  return testing::WeightChangeEvent(std::move(reason));
}

// Runs write(store, i) on two stores at once (i = 0, 1) and answers how many
// succeeded; every loser must have lost with a conflict.
template <class Write>
int RaceTwoStores(DynamoDbDeploymentStore* a, DynamoDbDeploymentStore* b, Write write) {
  std::latch start(2);
  core::Result<Deployment> results[2] = {core::InternalError("not run"),
                                         core::InternalError("not run")};
  DynamoDbDeploymentStore* stores[2] = {a, b};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = write(*stores[i], i);
    });
  }
  for (auto& t : threads) t.join();
  int wins = 0;
  for (const auto& r : results) {
    if (r) {
      ++wins;
    } else {
      EXPECT_EQ(r.error().code(), ErrorCode::kConflict) << r.error().ToString();
    }
  }
  return wins;
}

class DynamoDbDeploymentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(HarnessEnvironment::harness(), nullptr);
    ASSERT_TRUE(HarnessEnvironment::harness()->Reset());
    table_ = FreshTable();
    auto store = OpenStore(table_, /*create=*/true);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    auto raw = aws::AwsClient::Create(aws::DynamoDbService(), ClientOptions());
    ASSERT_TRUE(raw) << raw.error().ToString();
    raw_ = std::move(*raw);
    // Counts of requests start here, after the table's creation.
    ExpectNoViolationsAndReset();
  }
  void TearDown() override { ExpectNoViolationsAndReset(); }

  mlcanary::testing::MotoHarness& harness() { return *HarnessEnvironment::harness(); }

  // The item as DynamoDB holds it, or null.
  json::value RawItem(const std::string& pk, const std::string& sk) {
    auto response = raw_->CallJson(
        "GetItem", json::object{{"TableName", table_},
                                {"Key", json::object{{"pk", json::object{{"S", pk}}},
                                                     {"sk", json::object{{"S", sk}}}}},
                                {"ConsistentRead", true}});
    EXPECT_TRUE(response) << response.error().ToString();
    if (!response || !response->as_object().contains("Item")) return nullptr;
    return response->as_object().at("Item");
  }

  // How many requests of `operation` the harness has seen since the last Reset.
  int Count(std::string_view operation) {
    auto requests = HarnessEnvironment::harness()->Requests();
    EXPECT_TRUE(requests) << requests.error().ToString();
    if (!requests) return -1;
    json::value parsed = json::parse(*requests);
    int n = 0;
    for (const json::value& r : parsed.as_array()) {
      const json::value* op = r.as_object().if_contains("operation");
      if (op != nullptr && op->is_string() && op->as_string() == operation) ++n;
    }
    return n;
  }

  std::string table_;
  std::unique_ptr<DynamoDbDeploymentStore> store_;
  std::unique_ptr<aws::AwsClient> raw_;
};

TEST_F(DynamoDbDeploymentStoreTest, OpenOfMissingTableIsNotFoundNamingIt) {
  auto store = OpenStore("mlcanary-absent", /*create=*/false);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kNotFound) << store.error().ToString();
  EXPECT_THAT(store.error().message(), HasSubstr("'mlcanary-absent'"));
}

TEST_F(DynamoDbDeploymentStoreTest, OpenOfExistingTableNeedsNoCreateTable) {
  auto store = OpenStore(table_, /*create=*/false);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(Count("CreateTable"), 0);
  EXPECT_GE(Count("DescribeTable"), 1);
}

TEST_F(DynamoDbDeploymentStoreTest, OpenRefusesTableWithAnotherKeySchema) {
  auto created = raw_->CallJson(
      "CreateTable",
      json::object{
          {"TableName", "mlcanary-other-key"},
          {"AttributeDefinitions",
           json::array{json::object{{"AttributeName", "id"}, {"AttributeType", "S"}}}},
          {"KeySchema", json::array{json::object{{"AttributeName", "id"}, {"KeyType", "HASH"}}}},
          {"BillingMode", "PAY_PER_REQUEST"}});
  ASSERT_TRUE(created) << created.error().ToString();
  auto store = OpenStore("mlcanary-other-key", /*create=*/false);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition) << store.error().ToString();
  EXPECT_THAT(store.error().message(), HasSubstr("'id'"));
}

TEST_F(DynamoDbDeploymentStoreTest, OpenRefusesBadTableName) {
  auto store = OpenStore("x", /*create=*/true);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kValidation);
}

TEST_F(DynamoDbDeploymentStoreTest, UpdateWithoutIdIsRefusedBeforeAnyRequest) {
  auto updated = store_->Update(MakeDeployment("", "recs"), {MakeEvent("x")});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code(), ErrorCode::kValidation);
  auto requests = harness().Requests();
  ASSERT_TRUE(requests) << requests.error().ToString();
  EXPECT_EQ(json::parse(*requests).as_array().size(), 0u) << *requests;
}

TEST_F(DynamoDbDeploymentStoreTest, ItemsFollowTheDocumentedLayout) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")}));
  json::value record = RawItem("deployment#d1", "record");
  ASSERT_TRUE(record.is_object());
  const json::object& r = record.as_object();
  EXPECT_EQ(r.at("endpoint").at("S"), "recs");
  EXPECT_EQ(r.at("state").at("S"), "IN_PROGRESS");
  EXPECT_EQ(r.at("active").at("BOOL"), true);
  EXPECT_EQ(r.at("version").at("N"), "1");
  EXPECT_EQ(r.at("event_count").at("N"), "2");
  EXPECT_EQ(r.at("created_at").at("N"), "1700000000000");
  EXPECT_EQ(r.at("active_set").at("S"), "active");  // in the sparse index
  auto doc = codec::ParseJson(r.at("doc").at("S").as_string(), "doc");
  ASSERT_TRUE(doc);
  auto decoded = codec::ParseDeployment(*doc, "doc");
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->canary_model.name, "model-v2");

  json::value event = RawItem("deployment#d1", "event#00000000000000000002");
  ASSERT_TRUE(event.is_object());
  EXPECT_THAT(std::string(event.at("doc").at("S").as_string()), HasSubstr("\"b\""));
  json::value lock = RawItem("active#recs", "lock");
  ASSERT_TRUE(lock.is_object());
  EXPECT_EQ(lock.at("deployment_id").at("S"), "d1");
}

TEST_F(DynamoDbDeploymentStoreTest, LeavingTheActiveStatesDeletesTheLock) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  d->state = DeploymentState::kRolledBack;
  auto updated = store_->Update(*d, {MakeEvent("rolled back")});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_TRUE(RawItem("active#recs", "lock").is_null());
  EXPECT_EQ(RawItem("deployment#d1", "record").at("active").at("BOOL"), false);
  EXPECT_FALSE(RawItem("deployment#d1", "record").as_object().contains("active_set"))
      << "out of the sparse index";
}

TEST_F(DynamoDbDeploymentStoreTest, MovingAnActiveDeploymentMovesTheLock) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  d->endpoint = "search";
  ASSERT_TRUE(store_->Update(*d, {}));
  EXPECT_TRUE(store_->Create(MakeDeployment("d2", "recs"), {}));
  auto blocked = store_->Create(MakeDeployment("d3", "search"), {});
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code(), ErrorCode::kConflict);
}

TEST_F(DynamoDbDeploymentStoreTest, ActiveDeploymentOfAnEndpointIsReadWithoutAScan) {
  Deployment done = MakeDeployment("d0", "recs");
  done.state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Create(done, {}));
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a")}));
  ASSERT_TRUE(store_->Create(MakeDeployment("d2", "search"), {}));
  ExpectNoViolationsAndReset();

  auto active = store_->List({.endpoint = "recs", .active_only = true});
  ASSERT_TRUE(active) << active.error().ToString();
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0], *store_->Get("d1"));
  auto in_progress = store_->List(
      {.endpoint = "recs", .state = DeploymentState::kInProgress, .active_only = true});
  ASSERT_TRUE(in_progress);
  EXPECT_EQ(in_progress->size(), 1u);
  auto rolling_back = store_->List(
      {.endpoint = "recs", .state = DeploymentState::kRollingBack, .active_only = true});
  ASSERT_TRUE(rolling_back);
  EXPECT_TRUE(rolling_back->empty());
  auto none = store_->List({.endpoint = "nothing", .active_only = true});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(Count("Scan"), 0);
  // The lock and the record, three times, one GetItem for the Get, and the
  // endpoint without a lock.
  EXPECT_EQ(Count("GetItem"), 3 * 2 + 1 + 1);
}

// The controller's tick lists the active deployments of every endpoint: through the
// sparse index (one Query) and one consistent BatchGetItem, whatever the history.
TEST_F(DynamoDbDeploymentStoreTest, ActiveDeploymentsOfAllEndpointsAreReadWithoutAScan) {
  for (int i = 0; i < 6; ++i) {
    Deployment done = MakeDeployment("old" + std::to_string(i), "recs");
    done.state = i % 2 == 0 ? DeploymentState::kCompleted : DeploymentState::kRolledBack;
    done.created_at = At(i);
    ASSERT_TRUE(store_->Create(done, {MakeEvent("a"), MakeEvent("b"), MakeEvent("c")}));
  }
  Deployment recs = MakeDeployment("d1", "recs");
  recs.created_at = At(10);
  ASSERT_TRUE(store_->Create(recs, {MakeEvent("a")}));
  Deployment search = MakeDeployment("d2", "search");
  search.state = DeploymentState::kRollingBack;
  search.created_at = At(20);
  ASSERT_TRUE(store_->Create(search, {}));
  ExpectNoViolationsAndReset();

  auto listed = store_->ListReadable({.active_only = true});
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->deployments.size(), 2u);
  EXPECT_EQ(listed->deployments[0], *store_->Get("d2"));  // newest first
  EXPECT_EQ(listed->deployments[1], *store_->Get("d1"));
  EXPECT_TRUE(listed->unreadable.empty());
  EXPECT_EQ(Count("Scan"), 0);
  EXPECT_EQ(Count("Query"), 1);
  EXPECT_EQ(Count("BatchGetItem"), 1);

  auto rolling_back = store_->List({.state = DeploymentState::kRollingBack, .active_only = true});
  ASSERT_TRUE(rolling_back) << rolling_back.error().ToString();
  ASSERT_EQ(rolling_back->size(), 1u);
  EXPECT_EQ((*rolling_back)[0].id, "d2");
  EXPECT_EQ(Count("Scan"), 0);

  // Leaving and re-entering the active states takes the record out of the index and back.
  Deployment d1 = *store_->Get("d1");
  d1.state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Update(d1, {}));
  auto after = store_->List({.active_only = true});
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].id, "d2");
  ASSERT_TRUE(harness().Reset());
  auto none = store_->ListReadable({.state = DeploymentState::kPending, .active_only = true});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->deployments.empty());
}

// GSIs are eventually consistent: the index may still name a record that has just left
// the active states. The consistent re-read decides, so it is not acted on again.
TEST_F(DynamoDbDeploymentStoreTest, AStaleIndexEntryIsNoActiveDeployment) {
  Deployment done = MakeDeployment("d1", "recs");
  done.state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Create(done, {}));
  ASSERT_TRUE(store_->Create(MakeDeployment("d2", "search"), {}));
  // As the index would still show d1 for a moment after its last write.
  auto stale = raw_->CallJson(
      "UpdateItem", json::object{{"TableName", table_},
                                 {"Key", json::object{{"pk", json::object{{"S", "deployment#d1"}}},
                                                      {"sk", json::object{{"S", "record"}}}}},
                                 {"UpdateExpression", "SET active_set = :a"},
                                 {"ExpressionAttributeValues",
                                  json::object{{":a", json::object{{"S", "active"}}}}}});
  ASSERT_TRUE(stale) << stale.error().ToString();
  auto listed = store_->List({.active_only = true});
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "d2");
}

// A table of an older version (no index) with an active record written then.
TEST_F(DynamoDbDeploymentStoreTest, OpenOfATableWithoutTheIndexNamesItThenBackfillsOnce) {
  const std::string old_table = FreshTable();
  auto created = raw_->CallJson(
      "CreateTable",
      json::object{
          {"TableName", old_table},
          {"AttributeDefinitions",
           json::array{json::object{{"AttributeName", "pk"}, {"AttributeType", "S"}},
                       json::object{{"AttributeName", "sk"}, {"AttributeType", "S"}}}},
          {"KeySchema", json::array{json::object{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
                                    json::object{{"AttributeName", "sk"}, {"KeyType", "RANGE"}}}},
          {"BillingMode", "PAY_PER_REQUEST"}});
  ASSERT_TRUE(created) << created.error().ToString();
  // The record and lock as the older version wrote them: no active_set.
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {}));
  json::object record = RawItem("deployment#d1", "record").as_object();
  record.erase("active_set");
  for (const json::object& item : {record, RawItem("active#recs", "lock").as_object()}) {
    auto put = raw_->CallJson("PutItem", json::object{{"TableName", old_table}, {"Item", item}});
    ASSERT_TRUE(put) << put.error().ToString();
  }

  auto refused = OpenStore(old_table, /*create=*/false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(), HasSubstr("'active-deployments'"));
  EXPECT_THAT(refused.error().message(),
              HasSubstr("aws dynamodb update-table --table-name " + old_table));

  // What the command does (moto builds the index at once; AWS takes a while).
  json::object create_index{{"IndexName", "active-deployments"},
                            {"KeySchema", json::array{json::object{{"AttributeName", "active_set"},
                                                                   {"KeyType", "HASH"}}}},
                            {"Projection", json::object{{"ProjectionType", "KEYS_ONLY"}}}};
  json::object update{
      {"TableName", old_table},
      {"AttributeDefinitions",
       json::array{json::object{{"AttributeName", "active_set"}, {"AttributeType", "S"}}}},
      {"GlobalSecondaryIndexUpdates",
       json::array{json::object{{"Create", std::move(create_index)}}}}};
  auto indexed = raw_->CallJson("UpdateTable", update);
  ASSERT_TRUE(indexed) << indexed.error().ToString();
  ExpectNoViolationsAndReset();
  auto opened = OpenStore(old_table, /*create=*/false);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(Count("Scan"), 1) << "the once-per-table backfill";
  EXPECT_EQ(Count("UpdateItem"), 1);
  auto listed = (*opened)->List({.active_only = true});
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "d1");

  ExpectNoViolationsAndReset();
  auto again = OpenStore(old_table, /*create=*/false);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(Count("Scan"), 0) << "backfilled once, then the marker item says so";
}

TEST_F(DynamoDbDeploymentStoreTest, CreateTableAddsTheIndexToATableWithoutIt) {
  const std::string old_table = FreshTable();
  auto created = raw_->CallJson(
      "CreateTable",
      json::object{
          {"TableName", old_table},
          {"AttributeDefinitions",
           json::array{json::object{{"AttributeName", "pk"}, {"AttributeType", "S"}},
                       json::object{{"AttributeName", "sk"}, {"AttributeType", "S"}}}},
          {"KeySchema", json::array{json::object{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
                                    json::object{{"AttributeName", "sk"}, {"KeyType", "RANGE"}}}},
          {"BillingMode", "PAY_PER_REQUEST"}});
  ASSERT_TRUE(created) << created.error().ToString();
  auto opened = OpenStore(old_table, /*create=*/true);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(Count("UpdateTable"), 1);
  ASSERT_TRUE((*opened)->Create(MakeDeployment("d1", "recs"), {}));
  auto listed = (*opened)->List({.active_only = true});
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(DynamoDbDeploymentStoreTest, StaleLockIsNoActiveDeployment) {
  Deployment done = MakeDeployment("d1", "recs");
  done.state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Create(done, {}));
  ASSERT_TRUE(store_->Create(MakeDeployment("d2", "search"), {}));
  auto put_lock = [&](const std::string& endpoint, const std::string& id) {
    json::object item{{"pk", json::object{{"S", "active#" + endpoint}}},
                      {"sk", json::object{{"S", "lock"}}}};
    if (!id.empty()) item["deployment_id"] = json::object{{"S", id}};
    auto put = raw_->CallJson("PutItem", json::object{{"TableName", table_}, {"Item", item}});
    ASSERT_TRUE(put) << put.error().ToString();
  };
  // A lock naming a deployment that is no longer active, one that does not
  // exist, and one active on another endpoint.
  for (const std::string id : {"d1", "ghost", "d2"}) {
    put_lock("recs", id);
    auto active = store_->List({.endpoint = "recs", .active_only = true});
    ASSERT_TRUE(active) << id << ": " << active.error().ToString();
    EXPECT_TRUE(active->empty()) << id;
  }
  put_lock("recs", "");
  auto corrupt = store_->List({.endpoint = "recs", .active_only = true});
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(corrupt.error().message(), HasSubstr("active#recs"));
}

TEST_F(DynamoDbDeploymentStoreTest, ConcurrentUpdatesFromTwoStoresExactlyOneWins) {
  auto other = OpenStore(table_, /*create=*/false);
  ASSERT_TRUE(other) << other.error().ToString();
  for (int round = 0; round < 5; ++round) {
    std::string id = "d" + std::to_string(round);
    auto created = store_->Create(MakeDeployment(id, "endpoint-" + id), {});
    ASSERT_TRUE(created) << created.error().ToString();
    std::atomic<int> winner = -1;
    const int wins =
        RaceTwoStores(store_.get(), other->get(), [&](DynamoDbDeploymentStore& store, int i) {
          Deployment mine = *created;
          mine.canary_weight = 0.25 * (i + 1);
          auto r = store.Update(mine, {MakeEvent("writer " + std::to_string(i))});
          if (r) winner = i;
          return r;
        });
    ASSERT_EQ(wins, 1) << "round " << round;
    auto stored = other->get()->Get(id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->version, 2);
    EXPECT_EQ(stored->canary_weight, 0.25 * (winner + 1));
    auto events = store_->ListEvents(id, 0);
    ASSERT_TRUE(events);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].reason, "writer " + std::to_string(winner));
  }
}

TEST_F(DynamoDbDeploymentStoreTest, CreateOnOccupiedEndpointConflictsFromAnotherStore) {
  auto other = OpenStore(table_, /*create=*/false);
  ASSERT_TRUE(other) << other.error().ToString();
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {}));
  auto second = (*other)->Create(MakeDeployment("d2", "recs"), {MakeEvent("x")});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(second.error().message(), HasSubstr("'recs'"));
  EXPECT_THAT(second.error().message(), HasSubstr("'d1'"));
  EXPECT_EQ(store_->Get("d2").error().code(), ErrorCode::kNotFound);
}

TEST_F(DynamoDbDeploymentStoreTest, ConcurrentCreatesOnOneEndpointExactlyOneWins) {
  auto other = OpenStore(table_, /*create=*/false);
  ASSERT_TRUE(other) << other.error().ToString();
  for (int round = 0; round < 5; ++round) {
    std::string endpoint = "ep" + std::to_string(round);
    const int wins =
        RaceTwoStores(store_.get(), other->get(), [&](DynamoDbDeploymentStore& store, int i) {
          return store.Create(MakeDeployment(endpoint + "-" + std::to_string(i), endpoint),
                              {MakeEvent("created")});
        });
    EXPECT_EQ(wins, 1) << "round " << round;
    auto active = store_->List({.endpoint = endpoint, .active_only = true});
    ASSERT_TRUE(active);
    EXPECT_EQ(active->size(), 1u);
  }
}

TEST_F(DynamoDbDeploymentStoreTest, ThrottledWriteIsRetriedWithTheSameToken) {
  ASSERT_TRUE(harness().InjectFault("TransactWriteItems", 2, 400,
                                    "ProvisionedThroughputExceededException", "slow down"));
  auto created = store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a")});
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(Count("TransactWriteItems"), 3);
  EXPECT_EQ(store_->ListEvents("d1", 0)->size(), 1u);
  // The retries carry the first attempt's idempotency token, so a retried
  // write that did land is not answered with a conflict.
  auto requests = json::parse(*harness().Requests());
  std::vector<std::string> tokens;
  for (const json::value& r : requests.as_array()) {
    if (r.at("operation") != "TransactWriteItems") continue;
    tokens.push_back(std::string(r.at("params").at("ClientRequestToken").as_string()));
  }
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0], tokens[1]);
  EXPECT_EQ(tokens[0], tokens[2]);
}

TEST_F(DynamoDbDeploymentStoreTest, ThrottledReadIsRetried) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {}));
  ASSERT_TRUE(harness().InjectFault("GetItem", 1, 400, "ProvisionedThroughputExceededException",
                                    "slow down"));
  auto read = store_->Get("d1");
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->id, "d1");
}

TEST_F(DynamoDbDeploymentStoreTest, ThrottlingBeyondTheAttemptsIsRetryableAndWritesNothing) {
  ASSERT_TRUE(harness().InjectFault("TransactWriteItems", 10, 400,
                                    "ProvisionedThroughputExceededException", "slow down"));
  auto created = store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a")});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kThrottled) << created.error().ToString();
  EXPECT_TRUE(created.error().retryable());
  EXPECT_EQ(Count("TransactWriteItems"), aws::DynamoDbService().default_max_attempts);
  ASSERT_TRUE(harness().Reset());
  EXPECT_EQ(store_->Get("d1").error().code(), ErrorCode::kNotFound);
}

TEST_F(DynamoDbDeploymentStoreTest, ValidationExceptionFailsCleanlyWithoutRetry) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a")});
  ASSERT_TRUE(d);
  ExpectNoViolationsAndReset();
  ASSERT_TRUE(harness().InjectFault("TransactWriteItems", 1, 400, "ValidationException",
                                    "One or more parameter values were invalid"));
  Deployment changed = *d;
  changed.state = DeploymentState::kRolledBack;
  auto update = store_->Update(changed, {MakeEvent("b")});
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code(), ErrorCode::kValidation) << update.error().ToString();
  EXPECT_THAT(update.error().message(), HasSubstr("'d1'"));
  EXPECT_EQ(Count("TransactWriteItems"), 1);
  // Nothing written: the record, its events and the lock are as they were.
  EXPECT_EQ(*store_->Get("d1"), *d);
  EXPECT_EQ(store_->ListEvents("d1", 0)->size(), 1u);
  EXPECT_EQ(RawItem("active#recs", "lock").at("deployment_id").at("S"), "d1");

  ASSERT_TRUE(harness().InjectFault("TransactWriteItems", 1, 400, "ValidationException",
                                    "One or more parameter values were invalid"));
  auto created = store_->Create(MakeDeployment("d2", "other"), {MakeEvent("a")});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kValidation);
  EXPECT_EQ(store_->Get("d2").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(RawItem("active#other", "lock").is_null());
}

TEST_F(DynamoDbDeploymentStoreTest, WritesBeyondTheTransactionLimitAreRefusedUpFront) {
  // Record + lock + 98 events = 100 items: the most one transaction may hold.
  std::vector<DeploymentEvent> events(98, MakeEvent("e"));
  auto created = store_->Create(MakeDeployment("d1", "recs"), events);
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(store_->ListEvents("d1", 0)->size(), 98u);

  events.push_back(MakeEvent("one too many"));
  auto refused = store_->Create(MakeDeployment("d2", "other"), events);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kValidation);
  EXPECT_THAT(refused.error().message(), HasSubstr("101"));
  EXPECT_EQ(Count("TransactWriteItems"), 1);
  EXPECT_EQ(store_->Get("d2").error().code(), ErrorCode::kNotFound);
}

TEST_F(DynamoDbDeploymentStoreTest, CorruptRecordIsAnInternalErrorNamingIt) {
  auto put = raw_->CallJson(
      "PutItem", json::object{{"TableName", table_},
                              {"Item", json::object{{"pk", json::object{{"S", "deployment#bad"}}},
                                                    {"sk", json::object{{"S", "record"}}},
                                                    {"version", json::object{{"N", "1"}}},
                                                    {"endpoint", json::object{{"S", "recs"}}},
                                                    {"doc", json::object{{"S", "{not json"}}}}}});
  ASSERT_TRUE(put) << put.error().ToString();
  auto read = store_->Get("bad");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(read.error().message(), HasSubstr("deployment#bad"));
  EXPECT_EQ(store_->List({}).error().code(), ErrorCode::kInternal);
  // ListReadable goes on past it and names it.
  ASSERT_TRUE(store_->Create(MakeDeployment("good", "search"), {}));
  auto readable = store_->ListReadable({});
  ASSERT_TRUE(readable) << readable.error().ToString();
  ASSERT_EQ(readable->deployments.size(), 1u);
  EXPECT_EQ(readable->deployments[0].id, "good");
  ASSERT_EQ(readable->unreadable.size(), 1u);
  EXPECT_EQ(readable->unreadable[0].id, "bad");
  EXPECT_EQ(readable->unreadable[0].endpoint, "recs");
  EXPECT_EQ(readable->unreadable[0].error.code(), ErrorCode::kInternal);
  EXPECT_THAT(readable->unreadable[0].error.message(), HasSubstr("deployment#bad"));
}

TEST_F(DynamoDbDeploymentStoreTest, ListEventsIsOneQueryWithOrWithoutNewerEvents) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")}));
  ExpectNoViolationsAndReset();
  auto newer = store_->ListEvents("d1", 1);
  ASSERT_TRUE(newer) << newer.error().ToString();
  ASSERT_EQ(newer->size(), 1u);
  EXPECT_EQ((*newer)[0].seq, 2);
  auto none = store_->ListEvents("d1", 2);
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());
  auto beyond = store_->ListEvents("d1", std::numeric_limits<std::int64_t>::max());
  ASSERT_TRUE(beyond) << beyond.error().ToString();
  EXPECT_TRUE(beyond->empty());
  auto unknown = store_->ListEvents("d9", 0);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(unknown.error().message(), HasSubstr("'d9'"));
  EXPECT_EQ(Count("Query"), 4);
  EXPECT_EQ(Count("GetItem"), 0);
}

TEST_F(DynamoDbDeploymentStoreTest, CorruptEventEndpointOrMisplacedRecordIsAnErrorNamingIt) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")}));
  ASSERT_TRUE(store_->SaveEndpoint(core::Endpoint{.name = "recs"}));
  auto put = [&](const std::string& pk, const std::string& sk, const std::string& doc) {
    json::object item{{"pk", json::object{{"S", pk}}},
                      {"sk", json::object{{"S", sk}}},
                      {"version", json::object{{"N", "1"}}},
                      {"doc", json::object{{"S", doc}}}};
    auto r = raw_->CallJson("PutItem", json::object{{"TableName", table_}, {"Item", item}});
    ASSERT_TRUE(r) << r.error().ToString();
  };
  put("deployment#d1", "event#00000000000000000002", "garbage");
  put("endpoint#recs", "endpoint", "{}");
  auto events = store_->ListEvents("d1", 0);
  ASSERT_FALSE(events);
  EXPECT_EQ(events.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(events.error().message(), HasSubstr("'d1'"));
  EXPECT_THAT(events.error().message(), HasSubstr("'event#00000000000000000002'"));
  EXPECT_TRUE(store_->ListEvents("d1", 2));  // the intact tail still reads
  auto endpoints = store_->ListEndpoints();
  ASSERT_FALSE(endpoints);
  EXPECT_EQ(endpoints.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(endpoints.error().message(), HasSubstr("'endpoint#recs'"));
  // d1's record copied under another deployment's key.
  put("deployment#d2", "record",
      std::string(RawItem("deployment#d1", "record").at("doc").at("S").as_string()));
  auto misplaced = store_->Get("d2");
  ASSERT_FALSE(misplaced);
  EXPECT_EQ(misplaced.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(misplaced.error().message(), HasSubstr("'deployment#d2'"));
  EXPECT_THAT(misplaced.error().message(), HasSubstr("holds deployment 'd1'"));
}

TEST_F(DynamoDbDeploymentStoreTest, EventsAfterALongLogAreReadInOrder) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  // Sequence numbers past 9 and 99 must still sort numerically.
  for (int i = 0; i < 3; ++i) {
    std::vector<DeploymentEvent> batch(45, MakeEvent("batch " + std::to_string(i)));
    auto updated = store_->Update(*d, batch);
    ASSERT_TRUE(updated) << updated.error().ToString();
    d = std::move(updated);
  }
  auto events = store_->ListEvents("d1", 95);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 40u);
  for (std::size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, 96 + static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(events->back().reason, "batch 2");
}

}  // namespace
}  // namespace mlcanary::store
