// AwsClient against an in-test capture HTTP server on 127.0.0.1 (port 0): the
// bytes on the wire, SigV4 signatures checked against botocore's SigV4Auth,
// error parsing per protocol, retries and backoff; plus credentials and helpers.
#include "aws/aws_client.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

// Tests make curl_slist_append fail for the lines that start with this prefix:
// this definition interposes libcurl's for the client (linked statically here).
std::atomic<const char*> g_failing_slist_prefix{nullptr};

extern "C" struct curl_slist* curl_slist_append(struct curl_slist* list, const char* data) {
  using Fn = struct curl_slist* (*)(struct curl_slist*, const char*);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "curl_slist_append"));
  const char* prefix = g_failing_slist_prefix.load();
  if (prefix != nullptr && data != nullptr && std::string_view(data).starts_with(prefix)) {
    return nullptr;
  }
  return real(list, data);
}

namespace mlcanary::aws {
namespace {

using std::chrono::milliseconds;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct CapturedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (Lower(k) == Lower(name)) return v;
    }
    return "";
  }
  int HeaderCount(std::string_view name) const {
    int n = 0;
    for (const auto& [k, v] : headers) n += Lower(k) == Lower(name) ? 1 : 0;
    return n;
  }
};

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool hang = false;  // never answer; wait for the client to hang up
};

// A tiny HTTP/1.1 server: one thread per connection, keep-alive, answers from
// a script (then 200 "{}"), and records every request.
class CaptureServer {
 public:
  CaptureServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      ADD_FAILURE() << "capture server: bind/listen failed";
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~CaptureServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (std::thread& t : connections_) t.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Enqueue(ScriptedResponse r) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(r));
  }
  void Enqueue(int status, std::string body,
               std::vector<std::pair<std::string, std::string>> headers = {}) {
    Enqueue(ScriptedResponse{status, std::move(headers), std::move(body), false});
  }
  std::vector<CapturedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections_.emplace_back([this, fd] {
        Serve(fd);
        ::close(fd);
      });
    }
  }

  // Reads more bytes into `buffer`; false when the peer closed or we stop.
  bool ReadMore(int fd, std::string& buffer) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 20);
      if (ready == 0) continue;
      if (ready < 0) return false;
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  void Serve(int fd) {
    std::string buffer;
    for (;;) {
      std::size_t head_end;
      while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(fd, buffer)) return;
      }
      CapturedRequest req;
      std::string_view head(buffer.data(), head_end);
      std::size_t line_end = head.find("\r\n");
      const std::string_view request_line = head.substr(0, line_end);
      const std::size_t sp1 = request_line.find(' ');
      const std::size_t sp2 = request_line.find(' ', sp1 + 1);
      req.method = std::string(request_line.substr(0, sp1));
      req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
      std::size_t content_length = 0;
      while (line_end != std::string_view::npos && line_end < head.size()) {
        const std::size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        const std::string_view line =
            head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
        if (Lower(line.substr(0, colon)) == "content-length") {
          content_length = std::stoul(std::string(value));
        }
      }
      buffer.erase(0, head_end + 4);
      while (buffer.size() < content_length) {
        if (!ReadMore(fd, buffer)) return;
      }
      req.body = buffer.substr(0, content_length);
      buffer.erase(0, content_length);
      ScriptedResponse response{200, {}, "{}", false};
      {
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(req));
        if (!script_.empty()) {
          response = std::move(script_.front());
          script_.pop_front();
        }
      }
      if (response.hang) {
        while (ReadMore(fd, buffer)) {
        }
        return;
      }
      std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Scripted\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      for (const auto& [k, v] : response.headers) out += k + ": " + v + "\r\n";
      out += "\r\n" + response.body;
      std::size_t sent = 0;
      while (sent < out.size()) {
        const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // touched by the acceptor, joined after it
  mutable std::mutex mu_;
  std::deque<ScriptedResponse> script_;
  std::vector<CapturedRequest> requests_;
};

// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." -> its fields.
std::map<std::string, std::string> ParseAuthorization(std::string_view auth) {
  std::map<std::string, std::string> fields;
  const std::size_t space = auth.find(' ');
  fields["algorithm"] = std::string(auth.substr(0, space));
  std::string_view rest = auth.substr(space + 1);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const std::size_t eq = part.find('=');
    if (eq != std::string_view::npos) {
      fields[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return fields;
}

class AwsClientTest : public ::testing::Test {
 protected:
  ClientOptions Options() {
    ClientOptions o;
    o.endpoint_url = server_.url();
    o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    o.timeout = std::chrono::seconds(5);
    o.sleep = [this](core::Duration d) { delays_.push_back(d); };
    return o;
  }
  std::unique_ptr<AwsClient> Client(const ServiceInfo& service, ClientOptions options) {
    auto client = AwsClient::Create(service, std::move(options));
    EXPECT_TRUE(client.has_value()) << client.error().ToString();
    return client ? std::move(*client) : nullptr;
  }

  CaptureServer server_;
  std::vector<core::Duration> delays_;
};

// ---------------------------------------------------------------------------
// SigV4

TEST_F(AwsClientTest, SignatureMatchesTheBotocoreGoldenValue) {
  ClientOptions o = Options();
  o.endpoint_url = "http://api.sagemaker.us-east-1.amazonaws.com/";
  o.connect_to =
      "api.sagemaker.us-east-1.amazonaws.com:80:127.0.0.1:" + std::to_string(server_.port());
  o.credentials.session_token = "SESSIONTOKEN";
  o.fixed_amz_date = "20150830T123600Z";
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  server_.Enqueue(200, R"({"EndpointName":"my-ep","EndpointStatus":"InService"})");
  auto result = client->CallJson("DescribeEndpoint", {{"EndpointName", "my-ep"}});
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->at("EndpointStatus").as_string(), "InService");

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const CapturedRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.Header("Host"), "api.sagemaker.us-east-1.amazonaws.com");
  EXPECT_EQ(r.body, R"({"EndpointName":"my-ep"})");
  EXPECT_EQ(r.Header("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(r.Header("X-Amz-Target"), "SageMaker.DescribeEndpoint");
  EXPECT_EQ(r.Header("X-Amz-Security-Token"), "SESSIONTOKEN");
  const auto auth = ParseAuthorization(r.Header("Authorization"));
  EXPECT_EQ(auth.at("algorithm"), "AWS4-HMAC-SHA256");
  EXPECT_EQ(auth.at("Credential"), "AKIDEXAMPLE/20150830/us-east-1/sagemaker/aws4_request");
  EXPECT_EQ(auth.at("SignedHeaders"),
            "content-type;host;x-amz-date;x-amz-security-token;x-amz-target");
  EXPECT_EQ(auth.at("Signature"),
            "d325ab7d58bbd7f1c1634b3a313044c7c8f6ecb20e5ba05cd27d8a60b9bb4161");
}

// Rebuilds a captured request from the headers its Authorization names as
// signed and recomputes the signature with botocore, as an AWS front end would.
constexpr char kBotocoreVerifier[] = R"PY(
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
d = json.load(open(sys.argv[1]))
signed = d["signed_headers"].split(";")
headers = {k: v for k, v in d["headers"] if k.lower() in signed}
host = [v for k, v in d["headers"] if k.lower() == "host"][0]
req = AWSRequest(method=d["method"], url="http://" + host + d["path"],
                 data=d["body"].encode("utf-8"), headers=headers)
creds = Credentials(d["access_key"], d["secret_key"], d["token"] or None)
signer = SigV4Auth(creds, d["service"], d["region"])
req.context["timestamp"] = d["amz_date"]
creq = signer.canonical_request(req)
sts = signer.string_to_sign(req, creq)
print(json.dumps({"signature": signer.signature(sts, req),
                  "signed_headers": signer.signed_headers(signer.headers_to_sign(req))}))
)PY";

std::string RunBotocore(const CapturedRequest& r, const Credentials& creds, std::string_view region,
                        std::string_view service) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("aws_test_sigv4_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto script = dir / "verify.py";
  const auto input = dir / "request.json";
  std::ofstream(script) << kBotocoreVerifier;
  boost::json::array headers;
  for (const auto& [k, v] : r.headers) headers.push_back(boost::json::array{k.c_str(), v.c_str()});
  const auto auth = ParseAuthorization(r.Header("Authorization"));
  boost::json::object in = {
      {"method", r.method},
      {"path", r.target},
      {"headers", headers},
      {"body", r.body},
      {"signed_headers", auth.count("SignedHeaders") ? auth.at("SignedHeaders") : ""},
      {"access_key", creds.access_key_id},
      {"secret_key", creds.secret_access_key},
      {"token", creds.session_token},
      {"service", service},
      {"region", region},
      {"amz_date", r.Header("X-Amz-Date")}};
  std::ofstream(input) << boost::json::serialize(in);
  const std::string command = "python3 " + script.string() + " " + input.string() + " 2>&1";
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
    ::pclose(pipe);
  }
  std::filesystem::remove_all(dir);
  return output;
}

void ExpectBotocoreAgrees(const CapturedRequest& r, const Credentials& creds,
                          std::string_view region, std::string_view service,
                          std::string_view expected_signed_headers) {
  const auto auth = ParseAuthorization(r.Header("Authorization"));
  ASSERT_EQ(auth.count("Signature"), 1u) << "unsigned request: " << r.Header("Authorization");
  EXPECT_EQ(auth.at("SignedHeaders"), expected_signed_headers);
  EXPECT_EQ(r.HeaderCount("X-Amz-Date"), 1);
  const std::string output = RunBotocore(r, creds, region, service);
  boost::system::error_code ec;
  const boost::json::value verdict = boost::json::parse(output, ec);
  ASSERT_FALSE(ec) << "botocore verifier failed: " << output;
  EXPECT_EQ(verdict.at("signature").as_string(), auth.at("Signature"));
  EXPECT_EQ(verdict.at("signed_headers").as_string(), auth.at("SignedHeaders"));
  // The verifier can disagree: one byte of body changed, another signature.
  CapturedRequest tampered = r;
  tampered.body += " ";
  const boost::json::value other =
      boost::json::parse(RunBotocore(tampered, creds, region, service), ec);
  ASSERT_FALSE(ec);
  EXPECT_NE(other.at("signature").as_string(), auth.at("Signature"));
}

TEST_F(AwsClientTest, JsonSignatureWithTheRealClockEqualsBotocores) {
  ClientOptions o = Options();
  o.region = "eu-west-1";
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CallJson("ListEndpoints", {{"MaxResults", 5}, {"NameContains", "fraud"}}));
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].HeaderCount("X-Amz-Security-Token"), 0);
  ExpectBotocoreAgrees(requests[0], o.credentials, "eu-west-1", "sagemaker",
                       "content-type;host;x-amz-date;x-amz-target");
}

