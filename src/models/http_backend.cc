// HttpBackend: an asynchronous Beast client with a pool of idle keep-alive
// connections per event loop: the caller's (a gateway I/O thread) or its own.
#include "models/http_backend.h"

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "models/event_loop.h"

namespace mlcanary::models {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

core::Error ModelError(std::string message) {
  return core::Error(core::ErrorCode::kModelError, std::move(message));
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

void AppendFloat(std::string& out, float value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

core::Result<float> JsonNumber(const boost::json::value& v) {
  if (v.is_double()) return static_cast<float>(v.get_double());
  if (v.is_int64()) return static_cast<float>(v.get_int64());
  if (v.is_uint64()) return static_cast<float>(v.get_uint64());
  if (v.is_object()) {
    if (const auto* score = v.get_object().if_contains("score")) return JsonNumber(*score);
  }
  return std::unexpected(ModelError("upstream prediction is not a number"));
}

}  // namespace

core::Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return core::ValidationError("model url '" + std::string(url) + "' must start with http://");
  }
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  HttpUrl out;
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out.host = authority;
    out.port = "80";
  } else {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
    int port = 0;
    auto [p, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
    if (ec != std::errc() || p != out.port.data() + out.port.size() || port <= 0 || port > 65535) {
      return core::ValidationError("model url '" + std::string(url) + "' has a bad port");
    }
  }
  if (out.host.empty()) {
    return core::ValidationError("model url '" + std::string(url) + "' has no host");
  }
  out.prefix = path;
  return out;
}

core::Result<Predictions> ParseUpstreamPredictions(std::string_view body, std::size_t rows) {
  Predictions out;
  out.rows = rows;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (body[first] == '{' || body[first] == '[')) {
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(body, ec);
    if (ec) return std::unexpected(ModelError("upstream answer is not valid JSON"));
    const boost::json::value* list = &doc;
    if (doc.is_object()) {
      list = doc.get_object().if_contains("predictions");
      if (list == nullptr) {
        return std::unexpected(ModelError("upstream JSON answer has no \"predictions\""));
      }
    }
    if (!list->is_array()) {
      return std::unexpected(ModelError("upstream predictions are not an array"));
    }
    const auto& array = list->get_array();
    if (array.size() != rows) {
      return std::unexpected(ModelError("upstream returned " + std::to_string(array.size()) +
                                        " predictions for " + std::to_string(rows) + " rows"));
    }
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (array[i].is_array()) {
        const auto& inner = array[i].get_array();
        if (i == 0) out.per_row = inner.size();
        if (inner.size() != out.per_row || inner.empty()) {
          return std::unexpected(ModelError("upstream prediction rows differ in length"));
        }
        for (const auto& v : inner) {
          auto number = JsonNumber(v);
          if (!number) return std::unexpected(number.error());
          out.values.push_back(*number);
        }
      } else {
        if (out.per_row != 1) {
          return std::unexpected(ModelError("upstream prediction rows differ in length"));
        }
        auto number = JsonNumber(array[i]);
        if (!number) return std::unexpected(number.error());
        out.values.push_back(*number);
      }
    }
    return out;
  }
  // text/csv: one row a line, values separated by commas.
  std::size_t line_count = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    std::size_t count = 0;
    std::size_t start = 0;
    while (start <= line.size()) {
      std::size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) comma = line.size();
      std::string_view field = line.substr(start, comma - start);
      while (!field.empty() && field.front() == ' ') field.remove_prefix(1);
      while (!field.empty() && field.back() == ' ') field.remove_suffix(1);
      float value = 0;
      auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (field.empty() || ec != std::errc() || p != field.data() + field.size()) {
        return std::unexpected(ModelError("upstream answer is neither JSON nor CSV numbers"));
      }
      out.values.push_back(value);
      ++count;
      start = comma + 1;
    }
    if (line_count == 0) out.per_row = count;
    ++line_count;
  }
  // One line per row, or all single values on one line.
  if (line_count == 1 && out.values.size() == rows && rows > 1) {
    out.per_row = 1;
    return out;
  }
  if (line_count != rows || out.values.size() != rows * out.per_row) {
    return std::unexpected(ModelError("upstream returned " + std::to_string(line_count) +
                                      " prediction lines for " + std::to_string(rows) + " rows"));
  }
  return out;
}

