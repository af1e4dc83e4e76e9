// Lets a thread that runs an event loop (an asio::io_context) declare it, so that
// network model backends called on that thread do their I/O on that loop.
#ifndef MLCANARY_MODELS_EVENT_LOOP_H_
#define MLCANARY_MODELS_EVENT_LOOP_H_

#include <functional>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace mlcanary::models {

// Declares that the calling thread runs `loop` (and only it) from now on;
// nullptr: the loop has ended (its run() returned; it must still exist), which
// first runs the cleanups registered with AtThreadEventLoopEnd. The gateway's
// I/O threads call it around their run(), so that HttpBackend keeps a
// connection pool per I/O thread and answers on the caller's thread, with no hop
// to a thread of its own. One thread per loop: backends keep per-loop state
// that only the loop's thread touches.
void SetThreadEventLoop(boost::asio::io_context* loop);

// Runs `cleanup` on this thread when its loop ends (above), while the loop still
// exists: backends close the connections bound to it there, so none outlives it.
void AtThreadEventLoopEnd(std::function<void()> cleanup);

// The loop the calling thread declared, or nullptr.
boost::asio::io_context* ThreadEventLoop();

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_EVENT_LOOP_H_