TEST_F(AwsClientTest, QuerySignatureWithSessionTokenEqualsBotocores) {
  ClientOptions o = Options();
  o.credentials.session_token = "FwoGZXIvYXdzEFAaDH+token/==";
  auto client = Client(SnsService(), o);
  ASSERT_NE(client, nullptr);
  server_.Enqueue(200,
                  "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult>"
                  "</PublishResponse>");
  auto result =
      client->CallQuery("Publish", {{"TopicArn", "arn:aws:sns:us-east-1:123456789012:canary"},
                                    {"Message", "rolled back: p99 > 250ms & errors 2% (ü)"},
                                    {"MessageAttributes.entry.1.Name", "state"},
                                    {"MessageAttributes.entry.1.Value.DataType", "String"},
                                    {"MessageAttributes.entry.1.Value.StringValue", "RolledBack"}});
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(XmlText(*result, "MessageId"), "m-1");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const CapturedRequest& r = requests[0];
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.Header("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(r.body,
            "Action=Publish&Version=2010-03-31"
            "&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Acanary"
            "&Message=rolled%20back%3A%20p99%20%3E%20250ms%20%26%20errors%202%25%20%28%C3%BC%29"
            "&MessageAttributes.entry.1.Name=state"
            "&MessageAttributes.entry.1.Value.DataType=String"
            "&MessageAttributes.entry.1.Value.StringValue=RolledBack");
  ExpectBotocoreAgrees(r, o.credentials, "us-east-1", "sns",
                       "content-type;host;x-amz-date;x-amz-security-token");
}

TEST_F(AwsClientTest, JsonRequestsCarryProtocolHeadersAndNothingValueless) {
  auto client = Client(DynamoDbService(), Options());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CallJson("GetItem", {{"TableName", "deployments"}}));
  auto cw = Client(CloudWatchService(), Options());
  ASSERT_NE(cw, nullptr);
  ASSERT_TRUE(cw->CallJson("GetMetricData", {}));
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(requests[0].Header("X-Amz-Target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(requests[0].HeaderCount("x-amzn-query-mode"), 0);
  EXPECT_NE(requests[0].Header("Authorization").find("/us-east-1/dynamodb/aws4_request"),
            std::string::npos);
  EXPECT_EQ(requests[1].Header("X-Amz-Target"), "GraniteServiceVersion20100801.GetMetricData");
  EXPECT_EQ(requests[1].Header("x-amzn-query-mode"), "true");
  EXPECT_EQ(requests[1].body, "{}");
  EXPECT_NE(requests[1].Header("Authorization").find("/us-east-1/monitoring/aws4_request"),
            std::string::npos);
  for (const auto& r : requests) {
    EXPECT_EQ(r.HeaderCount("Expect"), 0);
    const auto auth = ParseAuthorization(r.Header("Authorization"));
    // Every signed header was sent with a value.
    std::string_view names = auth.at("SignedHeaders");
    while (!names.empty()) {
      const std::size_t semi = names.find(';');
      const std::string name(names.substr(0, semi));
      EXPECT_EQ(r.HeaderCount(name), 1) << name;
      EXPECT_FALSE(r.Header(name).empty()) << name;
      names = semi == std::string_view::npos ? std::string_view() : names.substr(semi + 1);
    }
  }
}

// ---------------------------------------------------------------------------
// Responses and errors

TEST_F(AwsClientTest, EmptySuccessBodyIsAnEmptyObject) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(200, "");
  auto result = client->CallJson("DeleteEndpoint", {{"EndpointName", "e"}});
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_TRUE(result->is_object());
  EXPECT_TRUE(result->as_object().empty());
}

TEST_F(AwsClientTest, UnparsableSuccessBodyIsInternalNamingTheOperation) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(200, "<html>proxy</html>");
  auto result = client->CallJson("DescribeEndpoint", {{"EndpointName", "e"}});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kInternal);
  EXPECT_NE(result.error().message().find("SageMaker DescribeEndpoint"), std::string::npos);
  EXPECT_NE(result.error().message().find("not JSON"), std::string::npos);
}

TEST_F(AwsClientTest, ValidationExceptionIsNotRetried) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(400, R"({"__type":"ValidationException","message":"1 validation error"})",
                  {{"X-Amzn-ErrorType", "ValidationException:http://internal.amazon.com/x"},
                   {"x-amzn-RequestId", "req-1"}});
  AwsErrorDetail detail;
  auto result = client->CallJson("UpdateEndpoint", {}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kValidation);
  EXPECT_EQ(result.error().message(),
            "SageMaker UpdateEndpoint: ValidationException: 1 validation error "
            "(HTTP 400, request id req-1)");
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(delays_.empty());
  EXPECT_EQ(detail.http_status, 400);
  EXPECT_EQ(detail.code, "ValidationException");
  EXPECT_EQ(detail.request_id, "req-1");
}

TEST_F(AwsClientTest, CouldNotFindEndpointIsNotFound) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(400,
                  R"({"__type":"ValidationException","Message":"Could not find endpoint 'x'."})");
  auto result = client->CallJson("DescribeEndpoint", {{"EndpointName", "x"}});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kNotFound);
  EXPECT_NE(result.error().message().find("Could not find endpoint 'x'."), std::string::npos);
}

TEST_F(AwsClientTest, UpdateInProgressIsUnavailableButNotRetriedByTheClient) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(400, R"({"__type":"ValidationException",)"
                       R"("message":"Cannot update in-progress endpoint \"arn:x\"."})");
  auto result = client->CallJson("UpdateEndpoint", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_TRUE(result.error().retryable());
  EXPECT_NE(result.error().message().find("ValidationException: Cannot update in-progress"),
            std::string::npos)
      << result.error().message();
  // The other update takes minutes: the caller retries later, not the client now.
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(delays_.empty());
}

