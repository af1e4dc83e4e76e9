#include "models/http_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/event_loop.h"
#include "models/testing/fake_model_server.h"

namespace mlcanary::models {
namespace {

using testing::FakeModelServer;

// An event loop on a thread of its own that declares it (as a gateway I/O
// thread does), so that backends called there use it.
class CallerLoop {
 public:
  CallerLoop() {
    thread_ = std::thread([this] {
      SetThreadEventLoop(&ioc_);
      ioc_.run();
      SetThreadEventLoop(nullptr);
    });
  }
  ~CallerLoop() {
    work_.reset();
    thread_.join();
  }
  boost::asio::io_context& ioc() { return ioc_; }
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
};

// Calls PredictAsync from `loop`'s thread when given, else from this thread, and
// waits for the answer. `answered_on`: the thread the answer came on.
core::Result<Predictions> PredictNow(ModelBackend& backend, const std::vector<float>& values,
                                     std::size_t rows, std::size_t cols, CallerLoop* loop = nullptr,
                                     std::thread::id* answered_on = nullptr) {
  std::promise<core::Result<Predictions>> promise;
  auto future = promise.get_future();
  auto call = [&] {
    backend.PredictAsync({values, rows, cols}, [&](core::Result<Predictions> r) {
      if (answered_on != nullptr) *answered_on = std::this_thread::get_id();
      promise.set_value(std::move(r));
    });
  };
  if (loop != nullptr) {
    boost::asio::post(loop->ioc(), call);
  } else {
    call();
  }
  return future.get();
}

// Each behaviour holds whether the call comes from a thread without an event
// loop (the backend's own loop serves it) or from a caller's loop.
class HttpBackendModeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) loop_.emplace();
  }
  core::Result<Predictions> Predict(ModelBackend& backend, const std::vector<float>& values,
                                    std::size_t rows, std::size_t cols) {
    return PredictNow(backend, values, rows, cols, loop_ ? &*loop_ : nullptr);
  }
  std::optional<CallerLoop> loop_;
};

INSTANTIATE_TEST_SUITE_P(Loops, HttpBackendModeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "CallerLoop" : "OwnLoop";
                         });

