#include "http/lazy_deadline.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace mlcanary::http {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Owner : std::enable_shared_from_this<Owner> {
  explicit Owner(asio::io_context& io) : deadline(asio::steady_timer(io)) {}
  void OnDeadline() { fired.push_back(Clock::now()); }

  LazyDeadline<asio::steady_timer> deadline;
  std::vector<Clock::time_point> fired;
};

TEST(LazyDeadlineTest, FiresOnceWhenTheDeadlinePasses) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  const auto at = Clock::now() + 20ms;
  owner->deadline.Set(at, *owner);
  io.run();
  ASSERT_EQ(owner->fired.size(), 1u);
  EXPECT_GE(owner->fired[0], at);
}

TEST(LazyDeadlineTest, MovedLaterItFiresAtTheLaterDeadlineOnly) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  owner->deadline.Set(Clock::now() + 10ms, *owner);
  const auto later = Clock::now() + 60ms;
  owner->deadline.Set(later, *owner);
  io.run();
  ASSERT_EQ(owner->fired.size(), 1u);
  EXPECT_GE(owner->fired[0], later);
}

TEST(LazyDeadlineTest, MovedEarlierItFiresAtTheEarlierDeadline) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  owner->deadline.Set(Clock::now() + 10min, *owner);
  const auto earlier = Clock::now() + 10ms;
  owner->deadline.Set(earlier, *owner);
  io.run_for(30s);  // with the first deadline kept, nothing would fire in 30 s
  ASSERT_EQ(owner->fired.size(), 1u);
  EXPECT_GE(owner->fired[0], earlier);
}

TEST(LazyDeadlineTest, ClearedItDoesNotFire) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  owner->deadline.Set(Clock::now() + 10ms, *owner);
  owner->deadline.Clear();
  io.run();  // the wait in flight completes and finds no deadline
  EXPECT_TRUE(owner->fired.empty());
}

TEST(LazyDeadlineTest, SetAgainAfterFiringItArmsAgain) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  owner->deadline.Set(Clock::now() + 5ms, *owner);
  io.run();
  io.restart();
  owner->deadline.Set(Clock::now() + 5ms, *owner);
  io.run();
  EXPECT_EQ(owner->fired.size(), 2u);
}

TEST(LazyDeadlineTest, AWaitKeepsTheOwnerAliveAndCancelReleasesIt) {
  asio::io_context io;
  auto owner = std::make_shared<Owner>(io);
  std::weak_ptr<Owner> watch = owner;
  owner->deadline.Set(Clock::now() + 10min, *owner);
  owner.reset();
  EXPECT_FALSE(watch.expired());  // the pending wait holds it
  watch.lock()->deadline.Cancel();
  io.run_for(30s);  // the cancelled wait completes at once
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace mlcanary::http