TEST_F(AwsClientTest, ErrorTypeHeaderIsUsedWhenTheBodyHasNone) {
  auto client = Client(AutoScalingService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(400, "", {{"X-Amzn-ErrorType", "ObjectNotFoundException:http://x/"}});
  AwsErrorDetail detail;
  auto result = client->CallJson("PutScalingPolicy", {}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(detail.code, "ObjectNotFoundException");
  EXPECT_EQ(result.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(AwsClientTest, DynamoDbConditionalCheckFailureIsAConflictWithTheBareCode) {
  auto client = Client(DynamoDbService(), Options());
  ASSERT_NE(client, nullptr);
  const std::string body =
      R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",)"
      R"("message":"The conditional request failed","Item":{"version":{"N":"3"}}})";
  server_.Enqueue(400, body);
  AwsErrorDetail detail;
  auto result = client->CallJson("PutItem", {{"TableName", "t"}}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kConflict);
  EXPECT_EQ(detail.code, "ConditionalCheckFailedException");
  EXPECT_EQ(detail.message, "The conditional request failed");
  EXPECT_EQ(detail.body, body);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(AwsClientTest, CloudWatchPrefersTheQueryErrorCode) {
  auto client = Client(CloudWatchService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(
      400,
      R"({"__type":"com.amazonaws.cloudwatch#InvalidParameterValueException","message":"bad Id"})",
      {{"x-amzn-query-error", "InvalidParameterValue;Sender"}});
  AwsErrorDetail detail;
  auto result = client->CallJson("GetMetricData", {}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(detail.code, "InvalidParameterValue");
  EXPECT_EQ(detail.message, "bad Id");
  EXPECT_EQ(result.error().code(), core::ErrorCode::kValidation);
}

TEST_F(AwsClientTest, QueryErrorXmlIsParsed) {
  auto client = Client(SnsService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(403,
                  "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                  "<Error><Type>Sender</Type><Code>AuthorizationError</Code>"
                  "<Message>User &quot;x&quot; is not authorized</Message></Error>"
                  "<RequestId>sns-req-9</RequestId></ErrorResponse>");
  AwsErrorDetail detail;
  auto result = client->CallQuery("Publish", {{"TopicArn", "arn"}}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kPermissionDenied);
  EXPECT_EQ(detail.code, "AuthorizationError");
  EXPECT_EQ(detail.message, "User \"x\" is not authorized");
  EXPECT_EQ(detail.request_id, "sns-req-9");
  EXPECT_EQ(result.error().message(),
            "SNS Publish: AuthorizationError: User \"x\" is not authorized "
            "(HTTP 403, request id sns-req-9)");
}

TEST_F(AwsClientTest, ProtocolMismatchIsRefused) {
  auto sns = Client(SnsService(), Options());
  auto sm = Client(SageMakerService(), Options());
  ASSERT_NE(sns, nullptr);
  ASSERT_NE(sm, nullptr);
  EXPECT_EQ(sns->CallJson("Publish", {}).error().code(), core::ErrorCode::kInternal);
  EXPECT_EQ(sm->CallQuery("DescribeEndpoint", {}).error().code(), core::ErrorCode::kInternal);
  EXPECT_TRUE(server_.requests().empty());
}

// ---------------------------------------------------------------------------
// Retries

TEST_F(AwsClientTest, ThrottlingIsRetriedWithTheThrottleBackoff) {
  ClientOptions o = Options();
  o.random_bits = [] { return std::uint64_t{2000}; };  // ms: 2000 % (ceiling + 1)
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 2; ++i) {
    server_.Enqueue(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})");
  }
  server_.Enqueue(200, R"({"ok":true})");
  auto result = client->CallJson("UpdateEndpointWeightsAndCapacities", {});
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);
  // Ceilings 1 s and 2 s (throttle_base 1 s): 2000 % 1001 and 2000 % 2001.
  EXPECT_EQ(delays_, (std::vector<core::Duration>{milliseconds(999), milliseconds(2000)}));
}

TEST_F(AwsClientTest, JitteredDelaysStayWithinTheirCeilings) {
  ClientOptions o = Options();
  o.max_attempts = 6;
  o.backoff_cap = milliseconds(3000);
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) server_.Enqueue(429, "");
  ASSERT_TRUE(client->CallJson("DescribeEndpoint", {}));
  ASSERT_EQ(delays_.size(), 5u);
  const std::vector<long> ceilings = {1000, 2000, 3000, 3000, 3000};
  for (std::size_t i = 0; i < delays_.size(); ++i) {
    EXPECT_GE(delays_[i].count(), 0);
    EXPECT_LE(delays_[i].count(), ceilings[i]) << "retry " << i + 1;
  }
}

TEST_F(AwsClientTest, ServerErrorsAreRetriedUpToMaxAttemptsThenUnavailable) {
  ClientOptions o = Options();
  o.random_bits = [] { return std::uint64_t{100}; };
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    server_.Enqueue(500, R"({"__type":"InternalFailure","message":"oops"})");
  }
  AwsErrorDetail detail;
  auto result = client->CallJson("DescribeEndpoint", {}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_TRUE(result.error().retryable());
  EXPECT_NE(result.error().message().find("after 3 attempts"), std::string::npos)
      << result.error().message();
  EXPECT_NE(result.error().message().find("InternalFailure: oops (HTTP 500"), std::string::npos);
  EXPECT_EQ(server_.requests().size(), 3u);
  // SageMaker's transient base 50 ms: 100 % 51, 100 % 101.
  EXPECT_EQ(delays_, (std::vector<core::Duration>{milliseconds(49), milliseconds(100)}));
  EXPECT_EQ(detail.http_status, 500);
}

TEST_F(AwsClientTest, DynamoDbDefaultsToFourAttemptsAndItsOwnBase) {
  ClientOptions o = Options();
  o.random_bits = [] { return std::uint64_t{1000}; };
  auto client = Client(DynamoDbService(), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 4; ++i) server_.Enqueue(503, "");
  auto result = client->CallJson("GetItem", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(server_.requests().size(), 4u);
  EXPECT_NE(result.error().message().find("HTTP 503"), std::string::npos);
  // 25 ms base: ceilings 25, 50, 100.
  EXPECT_EQ(delays_, (std::vector<core::Duration>{milliseconds(1000 % 26), milliseconds(1000 % 51),
                                                  milliseconds(1000 % 101)}));
}

TEST_F(AwsClientTest, RetryAfterHeaderIsHonoured) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  server_.Enqueue(503, "", {{"x-amz-retry-after", "1500"}});
  ASSERT_TRUE(client->CallJson("DescribeEndpoint", {}));
  EXPECT_EQ(delays_, (std::vector<core::Duration>{milliseconds(1500)}));
}

TEST_F(AwsClientTest, NoAnswerInTimeIsRetriedThenTimeout) {
  ClientOptions o = Options();
  o.timeout = milliseconds(200);
  o.max_attempts = 2;
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  server_.Enqueue(ScriptedResponse{.hang = true});
  server_.Enqueue(ScriptedResponse{.hang = true});
  AwsErrorDetail detail;
  const auto start = std::chrono::steady_clock::now();
  auto result = client->CallJson("DescribeEndpoint", {}, &detail);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kTimeout);
  EXPECT_TRUE(detail.timed_out);
  EXPECT_EQ(detail.http_status, 0);
  EXPECT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(delays_.size(), 1u);
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_NE(result.error().message().find("after 2 attempts"), std::string::npos);
}

TEST_F(AwsClientTest, RefusedConnectionIsUnavailable) {
  int port;
  {
    CaptureServer closed;
    port = closed.port();
  }
  ClientOptions o = Options();
  o.endpoint_url = "http://127.0.0.1:" + std::to_string(port);
  o.max_attempts = 2;
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  auto result = client->CallJson("DescribeEndpoint", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message().find("SageMaker DescribeEndpoint: no answer"),
            std::string::npos)
      << result.error().message();
  EXPECT_EQ(delays_.size(), 1u);
}

TEST_F(AwsClientTest, AutoScalingConcurrentUpdateAndInternalServiceErrorsAreRetried) {
  ClientOptions o = Options();
  o.random_bits = [] { return std::uint64_t{10}; };
  auto client = Client(AutoScalingService(), o);
  ASSERT_NE(client, nullptr);
  server_.Enqueue(400, R"({"__type":"ConcurrentUpdateException","message":"pending update"})");
  server_.Enqueue(400, R"({"__type":"InternalServiceException","message":"internal"})");
  server_.Enqueue(200, R"({"ScalableTargetARN":"arn:t"})");
  auto result = client->CallJson("RegisterScalableTarget", {});
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);
  EXPECT_EQ(delays_, (std::vector<core::Duration>{milliseconds(10), milliseconds(10)}));
}

TEST_F(AwsClientTest, CurlErrorThatWillNotHealIsNotRetriedAndNamesTheCurlError) {
  ClientOptions o = Options();
  o.endpoint_url = "http://127.0.0.1:99999";  // passes Create; curl refuses the port
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  AwsErrorDetail detail;
  auto result = client->CallJson("DescribeEndpoint", {}, &detail);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), core::ErrorCode::kInternal);
  EXPECT_FALSE(result.error().retryable());
  EXPECT_EQ(detail.http_status, 0);
  EXPECT_EQ(detail.curl_code, 3);  // CURLE_URL_MALFORMAT
  EXPECT_NE(result.error().message().find("SageMaker DescribeEndpoint: request failed: curl "
                                          "error 3 (URL using bad/illegal format or missing URL)"),
            std::string::npos)
      << result.error().message();
  EXPECT_TRUE(delays_.empty());
}

