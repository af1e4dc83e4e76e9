#include "http/accept_pacer.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlcanary::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Pacer = AcceptPacer<asio::steady_timer>;

// A listener driven by an AcceptPacer, as the servers drive theirs; counts
// the accepts it starts and keeps the connections it accepts.
struct Listener {
  explicit Listener(AcceptPacerOptions options)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    options.warn = [this](std::string_view line) { log.emplace_back(line); };
    pacer.emplace(asio::steady_timer(io), std::move(options), [this] { Accept(); });
  }

  void Accept() {
    ++accepts_started;
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        return pacer->OnError(ec);
      }
      Pacer::Slot slot = pacer->OnAccepted();
      accepted.push_back({std::move(socket), std::move(slot)});
    });
  }

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  // Runs the loop until `done` or `limit` passes.
  template <class Done>
  void RunUntil(Done done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io.run_for(10ms);
      io.restart();
    }
  }

  struct Connection {
    tcp::socket socket;
    Pacer::Slot slot;
  };

  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<Pacer> pacer;
  std::vector<std::string> log;
  std::vector<Connection> accepted;
  int accepts_started = 0;
};

// Connected clients: the kernel completes each handshake into the listen
// backlog whether or not the server accepts.
std::vector<tcp::socket> Connect(asio::io_context& io, std::uint16_t port, int n) {
  std::vector<tcp::socket> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back(io).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  return clients;
}

int OpenDescriptors() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

TEST(AcceptPacerTest, ConnectionErrorsAreTransientResourceErrorsAreNot) {
  using boost::system::error_code;
  using boost::system::system_category;
  EXPECT_TRUE(IsConnectionAcceptError(error_code(ECONNABORTED, system_category())));
  EXPECT_TRUE(IsConnectionAcceptError(error_code(EPROTO, system_category())));
  for (int resource : {EMFILE, ENFILE, ENOBUFS, ENOMEM, EBADF, EINVAL}) {
    EXPECT_FALSE(IsConnectionAcceptError(error_code(resource, system_category()))) << resource;
  }
  EXPECT_FALSE(IsConnectionAcceptError(asio::error::eof));
}

TEST(AcceptPacerTest, StopsAcceptingAtTheCapAndResumesWhenAConnectionCloses) {
  Listener listener({.max_connections = 3});
  auto clients = Connect(listener.io, listener.port(), 5);
  listener.pacer->Start();
  listener.RunUntil([&] { return listener.accepted.size() == 3; }, 5s);
  ASSERT_EQ(listener.accepted.size(), 3u);
  listener.RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(listener.accepted.size(), 3u);  // two wait in the backlog
  EXPECT_EQ(listener.accepts_started, 3);   // and no accept is in flight
  EXPECT_EQ(listener.pacer->open_connections(), 3u);
  ASSERT_EQ(listener.log.size(), 1u);
  EXPECT_NE(listener.log[0].find("3 connections open, the cap"), std::string::npos)
      << listener.log[0];

  listener.accepted.erase(listener.accepted.begin());  // its slot goes with it
  listener.RunUntil([&] { return listener.accepted.size() == 3 && listener.accepts_started == 4; },
                    5s);
  EXPECT_EQ(listener.accepts_started, 4);
  EXPECT_EQ(listener.accepted.size(), 3u);  // the fourth, then at the cap again
  listener.accepted.clear();
  listener.RunUntil([&] { return listener.accepted.size() == 1; }, 5s);
  EXPECT_EQ(listener.accepted.size(), 1u);  // the fifth
  EXPECT_EQ(listener.pacer->open_connections(), 1u);
}

// Out of file descriptors, accept() fails at once every time: the loop must
// pause (growing pauses, a log line per second) instead of spinning, and
// accept the waiting connections once descriptors are free again.
TEST(AcceptPacerTest, PausesWhileOutOfDescriptorsThenAcceptsTheBacklog) {
  Listener listener({.min_pause = 10ms, .max_pause = 200ms, .log_interval = 1000ms});
  auto clients = Connect(listener.io, listener.port(), 12);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int open = OpenDescriptors();
  ASSERT_GT(open, 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open + 4);  // room for four accepted connections
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  listener.pacer->Start();
  const auto start = std::chrono::steady_clock::now();
  listener.RunUntil([] { return false; }, 1500ms);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // About four (the limit counts descriptor numbers, and there may be gaps).
  const auto accepted = listener.accepted.size();
  EXPECT_GE(accepted, 1u);
  EXPECT_LT(accepted, 12u);
  // Retried at once, the failing accept runs hundreds of thousands of times a
  // second. Paced: the accepts that succeed, then one per pause (10, 20, 40,
  // ... 200ms).
  EXPECT_LT(listener.accepts_started, static_cast<double>(accepted) + 20 * seconds)
      << listener.accepts_started;
  // One line per second at most; a later one counts those held back.
  EXPECT_LE(listener.log.size(), 1 + static_cast<std::size_t>(seconds));
  ASSERT_FALSE(listener.log.empty());
  EXPECT_NE(listener.log[0].find("accept failed: Too many open files; pausing accepts for"),
            std::string::npos)
      << listener.log[0];

  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  listener.RunUntil([&] { return listener.accepted.size() == 12; }, 5s);
  EXPECT_EQ(listener.accepted.size(), 12u);
}

TEST(AcceptPacerTest, StopEndsAPauseWithoutAnotherAccept) {
  Listener listener({.max_connections = 1});
  auto clients = Connect(listener.io, listener.port(), 2);
  listener.pacer->Start();
  listener.RunUntil([&] { return listener.accepted.size() == 1; }, 5s);
  ASSERT_EQ(listener.accepted.size(), 1u);
  listener.pacer->Stop();
  listener.accepted.clear();  // below the cap again, but stopped
  listener.RunUntil([] { return false; }, 100ms);
  EXPECT_EQ(listener.accepts_started, 1);
  EXPECT_EQ(listener.pacer->open_connections(), 0u);
}

}  // namespace
}  // namespace mlcanary::http
