// Memory across model reloads, the way `mlcanary serve` loads and drops a canary:
// each cycle loads the model on one of a few "API" threads (round robin, as the
// control API's worker pool does), predicts with it on a few long-lived "I/O"
// threads, and drops the last reference on one of those I/O threads. Prints the
// process's RSS and malloc's bytes in use after every cycle, once the booster is
// freed; with nothing kept per load, both stay flat after the first cycle.
//
// Usage: xgboost_reload_bench [--model PATH] [--cycles N] [--io-threads T] [--rows R]
//                             [--predictions P]
//   defaults: examples/models/recs-v4.json (18 MB DART, ~6 ms a row), 200 cycles,
//   4 I/O threads, P = 4 predictions of R = 1 row per I/O thread per cycle.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "models/xgboost_backend.h"

namespace {

using mlcanary::models::XgboostBackend;

double RssMb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kb = 0;
      status >> kb;
      return kb / 1024;
    }
  }
  return -1;
}

double HeapInUseMb() {
#if defined(__GLIBC__)
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd) / (1024 * 1024);
#else
  return -1;
#endif
}

// A long-lived thread that runs one job at a time, for the caller (Run waits).
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Run(std::function<void()> job) {
    std::unique_lock lock(mu_);
    job_ = std::move(job);
    cv_.notify_all();
    cv_.wait(lock, [&] { return !job_; });
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || job_; });
      if (!job_) return;
      job_();
      job_ = nullptr;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string model = std::string(MLCANARY_SOURCE_DIR) + "/examples/models/recs-v4.json";
  int cycles = 200, io_threads = 4, rows = 1, predictions = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model") {
      model = argv[i + 1];
    } else if (flag == "--cycles") {
      cycles = std::atoi(argv[i + 1]);
    } else if (flag == "--io-threads") {
      io_threads = std::atoi(argv[i + 1]);
    } else if (flag == "--rows") {
      rows = std::atoi(argv[i + 1]);
    } else if (flag == "--predictions") {
      predictions = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (argc % 2 == 0 || cycles < 1 || io_threads < 1 || rows < 1 || predictions < 0) {
    std::fprintf(stderr,
                 "usage: %s [--model PATH] [--cycles N] [--io-threads T] [--rows R] "
                 "[--predictions P]\n",
                 argv[0]);
    return 2;
  }
  std::printf(
      "model %s, %d cycles, %d I/O threads, %d %d-row predictions each; RSS at start %.1f MB\n",
      model.c_str(), cycles, io_threads, predictions, rows, RssMb());
  std::vector<Worker> api(4);
  std::vector<Worker> io(static_cast<std::size_t>(io_threads));
  double first_rss = 0, first_heap = 0;
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    std::shared_ptr<XgboostBackend> backend;
    const auto load_start = std::chrono::steady_clock::now();
    api[static_cast<std::size_t>(cycle) % api.size()].Run([&] {
      auto loaded = XgboostBackend::Load(model);
      if (!loaded) {
        std::fprintf(stderr, "%s\n", loaded.error().ToString().c_str());
        std::exit(1);
      }
      backend = std::move(*loaded);
    });
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
            .count();
    const std::size_t cols = *backend->num_features();
    for (auto& thread : io) {
      thread.Run([&] {
        std::vector<float> values(static_cast<std::size_t>(rows) * cols, 0.5f);
        for (int i = 0; i < predictions; ++i) {
          values[0] = static_cast<float>(i) / 16;
          if (!backend->Predict({values, static_cast<std::size_t>(rows), cols})) std::exit(1);
        }
      });
    }
    // The last reference goes on an I/O thread, as when a request in flight held
    // the routing table that the canary's removal replaced.
    io[static_cast<std::size_t>(cycle) % io.size()].Run([&] { backend.reset(); });
    XgboostBackend::FinishReleases();
    const double rss = RssMb(), heap = HeapInUseMb();
    if (cycle == 1) first_rss = rss, first_heap = heap;
    std::printf("cycle %d load_ms %.0f rss_mb %.1f heap_in_use_mb %.2f rss_growth_mb %.1f\n", cycle,
                load_ms, rss, heap, rss - first_rss);
    std::fflush(stdout);
  }
  std::printf("after %d cycles: RSS %.1f MB (%+.1f MB since cycle 1), heap in use %+.2f MB\n",
              cycles, RssMb(), RssMb() - first_rss, HeapInUseMb() - first_heap);
  return 0;
}
