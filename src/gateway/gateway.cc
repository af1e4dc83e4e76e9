// The gateway's HTTP/1.1 server: one io_context per I/O thread, an acceptor that
// deals connections out round-robin, so a connection lives on one thread and
// its handlers need no strand.
#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/http_errors.h"
#include "gateway/http_request_parser.h"
#include "gateway/invocation_handler.h"
#include "http/accept_pacer.h"
#include "http/lazy_deadline.h"
#include "models/event_loop.h"

namespace mlcanary::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
// Concrete executor types: no any_io_executor type erasure on the request path.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

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
using Slot = http::AcceptPacer<Timer>::Slot;

struct Gateway::Impl {
  Impl(const GatewayOptions& gateway_options, Router& router)
      : options(gateway_options),
        handler(router,
                gateway_options.random_bits ? gateway_options.random_bits : ThreadLocalRandomBits,
                std::make_shared<ShadowQueue>(gateway_options.shadow)) {}

  const GatewayOptions& options;
  InvocationHandler handler;
  // Declared before the contexts, so destroyed after them: a session still
  // queued in a context when it is destroyed unregisters itself here.
  std::atomic<int> live_sessions{0};
  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // GUARDED_BY(sessions_mu)
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;  // on contexts[0], with the pacer's timer
  std::optional<http::AcceptPacer<Timer>> pacer;
  std::size_t next_context = 0;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::atomic<std::uint64_t> internal_errors{0};

  void Accept();
};

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;

// Reason phrases of the statuses the gateway answers.
std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void AppendDecimal(std::string& out, std::size_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

}  // namespace

