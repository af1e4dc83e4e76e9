// TestClient: a blocking HTTP/1.1 client over a real socket, for tests of
// HttpServer and of the handlers served through it. Header-only.
//
// Every call runs asynchronous operations on the client's own io_context:
// beast::tcp_stream's timeouts apply to asynchronous operations only, and a
// test whose server never answers must fail, not hang until ctest kills it.
#ifndef MLCANARY_HTTP_TESTING_TEST_CLIENT_H_
#define MLCANARY_HTTP_TESTING_TEST_CLIENT_H_

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/message.h"

namespace mlcanary::http::testing {

struct ClientResponse {
  int status = 0;  // 0: no answer (the connection closed or failed)
  Headers headers;
  std::string body;
  bool keep_alive = false;

  std::string Header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Not thread-safe: one per thread. Keeps one connection and reuses it while
// the server keeps it alive.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : port_(port), stream_(context_) {}

  ClientResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    namespace bhttp = boost::beast::http;
    bhttp::request<bhttp::string_body> request(bhttp::string_to_verb(method), target, 11);
    if (request.method() == bhttp::verb::unknown) request.method_string(method);
    request.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::string(body);
    if (!body.empty() || method == "POST") request.prepare_payload();
    request.keep_alive(true);
    if (!connected_ && !Connect()) return {};
    if (!WriteRequest(request)) {  // the server closed the kept-alive connection: one fresh try
      if (!Connect() || !WriteRequest(request)) return {};
    }
    return Read();
  }

  // Writes `raw` bytes on a fresh connection and reads one answer.
  ClientResponse SendRaw(std::string_view raw) {
    if (!Connect()) return {};
    WriteRaw(raw);
    return Read();
  }

  // Writes `raw` bytes on the current connection (no answer read).
  void WriteRaw(std::string_view raw) {
    stream_.expires_after(std::chrono::seconds(10));
    Run([&](auto done) {
      boost::asio::async_write(stream_, boost::asio::buffer(raw.data(), raw.size()), done);
    });
  }

  // Reads the next answer on the current connection.
  ClientResponse ReadResponse() { return Read(); }

  // True when the server closed the connection (reads EOF).
  bool ServerClosed() {
    char byte;
    stream_.expires_after(std::chrono::seconds(5));
    const auto ec =
        Run([&](auto done) { stream_.async_read_some(boost::asio::buffer(&byte, 1), done); });
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  // Starts one asynchronous operation with `start(handler)` and runs the
  // client's context until it completes; the stream's expiry bounds it.
  template <class Start>
  boost::beast::error_code Run(Start start) {
    boost::beast::error_code result;
    start([&result](boost::beast::error_code ec, auto&&...) { result = ec; });
    context_.restart();
    context_.run();
    return result;
  }

  template <class Message>
  bool WriteRequest(Message& request) {
    namespace bhttp = boost::beast::http;
    stream_.expires_after(std::chrono::seconds(10));
    return !Run([&](auto done) { bhttp::async_write(stream_, request, done); });
  }

  bool Connect() {
    stream_.close();
    buffer_.clear();
    stream_.expires_after(std::chrono::seconds(10));
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  port_);
    connected_ = !Run([&](auto done) { stream_.async_connect(endpoint, done); });
    return connected_;
  }

  ClientResponse Read() {
    namespace bhttp = boost::beast::http;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    stream_.expires_after(std::chrono::seconds(30));
    if (Run([&](auto done) { bhttp::async_read(stream_, buffer_, parser, done); })) {
      connected_ = false;
      return {};
    }
    auto& message = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      out.headers[std::string(field.name_string())] = std::string(field.value());
    }
    out.body = std::move(message.body());
    out.keep_alive = message.keep_alive();
    if (!out.keep_alive) connected_ = false;
    return out;
  }

  std::uint16_t port_;
  boost::asio::io_context context_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace mlcanary::http::testing

#endif  // MLCANARY_HTTP_TESTING_TEST_CLIENT_H_
