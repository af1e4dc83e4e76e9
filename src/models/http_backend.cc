// HttpBackend: an asynchronous HTTP/1.1 client with a pool of idle keep-alive
// connections per event loop: the caller's (a gateway I/O thread) or one of its
// own. Each pooled connection owns its buffers, its response parser and one
// lazily re-armed timer, so a call allocates nothing once the pool is warm.
#include "models/http_backend.h"

#include <array>
#include <atomic>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "http/lazy_deadline.h"
#include "models/event_loop.h"
#include "models/internal/http_response_parser.h"
#include "models/internal/upstream_predictions.h"

namespace mlcanary::models {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

core::Error ModelError(std::string message) {
  return core::Error(core::ErrorCode::kModelError, std::move(message));
}

void AppendFloat(std::string& out, float value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

}  // namespace

void AppendCsv(std::string& out, const FeatureRows& rows) {
  out.reserve(out.size() + rows.values.size() * 12);
  for (std::size_t r = 0; r < rows.rows; ++r) {
    for (std::size_t c = 0; c < rows.cols; ++c) {
      if (c > 0) out.push_back(',');
      AppendFloat(out, rows.values[r * rows.cols + c]);
    }
    out.push_back('\n');
  }
}

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
    // The common {"predictions": [n, ...]} without a JSON document; anything
    // else (errors included) through Boost.JSON.
    if (body[first] == '{' && internal::ParsePredictionsFast(body.substr(first), rows, out)) {
      return out;
    }
    return internal::ParseJsonPredictions(body, rows);
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

namespace {

// Concrete executor types: no any_io_executor type erasure on the call path.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Clock = std::chrono::steady_clock;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using PingCallback = std::move_only_function<void(core::Status)>;

constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024 * 1024;
constexpr std::size_t kMinReadSpace = 4096;
// A connection going back to the pool frees buffers grown larger than this (by
// a large request or answer), so that an idle connection does not keep them.
constexpr std::size_t kMaxIdleBuffer = 64 * 1024;
// The first byte of the read buffer while the connection is idle: any other
// value at the next call means the idle read completed (its handler may still
// be queued), so the connection is not used.
constexpr char kUnread = '\0';

std::atomic<std::uint64_t> next_backend_id{1};

bool IsStaleConnectionError(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

core::Error ShutDown() {
  return core::Error(core::ErrorCode::kUnavailable, "model backend shut down");
}

}  // namespace

class UpstreamConnection;

// Idle keep-alive connections bound to one event loop, which one thread runs;
// touched only on that thread.
struct ConnectionPool {
  explicit ConnectionPool(asio::io_context& l) : loop(l) {}
  ~ConnectionPool() { Shutdown(); }
  // Closes the idle connections, and those of calls finishing later instead of
  // keeping them: the backend is gone, or the loop ended.
  void Shutdown();

  asio::io_context& loop;
  std::vector<std::shared_ptr<UpstreamConnection>> idle;
  bool shut_down = false;
};

// State shared by the backend and its calls in flight, so that a call on a
// caller's loop can finish after the backend is gone. Idle connections do not
// hold it (the pools it owns hold them).
struct HttpBackend::Impl {
  HttpBackendOptions options;
  HttpUrl url;
  std::string post_head;  // "POST <prefix>/invocations HTTP/1.1 ... Content-Length: "
  std::string ping_head;  // the whole GET <prefix>/ping request
  tcp::resolver::results_type endpoints;
  std::atomic<bool> ready{false};
  std::uint64_t id = 0;  // unique per backend, never reused: keys the per-thread cache

  std::mutex pools_mu;
  // One pool per caller loop seen, never removed while the backend lives.
  std::vector<std::shared_ptr<ConnectionPool>> loop_pools;  // GUARDED_BY(pools_mu)

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
        // Allocated alone (not make_shared, whose block the weak reference below
        // would keep): a use after the pool's end is then one AddressSanitizer
        // sees.
        auto created = std::shared_ptr<ConnectionPool>(new ConnectionPool(loop));
        pool = created.get();
        loop_pools.push_back(created);
        // This thread runs `loop`: when the loop ends, close the pool's idle
        // connections here, while the loop exists (the backend may outlive it).
        AtThreadEventLoopEnd([weak = std::weak_ptr<ConnectionPool>(created)] {
          if (auto p = weak.lock()) p->Shutdown();
        });
      }
    }
    if (cache.size() > 64) cache.erase(cache.begin());
    cache.push_back({id, pool});
    return *pool;
  }
};

