// HttpServer on Boost.Beast: one io_context run by `threads` threads, a strand
// per connection, requests on a connection answered one after the other.
#include "http/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cstdio>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/accept_pacer.h"
#include "http/http_text.h"
#include "http/internal/beast_request.h"

namespace mlcanary::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

class Session;

using Slot = http::AcceptPacer<asio::steady_timer>::Slot;
using BeastResponse = bhttp::response<bhttp::string_body>;

BeastResponse ToBeast(Response r) {
  BeastResponse out;
  out.version(11);
  out.result(static_cast<unsigned>(r.status));
  for (const auto& [name, value] : r.headers) out.set(name, value);
  out.set(bhttp::field::content_type, r.content_type);
  out.body() = std::move(r.body);
  return out;
}

struct HttpServer::Impl {
  Impl(ServerOptions server_options, Handler request_handler)
      : options(std::move(server_options)), handler(std::move(request_handler)) {}

  void Log(LogLevel level, const std::string& line) const {
    const std::string text = options.name + ": " + line;
    if (options.log) return options.log(level, text);
    const char* tag = level == LogLevel::kError     ? "error"
                      : level == LogLevel::kWarning ? "warning"
                                                    : "info";
    std::fprintf(stderr, "[%s] %s\n", tag, text.c_str());
  }

  // The one catch site of the request path: anything the handler throws, or
  // turning its answer into HTTP (a status Beast refuses, a header with a
  // newline), is logged, counted and answered 500.
  BeastResponse Answer(const Request& request) {
    try {
      return ToBeast(handler(request));
    } catch (const std::exception& e) {
      internal_errors.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kError,
          "unexpected error answering " + request.method + " " + request.path + ": " + e.what());
    } catch (...) {
      internal_errors.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kError,
          "unexpected non-standard exception answering " + request.method + " " + request.path);
    }
    return ToBeast(ErrorResponse(500, "InternalError", "internal error"));
  }

  void Accept();

  const ServerOptions options;
  const Handler handler;
  std::atomic<std::uint64_t> internal_errors{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> live_sessions{0};
  std::atomic<std::uint16_t> port{0};
  bool started = false;
  bool stopped = false;

  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // GUARDED_BY(sessions_mu)

  // Declared last, destroyed first: handlers still queued in the context hold
  // sessions, whose destructors use the members above.
  asio::io_context context;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::optional<tcp::acceptor> acceptor;  // on a strand, with the pacer's timer
  std::optional<http::AcceptPacer<asio::steady_timer>> pacer;
  std::vector<std::thread> threads;
};

