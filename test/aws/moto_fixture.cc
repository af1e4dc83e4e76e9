// Starts and stops the moto harness process; control calls over libcurl.
#include "moto_fixture.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#ifndef MLCANARY_SOURCE_DIR
#define MLCANARY_SOURCE_DIR ""
#endif

namespace mlcanary::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(10);

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Tail(const std::string& text, size_t max_chars = 4000) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// Waits up to `timeout` for `pid` to exit; true when it has been reaped.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

core::Result<std::unique_ptr<MotoHarness>> MotoHarness::Start() {
  const std::string source_dir = EnvOr("MLCANARY_SOURCE_DIR", MLCANARY_SOURCE_DIR);
  const std::string script = source_dir + "/test/aws/moto_harness.py";
  if (source_dir.empty() || !std::filesystem::exists(script)) {
    return core::FailedPreconditionError("moto harness script '" + script +
                                         "' not found (set MLCANARY_SOURCE_DIR)");
  }
  const std::string python = EnvOr("MLCANARY_PYTHON", "python3");

  std::string dir_template =
      (std::filesystem::temp_directory_path() / "mlcanary-moto-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    return core::InternalError("mkdtemp '" + dir_template + "': " + std::strerror(errno));
  }
  std::unique_ptr<MotoHarness> harness(new MotoHarness());
  harness->dir_ = dir_template;
  const std::string ready = harness->dir_ + "/ready.json";
  const std::string log = harness->dir_ + "/harness.log";

  std::vector<std::string> args = {python, script, "--ready-file", ready};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return core::InternalError("open '" + log + "': " + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return core::InternalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The harness must not outlive a test binary that crashes or is killed.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execvp(argv[0], argv.data());
    const char* message = "exec of the harness's python failed\n";
    (void)!write(STDERR_FILENO, message, std::strlen(message));
    _exit(127);
  }
  close(log_fd);
  harness->pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!std::filesystem::exists(ready)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      harness->pid_ = -1;
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "moto harness '" + python + " " + script + "' exited (status " +
                                 std::to_string(status) +
                                 ") before it was ready: " + Tail(ReadFile(log)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "moto harness not ready after 60 s: " + Tail(ReadFile(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  boost::system::error_code ec;
  const boost::json::value info = boost::json::parse(ReadFile(ready), ec);
  if (ec || !info.is_object() || !info.as_object().contains("url") || !info.at("url").is_string() ||
      !info.as_object().contains("moto_url") || !info.at("moto_url").is_string()) {
    return core::InternalError("moto harness ready file '" + ready +
                               "' is not {url, moto_url, pid}: " + ReadFile(ready));
  }
  harness->url_ = std::string(info.at("url").as_string());
  harness->moto_url_ = std::string(info.at("moto_url").as_string());
  return harness;
}

MotoHarness::~MotoHarness() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!WaitForExit(pid_, kStopTimeout)) {
      kill(pid_, SIGKILL);
      WaitForExit(pid_, kStopTimeout);
    }
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

core::Result<std::string> MotoHarness::Call(std::string_view method, std::string_view path,
                                            std::string_view body) {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return core::InternalError("curl_easy_init failed");
  const std::string url = url_ + std::string(path);
  const std::string method_text(method);
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response);
  if (method == "POST") {
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  if (rc != CURLE_OK) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           method_text + " " + url + ": " + curl_easy_strerror(rc));
  }
  if (status != 200) {
    return core::InternalError(method_text + " " + url + " answered " + std::to_string(status) +
                               ": " + response);
  }
  return response;
}

core::Status MotoHarness::InjectFault(std::string_view operation, int count, int status,
                                      std::string_view code, std::string_view message) {
  return QueueFault(operation, count, status, code, message, false);
}

core::Status MotoHarness::InjectFaultAfterForwarding(std::string_view operation, int count,
                                                     int status, std::string_view code,
                                                     std::string_view message) {
  return QueueFault(operation, count, status, code, message, true);
}

core::Status MotoHarness::QueueFault(std::string_view operation, int count, int status,
                                     std::string_view code, std::string_view message,
                                     bool after_forwarding) {
  if (operation.empty() || count < 1 || status < 400 || status > 599) {
    return core::ValidationError(
        "fault needs an operation, count >= 1 and a 4xx/5xx status; got '" +
        std::string(operation) + "' count " + std::to_string(count) + " status " +
        std::to_string(status));
  }
  boost::json::object spec;
  spec["operation"] = operation;
  spec["count"] = count;
  spec["status"] = status;
  spec["code"] = code;
  spec["message"] = message;
  spec["after_forwarding"] = after_forwarding;
  auto answer = Call("POST", "/_harness/faults", boost::json::serialize(spec));
  if (!answer) return std::unexpected(answer.error());
  return core::Ok();
}

core::Status MotoHarness::SetRuntimeVariant(std::string_view endpoint, std::string_view variant,
                                            double delay_ms, double scale) {
  boost::json::object spec;
  spec["endpoint"] = endpoint;
  spec["variant"] = variant;
  spec["delay_ms"] = delay_ms;
  spec["scale"] = scale;
  auto answer = Call("POST", "/_harness/runtime-variants", boost::json::serialize(spec));
  if (!answer) return std::unexpected(answer.error());
  return core::Ok();
}

core::Result<std::string> MotoHarness::Violations() {
  return Call("GET", "/_harness/violations", "");
}

core::Result<std::string> MotoHarness::Requests() { return Call("GET", "/_harness/requests", ""); }

core::Result<std::string> MotoHarness::SnsMessages() {
  return Call("GET", "/_harness/sns-messages", "");
}

core::Status MotoHarness::Reset() {
  auto answer = Call("POST", "/_harness/reset", "");
  if (!answer) return std::unexpected(answer.error());
  return core::Ok();
}

aws::ClientOptions MotoClientOptions(const MotoHarness& harness, aws::ClientOptions base) {
  base.endpoint_url = harness.url();
  base.credentials = {MotoHarness::kAccessKey, MotoHarness::kSecretKey, ""};
  base.sleep = [](core::Duration) {};  // retries without waiting
  return base;
}

std::unique_ptr<aws::AwsClient> MotoClient(const MotoHarness& harness,
                                           const aws::ServiceInfo& service,
                                           aws::ClientOptions base) {
  auto client = aws::AwsClient::Create(service, MotoClientOptions(harness, std::move(base)));
  if (!client) {
    ADD_FAILURE() << "AwsClient for moto: " << client.error().ToString();
    return nullptr;
  }
  return std::move(*client);
}

SharedMoto* GetSharedMoto() {
  static std::unique_ptr<SharedMoto> moto = [] {
    auto started = MotoHarness::Start();
    if (!started) {
      ADD_FAILURE() << started.error().ToString();
      return std::unique_ptr<SharedMoto>();
    }
    auto m = std::make_unique<SharedMoto>();
    m->harness = std::move(*started);
    m->sagemaker = MotoClient(*m->harness, aws::SageMakerService());
    m->autoscaling = MotoClient(*m->harness, aws::AutoScalingService());
    m->cloudwatch = MotoClient(*m->harness, aws::CloudWatchService());
    return m;
  }();
  return moto.get();
}

bool CallOk(aws::AwsClient& client, std::string_view op, const boost::json::object& request) {
  auto r = client.CallJson(op, request);
  EXPECT_TRUE(r) << op << ": " << r.error().ToString();
  return r.has_value();
}

}  // namespace mlcanary::testing
