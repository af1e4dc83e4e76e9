#include "gateway/job_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mlcanary::gateway {
namespace {

TEST(JobRingTest, RoundsItsSizeUpToAPowerOfTwo) {
  EXPECT_EQ(JobRing(0).size(), 2u);
  EXPECT_EQ(JobRing(3).size(), 4u);
  EXPECT_EQ(JobRing(1024).size(), 1024u);
  EXPECT_EQ(JobRing(2049).size(), 4096u);
}

TEST(JobRingTest, PopsInTheOrderPushedAndRefusesAPushWhenFull) {
  JobRing ring(4);
  std::vector<int> ran;
  for (int i = 0; i < 4; ++i) {
    JobRing::Job job = [&ran, i] { ran.push_back(i); };
    ASSERT_TRUE(ring.TryPush(job));
    EXPECT_FALSE(job);  // moved in
  }
  JobRing::Job extra = [&ran] { ran.push_back(99); };
  EXPECT_FALSE(ring.TryPush(extra));
  ASSERT_TRUE(extra);  // left to the caller
  EXPECT_TRUE(ring.HasJob());
  JobRing::Job out;
  while (ring.TryPop(out)) out();
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(ring.HasJob());
  EXPECT_FALSE(ring.TryPop(out));
  // A lap later the slots are free again.
  ASSERT_TRUE(ring.TryPush(extra));
  ASSERT_TRUE(ring.TryPop(out));
  out();
  EXPECT_EQ(ran.back(), 99);
}

// Four pushers and three poppers at once: every job runs exactly once.
TEST(JobRingTest, ManyPushersAndPoppersRunEveryJobOnce) {
  constexpr int kPushers = 4;
  constexpr int kPerPusher = 20000;
  JobRing ring(64);
  std::vector<std::atomic<int>> runs(kPushers * kPerPusher);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kPushers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerPusher; ++i) {
        JobRing::Job job = [&runs, &done, n = p * kPerPusher + i] {
          runs[n].fetch_add(1);
          done.fetch_add(1);
        };
        while (!ring.TryPush(job)) std::this_thread::yield();
      }
    });
  }
  for (int c = 0; c < 3; ++c) {
    threads.emplace_back([&] {
      JobRing::Job job;
      while (done.load() < kPushers * kPerPusher) {
        if (ring.TryPop(job)) {
          job();
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : runs) ASSERT_EQ(r.load(), 1);
}

}  // namespace
}  // namespace mlcanary::gateway
