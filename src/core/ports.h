// The ports: abstract interfaces the rest of mlcanary plugs into. The
// controller talks only to these, so one rollout engine runs in virtual time,
// against the local gateway, and against SageMaker. (Clock is in clock.h.)
#ifndef MLCANARY_CORE_PORTS_H_
#define MLCANARY_CORE_PORTS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/types.h"

namespace mlcanary::core {

struct VariantWeight {
  std::string variant;
  double weight = 0;
};

// A shadow copy of production's traffic to one variant (issue 14): a share of
// the requests production answers is copied to `variant`, whose answers are
// measured as its own (latency, errors, predictions) and compared with
// production's for the same request (the paired divergence), never returned.
struct ShadowSpec {
  std::string variant;
  double sample = 1.0;       // share of production's requests copied, in (0, 1]
  double tolerance = 0.01;   // a pair disagrees when |canary - production| > this
  std::int64_t output = -1;  // the output compared; -1: the first (single-output models)
  // Split-phase mirroring (policy divergence_mirror_sample) when not empty:
  // requests `variant` answers are also copied to `mirror_to` (production), the
  // others' to `variant`, each a `sample` share; a copy's answer is only
  // compared (the pairs on `variant`'s metrics), not recorded as an invocation
  // (what users got is). Empty: the shadow phase, where the copy is `variant`'s
  // only traffic and is recorded as its invocation.
  std::string mirror_to;
  bool operator==(const ShadowSpec&) const = default;
};

// Serves and splits traffic: the gateway's router, or a SageMaker endpoint.
// Implementations are thread-safe.
class TrafficControl {
 public:
  virtual ~TrafficControl() = default;
  // NotFound when the endpoint does not exist.
  virtual Result<Endpoint> DescribeEndpoint(std::string_view endpoint) = 0;
  // What CreateVariant would refuse before doing anything (the variant's name,
  // its model's kind and fields), so that a caller can refuse a request before
  // it records anything. Default: nothing.
  virtual Status CheckVariant(std::string_view /*endpoint*/, const Variant& /*variant*/) {
    return Ok();
  }
  // Adds a variant with weight 0; its model is loaded and ready when this returns.
  virtual Status CreateVariant(std::string_view endpoint, const Variant& variant) = 0;
  virtual Status RemoveVariant(std::string_view endpoint, std::string_view variant) = 0;
  // Sets the weights of the named variants at once (no request sees a
  // half-applied set). Weights of the endpoint's variants must sum to 1; the
  // rules are ValidateWeights' (traffic_weights.h), and a refused set changes
  // nothing. Every implementation runs testing/traffic_control_contract.h.
  virtual Status SetWeights(std::string_view endpoint,
                            const std::vector<VariantWeight>& weights) = 0;
  // Starts (spec given) or stops (nullopt) copying the endpoint's traffic to
  // spec->variant, which must exist. Shadow work never delays production's
  // answers. Default: kUnimplemented for a traffic control that cannot shadow
  // (SageMaker); stopping is always Ok. The controller refuses a shadow policy
  // up front where SupportsShadow() is false.
  virtual Status SetShadow(std::string_view /*endpoint*/, const std::optional<ShadowSpec>& spec) {
    if (!spec) return Ok();
    return std::unexpected(
        Error(ErrorCode::kUnimplemented, "this traffic control cannot shadow traffic"));
  }
  virtual bool SupportsShadow() const { return false; }
  // The endpoint's shadow as SetShadow left it; nullopt when none (or unsupported).
  virtual std::optional<ShadowSpec> DescribeShadow(std::string_view /*endpoint*/) {
    return std::nullopt;
  }
  // Outputs per row of `variant`'s model where this traffic control can tell
  // before the variant serves (an in-process model: its outputs or classes);
  // nullopt where it cannot (a model behind HTTP, SageMaker) or the model does
  // not load (CreateVariant says why). The endpoint's variant of that name is
  // asked; a variant not there yet has its model loaded to ask. Lets the
  // controller refuse a divergence check a model cannot take at creation.
  // Default: nullopt.
  virtual std::optional<std::size_t> ModelOutputs(std::string_view /*endpoint*/,
                                                  const Variant& /*variant*/) {
    return std::nullopt;
  }
};

// Per-variant metrics of one endpoint over a window [start, end), read
// consistently for all variants at once. A variant without traffic in the
// window maps to WindowMetrics with invocations == 0 and no latency (p50, p90,
// p99 0: the evaluator reads them only with has_data()), or is absent; a
// variant with traffic never reads p99 0 as if it were fast. Traffic before
// `start` is not counted. An endpoint the source has no data of is an empty
// map when the source learns of endpoints from their traffic (the registry,
// Prometheus: an unknown endpoint and an idle one look alike), or kNotFound
// when it lists the endpoint's variants from the TrafficControl (CloudWatch);
// the controller asks the TrafficControl first, so neither passes a check. A
// source that cannot answer returns an error (retryable: the controller holds
// the deployment), never a window. Every implementation that measures
// traffic runs testing/metrics_source_contract.h.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual Result<std::map<std::string, WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                Timestamp start, Timestamp end) = 0;
};