// A port nothing listens on: bound, then closed.
std::uint16_t DeadPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// An upstream that answers every request with scripted bytes, written in pieces
// of `piece` bytes (1: byte by byte), and counts connections. A '\x01' in the
// answer is not sent: it is a pause of 50 ms. Requests are read up to the end of
// their body (Content-Length), and kept (requests()); set_answer_early(true):
// the answer goes out once the head is in, and the body is read 300 ms later.
class ScriptedUpstream {
 public:
  explicit ScriptedUpstream(
      std::string ping_answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      : ping_answer_(std::move(ping_answer)) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] {
      for (;;) {
        boost::asio::ip::tcp::socket socket(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stopping_) return;
        ++connections_;
        workers_.emplace_back([this, s = std::move(socket)]() mutable { Serve(s); });
      }
    });
  }
  ~ScriptedUpstream() {
    stopping_ = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    for (auto& w : workers_) w.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  void set_answer(std::string answer, std::size_t piece = 1 << 20) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
    piece_ = piece;
  }
  void set_answer_early(bool early) { answer_early_ = early; }
  int connections() const { return connections_; }
  // The requests received whole (head and body), in order.
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve(boost::asio::ip::tcp::socket& socket) {
    std::string in;
    char chunk[4096];
    boost::system::error_code ec;
    for (;;) {
      std::size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        const std::size_t n = socket.read_some(boost::asio::buffer(chunk), ec);
        if (ec) return;
        in.append(chunk, n);
      }
      std::size_t length = 0;
      if (auto at = in.find("Content-Length: "); at != std::string::npos && at < head_end) {
        length = std::stoul(in.substr(at + 16));
      }
      const bool ping = in.starts_with("GET ");
      std::string answer;
      std::size_t piece;
      {
        std::lock_guard lock(mu_);
        answer = ping ? ping_answer_ : answer_;
        piece = piece_;
      }
      const bool early = answer_early_;
      if (early) {
        boost::asio::write(socket, boost::asio::buffer(answer), ec);
        if (ec) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      while (in.size() < head_end + 4 + length) {
        const std::size_t n = socket.read_some(boost::asio::buffer(chunk), ec);
        if (ec) return;
        in.append(chunk, n);
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(in.substr(0, head_end + 4 + length));
      }
      in.erase(0, head_end + 4 + length);
      if (early) continue;
      std::string_view rest = answer;
      while (!rest.empty()) {
        const std::string_view part = rest.substr(0, rest.find('\x01'));
        for (std::size_t i = 0; i < part.size(); i += piece) {
          boost::asio::write(
              socket, boost::asio::buffer(part.data() + i, std::min(piece, part.size() - i)), ec);
          if (ec) return;
          if (piece < part.size()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        rest.remove_prefix(std::min(rest.size(), part.size() + 1));
        if (!rest.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (answer.find("Connection: close") != std::string::npos) return;
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  const std::string ping_answer_;
  std::thread thread_;
  std::vector<std::thread> workers_;  // joined after thread_, which alone adds to it
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<bool> answer_early_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;  // GUARDED_BY(mu_)
  std::string answer_;                 // GUARDED_BY(mu_)
  std::size_t piece_ = 1;              // GUARDED_BY(mu_)
};

TEST_P(HttpBackendModeTest, SendsCsvRowsAndReadsCsvPredictions) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend) << backend.error().ToString();
  EXPECT_TRUE((*backend)->ready());
  EXPECT_EQ((*backend)->num_features(), std::nullopt);
  auto out = Predict(**backend, {0.1f, 2.0f, 3.5f, -1.0f}, 2, 2);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(server.last_body(), "0.1,2\n3.5,-1\n");
}

TEST(HttpBackendTest, ReusesKeepAliveConnections) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(PredictNow(**backend, {1.0f}, 1, 1));
  EXPECT_EQ(server.invocations(), 20);
  EXPECT_EQ(server.connections(), 1);  // the ping's connection, reused throughout
}

TEST_P(HttpBackendModeTest, RetriesOnceWhenThePooledConnectionWasClosed) {
  FakeModelServer server;
  server.set_close_after_answer(true);
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  for (int i = 0; i < 5; ++i) {
    auto out = Predict(**backend, {1.0f}, 1, 1);
    ASSERT_TRUE(out) << out.error().ToString();
  }
}

TEST_P(HttpBackendModeTest, DeadUpstreamIsUnavailable) {
  auto created = HttpBackend::Create({.url = "http://127.0.0.1:" + std::to_string(DeadPort())});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), core::ErrorCode::kUnavailable);

  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  server.Stop();
  auto out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kUnavailable) << out.error().ToString();
  EXPECT_FALSE((*backend)->ready());
}

TEST_P(HttpBackendModeTest, SlowUpstreamTimesOut) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url(), .timeout = core::Duration(50)});
  ASSERT_TRUE(backend);
  server.set_delay(std::chrono::milliseconds(400));
  const auto start = std::chrono::steady_clock::now();
  auto out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kTimeout) << out.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(350));
  // The next request works once the upstream is fast again.
  server.set_delay(std::chrono::milliseconds(0));
  EXPECT_TRUE(Predict(**backend, {1.0f}, 1, 1));
}

TEST_P(HttpBackendModeTest, Upstream5xxIsAModelError) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  server.set_status(500);
  auto out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kModelError);
  server.set_status(400);
  out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kValidation);
}

