// RouterMirror: the gateway's router as a copy of another TrafficControl (a
// SageMaker endpoint), so that the gateway can front it -- pick the variant per
// request, sticky by user_id, with the weights the controller set.
#ifndef MLCANARY_GATEWAY_ROUTER_MIRROR_H_
#define MLCANARY_GATEWAY_ROUTER_MIRROR_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "core/time.h"
#include "gateway/router.h"
#include "models/model_backend.h"

namespace mlcanary::gateway {

struct RouterMirrorOptions {
  // The backend serving `variant` of `endpoint` (e.g. an InvokeEndpoint naming it).
  std::function<std::shared_ptr<models::ModelBackend>(const std::string& endpoint,
                                                      const core::Variant& variant)>
      make_backend;
  // One line per sync that failed; empty: none.
  std::function<void(std::string_view)> log;
};

// A core::TrafficControl that forwards every call to `source` and then copies
// the endpoint as `source` describes it (variants and weights) into `router`:
// after each change made through it (CreateVariant, RemoveVariant, SetWeights;
// refused or failed ones too, since a failed call may have taken effect), on
// Follow(), and on Refresh() (periodically with StartRefreshing) for changes
// made elsewhere. A router copy is changed as the router allows: new variants
// added at weight 0, then every weight at once, then variants gone removed; a
// description whose weights do not sum to 1 (none with traffic) leaves the copy
// as it was. Thread-safe; `source` and `router` must outlive it.
class RouterMirror final : public core::TrafficControl {
 public:
  RouterMirror(core::TrafficControl& source, Router& router, RouterMirrorOptions options);
  ~RouterMirror() override;  // Stop()
  RouterMirror(const RouterMirror&) = delete;
  RouterMirror& operator=(const RouterMirror&) = delete;

  // Copies `endpoint` into the router now and keeps following it. The source's
  // error when it cannot be described.
  core::Status Follow(std::string_view endpoint);
  // Copies every followed endpoint again; the first error (the rest still run).
  core::Status Refresh();
  // A thread that calls Refresh every `interval` until Stop().
  void StartRefreshing(core::Duration interval);
  void Stop();

  // core::TrafficControl: `source`'s answers.
  core::Result<core::Endpoint> DescribeEndpoint(std::string_view endpoint) override;
  core::Status CheckVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status CreateVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status RemoveVariant(std::string_view endpoint, std::string_view variant) override;
  core::Status SetWeights(std::string_view endpoint,
                          const std::vector<core::VariantWeight>& weights) override;

 private:
  core::Status Sync(std::string_view endpoint);
  core::Status Copy(const core::Endpoint& described);  // REQUIRES: sync_mu_ held
  void Log(const core::Error& error);

  core::TrafficControl& source_;
  Router& router_;
  const RouterMirrorOptions options_;
  std::mutex sync_mu_;  // one copy at a time
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::set<std::string, std::less<>> followed_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                        // GUARDED_BY(mu_)
  std::thread refresher_;
};

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_ROUTER_MIRROR_H_
