#include "http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/testing/test_client.h"

namespace mlcanary::http {
namespace {

using testing::ClientResponse;
using testing::TestClient;

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(Handler handler, ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.log = [this](LogLevel, std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_.emplace_back(line);
    };
    server_ = std::make_unique<HttpServer>(std::move(options), std::move(handler));
    ASSERT_TRUE(server_->Start());
    ASSERT_NE(server_->port(), 0);
  }

  std::vector<std::string> Log() {
    std::lock_guard lock(log_mu_);
    return log_;
  }

  std::mutex log_mu_;
  std::vector<std::string> log_;
  std::unique_ptr<HttpServer> server_;
};

Response Echo(const Request& r) {
  Response out;
  out.content_type = "text/plain";
  out.body = r.method + " " + r.path + " q=" + (r.Query("q") ? std::string(*r.Query("q")) : "-") +
             " h=" + std::string(r.Header("x-test")) + " body=" + r.body;
  out.headers.emplace_back("X-Echo", "1");
  return out;
}

TEST_F(HttpServerTest, HandsTheRequestToTheHandlerAndWritesItsAnswer) {
  StartServer(Echo);
  TestClient client(server_->port());
  auto r = client.Send("POST", "/a%2Fb/c?q=x%20y", "hello", {{"X-TEST", "v"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /a/b/c q=x y h=v body=hello");
  EXPECT_EQ(r.Header("content-type"), "text/plain");
  EXPECT_EQ(r.Header("x-echo"), "1");
}

TEST_F(HttpServerTest, KeepsTheConnectionAlive) {
  std::atomic<int> calls{0};
  StartServer([&](const Request& r) {
    ++calls;
    return Echo(r);
  });
  TestClient client(server_->port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.Send("GET", "/x");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(calls.load(), 5);
}

TEST_F(HttpServerTest, AnswersTooLargeBodiesWith413) {
  ServerOptions options;
  options.max_body_bytes = 16;
  bool called = false;
  StartServer(
      [&](const Request& r) {
        called = true;
        return Echo(r);
      },
      options);
  TestClient client(server_->port());
  auto r = client.Send("POST", "/x", std::string(17, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("PayloadTooLarge"), std::string::npos);
  EXPECT_FALSE(called);
  EXPECT_EQ(client.Send("POST", "/x", std::string(16, 'a')).status, 200);
}

TEST_F(HttpServerTest, AnswersTooLargeChunkedBodiesWith413) {
  ServerOptions options;
  options.max_body_bytes = 16;
  StartServer(Echo, options);
  TestClient client(server_->port());
  auto r = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 413);
}

TEST_F(HttpServerTest, AnswersMalformedRequestsWith400) {
  StartServer(Echo);
  TestClient client(server_->port());
  EXPECT_EQ(client.SendRaw("GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(client.SendRaw("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
}

// RFC 9112 section 6.1, as the gateway: a transfer coding the server does not
// know is 501 (Beast alone would read "gzip" as no body at all).
TEST_F(HttpServerTest, AnswersUnknownTransferCodingsWith501) {
  std::atomic<int> calls{0};
  StartServer([&](const Request& r) {
    ++calls;
    return Echo(r);
  });
  for (const char* codings : {"gzip", "gzip, chunked", "chunked, gzip", "x-custom"}) {
    TestClient client(server_->port());
    auto r = client.SendRaw(std::string("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") +
                            codings + "\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 501) << codings;
    EXPECT_NE(r.body.find("NotImplemented"), std::string::npos) << r.body;
    EXPECT_FALSE(r.keep_alive) << codings;
  }
  TestClient client(server_->port());
  auto twice = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(calls.load(), 0);
  auto chunked = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 200);
  EXPECT_EQ(chunked.body, "POST /x q=- h= body=hi");
}

TEST_F(HttpServerTest, AtTheConnectionCapNewConnectionsWaitUntilOneCloses) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(Echo, options);
  auto first = std::make_unique<TestClient>(server_->port());
  TestClient second(server_->port());
  ASSERT_EQ(first->Send("GET", "/1").status, 200);
  ASSERT_EQ(second.Send("GET", "/2").status, 200);
  // The third connects (the kernel's backlog holds it) but is not accepted.
  std::atomic<int> status{0};
  std::thread waiting([&] {
    TestClient third(server_->port());
    status = third.Send("GET", "/3").status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status.load(), 0);
  first.reset();  // closes: the server accepts the third
  waiting.join();
  EXPECT_EQ(status.load(), 200);
  bool logged = false;
  for (const auto& line : Log()) {
    logged |= line.find("2 connections open, the cap (max_connections)") != std::string::npos;
  }
  EXPECT_TRUE(logged);
}

TEST_F(HttpServerTest, AnswersTooLargeHeadersWith431) {
  ServerOptions options;
  options.max_header_bytes = 512;
  StartServer(Echo, options);
  TestClient client(server_->port());
  auto r = client.Send("GET", "/x", {}, {{"X-Big", std::string(1024, 'b')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(HttpServerTest, Answers100ContinueBeforeReadingTheBody) {
  StartServer(Echo);
  TestClient client(server_->port());
  auto interim = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(interim.status, 100);
  client.WriteRaw("hi");
  auto r = client.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /x q=- h= body=hi");
}

TEST_F(HttpServerTest, AHandlerThatThrowsIsAnswered500LoggedAndCounted) {
  StartServer([](const Request& r) -> Response {
    if (r.path == "/boom") throw std::runtime_error("kaboom");
    return Echo(r);
  });
  TestClient client(server_->port());
  auto r = client.Send("GET", "/boom", {}, {{"Authorization", "Bearer secret-token"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"error":{"code":"InternalError","message":"internal error"}})");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(server_->internal_errors(), 1u);
  bool logged = false;
  for (const auto& line : Log()) {
    logged = logged || line.find("kaboom") != std::string::npos;
    EXPECT_EQ(line.find("secret-token"), std::string::npos);
  }
  EXPECT_TRUE(logged);
  // The connection still serves.
  EXPECT_EQ(client.Send("GET", "/ok").status, 200);
}

TEST_F(HttpServerTest, AnAnswerBeastCannotWriteIsAnswered500AndCounted) {
  StartServer([](const Request&) {
    Response r;
    r.status = 1000;
    return r;
  });
  TestClient client(server_->port());
  auto r = client.Send("GET", "/bad-status");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(server_->internal_errors(), 1u);
}

TEST_F(HttpServerTest, ServesConcurrentSlowRequestsOnSeveralThreads) {
  ServerOptions options;
  options.threads = 4;
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  StartServer(
      [&](const Request& r) {
        int now = ++in_flight;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        --in_flight;
        return Echo(r);
      },
      options);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      TestClient client(server_->port());
      if (client.Send("GET", "/slow").status == 200) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_GE(most.load(), 2);
}

TEST_F(HttpServerTest, ShutdownClosesIdleConnectionsAndStopsAccepting) {
  StartServer(Echo);
  const auto port = server_->port();
  TestClient client(port);
  ASSERT_EQ(client.Send("GET", "/x").status, 200);
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(client.ServerClosed());
  // The listening socket is closed: a new connection is refused, not queued
  // in a backlog that nothing reads.
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_EQ(ec, boost::asio::error::connection_refused) << ec.message();
  TestClient late(port);
  EXPECT_EQ(late.Send("GET", "/x").status, 0);
  server_->Shutdown();  // idempotent
}

// With no connection open nothing delays the stop of the I/O threads: the
// listening socket must be closed all the same, not left to queue clients.
TEST_F(HttpServerTest, ShutdownWithNoConnectionClosesTheListeningSocket) {
  for (int i = 0; i < 20; ++i) {
    StartServer(Echo);
    const auto port = server_->port();
    server_->Shutdown();
    boost::asio::io_context context;
    boost::asio::ip::tcp::socket socket(context);
    boost::system::error_code ec;
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    ASSERT_EQ(ec, boost::asio::error::connection_refused) << "round " << i << ": " << ec.message();
  }
}

TEST_F(HttpServerTest, ShutdownLetsARequestInFlightFinish) {
  std::atomic<bool> entered{false};
  StartServer([&](const Request& r) {
    entered = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Echo(r);
  });
  TestClient client(server_->port());
  ClientResponse answer;
  std::thread request([&] { answer = client.Send("GET", "/slow"); });
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Shutdown();
  request.join();
  EXPECT_EQ(answer.status, 200);
  EXPECT_FALSE(answer.keep_alive);
}

TEST(HttpServerStartTest, RefusesBadListenAddresses) {
  for (const char* listen : {"nocolon", "127.0.0.1:notaport", "127.0.0.1:70000", "bad host:1"}) {
    HttpServer server({.listen = listen}, Echo);
    auto s = server.Start();
    ASSERT_FALSE(s) << listen;
    EXPECT_EQ(s.error().code(), core::ErrorCode::kValidation) << listen;
  }
}

TEST(HttpServerStartTest, ReportsAnAddressInUseAsUnavailable) {
  HttpServer first({.listen = "127.0.0.1:0", .log = [](LogLevel, std::string_view) {}}, Echo);
  ASSERT_TRUE(first.Start());
  HttpServer second({.listen = "127.0.0.1:" + std::to_string(first.port()),
                     .log = [](LogLevel, std::string_view) {}},
                    Echo);
  // SO_REUSEADDR does not allow two listeners on one port.
  auto s = second.Start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace mlcanary::http
