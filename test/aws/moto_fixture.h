// Test fixture: starts test/aws/moto_harness.py (moto extended, behind a proxy that
// checks SigV4 signatures and parameters against botocore's models) in a child
// process, and talks to its control endpoints. For gtest binaries of AWS adapters.
#ifndef MLCANARY_TEST_AWS_MOTO_FIXTURE_H_
#define MLCANARY_TEST_AWS_MOTO_FIXTURE_H_

#include <sys/types.h>

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "aws/aws_client.h"
#include "core/error.h"

namespace mlcanary::testing {

// One running harness process: AWS endpoint url() for every service, signed with
// kAccessKey/kSecretKey. The destructor stops the process (SIGTERM, then waits).
// Not thread-safe: use one MotoHarness from one thread (a test fixture).
class MotoHarness {
 public:
  // Spawns `python3` (env MLCANARY_PYTHON overrides) running
  // $MLCANARY_SOURCE_DIR/test/aws/moto_harness.py and waits up to 60 s until it
  // is serving. kUnavailable with the tail of the harness's stderr if it exits or
  // does not come up.
  static core::Result<std::unique_ptr<MotoHarness>> Start();
  ~MotoHarness();
  MotoHarness(const MotoHarness&) = delete;
  MotoHarness& operator=(const MotoHarness&) = delete;

  // The proxy, e.g. "http://127.0.0.1:41234": the endpoint URL for all services.
  const std::string& url() const { return url_; }
  // moto itself, bypassing the checks (for seeding state with no records).
  const std::string& moto_url() const { return moto_url_; }

  // Queues `count` error answers (HTTP `status`, error `code`) for the next
  // requests of `operation` (e.g. "UpdateEndpointWeightsAndCapacities").
  core::Status InjectFault(std::string_view operation, int count, int status, std::string_view code,
                           std::string_view message = "injected");
  // The same, but moto gets each of those requests first (it takes effect) and
  // its answer is replaced by the error: AWS acted on a call whose answer was lost.
  core::Status InjectFaultAfterForwarding(std::string_view operation, int count, int status,
                                          std::string_view code,
                                          std::string_view message = "injected");
  // How sagemaker-runtime InvokeEndpoint answers for `variant` of `endpoint`
  // (harness extension (e)): after `delay_ms`, predictions scale * sum(row).
  core::Status SetRuntimeVariant(std::string_view endpoint, std::string_view variant,
                                 double delay_ms, double scale = 1.0);
  // JSON array texts; Violations() is "[]" when every request was well signed and
  // matched its operation's input shape.
  core::Result<std::string> Violations();
  core::Result<std::string> Requests();
  core::Result<std::string> SnsMessages();
  // Clears requests, violations, queued faults and recorded SNS messages.
  core::Status Reset();

  static constexpr const char* kAccessKey = "AKIDMLCANARYTEST";
  static constexpr const char* kSecretKey = "mlcanary-test-secret";

 private:
  MotoHarness() = default;
  core::Result<std::string> Call(std::string_view method, std::string_view path,
                                 std::string_view body);
  core::Status QueueFault(std::string_view operation, int count, int status, std::string_view code,
                          std::string_view message, bool after_forwarding);

  pid_t pid_ = -1;
  std::string dir_;  // temp dir with the ready file and the harness's stderr
  std::string url_;
  std::string moto_url_;
};

// Options for an AwsClient of `harness`: its url, the test credentials, and
// retries without waiting; the rest as in `base`.
aws::ClientOptions MotoClientOptions(const MotoHarness& harness, aws::ClientOptions base = {});

// An AwsClient of `service` against `harness` (MotoClientOptions); null, with a
// test failure, if it cannot be made.
std::unique_ptr<aws::AwsClient> MotoClient(const MotoHarness& harness,
                                           const aws::ServiceInfo& service,
                                           aws::ClientOptions base = {});

// One harness for the process with a client per service, for suites whose every
// test Reset()s it first: started by the first test that asks (ctest runs each
// test in a process of its own), stopped at exit. Null, with a test failure, if
// it cannot start; a client is null (with a test failure) if it cannot be made.
struct SharedMoto {
  std::unique_ptr<MotoHarness> harness;
  std::unique_ptr<aws::AwsClient> sagemaker, autoscaling, cloudwatch;
};
SharedMoto* GetSharedMoto();

// client.CallJson(op, request); false, with a test failure naming `op`, if it fails.
bool CallOk(aws::AwsClient& client, std::string_view op, const boost::json::object& request);

}  // namespace mlcanary::testing

#endif  // MLCANARY_TEST_AWS_MOTO_FIXTURE_H_
