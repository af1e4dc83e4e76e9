// The load generator's workers: blocking Beast clients on keep-alive
// connections, paced on a steady clock.
#include "loadgen/load_generator.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace mlcanary::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

std::uint64_t VariantCounts::total() const {
  std::uint64_t n = 0;
  for (const auto& [status, count] : by_status) n += count;
  return n;
}

namespace {

std::uint64_t CountRange(const std::map<int, std::uint64_t>& by_status, int from, int to) {
  std::uint64_t n = 0;
  for (auto it = by_status.lower_bound(from); it != by_status.end() && it->first < to; ++it) {
    n += it->second;
  }
  return n;
}

}  // namespace

std::uint64_t VariantCounts::ok() const { return CountRange(by_status, 200, 300); }
std::uint64_t VariantCounts::errors_4xx() const { return CountRange(by_status, 400, 500); }
std::uint64_t VariantCounts::errors_5xx() const { return CountRange(by_status, 500, 600); }

struct LoadGenerator::Impl {
  explicit Impl(const LoadOptions& o) : options(o) {}

  // One worker: its connection's socket handle, published so that Stop() can
  // abort a request that does not finish in time.
  struct Worker {
    std::thread thread;
    std::mutex mu;
    int fd = -1;           // GUARDED_BY(mu)
    bool aborted = false;  // GUARDED_BY(mu): Stop() gave up waiting
  };

  void Run(Worker& worker, int index);
  // Sleeps until `t` or until stopping; returns false when stopping.
  bool SleepUntil(SteadyClock::time_point t);
  void Count(const std::string& variant, int status);
  void CountTransportError();
  void Exited();

  const LoadOptions options;
  std::vector<std::unique_ptr<Worker>> workers;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // GUARDED_BY(mu)
  int running = 0;        // GUARDED_BY(mu): workers not yet finished
  LoadSnapshot counts;    // GUARDED_BY(mu)
};

bool LoadGenerator::Impl::SleepUntil(SteadyClock::time_point t) {
  std::unique_lock lock(mu);
  cv.wait_until(lock, t, [this] { return stopping; });
  return !stopping;
}

void LoadGenerator::Impl::Count(const std::string& variant, int status) {
  std::lock_guard lock(mu);
  if (stopping) return;  // answers to aborted requests are not traffic
  ++counts.variants[variant].by_status[status];
  ++counts.answers;
}

void LoadGenerator::Impl::CountTransportError() {
  std::lock_guard lock(mu);
  if (!stopping) ++counts.transport_errors;
}

void LoadGenerator::Impl::Exited() {
  std::lock_guard lock(mu);
  --running;
  cv.notify_all();
}

