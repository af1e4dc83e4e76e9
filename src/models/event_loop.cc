// The calling thread's declared event loop and its end-of-loop cleanups.
#include "models/event_loop.h"

#include <utility>
#include <vector>

namespace mlcanary::models {
namespace {
thread_local boost::asio::io_context* thread_loop = nullptr;
thread_local std::vector<std::function<void()>> loop_end_cleanups;
}  // namespace

void SetThreadEventLoop(boost::asio::io_context* loop) {
  if (loop == nullptr) {
    auto cleanups = std::move(loop_end_cleanups);
    loop_end_cleanups.clear();
    for (auto& cleanup : cleanups) cleanup();
  }
  thread_loop = loop;
}

boost::asio::io_context* ThreadEventLoop() { return thread_loop; }

void AtThreadEventLoopEnd(std::function<void()> cleanup) {
  loop_end_cleanups.push_back(std::move(cleanup));
}

}  // namespace mlcanary::models
