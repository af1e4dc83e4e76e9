// The AWS client layer: signed requests to AWS services over libcurl's
// CURLOPT_AWS_SIGV4 (Debian has no AWS SDK for C++), for the JSON 1.0/1.1 and
// Query protocols, with the retry classification of botocore's "standard"
// mode: throttling, 5xx and timeouts are retried with backoff and full jitter;
// validation, not found, conditional-check and model errors are not.
//
// See ../../../shared/research/aws-wire-contracts.md for the wire contracts and
// the libcurl 7.88 pitfalls this layer avoids (no query strings, no valueless
// headers, no X-Amz-Date of our own, POSTFIELDS with an explicit size).
#ifndef MLCANARY_AWS_AWS_CLIENT_H_
#define MLCANARY_AWS_AWS_CLIENT_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none (sent as X-Amz-Security-Token, signed)
};

// Reads an environment variable; std::nullopt when unset. Injected for tests.
using GetEnv = std::function<std::optional<std::string>(std::string_view name)>;
GetEnv ProcessEnv();

// The standard chain, first hit wins: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
// (+ AWS_SESSION_TOKEN); then the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials), profile
// AWS_PROFILE (else "default"). kValidation naming what is missing or malformed.
core::Result<Credentials> LoadCredentials(const GetEnv& getenv);
// The INI text of a shared credentials file; `source` names it in messages.
core::Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile,
                                               std::string_view source);
// The region: `configured` when not empty, else AWS_REGION, else
// AWS_DEFAULT_REGION (empty values count as unset), else "us-east-1".
std::string LoadRegion(const GetEnv& getenv, std::string_view configured = {});

// kRestJson: REST paths with a raw payload (SageMaker Runtime's InvokeEndpoint),
// called through CallRest.
enum class Protocol { kJson10, kJson11, kQuery, kRestJson };

// One AWS service as the wire sees it.
struct ServiceInfo {
  std::string name;          // for messages: "SageMaker", "CloudWatch", ...
  std::string signing_name;  // credential scope: "sagemaker", "monitoring", ...
  std::string host_prefix;   // https://<host_prefix>.<region>.amazonaws.com/
  Protocol protocol = Protocol::kJson11;
  std::string target_prefix;      // JSON: X-Amz-Target = <target_prefix>.<Operation>
  std::string api_version;        // Query: Version=<api_version>
  bool query_compatible = false;  // JSON with x-amzn-query-mode: true (CloudWatch)
  int default_max_attempts = 3;   // botocore standard mode: 3 (DynamoDB: 4)
  core::Duration transient_base = std::chrono::milliseconds(50);  // DynamoDB: 25 ms
};
const ServiceInfo& SageMakerService();    // JSON 1.1, SageMaker.<Op>
const ServiceInfo& CloudWatchService();   // JSON 1.0, GraniteServiceVersion20100801.<Op>
const ServiceInfo& SnsService();          // Query, 2010-03-31
const ServiceInfo& DynamoDbService();     // JSON 1.0, DynamoDB_20120810.<Op>
const ServiceInfo& AutoScalingService();  // JSON 1.1, AnyScaleFrontendService.<Op>
// REST JSON, signing name "sagemaker", host runtime.sagemaker.<region>.amazonaws.com.
const ServiceInfo& SageMakerRuntimeService();

struct ClientOptions {
  std::string region = "us-east-1";
  // Empty: https://<host_prefix>.<region>.amazonaws.com/. Else an http(s) URL
  // (a VPC endpoint, or moto's server in tests); requests go to its path "/".
  std::string endpoint_url;
  Credentials credentials;
  core::Duration timeout = std::chrono::seconds(10);  // whole attempt; must be positive
  core::Duration connect_timeout = std::chrono::seconds(3);
  int max_attempts = 0;  // first try included; 0: the service's default
  core::Duration throttle_base = std::chrono::seconds(1);  // backoff scale for throttling
  core::Duration backoff_cap = std::chrono::seconds(20);
  // Idle curl handles (each keeps its live connections) kept between calls: at
  // least the number of calls made at once, or connections are not reused.
  std::size_t max_idle_handles = 4;
  // Waits between attempts; empty: std::this_thread::sleep_for.
  std::function<void(core::Duration)> sleep;
  // Random bits for the jitter; empty: a generator seeded from std::random_device.
  std::function<std::uint64_t()> random_bits;
  // Tests only: sends this X-Amz-Date (yyyymmddThhmmssZ) so that a signature
  // can be compared with botocore's for the same time (libcurl 7.88 then sends
  // the header twice; AWS would refuse that, a capture server does not mind).
  std::string fixed_amz_date;
  // Tests only: a CURLOPT_CONNECT_TO entry "host:port:connect_host:connect_port",
  // so that the Host header (and the signature) name an AWS host while the bytes
  // go to a local capture server. Set, it also turns any proxy off.
  std::string connect_to;
};

