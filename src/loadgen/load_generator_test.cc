// LoadGenerator against a tiny blocking HTTP server on 127.0.0.1, port 0,
// that answers like the gateway: the variant in X-Mlcanary-Variant.
#include "loadgen/load_generator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <regex>
#include <thread>

namespace mlcanary::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct Answer {
  int status = 200;
  std::string variant;
};

// Accepts connections on a thread of its own and serves each connection on
// another, one request at a time, with `handler` choosing the answer.
class TinyServer {
 public:
  explicit TinyServer(
      std::function<Answer(const std::string& target, const std::string& body)> handler,
      bool hang = false)
      : handler_(std::move(handler)), hang_(hang), acceptor_(ioc_) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TinyServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    // Wake the blocked accept with a connection of our own.
    asio::io_context ioc;
    tcp::socket wake(ioc);
    beast::error_code ec;
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    accept_thread_.join();
    for (std::thread& t : connection_threads_) t.join();
  }

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void AcceptLoop() {
    for (;;) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (ec) continue;
      ++connections_;
      connection_threads_.emplace_back(
          [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      ++requests_;
      if (hang_) {
        // Never answers; lets go when the server is destroyed.
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
        return;
      }
      const Answer answer = handler_(std::string(request.target()), request.body());
      http::response<http::string_body> response{static_cast<http::status>(answer.status), 11};
      if (!answer.variant.empty()) response.set("X-Mlcanary-Variant", answer.variant);
      response.set(http::field::content_type, "application/json");
      response.body() = "{}";
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  std::function<Answer(const std::string&, const std::string&)> handler_;
  const bool hang_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::list<std::thread> connection_threads_;  // only the accept thread adds
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
};

// The gateway's form of a request: a user id and eight features.
const std::regex kBody(R"(\{"user_id": "u[0-9]+", "features": \[[0-9.]+(, [0-9.]+){7}\]\})");

Answer GatewayLike(const std::string& target, const std::string& body) {
  if (target != "/v1/endpoints/recs/invocations" || !std::regex_match(body, kBody)) {
    return {.status = 404, .variant = "bad-request"};
  }
  // Odd users go to a broken canary, even ones to production.
  const auto user = body.find(": \"u") + 4;
  const auto last_digit = body.find('"', user) - 1;
  if ((body[last_digit] - '0') % 2 == 1) return {.status = 400, .variant = "canary"};
  return {.status = 200, .variant = "production"};
}

void WaitForAnswers(const LoadGenerator& load, std::uint64_t n) {
  for (int i = 0; i < 1000 && load.snapshot().answers < n; ++i) {
    std::this_thread::sleep_for(10ms);
  }
}

TEST(LoadGeneratorTest, CountsAnswersPerVariantAndStatus) {
  TinyServer server(GatewayLike);
  LoadGenerator load({.port = server.port(), .threads = 3, .rate_per_second = 0});
  ASSERT_TRUE(load.Start());
  WaitForAnswers(load, 300);
  load.Stop();

  const LoadSnapshot s = load.snapshot();
  EXPECT_GE(s.answers, 300u);
  EXPECT_EQ(s.transport_errors, 0u);
  EXPECT_EQ(s.variants.count("bad-request"), 0u) << "requests not in the gateway's form";
  ASSERT_EQ(s.variants.count("production"), 1u);
  ASSERT_EQ(s.variants.count("canary"), 1u);
  const VariantCounts& production = s.variants.at("production");
  const VariantCounts& canary = s.variants.at("canary");
  EXPECT_EQ(production.ok(), production.total());
  EXPECT_GT(production.ok(), 0u);
  EXPECT_EQ(canary.errors_4xx(), canary.total());
  EXPECT_EQ(canary.by_status.at(400), canary.total());
  EXPECT_EQ(canary.errors_5xx(), 0u);
  EXPECT_EQ(production.total() + canary.total(), s.answers);
  // Every counted answer was a request the server saw (a request aborted by
  // Stop may have reached it without being counted).
  EXPECT_LE(s.answers, static_cast<std::uint64_t>(server.requests()));
}

TEST(LoadGeneratorTest, KeepsOneConnectionAlivePerThread) {
  TinyServer server(GatewayLike);
  LoadGenerator load({.port = server.port(), .threads = 2, .rate_per_second = 0});
  ASSERT_TRUE(load.Start());
  WaitForAnswers(load, 200);
  load.Stop();
  EXPECT_GE(load.snapshot().answers, 200u);
  EXPECT_EQ(server.connections(), 2);
}

TEST(LoadGeneratorTest, NeverSendsFasterThanTheTargetRate) {
  TinyServer server(GatewayLike);
  LoadGenerator load({.port = server.port(), .threads = 4, .rate_per_second = 40});
  ASSERT_TRUE(load.Start());
  std::this_thread::sleep_for(500ms);
  load.Stop();
  // 40/s for 0.5 s is 20; a loaded machine can only make it fewer.
  EXPECT_LE(server.requests(), 20 + 4);
  EXPECT_GT(load.snapshot().answers, 0u);
}

TEST(LoadGeneratorTest, CountsRefusedConnectionsAsTransportErrors) {
  std::uint16_t port = 0;
  {
    TinyServer gone(GatewayLike);
    port = gone.port();
  }
  LoadGenerator load({.port = port, .threads = 2, .rate_per_second = 0, .reconnect_delay = 10ms});
  ASSERT_TRUE(load.Start());
  for (int i = 0; i < 500 && load.snapshot().transport_errors < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  load.Stop();
  EXPECT_GE(load.snapshot().transport_errors, 2u);
  EXPECT_EQ(load.snapshot().answers, 0u);
}

TEST(LoadGeneratorTest, StopAbortsRequestsTheServerNeverAnswers) {
  TinyServer server(GatewayLike, /*hang=*/true);
  LoadGenerator load(
      {.port = server.port(), .threads = 2, .rate_per_second = 0, .stop_grace = 50ms});
  ASSERT_TRUE(load.Start());
  for (int i = 0; i < 500 && server.requests() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server.requests(), 2);
  load.Stop();  // returns: the blocked reads were woken
  EXPECT_EQ(load.snapshot().answers, 0u);
  EXPECT_EQ(load.snapshot().transport_errors, 0u) << "aborted by Stop, not by the network";
}

TEST(LoadGeneratorTest, RefusesUnusableOptionsAndASecondStart) {
  EXPECT_FALSE(LoadGenerator({.port = 1, .threads = 0}).Start());
  EXPECT_FALSE(LoadGenerator({.port = 0}).Start());
  TinyServer server(GatewayLike);
  LoadGenerator load({.port = server.port(), .threads = 1, .rate_per_second = 10});
  ASSERT_TRUE(load.Start());
  EXPECT_FALSE(load.Start());
  load.Stop();
  load.Stop();  // idempotent
}

}  // namespace
}  // namespace mlcanary::loadgen