// Idle keep-alive connections bound to one event loop. The mutex is only
// contended on the backend's own loop when it has several threads; a caller's
// loop has one thread.
struct ConnectionPool {
  explicit ConnectionPool(asio::io_context& l, bool strand) : loop(l), use_strand(strand) {}
  asio::io_context& loop;
  const bool use_strand;  // the loop has several threads

  std::mutex mu;
  std::vector<std::unique_ptr<beast::tcp_stream>> idle;  // GUARDED_BY(mu)
};

// State shared by the backend and its exchanges in flight, so that an exchange
// on a caller's loop can finish after the backend is gone.
struct HttpBackend::Impl {
  HttpBackendOptions options;
  HttpUrl url;
  std::string invocations_target;
  std::string ping_target;
  std::string host_header;
  tcp::resolver::results_type endpoints;
  std::atomic<bool> ready{false};
  std::uint64_t id = 0;  // unique per backend, never reused: keys the per-thread cache

  std::mutex pools_mu;
  // One pool per caller loop seen, never removed while the backend lives.
  std::vector<std::shared_ptr<ConnectionPool>> loop_pools;  // GUARDED_BY(pools_mu)

  std::unique_ptr<beast::tcp_stream> TakeIdle(ConnectionPool& pool) {
    std::lock_guard lock(pool.mu);
    if (pool.idle.empty()) return nullptr;
    auto stream = std::move(pool.idle.back());
    pool.idle.pop_back();
    return stream;
  }
  void ReturnIdle(ConnectionPool& pool, std::unique_ptr<beast::tcp_stream> stream) {
    stream->expires_never();
    std::lock_guard lock(pool.mu);
    if (pool.idle.size() < options.max_idle_connections) pool.idle.push_back(std::move(stream));
  }

  // The pool of `loop` (the calling thread's), created on first use.
  ConnectionPool& PoolOf(asio::io_context& loop) {
    struct CacheEntry {
      std::uint64_t backend_id;
      ConnectionPool* pool;
    };
    // Ids are never reused, so entries of destroyed backends never match again;
    // the cache is small (one entry per backend this thread has called).
    thread_local std::vector<CacheEntry> cache;
    for (const auto& entry : cache) {
      if (entry.backend_id == id) return *entry.pool;
    }
    ConnectionPool* pool = nullptr;
    {
      std::lock_guard lock(pools_mu);
      for (auto& p : loop_pools) {
        if (&p->loop == &loop) pool = p.get();
      }
      if (pool == nullptr) {
        auto created = std::make_shared<ConnectionPool>(loop, false);
        pool = created.get();
        loop_pools.push_back(created);
        // This thread runs `loop`: when the loop ends, close the pool's idle
        // connections here, while the loop exists (the backend may outlive it).
        AtThreadEventLoopEnd([weak = std::weak_ptr<ConnectionPool>(created)] {
          if (auto p = weak.lock()) {
            std::lock_guard pool_lock(p->mu);
            p->idle.clear();
          }
        });
      }
    }
    if (cache.size() > 64) cache.erase(cache.begin());
    cache.push_back({id, pool});
    return *pool;
  }
};

// The backend's own event loop, for calls from threads that run none (tests,
// Ping, tools).
struct HttpBackend::OwnLoop {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;
  std::unique_ptr<ConnectionPool> pool;
};

