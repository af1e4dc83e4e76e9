// Gateway: the inference data plane -- an HTTP/1.1 server (keep-alive, bounded
// bodies, read timeouts, graceful shutdown) in front of the Router and its
// model backends.
#ifndef MLCANARY_GATEWAY_GATEWAY_H_
#define MLCANARY_GATEWAY_GATEWAY_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/time.h"
#include "gateway/router.h"
#include "gateway/shadow.h"
#include "models/model_backend.h"

namespace mlcanary::metrics {
class MetricsRegistry;
}  // namespace mlcanary::metrics

namespace mlcanary::gateway {

struct GatewayOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free port
  int threads = 0;                        // I/O threads; 0: one per core
  std::size_t max_body_bytes = 1 << 20;   // larger request bodies: 413
  // Connections open at once; at the cap the gateway stops accepting and new
  // connections wait in the listen backlog until one closes. 0: no cap.
  std::size_t max_connections = 10000;
  // Time to receive a request's header; it also bounds how long an idle
  // keep-alive connection waits for its next request.
  core::Duration header_timeout = std::chrono::seconds(30);
  core::Duration body_timeout = std::chrono::seconds(30);  // and to write the answer
  // Shutdown() waits this long for requests in flight, then drops the rest.
  core::Duration shutdown_timeout = std::chrono::seconds(30);
  RouterOptions router;
  // Random bits for the weighted split; called from every I/O thread at once.
  // Empty: a fast per-thread generator seeded from std::random_device.
  std::function<std::uint64_t()> random_bits;
  // Shadow copies (Router::SetShadow): the bounded queue's capacity and threads.
  ShadowQueueOptions shadow;
};

// Owns the Router (reach it through router() to add endpoints and to hand it to
// the controller as core::TrafficControl), its I/O threads and connections.
// Every routed request is recorded in `metrics`, which must outlive the Gateway.
// Start, Shutdown and the destructor are for one owner thread; router() is
// thread-safe.
class Gateway {
 public:
  Gateway(GatewayOptions options, metrics::MetricsRegistry& metrics,
          models::ModelBackendFactory factory);
  ~Gateway();  // Shutdown()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  Router& router() { return router_; }

  // Binds options.listen and starts serving. kValidation for a bad address,
  // kUnavailable when the address cannot be bound.
  core::Status Start();
  // The bound port (after Start).
  std::uint16_t port() const;

  // Stops accepting, closes idle connections, lets requests in flight finish
  // (up to shutdown_timeout) and answer with "Connection: close", then stops
  // the threads. Idempotent.
  void Shutdown();

  // Requests answered 500 because handling threw (logged, counted).
  std::uint64_t internal_errors() const;

  struct Impl;

 private:
  GatewayOptions options_;
  // Before router_: the models die first, so a network call that a model
  // abandons can still hand its answer to a (stopped) I/O context.
  std::unique_ptr<Impl> impl_;
  Router router_;
};

// A thread-safe source of random bits: per-thread xoshiro256**, seeded once
// per thread from std::random_device.
std::uint64_t ThreadLocalRandomBits();

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_GATEWAY_H_
