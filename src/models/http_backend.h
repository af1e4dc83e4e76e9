// HttpBackend: a model behind any HTTP server that follows the SageMaker
// inference container contract (POST /invocations, GET /ping).
#ifndef MLCANARY_MODELS_HTTP_BACKEND_H_
#define MLCANARY_MODELS_HTTP_BACKEND_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"
#include "models/model_backend.h"

namespace mlcanary::models {

struct HttpBackendOptions {
  std::string url;                               // http://host:port[/prefix]
  core::Duration timeout = core::Duration(200);  // per request: connect + send + answer
  core::Duration ping_timeout = core::Duration(2000);
  int io_threads = 1;                       // threads of the backend's own event loop
  std::size_t max_idle_connections = 1024;  // keep-alive pool size, per event loop
  bool use_caller_loop = true;              // false: every call runs on the own loop
};

// Sends rows as text/csv (one row a line, as SageMaker's built-in containers
// take them) to <url>/invocations over a pool of keep-alive connections, and
// reads predictions from the answer (see ParseUpstreamPredictions).
// Errors: cannot connect -> kUnavailable; deadline passed -> kTimeout; upstream
// 5xx, a broken or unreadable answer -> kModelError (the gateway answers 502);
// upstream 4xx -> kValidation; upstream 429 -> kThrottled.
// A request that fails on a reused idle connection before any answer arrived
// (the server closed it meanwhile) is sent once more on a fresh connection.
//
// Threads: a call from a thread that declared its event loop (event_loop.h, the
// gateway's I/O threads) runs on that loop with a connection pool of that loop's
// own, and is answered on that thread: no thread hop, no shared pool. Calls from
// other threads run on the backend's own loop (`io_threads` threads) and are
// answered there. Thread-safe. Destruction waits for the own loop's threads;
// calls in flight there then complete with kUnavailable, while calls in flight
// on a caller's loop keep the shared state alive and finish normally.
// An idle pooled connection keeps a read pending on its loop (so that it notices
// the upstream closing it, or sending bytes nobody asked for): a caller's loop
// does not run out of work while a live backend has idle connections on it;
// stop() it (the gateway does), or destroy the backend first, which closes them.
class HttpBackend final : public ModelBackend {
 public:
  // Parses the URL, resolves the host and checks GET <url>/ping answers 200.
  static core::Result<std::unique_ptr<HttpBackend>> Create(HttpBackendOptions options);

  ~HttpBackend() override;
  HttpBackend(const HttpBackend&) = delete;
  HttpBackend& operator=(const HttpBackend&) = delete;

  void PredictAsync(const FeatureRows& rows, PredictCallback done) override;
  std::optional<std::size_t> num_features() const override { return std::nullopt; }
  bool ready() const override;
  const std::string& name() const override;

  // GET <url>/ping now, waiting for the answer.
  core::Status Ping();

  struct Impl;
  struct OwnLoop;

 private:
  HttpBackend(std::shared_ptr<Impl> impl, std::unique_ptr<OwnLoop> own);
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<OwnLoop> own_;
};

// Reads an upstream answer for `rows` rows: JSON {"predictions": [...]} or a
// JSON array, whose entries are numbers, arrays of numbers, or objects with a
// numeric "score"; otherwise numbers separated by commas or new lines
// (text/csv). kModelError when it is none of these or the count is wrong.
core::Result<Predictions> ParseUpstreamPredictions(std::string_view body, std::size_t rows);

// Appends `rows` as text/csv (one row a line, values separated by commas), the
// body HttpBackend sends and SageMaker's built-in containers take.
void AppendCsv(std::string& out, const FeatureRows& rows);

// Splits "http://host:port/prefix" (port defaults to 80; no https).
struct HttpUrl {
  std::string host;
  std::string port;
  std::string prefix;  // "" or "/prefix" without a trailing slash
};
core::Result<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_HTTP_BACKEND_H_
