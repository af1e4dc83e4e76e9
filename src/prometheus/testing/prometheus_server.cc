#include "prometheus/testing/prometheus_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "client/http_connection.h"

namespace mlcanary::prometheus::testing {

namespace {

using namespace std::chrono_literals;

// A port nothing listens on now (bound, read, released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

core::Result<std::unique_ptr<PrometheusServer>> PrometheusServer::Start(
    const std::vector<int>& targets, const std::string& interval, const std::string& timeout) {
  std::unique_ptr<PrometheusServer> s(new PrometheusServer());
  const char* bin = std::getenv("MLCANARY_PROMETHEUS_BIN");
  s->binary_ = bin != nullptr && *bin != '\0' ? bin : "/usr/bin/prometheus";
  if (!std::filesystem::exists(s->binary_)) {
    return core::NotFoundError(s->binary_ +
                               " is missing: scripts/install-deps installs Debian's prometheus");
  }
  char tmpl[] = "/tmp/mlcanary-prometheus-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return core::InternalError("mkdtemp failed");
  s->dir_ = tmpl;
  s->port_ = FreePort();
  if (s->port_ <= 0) return core::InternalError("no free port");
  s->url_ = "http://127.0.0.1:" + std::to_string(s->port_);
  std::ofstream config(s->dir_ + "/prometheus.yml");
  config << "global:\n  scrape_interval: " << interval << "\n  scrape_timeout: " << timeout
         << "\n  evaluation_interval: 1s\n"
         << "scrape_configs:\n  - job_name: mlcanary\n    static_configs:\n      - targets: [";
  for (std::size_t i = 0; i < targets.size(); ++i) {
    config << (i > 0 ? ", " : "") << "'127.0.0.1:" << targets[i] << "'";
  }
  config << "]\n";
  config.close();
  if (auto r = s->Run(); !r) return std::unexpected(r.error());
  return s;
}

PrometheusServer::~PrometheusServer() {
  Stop();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

core::Status PrometheusServer::Run() {
  if (pid_ > 0) return core::Ok();
  const std::vector<std::string> args = {
      binary_, "--config.file=" + dir_ + "/prometheus.yml", "--storage.tsdb.path=" + dir_ + "/data",
      "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
  const std::string log = dir_ + "/prometheus.log";
  pid_ = ::fork();
  if (pid_ < 0) return core::InternalError("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  client::HttpConnection probe;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = probe.Send({.url = url_ + "/-/ready", .timeout = 1s});
    if (r && r->status == 200) return core::Ok();
    std::this_thread::sleep_for(50ms);
  }
  return core::MakeError(core::ErrorCode::kUnavailable,
                         "prometheus did not get ready; its log: " + Log());
}

void PrometheusServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  pid_ = -1;
}

std::string PrometheusServer::Log() const {
  std::ifstream in(dir_ + "/prometheus.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace mlcanary::prometheus::testing