namespace {

// {"user_id": "u<N>", "features": [...]} with a random user and features.
std::string RandomBody(std::mt19937_64& rng, std::uniform_int_distribution<int>& user,
                       std::uniform_real_distribution<double>& feature, int features) {
  std::string body = "{\"user_id\": \"u" + std::to_string(user(rng)) + "\", \"features\": [";
  for (int i = 0; i < features; ++i) {
    char number[32];
    std::snprintf(number, sizeof(number), "%s%.6f", i == 0 ? "" : ", ", feature(rng));
    body += number;
  }
  body += "]}";
  return body;
}

http::request<http::string_body> Request(const std::string& target, const std::string& host,
                                         std::string body) {
  http::request<http::string_body> request{http::verb::post, target, 11};
  request.set(http::field::host, host);
  request.set(http::field::content_type, "application/json");
  request.set(http::field::user_agent, "mlcanary-loadgen");
  request.keep_alive(true);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace

void LoadGenerator::Impl::Run(Worker& worker, int index) {
  std::mt19937_64 rng(options.seed + static_cast<std::uint64_t>(index));
  std::uniform_int_distribution<int> user(0, options.users - 1);
  std::uniform_real_distribution<double> feature(0.0, 1.0);
  const std::string target = "/v1/endpoints/" + options.endpoint + "/invocations";
  const std::string host = options.host + ":" + std::to_string(options.port);

  // Each worker owns rate/threads of the traffic; workers start staggered so
  // that their requests interleave instead of arriving in bursts.
  std::optional<SteadyClock::duration> period;
  if (options.rate_per_second > 0) {
    period = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(
        static_cast<double>(options.threads) / options.rate_per_second));
  }
  SteadyClock::time_point next = SteadyClock::now();
  if (period) next += *period * index / options.threads;

  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  tcp::socket socket(ioc);
  beast::flat_buffer buffer;
  bool connected = false;
  auto close = [&] {
    {
      std::lock_guard lock(worker.mu);
      worker.fd = -1;
    }
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    buffer.clear();
    connected = false;
  };

  while (SleepUntil(next)) {
    if (period) {
      next += *period;
      // Behind by more than a second (a stalled server): start afresh rather
      // than burst to catch up.
      const auto now = SteadyClock::now();
      if (next + std::chrono::seconds(1) < now) next = now;
    }
    beast::error_code ec;
    if (!connected) {
      auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
      if (!ec) asio::connect(socket, endpoints, ec);
      if (ec) {
        CountTransportError();
        close();
        if (!SleepUntil(SteadyClock::now() + options.reconnect_delay)) break;
        next = SteadyClock::now();
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      std::lock_guard lock(worker.mu);
      if (worker.aborted) break;
      worker.fd = socket.native_handle();
      connected = true;
    }

    const auto request = Request(target, host, RandomBody(rng, user, feature, options.features));
    http::write(socket, request, ec);
    http::response<http::string_body> response;
    if (!ec) http::read(socket, buffer, response, ec);
    if (ec) {
      CountTransportError();
      close();
      continue;
    }
    const auto variant = response.find("X-Mlcanary-Variant");
    Count(variant == response.end() ? std::string() : std::string(variant->value()),
          static_cast<int>(response.result_int()));
    if (!response.keep_alive()) close();
  }
  close();
  Exited();
}

LoadGenerator::LoadGenerator(LoadOptions options) : options_(std::move(options)) {}

LoadGenerator::~LoadGenerator() { Stop(); }

core::Status LoadGenerator::Start() {
  if (impl_) return core::FailedPreconditionError("load generator already started");
  if (options_.threads < 1 || options_.threads > 1024) {
    return core::ValidationError("threads must be in 1..1024");
  }
  if (options_.features < 0 || options_.users < 1) {
    return core::ValidationError("features must be >= 0 and users >= 1");
  }
  if (options_.port == 0 || options_.host.empty() || options_.endpoint.empty()) {
    return core::ValidationError("host, port and endpoint are required");
  }
  impl_ = std::make_unique<Impl>(options_);
  impl_->running = options_.threads;
  for (int i = 0; i < options_.threads; ++i) {
    impl_->workers.push_back(std::make_unique<Impl::Worker>());
  }
  for (int i = 0; i < options_.threads; ++i) {
    Impl::Worker& worker = *impl_->workers[static_cast<std::size_t>(i)];
    worker.thread = std::thread([this, &worker, i] { impl_->Run(worker, i); });
  }
  return {};
}

void LoadGenerator::Stop() {
  if (!impl_) return;
  {
    std::unique_lock lock(impl_->mu);
    if (impl_->stopping && impl_->running == 0 && impl_->workers.empty()) return;
    impl_->stopping = true;
    impl_->cv.notify_all();
    impl_->cv.wait_for(lock, options_.stop_grace, [this] { return impl_->running == 0; });
  }
  // Requests still waiting for an answer: shutting the socket down wakes the
  // blocked read (closing it from this thread would race with the worker).
  for (auto& worker : impl_->workers) {
    std::lock_guard lock(worker->mu);
    worker->aborted = true;
    if (worker->fd >= 0) ::shutdown(worker->fd, SHUT_RDWR);
  }
  for (auto& worker : impl_->workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  impl_->workers.clear();
}

LoadSnapshot LoadGenerator::snapshot() const {
  if (!impl_) return {};
  std::lock_guard lock(impl_->mu);
  return impl_->counts;
}

}  // namespace mlcanary::loadgen