// One client connection; every handler of it runs on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& impl, Slot slot)
      : stream_(std::move(socket)), impl_(impl), slot_(std::move(slot)) {
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

  // On the session's strand when the server shuts down: an idle connection
  // closes now, a busy one after its answer.
  void OnShutdown() {
    if (!busy_) Close();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void ReadHeader() {
    busy_ = false;
    if (impl_.stopping.load(std::memory_order_relaxed)) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(impl_.options.max_header_bytes));
    parser_->body_limit(impl_.options.max_body_bytes);
    stream_.expires_after(impl_.options.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    if (const int status = CheckTransferEncoding(); status != 0) {
      // The body's framing is unknown: answer, then close.
      keep_alive_ = false;
      if (status == 501) {
        return Write(
            ErrorResponse(501, "NotImplemented", "transfer coding not supported (only chunked)"));
      }
      return Write(ErrorResponse(400, "ValidationError",
                                 "malformed HTTP request: chunked applied more than once"));
    }
    if (parser_->is_done()) return OnRequest();
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      // curl waits for this before it sends a large body.
      auto cont =
          std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      stream_.expires_after(impl_.options.body_timeout);
      return bhttp::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
            if (wec) return self->Close();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  // The gateway's rule (RFC 9112 section 6.1): a transfer coding other than
  // chunked is 501, chunked more than once 400; 0 when the header is fine.
  // Beast itself would read a request with an unknown coding as having no
  // body, and one with "chunked, gzip" as chunked.
  int CheckTransferEncoding() const {
    bool other = false;
    int chunked = 0;
    const auto& header = parser_->get();
    const auto [first, last] = header.equal_range(bhttp::field::transfer_encoding);
    for (auto it = first; it != last; ++it) {
      const std::string_view value(it->value().data(), it->value().size());
      http::ForEachListElement(value, [&](std::string_view coding) {
        if (http::IEquals(coding, "chunked")) {
          ++chunked;
        } else {
          other = true;
        }
      });
    }
    if (other) return 501;
    return chunked > 1 ? 400 : 0;
  }

  void ReadBody() {
    stream_.expires_after(impl_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->OnRequest();
                      });
  }

  void OnReadError(beast::error_code ec) {
    // The rest of the request is unread: answer once, then close.
    keep_alive_ = false;
    busy_ = true;
    if (ec == bhttp::error::body_limit) {
      return Write(ErrorResponse(
          413, "PayloadTooLarge",
          "request body exceeds " + std::to_string(impl_.options.max_body_bytes) + " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return Write(ErrorResponse(431, "HeaderTooLarge", "request header is too large"));
    }
    // Timeouts and closed connections: nothing to answer to. Malformed HTTP: 400.
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return Write(
          ErrorResponse(400, "ValidationError", "malformed HTTP request: " + ec.message()));
    }
    Close();
  }

  void OnRequest() {
    stream_.expires_never();
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    Request request = internal::FromBeast(message);
    if (!ParseTarget(request.target, request.path, request.query)) {
      return Write(ErrorResponse(400, "ValidationError",
                                 "request target must be a path with valid %-escapes"));
    }
    Write(impl_.Answer(request));
  }

  // Answers the server's own errors (413, 431, 400), which cannot throw.
  void Write(Response r) { Write(ToBeast(std::move(r))); }

  void Write(BeastResponse r) {
    response_.emplace(std::move(r));
    response_->set(bhttp::field::server, "mlcanary");
    response_->keep_alive(keep_alive_ && !impl_.stopping.load(std::memory_order_relaxed));
    response_->prepare_payload();
    stream_.expires_after(impl_.options.body_timeout);
    bhttp::async_write(stream_, *response_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         const bool again = !ec && self->response_->keep_alive();
                         self->response_.reset();
                         if (!again) return self->Close();
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
  HttpServer::Impl& impl_;
  Slot slot_;  // counts this connection against max_connections
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<BeastResponse> response_;
  bool keep_alive_ = true;
  bool busy_ = false;
};

// Runs on the acceptor's strand; the pacer starts the next accept.
void HttpServer::Impl::Accept() {
  acceptor->async_accept(
      asio::make_strand(context), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
          return pacer->OnError(ec);
        }
        Slot slot = pacer->OnAccepted();
        std::make_shared<Session>(std::move(socket), *this, std::move(slot))->Start();
      });
}

HttpServer::HttpServer(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Shutdown(); }

std::uint16_t HttpServer::port() const { return impl_->port.load(); }

std::uint64_t HttpServer::internal_errors() const {
  return impl_->internal_errors.load(std::memory_order_relaxed);
}

core::Status HttpServer::Start() {
  Impl& impl = *impl_;
  if (impl.started) return core::FailedPreconditionError("server already started");
  if (!impl.handler) return core::ValidationError("server needs a handler");
  if (impl.options.threads < 1) return core::ValidationError("threads must be >= 1");
  const std::string& listen = impl.options.listen;
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
  if (port_text.empty() || pec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return core::ValidationError("listen address '" + listen + "' has a bad port");
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return core::ValidationError("listen address '" + listen + "': " + ec.message());

  tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
  tcp::acceptor acceptor(asio::make_strand(impl.context));
  auto fail = [&](std::string_view what) {
    return core::MakeError(
        core::ErrorCode::kUnavailable,
        "cannot listen on " + listen + ": " + std::string(what) + ": " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec)) return fail("open");
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (acceptor.bind(endpoint, ec)) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
  impl.port.store(acceptor.local_endpoint().port());
  impl.acceptor.emplace(std::move(acceptor));
  impl.guard.emplace(asio::make_work_guard(impl.context));
  impl.pacer.emplace(asio::steady_timer(impl.acceptor->get_executor()),
                     http::AcceptPacerOptions{.max_connections = impl.options.max_connections,
                                              .warn =
                                                  [&impl](std::string_view line) {
                                                    impl.Log(LogLevel::kWarning, std::string(line));
                                                  }},
                     [&impl] { impl.Accept(); });
  impl.started = true;
  impl.pacer->Start();
  for (int i = 0; i < impl.options.threads; ++i) {
    impl.threads.emplace_back([&impl] { impl.context.run(); });
  }
  impl.Log(LogLevel::kInfo, "listening on " + host + ":" + std::to_string(impl.port.load()) +
                                " with " + std::to_string(impl.options.threads) + " threads");
  return core::Ok();
}

void HttpServer::Shutdown() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  impl.stopping.store(true);
  // Stop accepting before the sessions are collected, so that none is
  // accepted after. Waited for: when no connection is open the context may
  // stop before a posted close ran, and a listening socket left open queues
  // new connections that nothing answers.
  std::promise<void> closed;
  asio::post(impl.acceptor->get_executor(), [&impl, &closed] {
    impl.pacer->Stop();
    beast::error_code ec;
    impl.acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
  // Take the sessions out under the lock, post outside it: the last reference
  // may drop here, and a session's destructor takes the lock.
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
  const auto deadline = std::chrono::steady_clock::now() + impl.options.shutdown_timeout;
  while (impl.live_sessions.load(std::memory_order_acquire) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (int left = impl.live_sessions.load(); left > 0) {
    impl.Log(LogLevel::kWarning, std::to_string(left) +
                                     " connections still open after the shutdown timeout; "
                                     "dropping them");
  }
  impl.guard.reset();
  impl.context.stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  impl.Log(LogLevel::kInfo, "stopped");
}

}  // namespace mlcanary::http
