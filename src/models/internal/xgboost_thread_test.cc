#include "models/internal/xgboost_thread.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace mlcanary::models::internal {
namespace {

TEST(XgboostThreadTest, RunsJobsOnOneOtherThreadInOrder) {
  XgboostThread* thread = XgboostThread::Get();
  ASSERT_NE(thread, nullptr);
  EXPECT_EQ(thread, XgboostThread::Get());
  EXPECT_FALSE(thread->OnThread());
  std::vector<int> order;  // touched only by the thread until Run returns
  std::thread::id ran_on;
  for (int i = 0; i < 5; ++i) thread->Post([&order, i] { order.push_back(i); });
  thread->Run([&] {
    ran_on = std::this_thread::get_id();
    order.push_back(5);
  });
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(XgboostThreadTest, RunOnTheThreadItselfRunsAtOnce) {
  XgboostThread* thread = XgboostThread::Get();
  bool inner = false;
  thread->Run([&] {
    EXPECT_TRUE(thread->OnThread());
    thread->Run([&] { inner = true; });  // would wait for itself if queued
  });
  EXPECT_TRUE(inner);
}

TEST(XgboostThreadTest, RunRethrowsAndAThrowingPostedJobDoesNotStopTheThread) {
  XgboostThread* thread = XgboostThread::Get();
  EXPECT_THROW(thread->Run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  thread->Post([] { throw std::runtime_error("dropped"); });
  bool ran = false;
  thread->Run([&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace mlcanary::models::internal