// A place in the listing order (see DeploymentFilter): the last deployment of
// one page, after which the next page starts.
struct DeploymentCursor {
  Timestamp created_at;
  std::string id;
};

// Which deployments List returns, in the listing order: newest created_at
// first, ties broken by id, greater first (byte order). Every store answers
// the same page for the same filter, so that paging with `after` through a
// listing meets every match once: no duplicate, no gap.
struct DeploymentFilter {
  std::optional<std::string> endpoint;
  std::optional<DeploymentState> state;
  bool active_only = false;
  std::optional<Timestamp> since;  // created_at >= since
  std::optional<Timestamp> until;  // created_at < until
  // Only the deployments that come after this one in the order.
  std::optional<DeploymentCursor> after;
  std::size_t limit = 0;  // at most this many, the first ones in the order; 0: all
};

// True when `a` comes before `b` in the listing order.
inline bool ListedBefore(const Timestamp& a_created, std::string_view a_id,
                         const Timestamp& b_created, std::string_view b_id) {
  if (a_created != b_created) return a_created > b_created;
  return a_id > b_id;
}
inline bool ListedBefore(const Deployment& a, const Deployment& b) {
  return ListedBefore(a.created_at, a.id, b.created_at, b.id);
}

// The filter's time window and cursor (not endpoint, state or limit): for a
// store that filters in memory.
inline bool InWindow(const DeploymentFilter& f, const Deployment& d) {
  if (f.since && d.created_at < *f.since) return false;
  if (f.until && d.created_at >= *f.until) return false;
  return !f.after || ListedBefore(f.after->created_at, f.after->id, d.created_at, d.id);
}

// A record the store holds but cannot read (corrupt, or written in a form
// this version does not read): what the store knows of it beside the record.
struct UnreadableRecord {
  std::string id;
  std::string endpoint;  // empty when the store cannot tell
  Error error;           // what Get answers for it
};

// A listing that went on past the records it could not read.
struct DeploymentListing {
  std::vector<Deployment> deployments;  // in the listing order, as List
  std::vector<UnreadableRecord> unreadable;
};

