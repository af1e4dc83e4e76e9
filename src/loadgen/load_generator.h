// LoadGenerator: steady synthetic inference traffic against one endpoint of
// the gateway (API.md "Inference API"), counted per variant and status.
#ifndef MLCANARY_LOADGEN_LOAD_GENERATOR_H_
#define MLCANARY_LOADGEN_LOAD_GENERATOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::loadgen {

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string endpoint = "recs";
  int threads = 4;               // one keep-alive connection each
  double rate_per_second = 200;  // across all threads; <= 0: as fast as answers come
  int features = 8;              // floats per request, uniform in [0, 1)
  int users = 1000;              // user ids u0 .. u{users-1}
  std::uint64_t seed = 1;        // for user ids and features (thread i uses seed + i)
  // After a failed connect or a broken connection, wait this long before the next try.
  core::Duration reconnect_delay = std::chrono::milliseconds(100);
  // Stop() lets requests in flight finish for this long, then aborts their connections.
  core::Duration stop_grace = std::chrono::seconds(2);
};

// Answers of one variant, by HTTP status.
struct VariantCounts {
  std::map<int, std::uint64_t> by_status;
  std::uint64_t total() const;
  std::uint64_t ok() const;          // 2XX
  std::uint64_t errors_4xx() const;  // 4XX
  std::uint64_t errors_5xx() const;  // 5XX
};

struct LoadSnapshot {
  // By the X-Mlcanary-Variant header of the answer; "" when it had none.
  std::map<std::string, VariantCounts> variants;
  std::uint64_t answers = 0;           // HTTP answers of any status
  std::uint64_t transport_errors = 0;  // connects refused, connections broken mid-request
};

// Owns its worker threads and their connections. Start, Stop and the
// destructor are for one owner thread; snapshot() is safe from any thread at
// any time.
class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();  // Stop()
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Starts the threads; they connect on their own (a server that is not up yet
  // shows as transport errors until it is). kValidation for unusable options,
  // kFailedPrecondition when already started.
  core::Status Start();

  // Stops sending, waits up to stop_grace for answers in flight, closes the
  // connections and joins the threads. Idempotent.
  void Stop();

  LoadSnapshot snapshot() const;

  struct Impl;

 private:
  LoadOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcanary::loadgen

#endif  // MLCANARY_LOADGEN_LOAD_GENERATOR_H_
