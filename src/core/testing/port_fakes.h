// Small fakes of the ports for tests (std only): metrics a test scripts, a
// notifier that keeps what it is told, one that drops it, and a traffic control
// that passes every call through to another (the base of a test's faulty or
// slow one). The stateful ones are not thread-safe: a test that reads them from
// several threads guards them itself.
#ifndef MLCANARY_CORE_TESTING_PORT_FAKES_H_
#define MLCANARY_CORE_TESTING_PORT_FAKES_H_

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/health.h"
#include "core/ports.h"
#include "core/time.h"
#include "core/types.h"

namespace mlcanary::core::testing {

// The windows of "production" and "canary" as the test sets them (by default
// both healthy with traffic). Queued `errors` are returned first, one per call;
// then `error` on every call while it is set.
class ScriptedMetrics final : public MetricsSource {
 public:
  WindowMetrics canary{.invocations = 1000, .p50_ms = 20, .p90_ms = 30, .p99_ms = 45};
  WindowMetrics production{.invocations = 9000, .p50_ms = 20, .p90_ms = 30, .p99_ms = 40};
  std::deque<Error> errors;
  std::optional<Error> error;

  Result<std::map<std::string, WindowMetrics>> Snapshot(std::string_view, Timestamp,
                                                        Timestamp) override {
    if (!errors.empty()) {
      Error err = errors.front();
      errors.pop_front();
      return std::unexpected(err);
    }
    if (error) return std::unexpected(*error);
    return std::map<std::string, WindowMetrics>{{"production", production}, {"canary", canary}};
  }
};

// No variant has any data (every check is inconclusive). Thread-safe.
class NoMetrics final : public MetricsSource {
 public:
  Result<std::map<std::string, WindowMetrics>> Snapshot(std::string_view, Timestamp,
                                                        Timestamp) override {
    return std::map<std::string, WindowMetrics>{};
  }
};

// Keeps every event it is told of, in order.
class RecordingNotifier final : public Notifier {
 public:
  std::vector<DeploymentEvent> events;

  void Notify(const Deployment&, const DeploymentEvent& e) override { events.push_back(e); }
  bool Has(EventKind kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) return true;
    }
    return false;
  }
};

// Drops every event. Thread-safe.
class NullNotifier final : public Notifier {
 public:
  void Notify(const Deployment&, const DeploymentEvent&) override {}
};

// Passes every call through to `inner`, except the shadow ones: it is a data
// plane without shadow support (as SageMaker's) whatever `inner` is. A test
// derives from it and overrides the calls it fakes.
class ForwardingTrafficControl : public TrafficControl {
 public:
  explicit ForwardingTrafficControl(TrafficControl& inner) : inner_(inner) {}

  Result<Endpoint> DescribeEndpoint(std::string_view e) override {
    return inner_.DescribeEndpoint(e);
  }
  Status CheckVariant(std::string_view e, const Variant& v) override {
    return inner_.CheckVariant(e, v);
  }
  Status CreateVariant(std::string_view e, const Variant& v) override {
    return inner_.CreateVariant(e, v);
  }
  Status RemoveVariant(std::string_view e, std::string_view v) override {
    return inner_.RemoveVariant(e, v);
  }
  Status SetWeights(std::string_view e, const std::vector<VariantWeight>& w) override {
    return inner_.SetWeights(e, w);
  }

 protected:
  TrafficControl& inner() { return inner_; }

 private:
  TrafficControl& inner_;
};

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_PORT_FAKES_H_