// One client connection. Lives on one io_context thread; requests on it are
// handled one after the other (pipelined requests wait in the buffer). Reads
// go straight into the connection's buffer and HttpRequestParser reads them
// there. Timeouts: one lazily re-armed timer per connection
// (http::LazyDeadline) -- a request only moves the deadline.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& context, Gateway::Impl& impl)
      : socket_(context.get_executor()),
        deadline_(Timer(context.get_executor())),
        impl_(impl),
        parser_(kHeaderLimit, impl.options.max_body_bytes) {
    impl_.live_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    {
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.erase(this);
    }
    impl_.live_sessions.fetch_sub(1, std::memory_order_release);
  }

  Socket& socket() { return socket_; }
  // Once accepted: counts the connection against max_connections.
  void Admit(Slot slot) { slot_ = std::move(slot); }

  void Start() {
    {
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.emplace(this, weak_from_this());
    }
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    NextRequest();
  }

  // Called on the session's thread when the gateway shuts down: an idle
  // connection closes now, a busy one after its answer.
  void OnShutdown() {
    if (!busy_) Close();
  }

  Executor executor() { return socket_.get_executor(); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMinReadSpace = 4096;
  // Between requests, a read buffer grown larger than this (by a large request)
  // goes back to kMinReadSpace, so that a keep-alive connection does not keep it.
  static constexpr std::size_t kMaxIdleBuffer = 64 * 1024;

  void NextRequest() {
    busy_ = false;
    if (impl_.stopping.load(std::memory_order_relaxed)) return Close();
    parser_.Reset();
    if (buffer_.size() > kMaxIdleBuffer && end_ - begin_ <= kMinReadSpace) {
      std::vector<char> small(kMinReadSpace);
      std::copy(buffer_.data() + begin_, buffer_.data() + end_, small.data());
      buffer_.swap(small);
      end_ -= begin_;
      begin_ = 0;
    }
    continue_sent_ = false;
    header_phase_ = true;
    deadline_.Set(Clock::now() + impl_.options.header_timeout, *this);
    Parse();
  }

  // Parses what the buffer holds; reads more when that is not a request yet.
  void Parse() {
    const std::string_view data(buffer_.data() + begin_, end_ - begin_);
    switch (parser_.Parse(data)) {
      case HttpRequestParser::State::kComplete:
        return OnRequest();
      case HttpRequestParser::State::kError:
        return OnParseError();
      case HttpRequestParser::State::kNeedMore:
        break;
    }
    if (parser_.header_done() && header_phase_) {
      header_phase_ = false;
      busy_ = true;
      deadline_.Set(Clock::now() + impl_.options.body_timeout, *this);
      if (parser_.request().expect_continue && !continue_sent_) {
        // curl and others wait for this before they send large bodies.
        continue_sent_ = true;
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        return asio::async_write(
            socket_, asio::buffer(kContinue.data(), kContinue.size()),
            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
              if (ec) return self->Close();
              self->ReadMore();
            });
      }
    }
    ReadMore();
  }

  void ReadMore() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (buffer_.size() - end_ < kMinReadSpace && begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < kMinReadSpace) {
      buffer_.resize(std::max(buffer_.size() * 2, end_ + kMinReadSpace));
    }
    socket_.async_read_some(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          // Timeouts (the socket was closed), closed connections, a request cut
          // off: nothing to answer to.
          if (ec) return self->Close();
          self->end_ += n;
          self->Parse();
        });
  }

  void OnParseError() {
    keep_alive_ = false;
    busy_ = true;
    const int status = parser_.error_status();
    const std::string_view message = parser_.error_message();
    switch (status) {
      case 413:
        return Write(
            {.status = 413,
             .body = ErrorJson(kPayloadTooLargeCode,
                               "request body exceeds " +
                                   std::to_string(impl_.options.max_body_bytes) + " bytes")});
      case 431:
        return Write({.status = 431, .body = ErrorJson("HeaderTooLarge", message)});
      case 501:
        return Write({.status = 501, .body = ErrorJson("NotImplemented", message)});
      default:
        return Write(
            ErrorResponse(core::Error(core::ErrorCode::kValidation, std::string(message))));
    }
  }

  void OnRequest() {
    busy_ = true;
    deadline_.Clear();
    const HttpRequestHead& head = parser_.request();
    begin_ += parser_.consumed();  // the views stay valid: nothing moves until the next read
    keep_alive_ = head.keep_alive;
    const InferenceRequest view{
        .method = head.method,
        .target = head.target,
        .body = head.body,
        .target_variant = head.target_variant,
        .received = Clock::now(),
    };
    answered_ = false;
    try {
      impl_.handler.Handle(view, [self = shared_from_this()](InferenceResponse r) mutable {
        // In-process models and http backends (on this thread's loop) answer
        // here, on this thread; a backend with threads of its own answers from
        // one of them, so hop back to the connection's.
        const Executor executor = self->executor();
        if (executor.running_in_this_thread()) return self->Answer(std::move(r));
        asio::post(executor, [self = std::move(self), r = std::move(r)]() mutable {
          self->Answer(std::move(r));
        });
      });
    } catch (const std::exception& e) {
      OnInternalError(e.what());
    } catch (...) {
      OnInternalError("non-standard exception");
    }
  }

  void OnInternalError(std::string_view what) {
    impl_.internal_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("gateway: unexpected error while handling a request: {}", what);
    if (answered_) return;
    keep_alive_ = false;
    Answer(ErrorResponse(core::Error(core::ErrorCode::kInternal, "internal error")));
  }

  void Answer(InferenceResponse r) {
    answered_ = true;
    try {
      Write(std::move(r));
    } catch (const std::exception& e) {
      impl_.internal_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("gateway: unexpected error while answering a request: {}", e.what());
      keep_alive_ = false;
      Write(ErrorResponse(core::Error(core::ErrorCode::kInternal, "internal error")));
    }
  }

  // The answer as bytes, one gather write.
  void Write(InferenceResponse r) {
    const bool keep_alive = keep_alive_ && !impl_.stopping.load(std::memory_order_relaxed);
    head_.clear();
    head_.append("HTTP/1.1 ");
    AppendDecimal(head_, static_cast<std::size_t>(r.status));
    head_.append(" ").append(ReasonPhrase(r.status));
    head_.append("\r\nContent-Type: application/json\r\n");
    if (!r.variant.empty()) {
      head_.append("X-Mlcanary-Variant: ").append(r.variant).append("\r\n");
      if (r.sagemaker) {
        head_.append("x-Amzn-Invoked-Production-Variant: ").append(r.variant).append("\r\n");
      }
    }
    head_.append("Content-Length: ");
    AppendDecimal(head_, r.body.size());
    head_.append("\r\n");
    if (!keep_alive) head_.append("Connection: close\r\n");
    head_.append("\r\n");
    body_ = std::move(r.body);
    deadline_.Set(Clock::now() + impl_.options.body_timeout, *this);
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(
        socket_, buffers,
        [self = shared_from_this(), keep_alive](const boost::system::error_code& ec, std::size_t) {
          if (ec || !keep_alive) return self->Close();
          self->NextRequest();
        });
  }

  friend class http::LazyDeadline<Timer>;
  void OnDeadline() {
    if (!closed_) Close();  // the pending read or write ends
  }

  void Close() {
    busy_ = false;
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
    deadline_.Cancel();
  }

  Socket socket_;
  http::LazyDeadline<Timer> deadline_;
  Gateway::Impl& impl_;
  Slot slot_;
  HttpRequestParser parser_;
  std::vector<char> buffer_;  // [begin_, end_) received, not yet consumed
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::string head_;  // of the answer being written
  std::string body_;
  bool header_phase_ = true;
  bool continue_sent_ = false;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool answered_ = false;
  bool closed_ = false;
};

void Gateway::Impl::Accept() {
  asio::io_context& target = *contexts[next_context];
  next_context = (next_context + 1) % contexts.size();
  auto session = std::make_shared<Session>(target, *this);
  Socket& socket = session->socket();
  acceptor->async_accept(
      socket, [this, session = std::move(session)](const boost::system::error_code& ec) mutable {
        if (ec) {
          if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
          return pacer->OnError(ec);  // it starts the next accept
        }
        session->Admit(pacer->OnAccepted());
        // Run it on its own thread from the start.
        const Executor executor = session->executor();
        asio::post(executor, [session = std::move(session)] { session->Start(); });
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
  boost::system::error_code ec;
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
  impl_->pacer.emplace(
      Timer(impl_->contexts[0]->get_executor()),
      http::AcceptPacerOptions{
          .max_connections = options_.max_connections,
          .warn = [](std::string_view line) { spdlog::warn("gateway: {}", line); }},
      [impl = impl_.get()] { impl->Accept(); });
  impl_->started = true;
  impl_->pacer->Start();
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
  // Stop accepting before the sessions are collected, so that none is
  // accepted after them.
  std::promise<void> closed;
  asio::post(*impl.contexts[0], [&impl, &closed] {
    impl.pacer->Stop();
    boost::system::error_code ec;
    impl.acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
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