TEST_F(AwsClientTest, HeaderListFailuresFailTheCallWithoutSendingIt) {
  struct Case {
    const char* prefix;
    const char* named;
  };
  for (const Case& c : {Case{"X-Amz-Security-Token:", "X-Amz-Security-Token"},
                        Case{"X-Amz-Date:", "X-Amz-Date"}, Case{"nohost.invalid:", "connect_to"}}) {
    ClientOptions o = Options();
    o.credentials.session_token = "token";
    o.fixed_amz_date = "20261129T000000Z";
    o.connect_to = "nohost.invalid:80:127.0.0.1:1";  // matches no request here
    auto client = Client(SageMakerService(), o);
    ASSERT_NE(client, nullptr);
    g_failing_slist_prefix = c.prefix;
    auto result = client->CallJson("DescribeEndpoint", {});
    g_failing_slist_prefix = nullptr;
    ASSERT_FALSE(result.has_value()) << c.prefix;
    EXPECT_EQ(result.error().code(), core::ErrorCode::kInternal) << c.prefix;
    EXPECT_NE(result.error().message().find("curl_slist_append failed"), std::string::npos)
        << result.error().message();
    EXPECT_NE(result.error().message().find(c.named), std::string::npos)
        << result.error().message();
  }
  EXPECT_TRUE(server_.requests().empty());
  EXPECT_TRUE(delays_.empty());
  // And with every line appended, the same client options do reach the server.
  ClientOptions o = Options();
  o.credentials.session_token = "token";
  o.connect_to = "nohost.invalid:80:127.0.0.1:1";
  auto client = Client(SageMakerService(), o);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CallJson("DescribeEndpoint", {}));
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].Header("X-Amz-Security-Token"), "token");
}

