// The gateway's HTTP/1.1 server: one io_context per I/O thread, an acceptor that
// deals connections out round-robin, so a connection lives on one thread and
// its handlers need no strand.
#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/http_errors.h"
#include "gateway/invocation_handler.h"
#include "models/event_loop.h"

namespace mlcanary::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::uint64_t ThreadLocalRandomBits() {
  struct Xoshiro256 {
    std::uint64_t s[4];
    Xoshiro256() {
      std::random_device device;
      for (auto& word : s) {
        word = (static_cast<std::uint64_t>(device()) << 32) ^ device();
        if (word == 0) word = 0x9e3779b97f4a7c15ULL;
      }
    }
    static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t Next() {
      const std::uint64_t result = Rotl(s[1] * 5, 7) * 9;
      const std::uint64_t t = s[1] << 17;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = Rotl(s[3], 45);
      return result;
    }
  };
  thread_local Xoshiro256 generator;
  return generator.Next();
}

class Session;

struct Gateway::Impl {
  Impl(const GatewayOptions& gateway_options, Router& router)
      : options(gateway_options),
        handler(router, gateway_options.random_bits ? gateway_options.random_bits
                                                    : ThreadLocalRandomBits) {}

  const GatewayOptions& options;
  InvocationHandler handler;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;
  std::size_t next_context = 0;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::atomic<std::uint64_t> internal_errors{0};
  std::atomic<int> live_sessions{0};

  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // GUARDED_BY(sessions_mu)

  void Accept();
};

namespace {

// The one catch site of the request path: anything thrown while handling or
// answering a request is logged, counted and answered 500.
template <typename Fn>
void RunGuarded(Gateway::Impl& impl, Fn&& fn,
                const std::function<void(InferenceResponse)>& answer) {
  try {
    fn();
  } catch (const std::exception& e) {
    impl.internal_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("gateway: unexpected error while handling a request: {}", e.what());
    answer(ErrorResponse(core::Error(core::ErrorCode::kInternal, "internal error")));
  } catch (...) {
    impl.internal_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("gateway: unexpected non-standard exception while handling a request");
    answer(ErrorResponse(core::Error(core::ErrorCode::kInternal, "internal error")));
  }
}

constexpr std::size_t kHeaderLimit = 16 * 1024;

}  // namespace

// One client connection. Lives on one io_context thread; requests on it are
// handled one after the other (pipelined requests wait in the buffer).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Gateway::Impl& impl) : stream_(std::move(socket)), impl_(impl) {
    impl_.live_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    {
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.erase(this);
    }
    impl_.live_sessions.fetch_sub(1, std::memory_order_release);
  }

  void Start() {
    {
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.emplace(this, weak_from_this());
    }
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    ReadHeader();
  }

  // Called on the session's thread when the gateway shuts down: an idle
  // connection closes now, a busy one after its answer.
  void OnShutdown() {
    if (!busy_) Close();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void ReadHeader() {
    busy_ = false;
    if (impl_.stopping.load(std::memory_order_relaxed)) return Close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(impl_.options.max_body_bytes);
    stream_.expires_after(impl_.options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    if (parser_->is_done()) return OnRequest();
    auto& request = parser_->get();
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      // curl and others wait for this before they send large bodies.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(impl_.options.body_timeout);
      return http::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
            if (wec) return self->Close();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(impl_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->OnRequest();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      busy_ = true;
      return Write(
          {.status = 413,
           .body = ErrorJson(
               kPayloadTooLargeCode,
               "request body exceeds " + std::to_string(impl_.options.max_body_bytes) + " bytes")});
    }
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      busy_ = true;
      return Write(
          {.status = 431, .body = ErrorJson("HeaderTooLarge", "request header is too large")});
    }
    // Timeouts, closed connections: nothing to answer to. Malformed HTTP:
    // answer 400 once, then close.
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      keep_alive_ = false;
      busy_ = true;
      return Write(ErrorResponse(
          core::Error(core::ErrorCode::kValidation, "malformed HTTP request: " + ec.message())));
    }
    Close();
  }

  void OnRequest() {
    stream_.expires_never();
    auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    InferenceRequest view{
        .method = request.method_string(),
        .target = request.target(),
        .body = request.body(),
        .target_variant = request["X-Amzn-SageMaker-Target-Variant"],
        .received = std::chrono::steady_clock::now(),
    };
    std::function<void(InferenceResponse)> answer_500 = [this](InferenceResponse r) {
      if (!answered_) Answer(std::move(r));
    };
    answered_ = false;
    RunGuarded(
        impl_,
        [&] {
          impl_.handler.Handle(view, [self = shared_from_this()](InferenceResponse r) mutable {
            // In-process models and http backends (on this thread's loop) answer
            // here, on this thread; a backend with threads of its own answers
            // from one of them, so hop back to the connection's.
            auto executor = self->executor();
            asio::dispatch(executor, [self = std::move(self), r = std::move(r)]() mutable {
              self->Answer(std::move(r));
            });
          });
        },
        answer_500);
  }

  void Answer(InferenceResponse r) {
    answered_ = true;
    RunGuarded(
        impl_, [&] { Write(std::move(r)); },
        [this](InferenceResponse e) {
          keep_alive_ = false;
          Write(std::move(e));
        });
  }

  // The answer as bytes, one gather write: Beast's serializer cost more user
  // time than the rest of writing the answer.
  void Write(InferenceResponse r) {
    const bool keep_alive = keep_alive_ && !impl_.stopping.load(std::memory_order_relaxed);
    head_.clear();
    head_.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
    head_.append(http::obsolete_reason(static_cast<http::status>(r.status)));
    head_.append("\r\nContent-Type: application/json\r\n");
    if (!r.variant.empty()) {
      head_.append("X-Mlcanary-Variant: ").append(r.variant).append("\r\n");
      if (r.sagemaker) {
        head_.append("x-Amzn-Invoked-Production-Variant: ").append(r.variant).append("\r\n");
      }
    }
    head_.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    if (!keep_alive) head_.append("Connection: close\r\n");
    head_.append("\r\n");
    body_ = std::move(r.body);
    stream_.expires_after(impl_.options.body_timeout);
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(stream_, buffers,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    busy_ = false;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Gateway::Impl& impl_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_;  // of the answer being written
  std::string body_;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool answered_ = false;
};

void Gateway::Impl::Accept() {
  asio::io_context& target = *contexts[next_context];
  next_context = (next_context + 1) % contexts.size();
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      spdlog::warn("gateway: accept failed: {}", ec.message());
    } else {
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    if (!stopping.load(std::memory_order_relaxed)) Accept();
  });
}

