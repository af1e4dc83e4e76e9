// DynamoDbDeploymentStore: the DeploymentStore on one DynamoDB table, with
// optimistic concurrency on a version attribute and an active-deployment lock
// item per endpoint, every write one TransactWriteItems call.
#ifndef MLCANARY_STORE_DYNAMODB_DEPLOYMENT_STORE_H_
#define MLCANARY_STORE_DYNAMODB_DEPLOYMENT_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_client.h"
#include "core/ports.h"

namespace mlcanary::store {

struct DynamoDbStoreOptions {
  // Region, endpoint URL (moto in tests), credentials, timeouts, retries.
  aws::ClientOptions client;
  // The table (3-255 characters of [A-Za-z0-9_.-]); its key must be
  // pk (S, HASH) + sk (S, RANGE), with the global secondary index
  // kActiveIndex (HASH active_set, S). See README.md for the definition.
  std::string table;
  // Development and tests: CreateTable (PAY_PER_REQUEST) when it is missing, add
  // the index to a table without it (UpdateTable), and wait until both are ACTIVE. Off in
  // production, where the table is provisioned beforehand and the service needs no
  // dynamodb:CreateTable permission.
  bool create_table = false;
  // How long Open waits for a CREATING table to become ACTIVE.
  core::Duration table_wait = std::chrono::seconds(60);
};

// Deployments, their event logs and endpoints in one DynamoDB table:
//
//   pk "deployment#<id>", sk "record"          the deployment (doc = codec JSON,
//                                              endpoint, state, active, created_at,
//                                              updated_at, version, event_count;
//                                              active_set = "active" only while active)
//   pk "deployment#<id>", sk "event#<seq:020>" one event (doc = codec JSON)
//   pk "active#<endpoint>", sk "lock"          deployment_id of the active one
//   pk "endpoint#<name>", sk "endpoint"        an endpoint (doc = codec JSON)
//   pk "meta#active-index", sk "backfill"      written once the records of older
//                                              versions carry active_set
//
// The sparse global secondary index kActiveIndex (HASH active_set, KEYS_ONLY)
// holds exactly the active records, so listing the active deployments reads
// O(active) items, however long the history.
//
// Create and Update are single transactions (a record, its events and the lock
// land together or not at all); Update is conditional on the stored version.
// Reads are strongly consistent (the index Query only picks the records that
// are then read consistently). Several processes may share one table.
//
// Thread-safe: no state besides the AwsClient, which is thread-safe. Errors
// name the operation; throttling and 5xx are retried by the client, then
// surface as kThrottled/kUnavailable.
class DynamoDbDeploymentStore final : public core::DeploymentStore, public core::EventOutbox {
 public:
  // Most items one write may touch: DynamoDB's limit for TransactWriteItems.
  static constexpr std::size_t kMaxTransactionItems = 100;
  // The sparse index of the active deployment records.
  static constexpr std::string_view kActiveIndex = "active-deployments";

  // The AWS CLI command that adds kActiveIndex to an existing table.
  static std::string AddIndexCommand(std::string_view table);

  // Creates the client and checks the table with DescribeTable (its key schema
  // must be pk/sk strings, kActiveIndex must be there and ACTIVE), or creates it
  // when options.create_table is set. Then, once per table, gives active records
  // written before the index existed their active_set (a Scan for them, then the
  // marker item; later Opens read only the marker).
  // kValidation for bad options, kNotFound for a missing table, kFailedPrecondition
  // for a table with another key schema or without the index (naming it and the
  // command that adds it), kUnavailable while the index is still being built;
  // errors name the table.
  static core::Result<std::unique_ptr<DynamoDbDeploymentStore>> Open(DynamoDbStoreOptions options);

  ~DynamoDbDeploymentStore() override;

  using core::DeploymentStore::Create;
  using core::DeploymentStore::Update;