TEST_F(AwsClientTest, ConcurrentCallsShareTheClient) {
  auto client = Client(SageMakerService(), Options());
  ASSERT_NE(client, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = client->CallJson("DescribeEndpoint",
                                  {{"EndpointName", "ep-" + std::to_string(t * 10 + i)}});
        if (r && r->is_object()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 30);
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 30u);
  std::set<std::string> bodies;
  for (const auto& r : requests) bodies.insert(r.body);
  EXPECT_EQ(bodies.size(), 30u);
}

// ---------------------------------------------------------------------------
// Create

TEST(AwsClientCreateTest, RefusesBadOptions) {
  ClientOptions o;
  o.credentials = {"AKID", "SECRET", ""};
  o.region = "";
  EXPECT_EQ(AwsClient::Create(SageMakerService(), o).error().code(), core::ErrorCode::kValidation);
  o.region = "us-east-1";
  o.endpoint_url = "ftp://example.com";
  auto bad_scheme = AwsClient::Create(SageMakerService(), o);
  ASSERT_FALSE(bad_scheme.has_value());
  EXPECT_NE(bad_scheme.error().message().find("ftp://example.com"), std::string::npos);
  o.endpoint_url = "http://localhost:5055/?x=1";
  EXPECT_FALSE(AwsClient::Create(SageMakerService(), o).has_value());
  o.endpoint_url = "http:///";
  EXPECT_FALSE(AwsClient::Create(SageMakerService(), o).has_value());
  o.endpoint_url = "";
  for (const core::Duration timeout : {core::Duration(0), core::Duration(-5)}) {
    o.timeout = timeout;
    auto no_timeout = AwsClient::Create(SageMakerService(), o);
    ASSERT_FALSE(no_timeout.has_value());
    EXPECT_EQ(no_timeout.error().code(), core::ErrorCode::kValidation);
    EXPECT_NE(no_timeout.error().message().find("timeout must be positive"), std::string::npos)
        << no_timeout.error().message();
  }
  o.timeout = milliseconds(1);
  EXPECT_TRUE(AwsClient::Create(SageMakerService(), o).has_value());
  o.credentials.secret_access_key = "";
  auto no_secret = AwsClient::Create(SageMakerService(), o);
  ASSERT_FALSE(no_secret.has_value());
  EXPECT_NE(no_secret.error().message().find("credentials"), std::string::npos);
}

TEST(AwsClientCreateTest, DefaultUrlIsTheRegionalEndpoint) {
  ClientOptions o;
  o.credentials = {"AKID", "SECRET", ""};
  o.region = "eu-central-1";
  auto sm = AwsClient::Create(SageMakerService(), o);
  ASSERT_TRUE(sm.has_value());
  EXPECT_EQ((*sm)->url(), "https://api.sagemaker.eu-central-1.amazonaws.com/");
  EXPECT_EQ((*sm)->service().signing_name, "sagemaker");
  auto aas = AwsClient::Create(AutoScalingService(), o);
  ASSERT_TRUE(aas.has_value());
  EXPECT_EQ((*aas)->url(), "https://application-autoscaling.eu-central-1.amazonaws.com/");
  o.endpoint_url = "http://127.0.0.1:5055";
  auto moto = AwsClient::Create(SnsService(), o);
  ASSERT_TRUE(moto.has_value());
  EXPECT_EQ((*moto)->url(), "http://127.0.0.1:5055/");
}

// ---------------------------------------------------------------------------
// Classification

AwsErrorDetail Detail(int status, std::string code, std::string message = "") {
  AwsErrorDetail e;
  e.http_status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

TEST(AwsClassifyRetryTest, FollowsBotocoreStandardMode) {
  EXPECT_EQ(ClassifyRetry(Detail(400, "ThrottlingException")), RetryClass::kThrottle);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ProvisionedThroughputExceededException")),
            RetryClass::kThrottle);
  EXPECT_EQ(ClassifyRetry(Detail(503, "SlowDown")), RetryClass::kThrottle);
  EXPECT_EQ(ClassifyRetry(Detail(429, "")), RetryClass::kThrottle);
  EXPECT_EQ(ClassifyRetry(Detail(509, "")), RetryClass::kThrottle);
  EXPECT_EQ(ClassifyRetry(Detail(0, "")), RetryClass::kTransient);
  for (int status : {500, 502, 503, 504}) {
    EXPECT_EQ(ClassifyRetry(Detail(status, "")), RetryClass::kTransient) << status;
  }
  EXPECT_EQ(ClassifyRetry(Detail(400, "RequestTimeout")), RetryClass::kTransient);
  EXPECT_EQ(ClassifyRetry(Detail(400, "PriorRequestNotComplete")), RetryClass::kTransient);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ConcurrentUpdateException")), RetryClass::kTransient);
  EXPECT_EQ(ClassifyRetry(Detail(400, "InternalServiceException")), RetryClass::kTransient);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ObjectNotFoundException")), RetryClass::kNone);
  // No answer: network failures are transient, the rest of curl's errors are not.
  for (int curl_code : {6, 7, 18, 28, 52, 55, 56}) {
    AwsErrorDetail e;
    e.curl_code = curl_code;
    EXPECT_EQ(ClassifyRetry(e), RetryClass::kTransient) << "curl " << curl_code;
  }
  for (int curl_code : {1, 3, 27, 60, 77}) {
    AwsErrorDetail e;
    e.curl_code = curl_code;
    EXPECT_EQ(ClassifyRetry(e), RetryClass::kNone) << "curl " << curl_code;
  }
  // A validation error about an update in progress is for the caller to retry.
  EXPECT_EQ(ClassifyRetry(Detail(400, "ValidationException", "Cannot update in-progress endpoint")),
            RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(501, "")), RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ValidationException")), RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ConditionalCheckFailedException")), RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(424, "ModelError")), RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(403, "InvalidSignatureException")), RetryClass::kNone);
  EXPECT_EQ(ClassifyRetry(Detail(400, "ExpiredTokenException")), RetryClass::kNone);
}