namespace {

std::atomic<std::uint64_t> next_backend_id{1};

using Response = http::response<http::string_body>;

// A request as bytes: head (request line and fields) and body. Written with one
// gather write; Beast's serializer cost more than the rest of the exchange's
// user-space work.
struct RawRequest {
  std::string head;
  std::string body;
};

using ExchangeCallback = std::move_only_function<void(core::Result<Response>)>;

// One request/answer exchange with the upstream, on a pooled or a new
// connection, entirely on the pool's loop.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<HttpBackend::Impl> impl, ConnectionPool& pool, RawRequest request,
           std::chrono::steady_clock::time_point deadline, ExchangeCallback done)
      : impl_(std::move(impl)),
        pool_(pool),
        request_(std::move(request)),
        deadline_(deadline),
        done_(std::move(done)) {}

  ~Exchange() {
    if (done_)
      done_(std::unexpected(core::Error(core::ErrorCode::kUnavailable, "model backend shut down")));
  }

  void Start() {
    stream_ = impl_->TakeIdle(pool_);
    if (stream_) {
      reused_ = true;
      Send();
    } else {
      Connect();
    }
  }

 private:
  void Connect() {
    reused_ = false;
    stream_ = pool_.use_strand ? std::make_unique<beast::tcp_stream>(asio::make_strand(pool_.loop))
                               : std::make_unique<beast::tcp_stream>(pool_.loop);
    stream_->expires_at(deadline_);
    stream_->async_connect(impl_->endpoints,
                           [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                             if (ec) {
                               if (ec == beast::error::timeout)
                                 return self->Fail(core::ErrorCode::kTimeout, ec);
                               self->impl_->ready.store(false, std::memory_order_relaxed);
                               return self->Fail(core::ErrorCode::kUnavailable, ec);
                             }
                             self->stream_->socket().set_option(tcp::no_delay(true), ec);
                             self->impl_->ready.store(true, std::memory_order_relaxed);
                             self->Send();
                           });
  }

  void Send() {
    stream_->expires_at(deadline_);
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(request_.head),
                                                       asio::buffer(request_.body)};
    asio::async_write(*stream_, buffers,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnFailure(ec);
                        self->Read();
                      });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(*stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->OnFailure(ec);
                       self->Finish();
                     });
  }

  void OnFailure(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return Fail(core::ErrorCode::kTimeout, ec);
    // The server may have closed an idle connection while it sat in the pool.
    if (reused_ && !retried_ && IsStaleConnectionError(ec) && !parser_got_header()) {
      retried_ = true;
      buffer_.clear();
      stream_.reset();
      return Connect();
    }
    Fail(core::ErrorCode::kModelError, ec);
  }

  bool parser_got_header() const { return parser_ && parser_->is_header_done(); }

  void Finish() {
    Response response = parser_->release();
    if (response.keep_alive() && buffer_.size() == 0) {
      impl_->ReturnIdle(pool_, std::move(stream_));
    } else {
      beast::error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
    Complete(std::move(response));
  }

  void Fail(core::ErrorCode code, const beast::error_code& ec) {
    std::string what = code == core::ErrorCode::kTimeout       ? "timed out"
                       : code == core::ErrorCode::kUnavailable ? "cannot connect"
                                                               : "failed";
    Complete(std::unexpected(core::Error(
        code, "model server " + impl_->options.url + " " + what + ": " + ec.message())));
  }

  void Complete(core::Result<Response> result) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  std::shared_ptr<HttpBackend::Impl> impl_;
  ConnectionPool& pool_;  // owned by impl_ (or by the own loop, which outlives it)
  RawRequest request_;
  std::chrono::steady_clock::time_point deadline_;
  ExchangeCallback done_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool reused_ = false;
  bool retried_ = false;
};

RawRequest MakeRequest(const HttpBackend::Impl& impl, http::verb verb, const std::string& target,
                       std::string body) {
  RawRequest request;
  request.head.reserve(160);
  request.head.append(http::to_string(verb)).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.head.append("Host: ").append(impl.host_header).append("\r\n");
  if (verb == http::verb::post) {
    request.head.append("Content-Type: text/csv\r\nAccept: application/json\r\nContent-Length: ");
    request.head.append(std::to_string(body.size())).append("\r\n");
    request.body = std::move(body);
  }
  request.head.append("\r\n");
  return request;
}

void StartExchange(const std::shared_ptr<HttpBackend::Impl>& impl, HttpBackend::OwnLoop& own,
                   bool allow_caller_loop, http::verb verb, const std::string& target,
                   std::string body, core::Duration timeout, ExchangeCallback done) {
  auto request = MakeRequest(*impl, verb, target, std::move(body));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (asio::io_context* loop = allow_caller_loop ? ThreadEventLoop() : nullptr) {
    // On the caller's loop, which this thread runs: start now and answer on this
    // thread (no hop either way).
    auto exchange = std::make_shared<Exchange>(impl, impl->PoolOf(*loop), std::move(request),
                                               deadline, std::move(done));
    exchange->Start();
    return;
  }
  auto exchange =
      std::make_shared<Exchange>(impl, *own.pool, std::move(request), deadline, std::move(done));
  asio::post(own.ioc, [exchange] { exchange->Start(); });
}

}  // namespace

HttpBackend::HttpBackend(std::shared_ptr<Impl> impl, std::unique_ptr<OwnLoop> own)
    : impl_(std::move(impl)), own_(std::move(own)) {}