// One keep-alive connection to the upstream and the call it carries, entirely
// on its pool's loop. Owns its buffers and parser (reused call after call), the
// request's length line, and one lazily re-armed timer (http::LazyDeadline): a
// call only moves the deadline.
// A read stays pending while the connection is idle: the answer of the next
// call completes it, and anything before that call (the upstream closed the
// connection, or sent bytes nobody asked for) retires the connection.
class UpstreamConnection : public std::enable_shared_from_this<UpstreamConnection> {
 public:
  explicit UpstreamConnection(ConnectionPool& pool)
      : pool_(&pool),
        socket_(pool.loop.get_executor()),
        deadline_(Timer(pool.loop.get_executor())),
        parser_(kHeaderLimit, kBodyLimit),
        buffer_(kMinReadSpace) {}

  ~UpstreamConnection() {
    // Destroyed with a call in flight: its loop was destroyed (the backend's
    // own, at shutdown).
    if (predict_done_) std::exchange(predict_done_, nullptr)(std::unexpected(ShutDown()));
    if (ping_done_) std::exchange(ping_done_, nullptr)(std::unexpected(ShutDown()));
  }

  // The idle connection of `pool` used last, or a new one.
  static std::shared_ptr<UpstreamConnection> Take(ConnectionPool& pool) {
    if (pool.idle.empty()) return std::make_shared<UpstreamConnection>(pool);
    auto connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    return connection;
  }

  // The request body of the next call (filled by the caller, then Predict).
  std::string& body() { return body_; }

  // POSTs body() to <url>/invocations and answers `done` with `rows` predictions.
  void Predict(std::shared_ptr<HttpBackend::Impl> impl, std::size_t rows, PredictCallback done) {
    rows_ = rows;
    predict_done_ = std::move(done);
    const core::Duration timeout = impl->options.timeout;
    Begin(std::move(impl), timeout);
  }

  void Ping(std::shared_ptr<HttpBackend::Impl> impl, PingCallback done) {
    body_.clear();
    ping_done_ = std::move(done);
    const core::Duration timeout = impl->options.ping_timeout;
    Begin(std::move(impl), timeout);
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    ++socket_generation_;  // handlers of operations on the closed socket do nothing
    reading_ = false;
    writing_ = false;
    busy_ = false;
    deadline_.Cancel();
  }

 private:
  void Begin(std::shared_ptr<HttpBackend::Impl> impl, core::Duration timeout) {
    // The idle read got bytes, its handler not run yet: they are no answer to
    // this call. A fresh connection instead (the handler then does nothing).
    if (buffer_[0] != kUnread && socket_.is_open()) Close();
    impl_ = std::move(impl);
    busy_ = true;
    retried_ = false;
    timed_out_ = false;
    parser_.Reset();
    end_ = 0;
    deadline_.Set(Clock::now() + timeout, *this);
    if (socket_.is_open()) {
      reused_ = true;
      Send();
    } else {
      Connect();
    }
  }

  void Connect() {
    reused_ = false;
    const std::uint64_t generation = socket_generation_;
    asio::async_connect(
        socket_, impl_->endpoints,
        // No further address once the deadline closed the socket.
        [self = this](const boost::system::error_code&, const tcp::endpoint&) {
          return !self->timed_out_;
        },
        [self = shared_from_this(), generation](const boost::system::error_code& ec,
                                                const tcp::endpoint&) {
          if (generation != self->socket_generation_) return;
          if (self->timed_out_) return self->Fail(core::ErrorCode::kTimeout, "timed out");
          if (ec) {
            self->impl_->ready.store(false, std::memory_order_relaxed);
            return self->Fail(core::ErrorCode::kUnavailable, "cannot connect: " + ec.message());
          }
          boost::system::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->socket_.non_blocking(true, ignored);
          self->impl_->ready.store(true, std::memory_order_relaxed);
          self->Send();
        });
  }