TEST_P(HttpBackendModeTest, ReadsAnswersInPiecesAndChunked) {
  ScriptedUpstream upstream;
  auto backend = HttpBackend::Create({.url = upstream.url(), .timeout = core::Duration(5000)});
  ASSERT_TRUE(backend) << backend.error().ToString();
  upstream.set_answer(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n"
      "{\"predictions\":[0.25, 0.75]}",
      1);
  auto out = Predict(**backend, {1.0f, 2.0f}, 2, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, (std::vector<float>{0.25f, 0.75f}));
  upstream.set_answer(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\n[0.5,1\r\n2\r\n]\n\r\n0\r\n\r\n",
      3);
  out = Predict(**backend, {1.0f, 2.0f}, 2, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, (std::vector<float>{0.5f, 1.0f}));
  // Both answers (and the ping's) came on one keep-alive connection per loop.
  EXPECT_EQ(upstream.connections(), GetParam() ? 2 : 1);
}

TEST_P(HttpBackendModeTest, MalformedOrOversizeAnswersAreModelErrors) {
  ScriptedUpstream upstream;
  auto backend = HttpBackend::Create({.url = upstream.url(), .timeout = core::Duration(5000)});
  ASSERT_TRUE(backend) << backend.error().ToString();
  struct Case {
    std::string answer;
    std::string says;
  };
  for (const auto& c : {
           Case{"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "bad status code"},
           Case{"SPDY/3 200 OK\r\n\r\n", "bad status line"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n", "body is too large"},
           // Cut off: the upstream closes after it.
           Case{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{\"pr",
                "closed the connection in the response body"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "neither JSON nor CSV"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"predictions\":1",
                "not valid JSON"},
       }) {
    upstream.set_answer(c.answer);
    auto out = Predict(**backend, {1.0f}, 1, 1);
    ASSERT_FALSE(out) << c.answer;
    EXPECT_EQ(out.error().code(), core::ErrorCode::kModelError) << c.answer;
    EXPECT_NE(out.error().message().find(c.says), std::string::npos) << out.error().ToString();
  }
  // And the backend still serves a good answer afterwards.
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0.5\n");
  auto out = Predict(**backend, {1.0f}, 1, 1);
  EXPECT_TRUE(out) << out.error().ToString();
}

TEST_P(HttpBackendModeTest, ExtraBytesOrConnectionCloseRetireTheConnection) {
  ScriptedUpstream upstream;
  auto backend = HttpBackend::Create({.url = upstream.url(), .timeout = core::Duration(5000)});
  ASSERT_TRUE(backend) << backend.error().ToString();
  const int base = GetParam() ? 1 : 0;  // a caller's loop opens its own first
  // Two answers to one request: the second must not be taken for the next
  // request's answer.
  upstream.set_answer(
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0.5\nHTTP/1.1 200 OK\r\nContent-Length: "
      "4\r\n\r\n9.9\n");
  auto out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.5f});
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0.25\n");
  out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.25f});
  EXPECT_EQ(upstream.connections(), 2 + base);
  // The same, with the extra answer late: it arrives while the connection sits
  // idle in the pool, which then retires it.
  upstream.set_answer(
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0.5\n\x01"
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n9.9\n");
  out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.5f});
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0.25\n");
  out = Predict(**backend, {1.0f}, 1, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.25f});
  EXPECT_EQ(upstream.connections(), 3 + base);
  // Connection: close, then a fresh connection; keep-alive again after it.
  upstream.set_answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n0.25\n");
  ASSERT_TRUE(Predict(**backend, {1.0f}, 1, 1));
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0.25\n");
  ASSERT_TRUE(Predict(**backend, {1.0f}, 1, 1));
  ASSERT_TRUE(Predict(**backend, {1.0f}, 1, 1));
  EXPECT_EQ(upstream.connections(), 4 + base);
}

