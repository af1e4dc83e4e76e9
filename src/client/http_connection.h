// HttpConnection: one kept-alive HTTP/1.1 connection over libcurl, the
// transport under ApiClient (the control API) and the Prometheus metrics
// source. It only moves bytes: what an answer means is the caller's.
#ifndef MLCANARY_CLIENT_HTTP_CONNECTION_H_
#define MLCANARY_CLIENT_HTTP_CONNECTION_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::client {

struct HttpAnswer {
  long status = 0;
  std::string body;
};

struct HttpExchange {
  std::string_view method = "GET";
  std::string_view url;              // absolute: http://host:port/path?query
  std::vector<std::string> headers;  // "Name: value" lines
  std::string_view body;             // sent for POST (Content-Type is the caller's header)
  bool post = false;                 // send `body` as POSTFIELDS
  core::Duration timeout = std::chrono::seconds(60);  // the whole exchange
};

// Not thread-safe: one per thread, or behind the caller's lock.
class HttpConnection {
 public:
  HttpConnection();
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Any HTTP answer (whatever its status) is a value. Errors: kTimeout when the
  // exchange ran past its timeout, kUnavailable when nothing answered (no
  // listener, connection reset, bad URL...), with curl's reason as the message.
  core::Result<HttpAnswer> Send(const HttpExchange& exchange);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlcanary::client

#endif  // MLCANARY_CLIENT_HTTP_CONNECTION_H_
