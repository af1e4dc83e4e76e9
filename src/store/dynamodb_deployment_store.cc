// The DynamoDB deployment store: item layout, transactions and their
// cancellation reasons, and the table's bootstrap for development and tests.
#include "store/dynamodb_deployment_store.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include "core/state_machine.h"
#include "core/time.h"
#include "store/dynamodb_table_name.h"
#include "store/internal/record_json.h"

namespace mlcanary::store {

using boost::json::array;
using boost::json::object;
using boost::json::value;
using core::Deployment;
using core::DeploymentEvent;
using core::Result;

namespace {

constexpr std::string_view kRecordSk = "record";
constexpr std::string_view kLockSk = "lock";
constexpr std::string_view kEndpointSk = "endpoint";
constexpr std::string_view kEventPrefix = "event#";
// The sparse index's key: present (always this value) only on active records.
constexpr std::string_view kActiveSet = "active_set";
constexpr std::string_view kActiveSetValue = "active";
// Written once the records of versions before the index carry active_set.
constexpr std::string_view kBackfillPk = "meta#active-index";
constexpr std::string_view kBackfillSk = "backfill";
// BatchGetItem's limit of keys per call.
constexpr std::size_t kBatchGetKeys = 100;

std::string DeploymentPk(std::string_view id) { return "deployment#" + std::string(id); }
std::string LockPk(std::string_view endpoint) { return "active#" + std::string(endpoint); }
std::string EndpointPk(std::string_view name) { return "endpoint#" + std::string(name); }

// Zero-padded so that the string order of sort keys is the numeric order.
std::string EventSk(std::int64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "event#%020lld", static_cast<long long>(seq));
  return buf;
}

object S(std::string_view s) { return object{{"S", s}}; }
object N(std::int64_t n) { return object{{"N", std::to_string(n)}}; }
object Bool(bool b) { return object{{"BOOL", b}}; }

object Key(std::string_view pk, std::string_view sk) {
  return object{{"pk", S(pk)}, {"sk", S(sk)}};
}

// The names every expression below uses: DynamoDB has hundreds of reserved
// words ("state" is one), so attribute names only appear as #placeholders.
object Names(std::initializer_list<std::string_view> attributes) {
  object names;
  for (std::string_view a : attributes) names["#" + std::string(a)] = a;
  return names;
}

std::optional<std::string> GetS(const object& item, std::string_view name) {
  auto it = item.find(name);
  if (it == item.end() || !it->value().is_object()) return std::nullopt;
  const auto* s = it->value().as_object().if_contains("S");
  if (s == nullptr || !s->is_string()) return std::nullopt;
  return std::string(s->as_string());
}

std::optional<std::int64_t> GetN(const object& item, std::string_view name) {
  auto it = item.find(name);
  if (it == item.end() || !it->value().is_object()) return std::nullopt;
  const auto* n = it->value().as_object().if_contains("N");
  if (n == nullptr || !n->is_string()) return std::nullopt;
  std::string_view text = n->as_string();
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

std::optional<bool> GetBool(const object& item, std::string_view name) {
  auto it = item.find(name);
  if (it == item.end() || !it->value().is_object()) return std::nullopt;
  const auto* b = it->value().as_object().if_contains("BOOL");
  if (b == nullptr || !b->is_bool()) return std::nullopt;
  return b->as_bool();
}

using internal::CorruptRecord;
using internal::EncodeDeployment;
using internal::EncodeEndpoint;
using internal::EncodeEvent;
using internal::Millis;
using internal::Quoted;

// The Scan's FilterExpression for a listing (with sk = record, added by
// ScanItems): the filter's fields, the window on created_at, and the cursor
// (pk compares as id does: one prefix for every record).
std::string ListScanFilter(const core::DeploymentFilter& filter, object& names, object& values) {
  std::vector<std::string> conditions;
  if (filter.endpoint) {
    conditions.push_back("#endpoint = :endpoint");
    names["#endpoint"] = "endpoint";
    values[":endpoint"] = S(*filter.endpoint);
  }
  if (filter.state) {
    conditions.push_back("#state = :state");
    names["#state"] = "state";
    values[":state"] = S(core::StateName(*filter.state));
  }
  if (filter.active_only) {
    conditions.push_back("#active = :active");
    names["#active"] = "active";
    values[":active"] = Bool(true);
  }
  if (filter.since || filter.until || filter.after) names["#created_at"] = "created_at";
  if (filter.since) {
    conditions.push_back("#created_at >= :since");
    values[":since"] = N(Millis(*filter.since));
  }
  if (filter.until) {
    conditions.push_back("#created_at < :until");
    values[":until"] = N(Millis(*filter.until));
  }
  if (filter.after) {
    conditions.push_back(
        "(#created_at < :after_at OR (#created_at = :after_at AND #pk < :after_pk))");
    names["#pk"] = "pk";
    values[":after_at"] = N(Millis(filter.after->created_at));
    values[":after_pk"] = S(DeploymentPk(filter.after->id));
  }
  std::string expression;
  for (const std::string& c : conditions) {
    if (!expression.empty()) expression += " AND ";
    expression += c;
  }
  return expression;
}

// A record item that does not decode is an error naming it, never a crash.
Result<Deployment> DecodeDeployment(const object& item) {
  std::string pk = GetS(item, "pk").value_or("");
  std::string where = "deployment item " + Quoted(pk);
  constexpr std::string_view kPrefix = "deployment#";
  auto doc = GetS(item, "doc");
  auto version = GetN(item, "version");
  if (!pk.starts_with(kPrefix)) return CorruptRecord(where, "not a deployment key");
  if (!doc) return CorruptRecord(where, "no doc attribute");
  if (!version) return CorruptRecord(where, "no numeric version attribute");
  // The version attribute is authoritative.
  return internal::DecodeDeployment(*doc, std::string_view(pk).substr(kPrefix.size()), *version,
                                    where);
}

Result<DeploymentEvent> DecodeEvent(std::string_view deployment_id, const object& item) {
  std::string sk = GetS(item, "sk").value_or("");
  std::string where = "event item " + Quoted(sk) + " of deployment " + Quoted(deployment_id);
  std::int64_t seq = 0;
  std::string_view digits = std::string_view(sk).substr(std::min(sk.size(), kEventPrefix.size()));
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (!sk.starts_with(kEventPrefix) || ec != std::errc() || end != digits.data() + digits.size()) {
    return CorruptRecord(where, "sort key is not event#<seq>");
  }
  auto doc = GetS(item, "doc");
  if (!doc) return CorruptRecord(where, "no doc attribute");
  return internal::DecodeEvent(*doc, deployment_id, seq, where);
}

Result<core::Endpoint> DecodeEndpoint(const object& item) {
  std::string where = "endpoint item " + Quoted(GetS(item, "pk").value_or(""));
  auto doc = GetS(item, "doc");
  if (!doc) return CorruptRecord(where, "no doc attribute");
  return internal::DecodeEndpoint(*doc, where);
}

// One entry of a TransactionCanceledException's CancellationReasons, in the
// order of the transaction's items.
struct CancellationReason {
  std::string code;  // "None", "ConditionalCheckFailed", "TransactionConflict", ...
  std::string message;
  object item;  // ALL_OLD: the item as it was, when asked for and present
};

std::vector<CancellationReason> ParseCancellationReasons(std::string_view body) {
  std::vector<CancellationReason> out;
  boost::system::error_code ec;
  value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  const value* reasons = v.as_object().if_contains("CancellationReasons");
  if (reasons == nullptr || !reasons->is_array()) return out;
  for (const value& r : reasons->as_array()) {
    CancellationReason reason;
    if (r.is_object()) {
      const object& o = r.as_object();
      if (const value* c = o.if_contains("Code"); c != nullptr && c->is_string()) {
        reason.code = std::string(c->as_string());
      }
      if (const value* m = o.if_contains("Message"); m != nullptr && m->is_string()) {
        reason.message = std::string(m->as_string());
      }
      if (const value* i = o.if_contains("Item"); i != nullptr && i->is_object()) {
        reason.item = i->as_object();
      }
    }
    out.push_back(std::move(reason));
  }
  return out;
}

// What became of a transaction: committed, or cancelled with one reason per
// item (the caller decides what a cancellation means); any other failure is an
// error in the context of `what`.
struct TransactionOutcome {
  bool committed = false;
  std::vector<CancellationReason> reasons;
};

Result<TransactionOutcome> Outcome(const core::Status& written, const aws::AwsErrorDetail& detail,
                                   const std::string& what) {
  if (written) return TransactionOutcome{.committed = true};
  if (detail.code != "TransactionCanceledException") {
    return std::unexpected(written.error().WithContext(what));
  }
  return TransactionOutcome{.reasons = ParseCancellationReasons(detail.body)};
}

bool Failed(const std::vector<CancellationReason>& reasons, std::size_t index,
            std::string_view code) {
  return index < reasons.size() && reasons[index].code == code;
}

// A short description of the reasons for messages: "[None, ConditionalCheckFailed]".
std::string ReasonCodes(const std::vector<CancellationReason>& reasons) {
  std::string out = "[";
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out += ", ";
    out += reasons[i].code;
  }
  return out + "]";
}

// Appends one conditional Put per event to a transaction, numbered from
// first_seq, and the events as numbered to `numbered`; an event that cannot be
// encoded fails the whole write.
core::Status AppendEventPuts(array& items, const std::string& table, const Deployment& stored,
                             std::int64_t first_seq, const std::vector<DeploymentEvent>& events,
                             std::vector<DeploymentEvent>& numbered) {
  const std::string pk = DeploymentPk(stored.id);
  std::int64_t seq = first_seq;
  for (DeploymentEvent e : events) {
    e.seq = seq;
    e.deployment_id = stored.id;
    auto doc = EncodeEvent(e);
    if (!doc) return std::unexpected(doc.error());
    items.push_back(object{
        {"Put", object{{"TableName", table},
                       {"Item", object{{"pk", S(pk)}, {"sk", S(EventSk(seq++))}, {"doc", S(*doc)}}},
                       {"ConditionExpression", "attribute_not_exists(#pk)"},
                       {"ExpressionAttributeNames", Names({"pk"})}}}});
    numbered.push_back(std::move(e));
  }
  return core::Ok();
}

// The Put that takes an endpoint's lock item for a deployment; it fails (with
// the holder's item) when another deployment holds it.
object TakeLock(const std::string& table, const Deployment& stored) {
  object lock = Key(LockPk(stored.endpoint), kLockSk);
  lock["deployment_id"] = S(stored.id);
  return object{{"Put", object{{"TableName", table},
                               {"Item", std::move(lock)},
                               {"ConditionExpression", "attribute_not_exists(#pk)"},
                               {"ExpressionAttributeNames", Names({"pk"})},
                               {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}};
}

// The record's attributes besides its key, from the deployment as it will be stored.
void SetRecordAttributes(object& item, const Deployment& d, const std::string& doc,
                         std::int64_t event_count) {
  item["id"] = S(d.id);
  item["endpoint"] = S(d.endpoint);
  item["state"] = S(core::StateName(d.state));
  item["active"] = Bool(core::IsActive(d.state));
  if (core::IsActive(d.state)) item[kActiveSet] = S(kActiveSetValue);
  item["created_at"] = N(Millis(d.created_at));
  item["updated_at"] = N(Millis(d.updated_at));
  item["version"] = N(d.version);
  item["event_count"] = N(event_count);
  item["doc"] = S(doc);
}

}  // namespace

core::Result<std::unique_ptr<DynamoDbDeploymentStore>> DynamoDbDeploymentStore::Open(
    DynamoDbStoreOptions options) {
  const std::string context = "open dynamodb store, table " + Quoted(options.table);
  if (!IsDynamoDbTableName(options.table)) {
    return core::ValidationError(context + ": " + std::string(kDynamoDbTableNameRule));
  }
  auto client = aws::AwsClient::Create(aws::DynamoDbService(), options.client);
  if (!client) return std::unexpected(client.error().WithContext(context));
  std::unique_ptr<DynamoDbDeploymentStore> store(
      new DynamoDbDeploymentStore(std::move(options), std::move(*client)));
  if (store->options_.create_table) {
    if (auto s = store->EnsureTable(); !s) return std::unexpected(s.error().WithContext(context));
  } else {
    auto state = store->DescribeTable();
    if (!state) return std::unexpected(state.error().WithContext(context));
    if (state->status != "ACTIVE" && state->status != "UPDATING") {
      return core::FailedPreconditionError(context + ": table status is " + Quoted(state->status) +
                                           ", not ACTIVE");
    }
    if (auto s = store->CheckIndex(*state); !s) {
      return std::unexpected(s.error().WithContext(context));
    }
  }
  if (auto s = store->BackfillActiveSet(); !s) {
    return std::unexpected(s.error().WithContext(context));
  }
  return store;
}

DynamoDbDeploymentStore::DynamoDbDeploymentStore(DynamoDbStoreOptions options,
                                                 std::unique_ptr<aws::AwsClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

DynamoDbDeploymentStore::~DynamoDbDeploymentStore() = default;

std::string DynamoDbDeploymentStore::AddIndexCommand(std::string_view table) {
  return "aws dynamodb update-table --table-name " + std::string(table) +
         " --attribute-definitions AttributeName=active_set,AttributeType=S"
         " --global-secondary-index-updates '[{\"Create\":{\"IndexName\":\"" +
         std::string(kActiveIndex) +
         "\",\"KeySchema\":[{\"AttributeName\":\"active_set\",\"KeyType\":\"HASH\"}],"
         "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}}]'";
}

core::Status DynamoDbDeploymentStore::CheckIndex(const TableState& state) {
  if (state.index_status.empty()) {
    return core::FailedPreconditionError(
        "table has no global secondary index " + Quoted(kActiveIndex) +
        " (added in this version: the controller lists active deployments through it instead "
        "of scanning the table); add it with: " +
        AddIndexCommand(options_.table));
  }
  if (state.index_status != "ACTIVE") {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "global secondary index " + Quoted(kActiveIndex) + " is " +
                               Quoted(state.index_status) + ", not ACTIVE yet; retry when it is");
  }
  return core::Ok();
}

core::Result<DynamoDbDeploymentStore::TableState> DynamoDbDeploymentStore::DescribeTable() {
  auto response = client_->CallJson("DescribeTable", object{{"TableName", options_.table}});
  if (!response) return std::unexpected(response.error());
  const value* table = response->is_object() ? response->as_object().if_contains("Table") : nullptr;
  if (table == nullptr || !table->is_object()) {
    return core::InternalError("DescribeTable: the response has no Table");
  }
  const object& t = table->as_object();
  // The key must be exactly pk (HASH) + sk (RANGE), both strings.
  std::string hash, range;
  if (const value* ks = t.if_contains("KeySchema"); ks != nullptr && ks->is_array()) {
    for (const value& k : ks->as_array()) {
      if (!k.is_object()) continue;
      const value* name = k.as_object().if_contains("AttributeName");
      const value* type = k.as_object().if_contains("KeyType");
      if (name == nullptr || type == nullptr || !name->is_string() || !type->is_string()) continue;
      (type->as_string() == "HASH" ? hash : range) = std::string(name->as_string());
    }
  }
  bool strings = true;
  if (const value* defs = t.if_contains("AttributeDefinitions");
      defs != nullptr && defs->is_array()) {
    for (const value& def : defs->as_array()) {
      if (!def.is_object()) continue;
      const value* name = def.as_object().if_contains("AttributeName");
      const value* type = def.as_object().if_contains("AttributeType");
      if (name != nullptr && type != nullptr && name->is_string() && type->is_string() &&
          (name->as_string() == "pk" || name->as_string() == "sk") && type->as_string() != "S") {
        strings = false;
      }
    }
  }
  if (hash != "pk" || range != "sk" || !strings) {
    return core::FailedPreconditionError("table key schema is HASH " + Quoted(hash) + " + RANGE " +
                                         Quoted(range) +
                                         "; the store needs HASH 'pk' (S) + RANGE 'sk' (S)");
  }
  TableState state;
  const value* status = t.if_contains("TableStatus");
  state.status = status != nullptr && status->is_string() ? std::string(status->as_string())
                                                          : std::string("ACTIVE");
  if (const value* indexes = t.if_contains("GlobalSecondaryIndexes");
      indexes != nullptr && indexes->is_array()) {
    for (const value& index : indexes->as_array()) {
      if (!index.is_object()) continue;
      const object& i = index.as_object();
      const value* name = i.if_contains("IndexName");
      if (name == nullptr || !name->is_string() || name->as_string() != kActiveIndex) continue;
      std::string index_hash;
      if (const value* ks = i.if_contains("KeySchema"); ks != nullptr && ks->is_array()) {
        for (const value& k : ks->as_array()) {
          const value* a = k.is_object() ? k.as_object().if_contains("AttributeName") : nullptr;
          const value* type = k.is_object() ? k.as_object().if_contains("KeyType") : nullptr;
          if (a != nullptr && a->is_string() && type != nullptr && type->is_string() &&
              type->as_string() == "HASH") {
            index_hash = std::string(a->as_string());
          }
        }
      }
      if (index_hash != kActiveSet) {
        return core::FailedPreconditionError(
            "global secondary index " + Quoted(kActiveIndex) + " is keyed on " +
            Quoted(index_hash) + "; the store needs HASH " + Quoted(kActiveSet) + " (S)");
      }
      const value* index_status = i.if_contains("IndexStatus");
      state.index_status = index_status != nullptr && index_status->is_string()
                               ? std::string(index_status->as_string())
                               : std::string("ACTIVE");
    }
  }
  return state;
}

namespace {
object ActiveIndexKeySchema() {
  return object{{"IndexName", DynamoDbDeploymentStore::kActiveIndex},
                {"KeySchema", array{object{{"AttributeName", kActiveSet}, {"KeyType", "HASH"}}}},
                {"Projection", object{{"ProjectionType", "KEYS_ONLY"}}}};
}
}  // namespace

core::Status DynamoDbDeploymentStore::EnsureTable() {
  auto state = DescribeTable();
  if (!state && state.error().code() == core::ErrorCode::kNotFound) {
    object request{{"TableName", options_.table},
                   {"AttributeDefinitions",
                    array{object{{"AttributeName", "pk"}, {"AttributeType", "S"}},
                          object{{"AttributeName", "sk"}, {"AttributeType", "S"}},
                          object{{"AttributeName", kActiveSet}, {"AttributeType", "S"}}}},
                   {"KeySchema", array{object{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
                                       object{{"AttributeName", "sk"}, {"KeyType", "RANGE"}}}},
                   {"GlobalSecondaryIndexes", array{ActiveIndexKeySchema()}},
                   {"BillingMode", "PAY_PER_REQUEST"}};
    aws::AwsErrorDetail detail;
    auto created = client_->CallJson("CreateTable", request, &detail);
    // ResourceInUseException: someone else created it meanwhile; wait for it too.
    if (!created && detail.code != "ResourceInUseException") {
      return std::unexpected(created.error());
    }
    state = DescribeTable();
  }
  if (!state) return std::unexpected(state.error());
  const auto deadline = std::chrono::steady_clock::now() + options_.table_wait;
  auto wait = [&]() -> core::Status {
    if (std::chrono::steady_clock::now() >= deadline) {
      return core::MakeError(core::ErrorCode::kTimeout,
                             "table is still " + Quoted(state->status) + " (index " +
                                 Quoted(state->index_status) + ") after " +
                                 core::FormatDuration(options_.table_wait));
    }
    constexpr core::Duration kPoll = std::chrono::milliseconds(500);
    if (options_.client.sleep) {
      options_.client.sleep(kPoll);
    } else {
      std::this_thread::sleep_for(kPoll);
    }
    state = DescribeTable();
    if (!state) return std::unexpected(state.error());
    return core::Ok();
  };
  bool index_requested = false;
  while (state->status != "ACTIVE" || state->index_status != "ACTIVE") {
    if (state->status == "ACTIVE" && state->index_status.empty() && !index_requested) {
      // A table of an older version: add the index (DynamoDB builds it from the
      // items that already carry active_set; BackfillActiveSet gives it the rest).
      object request{
          {"TableName", options_.table},
          {"AttributeDefinitions",
           array{object{{"AttributeName", kActiveSet}, {"AttributeType", "S"}}}},
          {"GlobalSecondaryIndexUpdates", array{object{{"Create", ActiveIndexKeySchema()}}}}};
      aws::AwsErrorDetail detail;
      auto updated = client_->CallJson("UpdateTable", request, &detail);
      // ResourceInUseException / LimitExceeded on a table being changed: wait and look again.
      if (!updated && detail.code != "ResourceInUseException") {
        return std::unexpected(updated.error().WithContext("add index " + Quoted(kActiveIndex)));
      }
      index_requested = true;
      state = DescribeTable();
      if (!state) return std::unexpected(state.error());
      continue;
    }
    if (auto s = wait(); !s) return s;
  }
  return core::Ok();
}

core::Status DynamoDbDeploymentStore::BackfillActiveSet() {
  const std::string what = "give active records of older versions their " + Quoted(kActiveSet);
  auto marker = GetItem(kBackfillPk, kBackfillSk);
  if (!marker) return std::unexpected(marker.error().WithContext(what));
  if (*marker) return core::Ok();
  // Once per table: the records that are active but not in the index.
  auto items = ScanItems(kRecordSk, "#active = :true AND attribute_not_exists(#active_set)",
                         Names({"active", "active_set"}), object{{":true", Bool(true)}});
  if (!items) return std::unexpected(items.error().WithContext(what));
  for (const object& item : *items) {
    auto pk = GetS(item, "pk");
    auto version = GetN(item, "version");
    if (!pk || !version) continue;  // unreadable: ListReadable names it once it is listed
    aws::AwsErrorDetail detail;
    auto updated = client_->CallJson(
        "UpdateItem",
        object{{"TableName", options_.table},
               {"Key", Key(*pk, kRecordSk)},
               {"UpdateExpression", "SET #active_set = :set"},
               {"ConditionExpression", "#version = :version AND #active = :true"},
               {"ExpressionAttributeNames", Names({"active_set", "version", "active"})},
               {"ExpressionAttributeValues", object{{":set", S(kActiveSetValue)},
                                                    {":version", N(*version)},
                                                    {":true", Bool(true)}}}},
        &detail);
    // Changed meanwhile: this version's write set or removed active_set itself.
    if (!updated && detail.code != "ConditionalCheckFailedException") {
      return std::unexpected(updated.error().WithContext(what + ", record " + Quoted(*pk)));
    }
  }
  object done = Key(kBackfillPk, kBackfillSk);
  done["records"] = N(static_cast<std::int64_t>(items->size()));
  auto put = client_->CallJson("PutItem",
                               object{{"TableName", options_.table}, {"Item", std::move(done)}});
  if (!put) return std::unexpected(put.error().WithContext(what));
  return core::Ok();
}

std::string DynamoDbDeploymentStore::Token() {
  std::uint64_t hi, lo;
  if (options_.client.random_bits) {
    hi = options_.client.random_bits();
    lo = options_.client.random_bits();
  } else {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    hi = generator();
    lo = generator();
  }
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

core::Status DynamoDbDeploymentStore::TransactWrite(array items, aws::AwsErrorDetail* detail) {
  if (items.size() > kMaxTransactionItems) {
    return core::ValidationError("the write needs " + std::to_string(items.size()) +
                                 " transaction items; DynamoDB allows at most " +
                                 std::to_string(kMaxTransactionItems) +
                                 " (write fewer events at once)");
  }
  object request{{"TransactItems", std::move(items)}, {"ClientRequestToken", Token()}};
  auto response = client_->CallJson("TransactWriteItems", request, detail);
  if (!response) return std::unexpected(response.error());
  return core::Ok();
}

core::Result<Deployment> DynamoDbDeploymentStore::Create(const Deployment& deployment,
                                                         const std::vector<DeploymentEvent>& events,
                                                         std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "create deployment " + Quoted(deployment.id);
  Deployment stored = deployment;
  stored.version = 1;
  auto doc = EncodeDeployment(stored);
  if (!doc) return std::unexpected(doc.error());
  const std::string pk = DeploymentPk(stored.id);
  const bool active = core::IsActive(stored.state);

  array items;
  object record = Key(pk, kRecordSk);
  SetRecordAttributes(record, stored, *doc, static_cast<std::int64_t>(events.size()));
  items.push_back(object{{"Put", object{{"TableName", options_.table},
                                        {"Item", std::move(record)},
                                        {"ConditionExpression", "attribute_not_exists(#pk)"},
                                        {"ExpressionAttributeNames", Names({"pk"})}}}});
  if (active) {
    items.push_back(TakeLock(options_.table, stored));
  }
  std::vector<DeploymentEvent> numbered;
  if (auto s = AppendEventPuts(items, options_.table, stored, 1, events, numbered); !s) {
    return std::unexpected(s.error());
  }

  aws::AwsErrorDetail detail;
  const core::Status written = TransactWrite(std::move(items), &detail);
  auto outcome = Outcome(written, detail, what);
  if (!outcome) return std::unexpected(outcome.error());
  if (outcome->committed) {
    if (appended != nullptr) *appended = std::move(numbered);
    return stored;
  }
  const std::vector<CancellationReason>& reasons = outcome->reasons;
  if (Failed(reasons, 0, "ConditionalCheckFailed")) {
    return core::ConflictError("deployment " + Quoted(stored.id) + " already exists");
  }
  if (active && Failed(reasons, 1, "ConditionalCheckFailed")) {
    std::string holder = GetS(reasons[1].item, "deployment_id").value_or("?");
    return core::ConflictError("deployment " + Quoted(holder) + " is already active on endpoint " +
                               Quoted(stored.endpoint));
  }
  if (std::any_of(reasons.begin(), reasons.end(),
                  [](const auto& r) { return r.code == "TransactionConflict"; })) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           what + ": a concurrent transaction touched the same items " +
                               ReasonCodes(reasons) + "; retry");
  }
  return core::InternalError(what + ": transaction cancelled " + ReasonCodes(reasons) + ": " +
                             written.error().message());
}

core::Result<std::optional<object>> DynamoDbDeploymentStore::GetItem(std::string_view pk,
                                                                     std::string_view sk) {
  auto response = client_->CallJson(
      "GetItem",
      object{{"TableName", options_.table}, {"Key", Key(pk, sk)}, {"ConsistentRead", true}});
  if (!response) return std::unexpected(response.error());
  const value* item = response->is_object() ? response->as_object().if_contains("Item") : nullptr;
  if (item == nullptr || !item->is_object()) return std::nullopt;
  return item->as_object();
}

core::Result<Deployment> DynamoDbDeploymentStore::Get(std::string_view id) {
  const std::string what = "get deployment " + Quoted(id);
  if (id.empty()) return core::NotFoundError("deployment " + Quoted(id) + " not found");
  auto item = GetItem(DeploymentPk(id), kRecordSk);
  if (!item) return std::unexpected(item.error().WithContext(what));
  if (!*item) return core::NotFoundError("deployment " + Quoted(id) + " not found");
  return DecodeDeployment(**item);
}

core::Result<std::optional<Deployment>> DynamoDbDeploymentStore::ActiveOn(
    std::string_view endpoint) {
  const std::string what = "read the active deployment of endpoint " + Quoted(endpoint);
  auto lock = GetItem(LockPk(endpoint), kLockSk);
  if (!lock) return std::unexpected(lock.error().WithContext(what));
  if (!*lock) return std::nullopt;
  auto id = GetS(**lock, "deployment_id");
  if (!id || id->empty()) {
    return core::InternalError(what + ": corrupt lock item " + Quoted(LockPk(endpoint)) +
                               ": no deployment_id attribute");
  }
  auto record = GetItem(DeploymentPk(*id), kRecordSk);
  if (!record) return std::unexpected(record.error().WithContext(what));
  // The lock and the record change in one transaction, but they are read one
  // after the other: the deployment may have left the active states (or the
  // endpoint) in between, and then, at that moment, none was active here.
  if (!*record) return std::nullopt;
  auto d = DecodeDeployment(**record);
  if (!d) return std::unexpected(d.error());
  if (!core::IsActive(d->state) || d->endpoint != endpoint) return std::nullopt;
  return d;
}

core::Result<std::vector<object>> DynamoDbDeploymentStore::ScanItems(std::string_view sk,
                                                                     std::string_view filter,
                                                                     object names, object values) {
  names["#sk"] = "sk";
  values[":sk"] = S(sk);
  std::string expression = "#sk = :sk";
  if (!filter.empty()) expression += " AND " + std::string(filter);
  object request{{"TableName", options_.table},
                 {"FilterExpression", expression},
                 {"ExpressionAttributeNames", std::move(names)},
                 {"ExpressionAttributeValues", std::move(values)},
                 {"ConsistentRead", true}};
  std::vector<object> out;
  while (true) {
    auto response = client_->CallJson("Scan", request);
    if (!response) return std::unexpected(response.error());
    if (!response->is_object()) return core::InternalError("Scan: the response is not an object");
    const object& r = response->as_object();
    if (const value* items = r.if_contains("Items"); items != nullptr && items->is_array()) {
      for (const value& item : items->as_array()) {
        if (item.is_object()) out.push_back(item.as_object());
      }
    }
    const value* last = r.if_contains("LastEvaluatedKey");
    if (last == nullptr || !last->is_object() || last->as_object().empty()) break;
    request["ExclusiveStartKey"] = *last;
  }
  return out;
}

core::Result<std::vector<Deployment>> DynamoDbDeploymentStore::List(
    const core::DeploymentFilter& filter) {
  auto listed = ListReadable(filter);
  if (!listed) return std::unexpected(listed.error());
  if (!listed->unreadable.empty()) return std::unexpected(listed->unreadable.front().error);
  return std::move(listed->deployments);
}

core::Result<core::DeploymentListing> DynamoDbDeploymentStore::ListReadable(
    const core::DeploymentFilter& filter) {
  auto listed = ListMatching(filter);
  if (!listed) return std::unexpected(listed.error());
  // The table has no index in the listing order (one would be a single hot
  // partition): the page is cut from the sorted matches.
  if (filter.limit > 0 && listed->deployments.size() > filter.limit) {
    listed->deployments.resize(filter.limit);
  }
  return listed;
}

core::Result<core::DeploymentListing> DynamoDbDeploymentStore::ListMatching(
    const core::DeploymentFilter& filter) {
  // The active paths read a handful of records and filter the window here.
  auto in_window = [&](const core::DeploymentListing& all) {
    core::DeploymentListing out{.deployments = {}, .unreadable = all.unreadable};
    for (const Deployment& d : all.deployments) {
      if (core::InWindow(filter, d)) out.deployments.push_back(d);
    }
    return out;
  };
  if (filter.endpoint && filter.active_only) {
    // The endpoint's lock item names its active deployment: two GetItems, no Scan.
    auto active = ActiveOn(*filter.endpoint);
    if (!active) return std::unexpected(active.error().WithContext("list deployments"));
    core::DeploymentListing out;
    if (*active && (!filter.state || (*active)->state == *filter.state)) {
      out.deployments.push_back(std::move(**active));
    }
    return in_window(out);
  }
  std::vector<object> listed;
  if (filter.active_only && !filter.endpoint) {
    // The controller's tick: the sparse index, then a consistent re-read.
    auto items = ActiveRecords();
    if (!items) return std::unexpected(items.error().WithContext("list deployments"));
    for (object& item : *items) {
      if (filter.state && GetS(item, "state") != core::StateName(*filter.state)) continue;
      listed.push_back(std::move(item));
    }
    return in_window(DecodeListing(listed));
  }
  // History: a Scan of every record, filtered by DynamoDB (read capacity is
  // spent on the whole table, only the matches come back).
  object names, values;
  std::string expression = ListScanFilter(filter, names, values);
  auto items = ScanItems(kRecordSk, expression, std::move(names), std::move(values));
  if (!items) return std::unexpected(items.error().WithContext("list deployments"));
  return DecodeListing(*items);
}

core::Result<std::vector<object>> DynamoDbDeploymentStore::ActiveRecords() {
  // KEYS_ONLY index, eventually consistent (GSIs have no consistent reads): it
  // says which records to read, the consistent BatchGetItem says what they are.
  object request{{"TableName", options_.table},
                 {"IndexName", kActiveIndex},
                 {"KeyConditionExpression", "#active_set = :set"},
                 {"ExpressionAttributeNames", Names({"active_set"})},
                 {"ExpressionAttributeValues", object{{":set", S(kActiveSetValue)}}}};
  std::vector<std::string> pks;
  while (true) {
    auto response = client_->CallJson("Query", request);
    if (!response) return std::unexpected(response.error());
    if (!response->is_object()) return core::InternalError("Query: the response is not an object");
    const object& r = response->as_object();
    if (const value* items = r.if_contains("Items"); items != nullptr && items->is_array()) {
      for (const value& item : items->as_array()) {
        if (!item.is_object() || GetS(item.as_object(), "sk") != kRecordSk) continue;
        if (auto pk = GetS(item.as_object(), "pk")) pks.push_back(std::move(*pk));
      }
    }
    const value* last = r.if_contains("LastEvaluatedKey");
    if (last == nullptr || !last->is_object() || last->as_object().empty()) break;
    request["ExclusiveStartKey"] = *last;
  }
  auto records = BatchGetRecords(std::move(pks));
  if (!records) return std::unexpected(records.error());
  // A record that left the active states after the index was read is not
  // active any more: the consistent read has the last word.
  std::erase_if(*records, [](const object& item) { return GetBool(item, "active") == false; });
  return records;
}

core::Result<std::vector<object>> DynamoDbDeploymentStore::BatchGetRecords(
    std::vector<std::string> pks) {
  std::sort(pks.begin(), pks.end());
  pks.erase(std::unique(pks.begin(), pks.end()), pks.end());
  std::vector<object> out;
  constexpr int kRounds = 8;  // for UnprocessedKeys; throttling is the client's retry
  for (std::size_t from = 0; from < pks.size(); from += kBatchGetKeys) {
    array keys;
    for (std::size_t i = from; i < std::min(pks.size(), from + kBatchGetKeys); ++i) {
      keys.push_back(Key(pks[i], kRecordSk));
    }
    for (int round = 0; !keys.empty(); ++round) {
      if (round == kRounds) {
        return core::MakeError(core::ErrorCode::kThrottled,
                               "BatchGetItem left " + std::to_string(keys.size()) +
                                   " records unprocessed after " + std::to_string(kRounds) +
                                   " rounds");
      }
      if (round > 0) {
        const core::Duration pause = std::chrono::milliseconds(25 << round);
        if (options_.client.sleep) {
          options_.client.sleep(pause);
        } else {
          std::this_thread::sleep_for(pause);
        }
      }
      object table_keys{{"Keys", std::move(keys)}, {"ConsistentRead", true}};
      auto response = client_->CallJson(
          "BatchGetItem",
          object{{"RequestItems", object{{options_.table, std::move(table_keys)}}}});
      if (!response) return std::unexpected(response.error());
      keys = array{};
      if (!response->is_object()) {
        return core::InternalError("BatchGetItem: the response is not an object");
      }
      const object& r = response->as_object();
      if (const value* got = r.if_contains("Responses"); got != nullptr && got->is_object()) {
        if (const value* items = got->as_object().if_contains(options_.table);
            items != nullptr && items->is_array()) {
          for (const value& item : items->as_array()) {
            if (item.is_object()) out.push_back(item.as_object());
          }
        }
      }
      if (const value* left = r.if_contains("UnprocessedKeys");
          left != nullptr && left->is_object()) {
        if (const value* t = left->as_object().if_contains(options_.table);
            t != nullptr && t->is_object()) {
          if (const value* k = t->as_object().if_contains("Keys"); k != nullptr && k->is_array()) {
            keys = k->as_array();
          }
        }
      }
    }
  }
  return out;
}

core::DeploymentListing DynamoDbDeploymentStore::DecodeListing(const std::vector<object>& items) {
  core::DeploymentListing out;
  out.deployments.reserve(items.size());
  for (const object& item : items) {
    auto d = DecodeDeployment(item);
    if (!d) {
      std::string id = GetS(item, "pk").value_or("");
      if (id.starts_with("deployment#")) id.erase(0, std::string_view("deployment#").size());
      out.unreadable.push_back({.id = std::move(id),
                                .endpoint = GetS(item, "endpoint").value_or(""),
                                .error = d.error()});
      continue;
    }
    out.deployments.push_back(std::move(*d));
  }
  std::sort(out.deployments.begin(), out.deployments.end(),
            [](const Deployment& a, const Deployment& b) {
              if (a.created_at != b.created_at) return a.created_at > b.created_at;
              return a.id > b.id;
            });
  return out;
}

namespace {

// What Update reads of the stored record before writing.
struct StoredHead {
  std::int64_t version = 0;
  std::int64_t event_count = 0;
  std::string endpoint;
  bool active = false;
};

Result<StoredHead> ParseStoredHead(const Result<value>& response, const std::string& id,
                                   const std::string& what) {
  if (!response) return std::unexpected(response.error().WithContext(what));
  const value* current =
      response->is_object() ? response->as_object().if_contains("Item") : nullptr;
  if (current == nullptr || !current->is_object()) {
    return core::NotFoundError("deployment " + Quoted(id) + " not found");
  }
  const object& old = current->as_object();
  auto version = GetN(old, "version");
  auto count = GetN(old, "event_count");
  auto endpoint = GetS(old, "endpoint");
  auto active = GetBool(old, "active");
  if (!version || !count || !endpoint || !active) {
    return core::InternalError(what + ": corrupt record: version, event_count, endpoint or " +
                               "active attribute missing");
  }
  return StoredHead{*version, *count, *endpoint, *active};
}

// The conditional Update of the record item: every attribute SET, the sparse
// index's attribute REMOVEd when the deployment leaves the active states.
object RecordUpdate(const std::string& table, const Deployment& stored, const std::string& doc,
                    std::int64_t event_count, std::int64_t expected_version) {
  object record;
  SetRecordAttributes(record, stored, doc, event_count);
  std::string set;
  object names = Names({"version"});
  object values{{":expected", N(expected_version)}};
  for (auto& [name, attribute] : record) {
    set += set.empty() ? "SET " : ", ";
    std::string key(name);
    set += "#" + key + " = :" + key;
    names["#" + key] = key;
    values[":" + key] = attribute;
  }
  if (!core::IsActive(stored.state)) {  // out of the sparse index
    set += " REMOVE #" + std::string(kActiveSet);
    names["#" + std::string(kActiveSet)] = kActiveSet;
  }
  return object{{"Update", object{{"TableName", table},
                                  {"Key", Key(DeploymentPk(stored.id), kRecordSk)},
                                  {"UpdateExpression", set},
                                  {"ConditionExpression", "#version = :expected"},
                                  {"ExpressionAttributeNames", std::move(names)},
                                  {"ExpressionAttributeValues", std::move(values)},
                                  {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}};
}

// The Delete of an endpoint's lock item, if `id` holds it (or nobody does).
object ReleaseLock(const std::string& table, const std::string& endpoint, const std::string& id) {
  return object{{"Delete", object{{"TableName", table},
                                  {"Key", Key(LockPk(endpoint), kLockSk)},
                                  {"ConditionExpression",
                                   "attribute_not_exists(#pk) OR #deployment_id = :id"},
                                  {"ExpressionAttributeNames", Names({"pk", "deployment_id"})},
                                  {"ExpressionAttributeValues", object{{":id", S(id)}}},
                                  {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}};
}

// Where in an Update's transaction each kind of item is.
struct UpdateItems {
  std::optional<std::size_t> take_lock;  // the new endpoint's lock, when taken
  std::size_t first_event = 0;
};

std::unexpected<core::Error> StaleVersion(const Deployment& deployment,
                                          std::int64_t stored_version) {
  return core::ConflictError(
      "deployment " + Quoted(deployment.id) + " was changed concurrently (version " +
      std::to_string(deployment.version) + ", stored " + std::to_string(stored_version) + ")");
}

// Why a cancelled Update transaction failed, as the port's error.
std::unexpected<core::Error> UpdateCancelled(const std::vector<CancellationReason>& reasons,
                                             const UpdateItems& at, const Deployment& deployment,
                                             const StoredHead& head, const std::string& what,
                                             const core::Status& written) {
  if (Failed(reasons, 0, "ConditionalCheckFailed")) {
    auto now = GetN(reasons[0].item, "version");
    if (!now) return core::NotFoundError("deployment " + Quoted(deployment.id) + " not found");
    return StaleVersion(deployment, *now);
  }
  if (at.take_lock && Failed(reasons, *at.take_lock, "ConditionalCheckFailed")) {
    std::string holder = GetS(reasons[*at.take_lock].item, "deployment_id").value_or("?");
    return core::ConflictError(what + ": deployment " + Quoted(holder) +
                               " is already active on endpoint " + Quoted(deployment.endpoint));
  }
  if (std::any_of(reasons.begin(), reasons.end(),
                  [](const auto& r) { return r.code == "TransactionConflict"; })) {
    // Another writer is committing on these items right now: as for a stale
    // version, re-read and decide again.
    return core::ConflictError("deployment " + Quoted(deployment.id) +
                               " is being changed concurrently (transaction conflict " +
                               ReasonCodes(reasons) + ")");
  }
  for (std::size_t i = at.first_event; i < reasons.size(); ++i) {
    if (reasons[i].code == "ConditionalCheckFailed") {
      return core::InternalError(what + ": the event log holds events beyond event_count " +
                                 std::to_string(head.event_count) + "; the table is inconsistent");
    }
  }
  return core::InternalError(what + ": transaction cancelled " + ReasonCodes(reasons) + ": " +
                             written.error().message());
}

}  // namespace

core::Result<Deployment> DynamoDbDeploymentStore::Update(const Deployment& deployment,
                                                         const std::vector<DeploymentEvent>& events,
                                                         std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "update deployment " + Quoted(deployment.id);
  // The stored record says which lock this write must take or release and
  // where the event log continues; the transaction's version condition makes
  // sure that what was read here is still what is stored when it commits.
  auto head = ParseStoredHead(
      client_->CallJson(
          "GetItem", object{{"TableName", options_.table},
                            {"Key", Key(DeploymentPk(deployment.id), kRecordSk)},
                            {"ConsistentRead", true},
                            {"ProjectionExpression", "#version, #event_count, #active, #endpoint"},
                            {"ExpressionAttributeNames",
                             Names({"version", "event_count", "active", "endpoint"})}}),
      deployment.id, what);
  if (!head) return std::unexpected(head.error());
  if (head->version != deployment.version) return StaleVersion(deployment, head->version);

  Deployment stored = deployment;
  stored.version = deployment.version + 1;
  auto doc = EncodeDeployment(stored);
  if (!doc) return std::unexpected(doc.error());
  const bool now_active = core::IsActive(stored.state);
  const std::int64_t event_count = head->event_count + static_cast<std::int64_t>(events.size());

  array items;
  items.push_back(RecordUpdate(options_.table, stored, *doc, event_count, deployment.version));
  // Lock items: release the old endpoint's when leaving the active states (or
  // moving), take the new one's when entering them (or moving).
  const bool moved = head->endpoint != stored.endpoint;
  UpdateItems at;
  if (head->active && (!now_active || moved)) {
    items.push_back(ReleaseLock(options_.table, head->endpoint, stored.id));
  }
  if (now_active && (!head->active || moved)) {
    at.take_lock = items.size();
    items.push_back(TakeLock(options_.table, stored));
  }
  at.first_event = items.size();
  std::vector<DeploymentEvent> numbered;
  if (auto s =
          AppendEventPuts(items, options_.table, stored, head->event_count + 1, events, numbered);
      !s) {
    return std::unexpected(s.error());
  }

  aws::AwsErrorDetail detail;
  const core::Status written = TransactWrite(std::move(items), &detail);
  auto outcome = Outcome(written, detail, what);
  if (!outcome) return std::unexpected(outcome.error());
  if (!outcome->committed) {
    return UpdateCancelled(outcome->reasons, at, deployment, *head, what, written);
  }
  if (appended != nullptr) *appended = std::move(numbered);
  return stored;
}

namespace {
std::unexpected<core::Error> NoOutbox() {
  return core::UnimplementedError(
      "the DynamoDB store keeps no event outbox (no global event order without a hot counter "
      "item): notifications from it are delivered at most once");
}
}  // namespace

core::Status DynamoDbDeploymentStore::SetSinks(const std::vector<std::string>&) {
  return NoOutbox();
}
core::Result<std::int64_t> DynamoDbDeploymentStore::Cursor(std::string_view) { return NoOutbox(); }
core::Result<std::vector<core::OutboxEntry>> DynamoDbDeploymentStore::ReadOutbox(std::int64_t,
                                                                                 std::size_t) {
  return NoOutbox();
}
core::Status DynamoDbDeploymentStore::AdvanceCursor(std::string_view, std::int64_t) {
  return NoOutbox();
}

core::Result<std::vector<DeploymentEvent>> DynamoDbDeploymentStore::ListEvents(
    std::string_view deployment_id, std::int64_t after_seq) {
  const std::string what = "list events of deployment " + Quoted(deployment_id);
  const std::string pk = DeploymentPk(deployment_id);
  // "event#<seq:020>" sorts before "record" ('e' < 'r'), and nothing else lives
  // under the deployment's pk: the range from the first wanted event up to
  // "record" yields the newer events, then the record item, which tells an
  // unknown deployment from one with nothing newer in the same Query.
  const std::string from = after_seq < std::numeric_limits<std::int64_t>::max()
                               ? EventSk(std::max<std::int64_t>(after_seq, 0) + 1)
                               : std::string(kRecordSk);
  object request{{"TableName", options_.table},
                 {"KeyConditionExpression", "#pk = :pk AND #sk BETWEEN :from AND :to"},
                 {"ExpressionAttributeNames", Names({"pk", "sk"})},
                 {"ExpressionAttributeValues",
                  object{{":pk", S(pk)}, {":from", S(from)}, {":to", S(kRecordSk)}}},
                 {"ConsistentRead", true}};
  std::vector<DeploymentEvent> out;
  bool found = false;
  while (true) {
    auto response = client_->CallJson("Query", request);
    if (!response) return std::unexpected(response.error().WithContext(what));
    if (!response->is_object()) return core::InternalError(what + ": response is not an object");
    const object& r = response->as_object();
    if (const value* items = r.if_contains("Items"); items != nullptr && items->is_array()) {
      for (const value& item : items->as_array()) {
        if (!item.is_object()) continue;
        if (GetS(item.as_object(), "sk") == kRecordSk) {
          found = true;
          continue;
        }
        auto e = DecodeEvent(deployment_id, item.as_object());
        if (!e) return std::unexpected(e.error());
        out.push_back(std::move(*e));
      }
    }
    const value* last = r.if_contains("LastEvaluatedKey");
    if (last == nullptr || !last->is_object() || last->as_object().empty()) break;
    request["ExclusiveStartKey"] = *last;
  }
  if (!found) return core::NotFoundError("deployment " + Quoted(deployment_id) + " not found");
  return out;
}

core::Status DynamoDbDeploymentStore::SaveEndpoint(const core::Endpoint& endpoint) {
  if (endpoint.name.empty()) return core::ValidationError("endpoint name must not be empty");
  const std::string what = "save endpoint " + Quoted(endpoint.name);
  auto doc = EncodeEndpoint(endpoint);
  if (!doc) return std::unexpected(doc.error());
  object item = Key(EndpointPk(endpoint.name), kEndpointSk);
  item["name"] = S(endpoint.name);
  item["doc"] = S(*doc);
  auto response = client_->CallJson(
      "PutItem", object{{"TableName", options_.table}, {"Item", std::move(item)}});
  if (!response) return std::unexpected(response.error().WithContext(what));
  return core::Ok();
}

core::Result<std::vector<core::Endpoint>> DynamoDbDeploymentStore::ListEndpoints() {
  auto items = ScanItems(kEndpointSk, "", object{}, object{});
  if (!items) return std::unexpected(items.error().WithContext("list endpoints"));
  std::vector<core::Endpoint> out;
  for (const object& item : *items) {
    auto endpoint = DecodeEndpoint(item);
    if (!endpoint) return std::unexpected(endpoint.error());
    out.push_back(std::move(*endpoint));
  }
  std::sort(out.begin(), out.end(),
            [](const core::Endpoint& a, const core::Endpoint& b) { return a.name < b.name; });
  return out;
}

}  // namespace mlcanary::store