  // The request as one gather write, tried at once (the socket is non-blocking;
  // a small request fits the send buffer), the rest asynchronously.
  void Send() {
    std::array<asio::const_buffer, 3> buffers;
    if (ping_done_) {
      buffers = {asio::buffer(impl_->ping_head), asio::const_buffer(), asio::const_buffer()};
    } else {
      char* end =
          std::to_chars(length_line_, length_line_ + sizeof(length_line_) - 4, body_.size()).ptr;
      end = std::copy_n("\r\n\r\n", 4, end);
      buffers = {asio::buffer(impl_->post_head),
                 asio::buffer(length_line_, static_cast<std::size_t>(end - length_line_)),
                 asio::buffer(body_)};
    }
    boost::system::error_code ec;
    std::size_t written = socket_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      written = 0;
    }
    if (ec) return OnIoError(ec);
    std::size_t total = 0;
    for (auto& b : buffers) total += b.size();
    if (written == total) return Read();
    for (auto& b : buffers) {
      const std::size_t skip = std::min(written, b.size());
      b += skip;
      written -= skip;
    }
    // The answer may come before the write ends (a reused connection's read is
    // pending): the connection is then not reused (see Finish).
    writing_ = true;
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), generation = socket_generation_](
                          const boost::system::error_code& write_error, std::size_t) {
                        if (generation != self->socket_generation_) return;
                        self->writing_ = false;
                        if (write_error) return self->OnIoError(write_error);
                        self->Read();
                      });
  }

  void Read() {
    if (reading_) return;  // the idle connection's read, still pending
    reading_ = true;
    if (buffer_.size() - end_ < kMinReadSpace) {
      buffer_.resize(std::max(buffer_.size() * 2, end_ + kMinReadSpace));
    }
    socket_.async_read_some(asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
                            [self = shared_from_this(), generation = socket_generation_](
                                const boost::system::error_code& ec, std::size_t n) {
                              if (generation != self->socket_generation_) return;
                              self->reading_ = false;
                              self->OnRead(ec, n);
                            });
  }

  void OnRead(const boost::system::error_code& ec, std::size_t n) {
    using State = internal::HttpResponseParser::State;
    if (!busy_) return RetireIdle();
    if (timed_out_) return Fail(core::ErrorCode::kTimeout, "timed out");
    State state;
    if (ec == asio::error::eof) {
      state = parser_.ParseEof(std::string_view(buffer_.data(), end_));
      if (state == State::kError && !parser_.started()) return OnIoError(ec);
    } else if (ec) {
      return OnIoError(ec);
    } else {
      end_ += n;
      state = parser_.Parse(std::string_view(buffer_.data(), end_));
    }
    switch (state) {
      case State::kComplete:
        return Finish();
      case State::kError:
        return Fail(core::ErrorCode::kModelError, "failed: " + std::string(parser_.error()));
      case State::kNeedMore:
        return Read();
    }
  }

  void OnIoError(const boost::system::error_code& ec) {
    if (timed_out_) return Fail(core::ErrorCode::kTimeout, "timed out");
    // The server may have closed an idle connection while it sat in the pool:
    // send once more on a fresh connection, if no byte of an answer came.
    if (reused_ && !retried_ && !parser_.started() && IsStaleConnectionError(ec)) {
      retried_ = true;
      boost::system::error_code ignored;
      socket_.close(ignored);
      ++socket_generation_;
      reading_ = false;
      writing_ = false;
      parser_.Reset();
      end_ = 0;
      return Connect();
    }
    Fail(core::ErrorCode::kModelError, "failed: " + ec.message());
  }

  void Finish() {
    const internal::HttpResponseHead& head = parser_.response();
    // Bytes after the answer (the upstream answered more than asked), or an
    // answer before the whole request was written (the rest of it would precede
    // the next request): the connection's framing cannot be trusted any more.
    const bool reusable = head.keep_alive && parser_.consumed() == end_ && !writing_;
    deadline_.Clear();
    const std::string& url = impl_->options.url;
    const unsigned status = static_cast<unsigned>(head.status);
    if (ping_done_) {
      core::Status result = core::Ok();
      if (status != 200) {
        result = core::MakeError(core::ErrorCode::kUnavailable,
                                 "model server " + url + " answered " + std::to_string(status));
      }
      auto done = std::exchange(ping_done_, nullptr);
      Release(reusable);
      return done(std::move(result));
    }
    core::Result<Predictions> result;
    if (status >= 200 && status < 300) {
      result = ParseUpstreamPredictions(head.body, rows_);
    } else {
      std::string message = "model server " + url + " answered " + std::to_string(status);
      const core::ErrorCode code = status == 429   ? core::ErrorCode::kThrottled
                                   : status >= 500 ? core::ErrorCode::kModelError
                                                   : core::ErrorCode::kValidation;
      if (code == core::ErrorCode::kValidation && !head.body.empty()) {
        message.append(": ").append(head.body.substr(0, 200));
      }
      result = std::unexpected(core::Error(code, std::move(message)));
    }
    auto done = std::exchange(predict_done_, nullptr);
    Release(reusable);
    done(std::move(result));
  }

  // Back to the pool (before the caller hears of the answer, so that a call it
  // makes then finds this connection), or closed.
  void Release(bool reusable) {
    // Dies last: it may own the pool (`this` lives on: the running handler
    // holds it).
    const std::shared_ptr<HttpBackend::Impl> impl = std::move(impl_);
    end_ = 0;
    body_.clear();
    busy_ = false;
    if (reusable && !pool_->shut_down && pool_->idle.size() < impl->options.max_idle_connections) {
      if (buffer_.size() > kMaxIdleBuffer) std::vector<char>(kMinReadSpace).swap(buffer_);
      if (body_.capacity() > kMaxIdleBuffer) std::string().swap(body_);
      pool_->idle.push_back(shared_from_this());
      buffer_[0] = kUnread;
      Read();
    } else {
      Close();
    }
  }

  // The idle connection's read completed: the upstream closed it or sent bytes
  // nobody asked for. It leaves the pool (which owns it: an idle connection
  // whose pool went away was closed first, and its handlers do nothing).
  void RetireIdle() {
    auto self = shared_from_this();
    Close();
    std::erase(pool_->idle, self);
  }

  void Fail(core::ErrorCode code, std::string what) {
    Close();
    auto error = core::Error(code, "model server " + impl_->options.url + " " + what);
    impl_.reset();
    if (ping_done_) return std::exchange(ping_done_, nullptr)(std::unexpected(std::move(error)));
    if (predict_done_) std::exchange(predict_done_, nullptr)(std::unexpected(std::move(error)));
  }

  friend class http::LazyDeadline<Timer>;
  void OnDeadline() {
    // The pending connect, write or read ends with an error and reports this.
    timed_out_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  ConnectionPool* pool_;                     // owned by impl_ while a call runs, or by the own loop
  std::shared_ptr<HttpBackend::Impl> impl_;  // while a call runs
  Socket socket_;
  http::LazyDeadline<Timer> deadline_;
  internal::HttpResponseParser parser_;
  std::vector<char> buffer_;  // [0, end_): the answer received so far
  std::size_t end_ = 0;
  std::string body_;
  char length_line_[32];  // "<body length>\r\n\r\n"
  std::size_t rows_ = 0;
  PredictCallback predict_done_;
  PingCallback ping_done_;
  std::uint64_t socket_generation_ = 0;  // bumped when the socket closes on purpose
  bool busy_ = false;                    // a call runs (else idle, in the pool)
  bool reading_ = false;                 // a read is pending
  bool writing_ = false;                 // an asynchronous write is pending
  bool reused_ = false;
  bool retried_ = false;
  bool timed_out_ = false;
};