// The upstream answers a large request before reading its body (a 400 with
// keep-alive): the connection, whose write is still pending, must not carry
// the next call (its request would follow or interleave with the old body).
TEST_P(HttpBackendModeTest, AnswerBeforeTheRequestIsWrittenRetiresTheConnection) {
  ScriptedUpstream upstream;
  auto backend = HttpBackend::Create({.url = upstream.url(), .timeout = core::Duration(5000)});
  ASSERT_TRUE(backend) << backend.error().ToString();
  const int base = GetParam() ? 1 : 0;  // a caller's loop opens its own first
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0.5\n");
  ASSERT_TRUE(Predict(**backend, {1.0f}, 1, 1));  // the connection is pooled
  EXPECT_EQ(upstream.connections(), 1 + base);
  // Far more than the socket buffers hold: the write is pending when the
  // answer comes.
  const std::vector<float> big(8 << 20, 1.0f);
  upstream.set_answer("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}");
  upstream.set_answer_early(true);
  auto out = Predict(**backend, big, big.size(), 1);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kValidation) << out.error().ToString();
  upstream.set_answer_early(false);
  upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0.25\n");
  out = Predict(**backend, {2.0f}, 1, 1);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.25f});
  EXPECT_EQ(upstream.connections(), 2 + base);  // on a fresh connection
  // The upstream saw the second call's request whole, and nothing else after
  // the first connection's requests.
  const auto requests = upstream.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_TRUE(requests.back().starts_with("POST /invocations HTTP/1.1\r\n")) << requests.back();
  EXPECT_TRUE(requests.back().ends_with("\r\nContent-Length: 2\r\n\r\n2\n")) << requests.back();
  for (const auto& request : requests) {
    EXPECT_TRUE(request.starts_with("POST /invocations ") || request.starts_with("GET /ping "))
        << request.substr(0, 80);
  }
}

// The idle connection's read completed (bytes nobody asked for), its handler
// still queued, when the caller makes its next call (from the answer's
// callback, which runs before that handler): those bytes are no answer to it.
TEST(HttpBackendTest, BytesReadWhileIdleAreNotTheNextCallsAnswer) {
  ScriptedUpstream upstream;
  CallerLoop loop;
  auto created = HttpBackend::Create({.url = upstream.url(), .timeout = core::Duration(5000)});
  ASSERT_TRUE(created) << created.error().ToString();
  HttpBackend& backend = **created;
  // An answer of exactly the first read's size, and a stray answer behind it in
  // the same write: the idle read gets the stray one at once.
  const std::string prefix = "HTTP/1.1 200 OK\r\nContent-Length: ";
  const std::size_t length = 4096 - prefix.size() - 4 - 4;  // 4 digits
  ASSERT_EQ(std::to_string(length).size(), 4u);
  upstream.set_answer(prefix + std::to_string(length) + "\r\n\r\n0.5\n" +
                      std::string(length - 4, '\n') +
                      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n9.9\n");
  const std::vector<float> values = {1.0f};
  std::promise<core::Result<Predictions>> first;
  std::promise<core::Result<Predictions>> second;
  boost::asio::post(loop.ioc(), [&] {
    backend.PredictAsync({values, 1, 1}, [&](core::Result<Predictions> r) {
      first.set_value(std::move(r));
      upstream.set_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0.25\n");
      backend.PredictAsync({values, 1, 1},
                           [&](core::Result<Predictions> r2) { second.set_value(std::move(r2)); });
    });
  });
  auto out = first.get_future().get();
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.5f});
  out = second.get_future().get();
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->values, std::vector<float>{0.25f});
}

TEST(HttpBackendTest, FailedPingRefusesTheBackend) {
  FakeModelServer server;
  server.set_ping_status(503);
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_FALSE(backend);
  EXPECT_EQ(backend.error().code(), core::ErrorCode::kUnavailable);
}