  core::Result<core::Deployment> Create(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<core::Deployment> Get(std::string_view id) override;
  // The active deployment of one endpoint ({.endpoint, .active_only}) is read
  // through the endpoint's lock item (two GetItems); the active deployments of
  // all endpoints ({.active_only}, the controller's tick) through kActiveIndex:
  // one Query (eventually consistent) for the keys, then one consistent
  // BatchGetItem per 100 records, keeping those still active; every other
  // filter is a Scan of the table (see README.md). Newest created_at first, ties by id,
  // descending.
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& filter) override;
  // The same reads; a record item that does not decode is named in
  // `unreadable` (its pk and endpoint attribute). The one-endpoint active
  // listing fails on a record it cannot read, as List.
  core::Result<core::DeploymentListing> ListReadable(const core::DeploymentFilter& filter) override;
  core::Result<core::Deployment> Update(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                              std::int64_t after_seq) override;
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override;
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override;

  // No outbox: every call answers kUnimplemented. A global event order would
  // need one counter item that every write of every deployment updates (a hot
  // key, and a read before each transaction); so webhooks and SNS fed from this
  // store stay at most once (see README.md).
  core::Status SetSinks(const std::vector<std::string>& sinks) override;
  core::Result<std::int64_t> Cursor(std::string_view sink) override;
  core::Result<std::vector<core::OutboxEntry>> ReadOutbox(std::int64_t after,
                                                          std::size_t limit) override;
  core::Status AdvanceCursor(std::string_view sink, std::int64_t position) override;

  // CreateTable (PAY_PER_REQUEST) unless the table exists, then waits until it
  // is ACTIVE and checks its key schema. Idempotent; Open calls it when
  // options.create_table is set.
  core::Status EnsureTable();

  const std::string& table() const { return options_.table; }

 private:
  DynamoDbDeploymentStore(DynamoDbStoreOptions options, std::unique_ptr<aws::AwsClient> client);

  struct TableState {
    std::string status;        // "ACTIVE", "CREATING", ...
    std::string index_status;  // kActiveIndex's; empty when the table has no such index
  };
  // DescribeTable: the table's and the index's status after checking the key schemas.
  core::Result<TableState> DescribeTable();
  // Open's checks of the index, then the once-per-table backfill.
  core::Status CheckIndex(const TableState& state);
  core::Status BackfillActiveSet();
  // ListReadable before the limit: every match, in the listing order.
  core::Result<core::DeploymentListing> ListMatching(const core::DeploymentFilter& filter);
  // The active records, through kActiveIndex then a consistent re-read.
  core::Result<std::vector<boost::json::object>> ActiveRecords();
  // Consistent BatchGetItem of record keys (at most 100 per call; unprocessed
  // keys asked again).
  core::Result<std::vector<boost::json::object>> BatchGetRecords(std::vector<std::string> pks);
  // Record items as a listing (unreadable ones named), newest first.
  static core::DeploymentListing DecodeListing(const std::vector<boost::json::object>& items);
  // One TransactWriteItems call with an idempotency token, so that the
  // client's retries of a write that did land are not refused as conflicts.
  core::Status TransactWrite(boost::json::array items, aws::AwsErrorDetail* detail);
  // A strongly consistent GetItem: the item, or nullopt when there is none.
  core::Result<std::optional<boost::json::object>> GetItem(std::string_view pk,
                                                           std::string_view sk);
  // The deployment the endpoint's lock item names, if it is still active there
  // (a lock read just before the deployment left is no answer).
  core::Result<std::optional<core::Deployment>> ActiveOn(std::string_view endpoint);
  // Scan of the items whose sk equals `sk`, with an optional extra filter.
  core::Result<std::vector<boost::json::object>> ScanItems(std::string_view sk,
                                                           std::string_view filter,
                                                           boost::json::object names,
                                                           boost::json::object values);
  std::string Token();

  const DynamoDbStoreOptions options_;
  const std::unique_ptr<aws::AwsClient> client_;
};

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_DYNAMODB_DEPLOYMENT_STORE_H_
