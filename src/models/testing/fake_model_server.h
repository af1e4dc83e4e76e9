// FakeModelServer: a real HTTP model server on 127.0.0.1 (port 0) following the
// SageMaker container contract, whose behaviour tests can change: answer, be
// slow, answer 5xx, refuse pings. One thread per connection; keep-alive.
#ifndef MLCANARY_MODELS_TESTING_FAKE_MODEL_SERVER_H_
#define MLCANARY_MODELS_TESTING_FAKE_MODEL_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace mlcanary::models::testing {

class FakeModelServer {
 public:
  // Answers POST /invocations with `body` (default: one 0.5 per CSV line).
  FakeModelServer();
  ~FakeModelServer();

  std::uint16_t port() const;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  void set_status(int status) { status_ = status; }
  void set_ping_status(int status) { ping_status_ = status; }
  void set_body(std::string body);  // fixed answer; empty: one "0.5" per line
  // Closes each connection after its answer instead of keeping it alive.
  void set_close_after_answer(bool close) { close_ = close; }

  int invocations() const { return invocations_; }
  int connections() const { return connections_; }
  std::string last_body() const;

  // Stops accepting and closes every connection.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<long> delay_ms_{0};
  std::atomic<int> status_{200};
  std::atomic<int> ping_status_{200};
  std::atomic<bool> close_{false};
  std::atomic<int> invocations_{0};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::string body_;       // GUARDED_BY(mu_)
  std::string last_body_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::models::testing

#endif  // MLCANARY_MODELS_TESTING_FAKE_MODEL_SERVER_H_
