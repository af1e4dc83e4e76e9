// A real HTTP receiver for the tests of outbound calls (webhooks, hooks):
// testing/receiver.py (Python's http.server) on a free port, recording every
// request, killed when the object goes. Library http_testing gives its tests
// MLCANARY_HTTP_RECEIVER (the script's path).
#ifndef MLCANARY_HTTP_TESTING_RECEIVER_H_
#define MLCANARY_HTTP_TESTING_RECEIVER_H_

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace mlcanary::http::testing {

struct ReceiverOptions {
  int fail_first = 0;
  int fail_status = 500;
  int status = 200;
  std::string body;  // the answer's JSON body (not for the failing ones); empty: none
  double delay_s = 0;
  int delay_first = 0;  // 0: every request waits delay_s
};

// A real HTTP receiver (testing/receiver.py) on a free port, killed
// when the test ends. requests() reads what it has recorded so far.
class Receiver {
 public:
  explicit Receiver(ReceiverOptions o = {}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mlcanary-receiver-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    const std::string port_file = (dir_ / "port").string();
    out_ = (dir_ / "requests").string();
    std::vector<std::string> args{"python3",       MLCANARY_HTTP_RECEIVER,
                                  "--port-file",   port_file,
                                  "--out",         out_,
                                  "--fail-first",  std::to_string(o.fail_first),
                                  "--fail-status", std::to_string(o.fail_status),
                                  "--status",      std::to_string(o.status),
                                  "--body",        o.body,
                                  "--delay",       std::to_string(o.delay_s),
                                  "--delay-first", std::to_string(o.delay_first)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    for (int i = 0; i < 400 && pid_ > 0; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  // Every request seen, as {"n", "path", "content_type", "status", "body"}.
  std::vector<boost::json::object> requests() const {
    std::ifstream in(out_);
    std::vector<boost::json::object> out;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
    }
    return out;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string out_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace mlcanary::http::testing

#endif  // MLCANARY_HTTP_TESTING_RECEIVER_H_