void ConnectionPool::Shutdown() {
  shut_down = true;
  for (auto& connection : idle) connection->Close();
  idle.clear();
}

// The backend's own event loops, one thread each, for calls from threads that
// run none (tests, Ping, tools); calls are spread over them in turn.
struct HttpBackend::OwnLoop {
  struct Loop {
    asio::io_context ioc{1};
    asio::executor_work_guard<Executor> work{ioc.get_executor()};
    std::unique_ptr<ConnectionPool> pool = std::make_unique<ConnectionPool>(ioc);
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<std::size_t> next{0};

  Loop& Pick() { return *loops[next.fetch_add(1, std::memory_order_relaxed) % loops.size()]; }
};

namespace {

// Calls `done` with kUnavailable unless taken: a call posted to the own loop
// that never runs (the backend shut down) is still answered.
template <typename Callback>
struct AnswerOnDrop {
  explicit AnswerOnDrop(Callback c) : done(std::move(c)) {}
  AnswerOnDrop(AnswerOnDrop&& other) noexcept : done(std::exchange(other.done, nullptr)) {}
  ~AnswerOnDrop() {
    if (done) std::exchange(done, nullptr)(std::unexpected(ShutDown()));
  }
  Callback Take() { return std::exchange(done, nullptr); }
  Callback done;
};

}  // namespace

HttpBackend::HttpBackend(std::shared_ptr<Impl> impl, std::unique_ptr<OwnLoop> own)
    : impl_(std::move(impl)), own_(std::move(own)) {}

HttpBackend::~HttpBackend() {
  for (auto& loop : own_->loops) {
    loop->work.reset();
    loop->ioc.stop();
  }
  for (auto& loop : own_->loops) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  // Calls still queued or in flight on the own loops are answered kUnavailable
  // when their loop is destroyed (own_, below). Idle connections of a caller's
  // loop are closed on that loop (or when it ends, if it has stopped); calls in
  // flight there keep the shared state alive and finish normally.
  for (auto& loop : own_->loops) loop->pool->Shutdown();
  std::lock_guard lock(impl_->pools_mu);
  for (auto& pool : impl_->loop_pools) {
    asio::post(pool->loop, [pool] { pool->Shutdown(); });
  }
}

core::Result<std::unique_ptr<HttpBackend>> HttpBackend::Create(HttpBackendOptions options) {
  auto url = ParseHttpUrl(options.url);
  if (!url) return std::unexpected(url.error());
  auto impl = std::make_shared<Impl>();
  impl->id = next_backend_id.fetch_add(1, std::memory_order_relaxed);
  impl->url = *url;
  impl->options = std::move(options);
  const std::string host = "Host: " + impl->url.host + ":" + impl->url.port + "\r\n";
  impl->post_head = "POST " + impl->url.prefix + "/invocations HTTP/1.1\r\n" + host +
                    "Content-Type: text/csv\r\nAccept: application/json\r\nContent-Length: ";
  impl->ping_head = "GET " + impl->url.prefix + "/ping HTTP/1.1\r\n" + host + "\r\n";
  auto own = std::make_unique<OwnLoop>();
  {
    asio::io_context resolver_context;
    boost::system::error_code ec;
    tcp::resolver resolver(resolver_context);
    impl->endpoints = resolver.resolve(impl->url.host, impl->url.port, ec);
    if (ec) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "cannot resolve " + impl->url.host + ": " + ec.message());
    }
  }
  const int threads = std::max(1, impl->options.io_threads);
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<OwnLoop::Loop>();
    loop->thread = std::thread([ioc = &loop->ioc] { ioc->run(); });
    own->loops.push_back(std::move(loop));
  }
  auto backend = std::unique_ptr<HttpBackend>(new HttpBackend(std::move(impl), std::move(own)));
  if (auto ping = backend->Ping(); !ping) return std::unexpected(ping.error());
  return backend;
}