// What AWS said about a failed attempt.
struct AwsErrorDetail {
  int http_status = 0;  // 0: no answer (connect error, timeout)
  int curl_code = 0;    // the CURLcode when http_status is 0; 0: none recorded
  std::string code;     // "ThrottlingException", "ValidationException", ...
  std::string message;
  std::string request_id;
  std::string body;  // the raw error body (DynamoDB cancellation reasons live here)
  bool timed_out = false;
};

enum class RetryClass { kNone, kTransient, kThrottle };
// botocore standard mode: 500/502/503/504, RequestTimeout*, PriorRequestNotComplete
// are transient; the throttling codes, 429 and 509 are throttles. Beyond botocore:
// Application Auto Scaling's ConcurrentUpdateException and InternalServiceException
// (HTTP 400; the service documents both as retryable) are transient too. With no
// answer (http_status 0), only network failures are transient (resolve, connect,
// send, receive, timeout, partial file, empty reply; curl_code 0 counts as one):
// a malformed URL, an unsupported protocol or a bad CA file will not heal.
RetryClass ClassifyRetry(const AwsErrorDetail& error);
// The core error for a failed call of `operation` on `service`: throttles ->
// kThrottled, transient -> kUnavailable (kTimeout when timed out), validation
// -> kValidation, "could not find"/not found -> kNotFound, conditional check
// and transaction conflicts -> kConflict, auth -> kUnauthenticated/kPermissionDenied,
// ModelError -> kModelError, anything else kInternal. A validation error saying
// an endpoint update is in progress ("Cannot update in-progress endpoint",
// "endpoint ... is in progress", "... Updating") is kUnavailable: it heals when
// the other update ends, so callers retry it (the client itself does not: an
// update takes minutes). A curl failure that is not transient is kInternal
// naming the curl error. The message reads
// "SageMaker UpdateEndpoint: ValidationException: <message> (HTTP 400)".
core::Error ToCoreError(const AwsErrorDetail& error, std::string_view service,
                        std::string_view operation);

// One REST call (CallRest): POST <endpoint url without its trailing '/'><path>.
struct RestRequest {
  std::string operation;             // for messages and errors: "InvokeEndpoint"
  std::string path;                  // "/endpoints/recs/invocations": RFC 3986 unreserved or '/'
  std::vector<std::string> headers;  // "Name: value" lines, each with a value
  std::string body;
  core::Duration timeout{0};  // the attempt's limit; 0: the client's
  int max_attempts = 0;       // 0: the client's
};

struct RestResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// Query protocol parameters, in order ("MessageAttributes.entry.1.Name", ...).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// One client per service. Thread-safe; keeps a few curl handles for connection reuse.
class AwsClient {
 public:
  // kValidation for an empty region, missing credentials, a malformed endpoint_url
  // or a timeout that is not positive.
  static core::Result<std::unique_ptr<AwsClient>> Create(ServiceInfo service,
                                                         ClientOptions options);
  ~AwsClient();
  AwsClient(const AwsClient&) = delete;
  AwsClient& operator=(const AwsClient&) = delete;

  // JSON protocols: POSTs `request` to X-Amz-Target <prefix>.<operation>, retries
  // per ClassifyRetry, and returns the parsed response body ({} when empty; a
  // body that is not JSON is kInternal). On failure, `detail` (when not null)
  // receives the last attempt's AWS error, and the message of the returned
  // error (ToCoreError's) ends with " after N attempts" when it was retried.
  core::Result<boost::json::value> CallJson(std::string_view operation,
                                            const boost::json::object& request,
                                            AwsErrorDetail* detail = nullptr);
  // Query protocol: Action=<action>&Version=...&params, form-encoded; returns
  // the XML response body.
  core::Result<std::string> CallQuery(std::string_view action, const QueryParams& params,
                                      AwsErrorDetail* detail = nullptr);

  // REST protocol: one signed POST of `request` (retried per ClassifyRetry),
  // the 2xx answer; failures as CallJson's.
  core::Result<RestResponse> CallRest(const RestRequest& request, AwsErrorDetail* detail = nullptr);

  const ServiceInfo& service() const;
  const std::string& url() const;  // where requests go

 private:
  struct Impl;
  explicit AwsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Tiny reader for Query-protocol XML responses: the text of the first element
// named `name` (entities decoded), or nullopt. Enough for Publish's MessageId
// and <Error><Code>/<Message>; not a general XML parser.
std::optional<std::string> XmlText(std::string_view xml, std::string_view name);

// application/x-www-form-urlencoded / RFC 3986 unreserved-character encoding.
std::string UrlEncode(std::string_view text);

}  // namespace mlcanary::aws

#endif  // MLCANARY_AWS_AWS_CLIENT_H_
