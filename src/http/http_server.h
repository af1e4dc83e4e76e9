// HttpServer: a small HTTP/1.1 server for low-volume control traffic (the
// control API, /metrics). Keep-alive, bounded headers and bodies, read
// timeouts, graceful shutdown; one synchronous Handler answers every request.
#ifndef MLCANARY_HTTP_HTTP_SERVER_H_
#define MLCANARY_HTTP_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"
#include "http/message.h"

namespace mlcanary::http {

// Answers one request. Called on an I/O thread, from several threads at once
// (one request per connection at a time), so it must be thread-safe. It may
// block (it holds its I/O thread meanwhile). Whatever it throws is caught,
// logged, counted and answered 500.
using Handler = std::function<Response(const Request&)>;

enum class LogLevel { kInfo, kWarning, kError };
// Receives the server's log lines. Never sees request headers or bodies, so
// no credential reaches it.
using LogSink = std::function<void(LogLevel, std::string_view)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:0";        // host:port; port 0 picks a free port
  int threads = 2;                           // I/O threads (each may block in the handler)
  std::size_t max_body_bytes = 1 << 20;      // larger request bodies: 413
  std::size_t max_header_bytes = 16 * 1024;  // larger request headers: 431
  // Connections open at once; at the cap the server stops accepting and new
  // connections wait in the listen backlog until one closes. 0: no cap.
  std::size_t max_connections = 256;
  // Time to receive a request's header; it also bounds how long an idle
  // keep-alive connection waits for its next request.
  core::Duration header_timeout = std::chrono::seconds(30);
  core::Duration body_timeout = std::chrono::seconds(30);  // and to write the answer
  // Shutdown() waits this long for requests in flight, then drops the rest.
  core::Duration shutdown_timeout = std::chrono::seconds(10);
  std::string name = "http";  // prefixes log lines ("control-api: ...")
  LogSink log;                // empty: lines go to stderr
};

// Owns its I/O threads and connections. Start, Shutdown and the destructor are
// for one owner thread; port() and internal_errors() are thread-safe.
class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler);
  ~HttpServer();  // Shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.listen and starts serving. kValidation for a bad address or
  // options, kUnavailable when the address cannot be bound.
  core::Status Start();
  // The bound port (after Start).
  std::uint16_t port() const;

  // Stops accepting, closes idle connections, lets requests in flight finish
  // (up to shutdown_timeout) and answer with "Connection: close", then stops
  // the threads. Idempotent.
  void Shutdown();

  // Requests answered 500 because the handler threw.
  std::uint64_t internal_errors() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_HTTP_SERVER_H_
