// FakeModelServer: an Asio acceptor thread and one blocking thread per connection.
#include "models/testing/fake_model_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>
#include <vector>

namespace mlcanary::models::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct FakeModelServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::thread> workers;  // GUARDED_BY(mu)
  std::vector<int> fds;              // GUARDED_BY(mu)
  bool stopped = false;              // GUARDED_BY(mu)
};

namespace {

void Serve(FakeModelServer* server, tcp::socket& socket, const std::atomic<long>& delay_ms,
           const std::atomic<int>& status, const std::atomic<int>& ping_status,
           const std::atomic<bool>& close, std::atomic<int>& invocations,
           const std::function<std::string()>& fixed_body,
           const std::function<void(std::string)>& remember) {
  (void)server;
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) break;
    http::response<http::string_body> response;
    response.version(11);
    if (request.target() == "/ping") {
      response.result(static_cast<unsigned>(ping_status.load()));
      response.body() = "";
    } else {
      ++invocations;
      remember(request.body());
      if (long d = delay_ms.load(); d > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
      response.result(static_cast<unsigned>(status.load()));
      std::string body = fixed_body();
      if (body.empty()) {
        for (char c : request.body()) {
          if (c == '\n') body += "0.5\n";
        }
      }
      response.set(http::field::content_type, "text/csv");
      response.body() = std::move(body);
    }
    const bool keep = request.keep_alive() && !close.load();
    response.keep_alive(keep);
    response.prepare_payload();
    http::write(socket, response, ec);
    if (ec || !keep) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

FakeModelServer::FakeModelServer() : impl_(std::make_unique<Impl>()) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->accept_thread = std::thread([this] {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket(impl_->ioc);
      impl_->acceptor.accept(socket, ec);
      if (ec) return;
      std::lock_guard lock(impl_->mu);
      if (impl_->stopped) return;
      ++connections_;
      impl_->fds.push_back(socket.native_handle());
      impl_->workers.emplace_back([this, s = std::move(socket)]() mutable {
        Serve(
            this, s, delay_ms_, status_, ping_status_, close_, invocations_,
            [this] {
              std::lock_guard l(mu_);
              return body_;
            },
            [this](std::string body) {
              std::lock_guard l(mu_);
              last_body_ = std::move(body);
            });
        // Forget the descriptor before it is closed and can be reused.
        std::lock_guard l(impl_->mu);
        std::erase(impl_->fds, s.native_handle());
      });
    }
  });
}

FakeModelServer::~FakeModelServer() { Stop(); }

std::uint16_t FakeModelServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void FakeModelServer::set_body(std::string body) {
  std::lock_guard lock(mu_);
  body_ = std::move(body);
}

std::string FakeModelServer::last_body() const {
  std::lock_guard lock(mu_);
  return last_body_;
}

void FakeModelServer::Stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    // shutdown() wakes threads blocked in accept() and read() on Linux.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
    workers = std::move(impl_->workers);
  }
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  for (auto& t : workers) t.join();
}

}  // namespace mlcanary::models::testing