// Durable deployment records and their append-only event logs.
// Thread-safe. Writes are atomic: a record and its events land together or not at all.
class DeploymentStore {
 public:
  virtual ~DeploymentStore() = default;
  // Stores a new deployment (version becomes 1) with its first events.
  // Conflict when another deployment is active on the same endpoint. When
  // `appended` is not null and the write succeeds, it receives the events as
  // stored: seq and deployment_id assigned (what a notifier must announce).
  virtual Result<Deployment> Create(const Deployment& deployment,
                                    const std::vector<DeploymentEvent>& events,
                                    std::vector<DeploymentEvent>* appended) = 0;
  Result<Deployment> Create(const Deployment& deployment,
                            const std::vector<DeploymentEvent>& events) {
    return Create(deployment, events, nullptr);
  }
  virtual Result<Deployment> Get(std::string_view id) = 0;
  // The deployments `filter` picks, in its listing order (newest first), at
  // most filter.limit. A record that cannot be read fails the whole listing.
  // Every implementation runs testing/deployment_store_contract.h.
  virtual Result<std::vector<Deployment>> List(const DeploymentFilter& filter) = 0;
  // As List, but a record that cannot be read is left out and named in
  // `unreadable` instead of failing the listing: one bad record must not stop
  // the controller's work on every other deployment. A store whose records
  // always read back (memory) keeps this default.
  virtual Result<DeploymentListing> ListReadable(const DeploymentFilter& filter) {
    auto all = List(filter);
    if (!all) return std::unexpected(all.error());
    return DeploymentListing{.deployments = std::move(*all), .unreadable = {}};
  }
  // Writes `deployment` if the stored version equals deployment.version, bumps the
  // version, appends `events` (seq assigned); Conflict if someone wrote in between.
  // `appended` as for Create.
  virtual Result<Deployment> Update(const Deployment& deployment,
                                    const std::vector<DeploymentEvent>& events,
                                    std::vector<DeploymentEvent>* appended) = 0;
  Result<Deployment> Update(const Deployment& deployment,
                            const std::vector<DeploymentEvent>& events) {
    return Update(deployment, events, nullptr);
  }
  // Events with seq > after_seq, oldest first.
  virtual Result<std::vector<DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                          std::int64_t after_seq) = 0;

  // The endpoints' variants as the last deployment left them (after a COMPLETED
  // deployment the canary is the production variant), so that a restarted
  // service serves what it served before, not the config file's first version.
  virtual Status SaveEndpoint(const Endpoint& endpoint) = 0;
  virtual Result<std::vector<Endpoint>> ListEndpoints() = 0;
};

// One event of the outbox: its global position, the deployment as the write
// that appended the event left it, and the event as stored (seq assigned).
struct OutboxEntry {
  std::int64_t position = 0;
  Deployment deployment;
  DeploymentEvent event;
};

// The events a DeploymentStore appends, in one global order, for the
// notification sinks that must deliver every event at least once, across a
// crash too (webhooks). A store that implements it appends each event to the
// outbox in the same transaction as the event itself, so no event can be
// stored and then missed. Positions grow with every appended event, in commit
// order, and are never reused. Each sink keeps a durable cursor (the position
// of the last entry it has delivered), reads what follows it and advances it
// once delivered: a crash between a delivery and its cursor's advance sends
// that entry again, so receivers drop duplicates by (deployment id, seq).
// Thread-safe. A store without one answers kUnimplemented on every call.
class EventOutbox {
 public:
  virtual ~EventOutbox() = default;
  // Makes `sinks` the outbox's consumers (names are the caller's, e.g. one per
  // webhook URL). A sink without a cursor gets one at the current end: it is
  // not sent what came before it. Cursors of sinks not listed are dropped, and
  // entries every cursor has passed are deleted. While there is no sink, writes
  // append nothing to the outbox.
  virtual Status SetSinks(const std::vector<std::string>& sinks) = 0;
  // The position of the last entry `sink` has delivered. NotFound for a sink
  // that SetSinks did not name.
  virtual Result<std::int64_t> Cursor(std::string_view sink) = 0;
  // Entries with a position > `after`, oldest first, at most `limit` (>= 1).
  virtual Result<std::vector<OutboxEntry>> ReadOutbox(std::int64_t after, std::size_t limit) = 0;
  // Moves `sink`'s cursor forward to `position` (a lower one is ignored) and
  // deletes the entries every cursor has now passed. NotFound for an unknown sink.
  virtual Status AdvanceCursor(std::string_view sink, std::int64_t position) = 0;
};

// Announces transitions and steps. Must not block the caller for long: slow
// sinks queue and retry on their own.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify(const Deployment& deployment, const DeploymentEvent& event) = 0;
};

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_PORTS_H_
