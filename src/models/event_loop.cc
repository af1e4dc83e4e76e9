// The calling thread's declared event loop.
#include "models/event_loop.h"

namespace mlcanary::models {
namespace {
thread_local boost::asio::io_context* thread_loop = nullptr;
}  // namespace

void SetThreadEventLoop(boost::asio::io_context* loop) { thread_loop = loop; }

boost::asio::io_context* ThreadEventLoop() { return thread_loop; }

}  // namespace mlcanary::models