Gateway::Gateway(GatewayOptions options, metrics::MetricsRegistry& metrics,
                 models::ModelBackendFactory factory)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>(options_, router_)),  // keeps a reference only
      router_(options_.router, std::move(factory), &metrics) {}

Gateway::~Gateway() { Shutdown(); }

std::uint16_t Gateway::port() const { return impl_->port; }

std::uint64_t Gateway::internal_errors() const {
  return impl_->internal_errors.load(std::memory_order_relaxed);
}

core::Status Gateway::Start() {
  if (impl_->started) return core::FailedPreconditionError("gateway already started");
  const std::string& listen = options_.listen;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return core::ValidationError("listen address '" + listen + "' must be host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const std::string port_text = listen.substr(colon + 1);
  auto [end, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return core::ValidationError("listen address '" + listen + "' has a bad port");
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return core::ValidationError("listen address '" + listen + "': " + ec.message());

  int threads = options_.threads > 0 ? options_.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  for (int i = 0; i < threads; ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
  tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
  tcp::acceptor acceptor(*impl_->contexts[0]);
  auto fail = [&](std::string_view what) {
    return core::MakeError(
        core::ErrorCode::kUnavailable,
        "cannot listen on " + listen + ": " + std::string(what) + ": " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec)) return fail("open");
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (acceptor.bind(endpoint, ec)) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
  impl_->port = acceptor.local_endpoint().port();
  impl_->acceptor.emplace(std::move(acceptor));
  impl_->started = true;
  impl_->Accept();
  for (auto& context : impl_->contexts) {
    impl_->threads.emplace_back([ctx = context.get()] {
      // Network backends called on this thread then use this loop: one upstream
      // connection pool per I/O thread and no hop to a backend thread.
      models::SetThreadEventLoop(ctx);
      ctx->run();
      models::SetThreadEventLoop(nullptr);
    });
  }
  spdlog::info("gateway: listening on {}:{} with {} I/O threads", host, impl_->port, threads);
  return core::Ok();
}

void Gateway::Shutdown() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  impl.stopping.store(true);
  asio::post(*impl.contexts[0], [&impl] {
    beast::error_code ec;
    impl.acceptor->close(ec);
  });
  // Collect the live sessions under the lock, post outside it: the last
  // reference to a session may be dropped here, and its destructor takes
  // sessions_mu (and erases from the map being walked).
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(impl.sessions_mu);
    for (auto& [raw, weak] : impl.sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    asio::post(session->executor(), [session] { session->OnShutdown(); });
  }
  live.clear();
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  while (impl.live_sessions.load(std::memory_order_acquire) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (int left = impl.live_sessions.load(); left > 0) {
    spdlog::warn("gateway: {} connections still open after the shutdown timeout; dropping them",
                 left);
  }
  impl.guards.clear();
  for (auto& context : impl.contexts) context->stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  impl.acceptor.reset();
  spdlog::info("gateway: stopped");
}

}  // namespace mlcanary::gateway