HttpBackend::~HttpBackend() {
  own_->work.reset();
  own_->ioc.stop();
  for (auto& t : own_->threads) t.join();
  {
    std::lock_guard lock(own_->pool->mu);
    own_->pool->idle.clear();
  }
  // Handlers still queued on the own loop are destroyed with it (below); each
  // Exchange then reports kUnavailable to its caller. Idle connections of a
  // caller's loop are closed on that loop (or when it ends, if it has stopped);
  // exchanges in flight there keep the shared state alive and finish normally.
  std::lock_guard lock(impl_->pools_mu);
  for (auto& pool : impl_->loop_pools) {
    asio::post(pool->loop, [impl = impl_, pool = pool.get()] {
      std::lock_guard pool_lock(pool->mu);
      pool->idle.clear();
    });
  }
}

core::Result<std::unique_ptr<HttpBackend>> HttpBackend::Create(HttpBackendOptions options) {
  auto url = ParseHttpUrl(options.url);
  if (!url) return std::unexpected(url.error());
  auto impl = std::make_shared<Impl>();
  impl->id = next_backend_id.fetch_add(1, std::memory_order_relaxed);
  impl->url = *url;
  impl->options = std::move(options);
  impl->invocations_target = impl->url.prefix + "/invocations";
  impl->ping_target = impl->url.prefix + "/ping";
  impl->host_header = impl->url.host + ":" + impl->url.port;
  auto own = std::make_unique<OwnLoop>();
  const int threads = std::max(1, impl->options.io_threads);
  own->pool = std::make_unique<ConnectionPool>(own->ioc, threads > 1);
  beast::error_code ec;
  tcp::resolver resolver(own->ioc);
  impl->endpoints = resolver.resolve(impl->url.host, impl->url.port, ec);
  if (ec) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "cannot resolve " + impl->url.host + ": " + ec.message());
  }
  for (int i = 0; i < threads; ++i) {
    own->threads.emplace_back([ioc = &own->ioc] { ioc->run(); });
  }
  auto backend = std::unique_ptr<HttpBackend>(new HttpBackend(std::move(impl), std::move(own)));
  if (auto ping = backend->Ping(); !ping) return std::unexpected(ping.error());
  return backend;
}

core::Status HttpBackend::Ping() {
  std::promise<core::Result<Response>> promise;
  auto future = promise.get_future();
  // Always on the own loop: this call blocks, and a caller's loop would then
  // never run the exchange.
  StartExchange(impl_, *own_, false, http::verb::get, impl_->ping_target, {},
                impl_->options.ping_timeout,
                [&promise](core::Result<Response> r) { promise.set_value(std::move(r)); });
  auto response = future.get();
  if (!response) {
    impl_->ready.store(false, std::memory_order_relaxed);
    return std::unexpected(response.error().WithContext("ping"));
  }
  if (response->result() != http::status::ok) {
    impl_->ready.store(false, std::memory_order_relaxed);
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "ping: model server " + impl_->options.url + " answered " +
                               std::to_string(response->result_int()));
  }
  impl_->ready.store(true, std::memory_order_relaxed);
  return core::Ok();
}

bool HttpBackend::ready() const { return impl_->ready.load(std::memory_order_relaxed); }

const std::string& HttpBackend::name() const { return impl_->options.url; }

void HttpBackend::PredictAsync(const FeatureRows& rows, PredictCallback done) {
  std::string body;
  body.reserve(rows.values.size() * 12);
  for (std::size_t r = 0; r < rows.rows; ++r) {
    for (std::size_t c = 0; c < rows.cols; ++c) {
      if (c > 0) body.push_back(',');
      AppendFloat(body, rows.values[r * rows.cols + c]);
    }
    body.push_back('\n');
  }
  const std::size_t row_count = rows.rows;
  StartExchange(
      impl_, *own_, impl_->options.use_caller_loop, http::verb::post, impl_->invocations_target,
      std::move(body), impl_->options.timeout,
      [done = std::move(done), row_count, impl = impl_](core::Result<Response> response) mutable {
        if (!response) return done(std::unexpected(response.error()));
        const unsigned status = response->result_int();
        if (status >= 200 && status < 300) {
          return done(ParseUpstreamPredictions(response->body(), row_count));
        }
        std::string message =
            "model server " + impl->options.url + " answered " + std::to_string(status);
        core::ErrorCode code = status == 429   ? core::ErrorCode::kThrottled
                               : status >= 500 ? core::ErrorCode::kModelError
                                               : core::ErrorCode::kValidation;
        if (code == core::ErrorCode::kValidation && !response->body().empty()) {
          message += ": " + response->body().substr(0, 200);
        }
        done(std::unexpected(core::Error(code, std::move(message))));
      });
}

}  // namespace mlcanary::models
