// TestClient: a blocking HTTP/1.1 client over a real socket, for tests of
// HttpServer and of the handlers served through it. Header-only.
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
    boost::beast::error_code ec;
    if (!connected_ && !Connect()) return {};
    bhttp::write(stream_, request, ec);
    if (ec) {  // the server closed the kept-alive connection: one fresh try
      if (!Connect()) return {};
      bhttp::write(stream_, request, ec);
      if (ec) return {};
    }
    return Read();
  }

  // Writes `raw` bytes on a fresh connection and reads one answer.
  ClientResponse SendRaw(std::string_view raw) {
    if (!Connect()) return {};
    boost::beast::error_code ec;
    boost::asio::write(stream_.socket(), boost::asio::buffer(raw.data(), raw.size()), ec);
    return Read();
  }

  // Writes `raw` bytes on the current connection (no answer read).
  void WriteRaw(std::string_view raw) {
    boost::beast::error_code ec;
    boost::asio::write(stream_.socket(), boost::asio::buffer(raw.data(), raw.size()), ec);
  }

  // Reads the next answer on the current connection.
  ClientResponse ReadResponse() { return Read(); }

  // True when the server closed the connection (reads EOF).
  bool ServerClosed() {
    boost::beast::error_code ec;
    char byte;
    stream_.expires_after(std::chrono::seconds(5));
    stream_.socket().read_some(boost::asio::buffer(&byte, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  bool Connect() {
    boost::beast::error_code ec;
    stream_.close();
    buffer_.clear();
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    connected_ = !ec;
    return connected_;
  }

  ClientResponse Read() {
    namespace bhttp = boost::beast::http;
    boost::beast::error_code ec;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    stream_.expires_after(std::chrono::seconds(30));
    bhttp::read(stream_, buffer_, parser, ec);
    if (ec) {
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
