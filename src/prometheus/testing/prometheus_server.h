// PrometheusServer: Debian's real Prometheus server for the tests, in a
// temporary directory on a free port of 127.0.0.1, scraping the given
// targets. $MLCANARY_PROMETHEUS_BIN overrides /usr/bin/prometheus.
#ifndef MLCANARY_PROMETHEUS_TESTING_PROMETHEUS_SERVER_H_
#define MLCANARY_PROMETHEUS_TESTING_PROMETHEUS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace mlcanary::prometheus::testing {

class PrometheusServer {
 public:
  // Writes the configuration (job "mlcanary", scrape interval and timeout
  // e.g. "1s", the targets' ports on 127.0.0.1) and starts the server; ready
  // when it returns.
  static core::Result<std::unique_ptr<PrometheusServer>> Start(const std::vector<int>& targets,
                                                               const std::string& interval,
                                                               const std::string& timeout);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Stops it (SIGTERM, SIGKILL after 10 s); Run starts it again, same port and data.
  void Stop();
  core::Status Run();
  bool running() const { return pid_ > 0; }
  const std::string& url() const { return url_; }
  std::string Log() const;

 private:
  PrometheusServer() = default;

  std::string binary_;
  std::string dir_;
  std::string url_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mlcanary::prometheus::testing

#endif  // MLCANARY_PROMETHEUS_TESTING_PROMETHEUS_SERVER_H_