TEST(AwsToCoreErrorTest, MapsCodesToCoreErrors) {
  using core::ErrorCode;
  const std::vector<std::pair<AwsErrorDetail, ErrorCode>> cases = {
      {Detail(400, "ValidationException", "bad"), ErrorCode::kValidation},
      {Detail(400, "ValidationError", "bad"), ErrorCode::kValidation},
      {Detail(400, "InvalidParameterValue", "bad"), ErrorCode::kValidation},
      {Detail(400, "ValidationException", "Could not find endpoint \"e\""), ErrorCode::kNotFound},
      {Detail(400, "ValidationError", "Endpoint e of account 1 not found."), ErrorCode::kNotFound},
      {Detail(400, "ResourceNotFoundException"), ErrorCode::kNotFound},
      {Detail(400, "ObjectNotFoundException", "No scalable target"), ErrorCode::kNotFound},
      {Detail(400, "ValidationException", "Cannot update in-progress endpoint \"arn:e\"."),
       ErrorCode::kUnavailable},
      {Detail(400, "ValidationException", "The endpoint e is in progress of being updated"),
       ErrorCode::kUnavailable},
      {Detail(400, "ValidationException", "Endpoint arn:e is in Updating status."),
       ErrorCode::kUnavailable},
      {Detail(400, "ValidationException",
              "Endpoint \"arn:e\" is in status Failed; only an InService endpoint can be "
              "updated."),
       ErrorCode::kValidation},
      {Detail(400, "ValidationException", "Updating weights needs DesiredWeight"),
       ErrorCode::kValidation},
      {Detail(400, "ConcurrentUpdateException"), ErrorCode::kUnavailable},
      {Detail(400, "InternalServiceException"), ErrorCode::kUnavailable},
      {Detail(404, "NotFound"), ErrorCode::kNotFound},
      {Detail(400, "ConditionalCheckFailedException"), ErrorCode::kConflict},
      {Detail(400, "TransactionCanceledException"), ErrorCode::kConflict},
      {Detail(409, "ConflictException"), ErrorCode::kConflict},
      {Detail(400, "ResourceInUse"), ErrorCode::kConflict},
      {Detail(400, "ThrottlingException"), ErrorCode::kThrottled},
      {Detail(429, ""), ErrorCode::kThrottled},
      {Detail(503, "ServiceUnavailable"), ErrorCode::kUnavailable},
      {Detail(500, "InternalFailure"), ErrorCode::kUnavailable},
      {Detail(400, "AccessDeniedException"), ErrorCode::kPermissionDenied},
      {Detail(403, "AuthorizationError"), ErrorCode::kPermissionDenied},
      {Detail(403, "InvalidSignatureException"), ErrorCode::kUnauthenticated},
      {Detail(403, "SignatureDoesNotMatch"), ErrorCode::kUnauthenticated},
      {Detail(400, "ExpiredTokenException"), ErrorCode::kUnauthenticated},
      {Detail(403, "UnrecognizedClientException"), ErrorCode::kUnauthenticated},
      {Detail(400, "MissingAuthenticationTokenException"), ErrorCode::kUnauthenticated},
      {Detail(424, "ModelError"), ErrorCode::kModelError},
      {Detail(400, "ResourceLimitExceeded"), ErrorCode::kFailedPrecondition},
      {Detail(400, "InvalidAction"), ErrorCode::kInternal},
      {Detail(501, ""), ErrorCode::kInternal},
  };
  for (const auto& [detail, expected] : cases) {
    EXPECT_EQ(ToCoreError(detail, "S", "Op").code(), expected)
        << detail.code << " " << detail.http_status << " " << detail.message;
  }
  AwsErrorDetail timeout;
  timeout.timed_out = true;
  timeout.message = "Operation timed out after 200 milliseconds";
  const core::Error e = ToCoreError(timeout, "CloudWatch", "GetMetricData");
  EXPECT_EQ(e.code(), ErrorCode::kTimeout);
  EXPECT_EQ(e.message(),
            "CloudWatch GetMetricData: no answer in time: Operation timed out after 200 "
            "milliseconds");
  EXPECT_EQ(ToCoreError(Detail(502, ""), "SageMaker", "X").message(),
            "SageMaker X: empty error body (HTTP 502)");
  AwsErrorDetail ca;
  ca.curl_code = 77;  // CURLE_SSL_CACERT_BADFILE
  ca.message = "error setting certificate file: /nope.pem";
  const core::Error bad_ca = ToCoreError(ca, "SNS", "Publish");
  EXPECT_EQ(bad_ca.code(), ErrorCode::kInternal);
  EXPECT_EQ(bad_ca.message(),
            "SNS Publish: request failed: curl error 77 (Problem with the SSL CA cert (path? "
            "access rights?)): error setting certificate file: /nope.pem");
  AwsErrorDetail refused;
  refused.curl_code = 7;  // CURLE_COULDNT_CONNECT
  EXPECT_EQ(ToCoreError(refused, "SNS", "Publish").code(), ErrorCode::kUnavailable);
}

// ---------------------------------------------------------------------------
// Helpers