core::Status HttpBackend::Ping() {
  std::promise<core::Status> promise;
  auto future = promise.get_future();
  // Always on an own loop: this call blocks, and a caller's loop would then
  // never run the call.
  OwnLoop::Loop& loop = own_->Pick();
  asio::post(loop.ioc,
             [impl = impl_, pool = loop.pool.get(),
              done = AnswerOnDrop<PingCallback>([&promise](core::Status s) {
                promise.set_value(std::move(s));
              })]() mutable { UpstreamConnection::Take(*pool)->Ping(impl, done.Take()); });
  auto status = future.get();
  impl_->ready.store(status.has_value(), std::memory_order_relaxed);
  if (!status) {
    if (status.error().code() == core::ErrorCode::kModelError) {
      // A broken answer to a ping: the model cannot serve.
      return core::MakeError(core::ErrorCode::kUnavailable, "ping: " + status.error().message());
    }
    return std::unexpected(status.error().WithContext("ping"));
  }
  return core::Ok();
}

bool HttpBackend::ready() const { return impl_->ready.load(std::memory_order_relaxed); }

const std::string& HttpBackend::name() const { return impl_->options.url; }

void HttpBackend::PredictAsync(const FeatureRows& rows, PredictCallback done) {
  if (asio::io_context* loop = impl_->options.use_caller_loop ? ThreadEventLoop() : nullptr) {
    // On the caller's loop, which this thread runs: start now and answer on this
    // thread (no hop either way), the body written straight into the connection.
    auto connection = UpstreamConnection::Take(impl_->PoolOf(*loop));
    AppendCsv(connection->body(), rows);
    connection->Predict(impl_, rows.rows, std::move(done));
    return;
  }
  std::string body;
  AppendCsv(body, rows);
  OwnLoop::Loop& own = own_->Pick();
  asio::post(own.ioc,
             [impl = impl_, pool = own.pool.get(), body = std::move(body), row_count = rows.rows,
              done = AnswerOnDrop<PredictCallback>(std::move(done))]() mutable {
               auto connection = UpstreamConnection::Take(*pool);
               connection->body() = std::move(body);
               connection->Predict(impl, row_count, done.Take());
             });
}

}  // namespace mlcanary::models