TEST(HttpBackendTest, CallerLoopKeepsItsOwnPoolAndAnswersOnItsThread) {
  FakeModelServer server;
  CallerLoop loop;  // outlives the backend, as a gateway's loops do
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  for (int i = 0; i < 10; ++i) {
    std::thread::id answered_on;
    ASSERT_TRUE(PredictNow(**backend, {1.0f}, 1, 1, &loop, &answered_on));
    EXPECT_EQ(answered_on, loop.thread_id());
  }
  EXPECT_EQ(server.invocations(), 10);
  // The ping's connection stays in the own loop's pool; the loop opened one.
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpBackendTest, CallInFlightOnACallerLoopFinishesAfterTheBackendIsGone) {
  FakeModelServer server;
  CallerLoop loop;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  server.set_delay(std::chrono::milliseconds(100));
  std::promise<core::Result<Predictions>> promise;
  const std::vector<float> values = {1.0f};
  boost::asio::post(loop.ioc(), [&] {
    (*backend)->PredictAsync({values, 1, 1},
                             [&](core::Result<Predictions> r) { promise.set_value(std::move(r)); });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  backend->reset();
  auto out = promise.get_future().get();
  EXPECT_TRUE(out) << out.error().ToString();
}

TEST(HttpBackendTest, ManyConcurrentRequestsAllComplete) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url(), .io_threads = 2});
  ASSERT_TRUE(backend);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ok += PredictNow(**backend, {1.0f, 2.0f}, 1, 2) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST(HttpBackendTest, ManyCallerLoopsAllComplete) {
  FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url()});
  ASSERT_TRUE(backend);
  std::vector<std::unique_ptr<CallerLoop>> loops;
  for (int i = 0; i < 3; ++i) loops.push_back(std::make_unique<CallerLoop>());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ok += PredictNow(**backend, {1.0f, 2.0f}, 1, 2, loops[t % 3].get()) ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 300);
  backend->reset();  // idle connections of each loop close on that loop
}

TEST(ParseUpstreamPredictionsTest, ReadsTheCommonAnswerShapes) {
  EXPECT_EQ(ParseUpstreamPredictions(R"({"predictions": [0.25, 1]})", 2)->values,
            (std::vector<float>{0.25f, 1.0f}));
  EXPECT_EQ(ParseUpstreamPredictions("[0.5]", 1)->values, (std::vector<float>{0.5f}));
  EXPECT_EQ(ParseUpstreamPredictions(R"({"predictions": [{"score": 0.75}]})", 1)->values,
            (std::vector<float>{0.75f}));
  auto multi = ParseUpstreamPredictions(R"({"predictions": [[0.1, 0.9], [0.8, 0.2]]})", 2);
  ASSERT_TRUE(multi);
  EXPECT_EQ(multi->per_row, 2u);
  EXPECT_EQ(ParseUpstreamPredictions("0.1\n0.2\n", 2)->values, (std::vector<float>{0.1f, 0.2f}));
  EXPECT_EQ(ParseUpstreamPredictions("0.1,0.2", 2)->values, (std::vector<float>{0.1f, 0.2f}));
}

TEST(ParseUpstreamPredictionsTest, RefusesWrongCountsAndGarbage) {
  EXPECT_FALSE(ParseUpstreamPredictions("[0.5]", 2));
  EXPECT_FALSE(ParseUpstreamPredictions("hello", 1));
  EXPECT_FALSE(ParseUpstreamPredictions(R"({"nope": 1})", 1));
  EXPECT_FALSE(ParseUpstreamPredictions(R"({"predictions": ["a"]})", 1));
  EXPECT_EQ(ParseUpstreamPredictions("hello", 1).error().code(), core::ErrorCode::kModelError);
}

TEST(ParseHttpUrlTest, SplitsHostPortAndPrefix) {
  auto url = ParseHttpUrl("http://localhost:9001/models/a/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, "9001");
  EXPECT_EQ(url->prefix, "/models/a");
  EXPECT_EQ(ParseHttpUrl("http://h")->port, "80");
  EXPECT_FALSE(ParseHttpUrl("https://h"));
  EXPECT_FALSE(ParseHttpUrl("http://h:99999"));
}

}  // namespace
}  // namespace mlcanary::models