TEST(AwsXmlTextTest, FindsTheElementAndDecodesEntities) {
  const std::string xml =
      "<ErrorResponse><Error><CodeName>no</CodeName><Code>Throttling</Code>"
      "<Message>a &lt;b&gt; &amp; &#39;c&#x27; &quot;d&quot; &apos;&#233;&#x1F600; &bogus;"
      "</Message><Empty/><Attr kind=\"x\">v</Attr></Error></ErrorResponse>";
  EXPECT_EQ(XmlText(xml, "Code"), "Throttling");
  EXPECT_EQ(XmlText(xml, "CodeName"), "no");
  EXPECT_EQ(XmlText(xml, "Message"), "a <b> & 'c' \"d\" '\xC3\xA9\xF0\x9F\x98\x80 &bogus;");
  EXPECT_EQ(XmlText(xml, "Empty"), "");
  EXPECT_EQ(XmlText(xml, "Attr"), "v");
  EXPECT_EQ(XmlText(xml, "Missing"), std::nullopt);
  EXPECT_EQ(XmlText("<A>unterminated", "A"), std::nullopt);
}

TEST(AwsUrlEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(UrlEncode("a b+c/d=e&f*"), "a%20b%2Bc%2Fd%3De%26f%2A");
  EXPECT_EQ(UrlEncode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(UrlEncode(""), "");
}

// ---------------------------------------------------------------------------
// Credentials

GetEnv FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class AwsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("aws_test_creds_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / ".aws");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& relative, const std::string& text) {
    const auto path = dir_ / relative;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

constexpr char kCredentialsFile[] =
    "# shared credentials\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key=secret/default+key\n"
    "\n"
    "; another comment\n"
    "  [ dev ]  \r\n"
    "  aws_access_key_id   =   AKIDDEV  \r\n"
    "aws_secret_access_key = devsecret\r\n"
    "aws_session_token = dev/token==\r\n"
    "region = eu-west-1\n"
    "[nosecret]\n"
    "aws_access_key_id = AKIDX\n"
    "[profile cfgstyle]\n"
    "aws_access_key_id = AKIDCFG\n"
    "aws_secret_access_key = cfgsecret\n";

TEST(AwsLoadRegionTest, ConfiguredThenAwsRegionThenAwsDefaultRegionThenUsEast1) {
  const GetEnv both = FakeEnv({{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "eu-north-1"}});
  EXPECT_EQ(LoadRegion(both, "ap-south-1"), "ap-south-1");
  EXPECT_EQ(LoadRegion(both), "eu-west-1");
  EXPECT_EQ(LoadRegion(FakeEnv({{"AWS_DEFAULT_REGION", "eu-north-1"}})), "eu-north-1");
  EXPECT_EQ(LoadRegion(FakeEnv({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "eu-north-1"}})),
            "eu-north-1");
  EXPECT_EQ(LoadRegion(FakeEnv({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}})), "us-east-1");
  EXPECT_EQ(LoadRegion(FakeEnv({}), ""), "us-east-1");
}

TEST_F(AwsCredentialsTest, EnvironmentComesFirst) {
  const std::string file = Write("creds", kCredentialsFile);
  auto c = LoadCredentials(FakeEnv({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                    {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                                    {"AWS_SESSION_TOKEN", "envtoken"},
                                    {"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDENV");
  EXPECT_EQ(c->secret_access_key, "envsecret");
  EXPECT_EQ(c->session_token, "envtoken");
}

TEST_F(AwsCredentialsTest, HalfSetEnvironmentNamesTheMissingVariable) {
  auto c = LoadCredentials(FakeEnv({{"AWS_ACCESS_KEY_ID", "AKIDENV"}}));
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), core::ErrorCode::kValidation);
  EXPECT_EQ(c.error().message(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
      << c.error().message();
}

TEST_F(AwsCredentialsTest, SharedFileProfileWithSessionToken) {
  const std::string file = Write("creds", kCredentialsFile);
  auto c =
      LoadCredentials(FakeEnv({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "dev"}}));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDDEV");
  EXPECT_EQ(c->secret_access_key, "devsecret");
  EXPECT_EQ(c->session_token, "dev/token==");
}

TEST_F(AwsCredentialsTest, HomeFileDefaultProfile) {
  Write(".aws/credentials", kCredentialsFile);
  auto c = LoadCredentials(FakeEnv({{"HOME", dir_.string()}}));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(c->secret_access_key, "secret/default+key");
  EXPECT_EQ(c->session_token, "");
}

TEST_F(AwsCredentialsTest, ProfileSectionFormIsTolerated) {
  auto c = ParseCredentialsFile(kCredentialsFile, "cfgstyle", "f");
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDCFG");
}

TEST_F(AwsCredentialsTest, MissingProfileNamesFileAndProfile) {
  const std::string file = Write("creds", kCredentialsFile);
  auto c =
      LoadCredentials(FakeEnv({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "prod"}}));
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), core::ErrorCode::kValidation);
  EXPECT_EQ(c.error().message(), file + ": no profile [prod]");
}

TEST_F(AwsCredentialsTest, MissingKeyNamesTheKey) {
  auto c = ParseCredentialsFile(kCredentialsFile, "nosecret", "/etc/creds");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message(), "/etc/creds profile [nosecret]: missing aws_secret_access_key");
  auto no_id = ParseCredentialsFile("[p]\naws_secret_access_key = s\n", "p", "x");
  ASSERT_FALSE(no_id.has_value());
  EXPECT_NE(no_id.error().message().find("missing aws_access_key_id"), std::string::npos);
}

TEST_F(AwsCredentialsTest, MalformedLineIsReportedWithItsNumber) {
  auto c = ParseCredentialsFile("[p]\naws_access_key_id AKID\n", "p", "creds");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("creds:2"), std::string::npos) << c.error().message();
}

TEST_F(AwsCredentialsTest, UnreadableFileIsNamed) {
  const std::string missing = (dir_ / "nope").string();
  auto c = LoadCredentials(FakeEnv({{"AWS_SHARED_CREDENTIALS_FILE", missing}}));
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find(missing), std::string::npos) << c.error().message();
}

}  // namespace
}  // namespace mlcanary::aws
