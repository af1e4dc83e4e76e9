// AwsClient on libcurl's CURLOPT_AWS_SIGV4: request building for the JSON and
// Query protocols, error parsing, botocore "standard" retry classification and
// the full-jitter backoff between attempts.
#include "aws/aws_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/backoff.h"

namespace mlcanary::aws {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool ContainsNoCase(std::string_view text, std::string_view needle) {
  return Lower(text).find(Lower(needle)) != std::string::npos;
}

bool IsThrottleCode(std::string_view code) {
  static constexpr std::array<std::string_view, 13> kCodes = {
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
      "SlowDown",
      "EC2ThrottledException",
  };
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

bool IsTransientCode(std::string_view code) {
  // botocore standard mode's three, then Application Auto Scaling's (HTTP 400).
  return code == "RequestTimeout" || code == "RequestTimeoutException" ||
         code == "PriorRequestNotComplete" || code == "ConcurrentUpdateException" ||
         code == "InternalServiceException";
}

// A network failure that may well not happen again; the rest of the curl
// errors (bad URL, unsupported protocol, CA file, out of memory) will.
bool IsTransientCurlCode(int code) {
  switch (code) {
    case 0:  // none recorded
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// SageMaker refuses to update an endpoint while another update (autoscaling,
// a concurrent deploy) runs: "Cannot update in-progress endpoint ...".
bool IsUpdateInProgress(const AwsErrorDetail& e, bool validation_code) {
  if (!validation_code || !ContainsNoCase(e.message, "endpoint")) return false;
  return ContainsNoCase(e.message, "in-progress") || ContainsNoCase(e.message, "in progress") ||
         e.message.find("Updating") != std::string::npos;
}

// "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" and
// "ValidationException:http://internal.amazon.com/..." -> the bare code.
std::string StripErrorCode(std::string_view code) {
  if (const std::size_t hash = code.rfind('#'); hash != std::string_view::npos) {
    code.remove_prefix(hash + 1);
  }
  if (const std::size_t colon = code.find(':'); colon != std::string_view::npos) {
    code = code.substr(0, colon);
  }
  while (!code.empty() && code.back() == ' ') code.remove_suffix(1);
  return std::string(code);
}

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string DecodeXmlEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    if (text.starts_with("<![CDATA[")) {
      const std::size_t end = text.find("]]>");
      const std::size_t stop = end == std::string_view::npos ? text.size() : end;
      out.append(text.substr(9, stop - 9));
      text.remove_prefix(std::min(text.size(), stop + 3));
      continue;
    }
    if (text.front() != '&') {
      out += text.front();
      text.remove_prefix(1);
      continue;
    }
    const std::size_t semi = text.find(';');
    if (semi == std::string_view::npos || semi > 12) {
      out += '&';
      text.remove_prefix(1);
      continue;
    }
    const std::string_view entity = text.substr(1, semi - 1);
    bool known = true;
    if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "amp") {
      out += '&';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.size() > 1 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const std::string_view digits = entity.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      const auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      known = ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty() &&
              cp <= 0x10FFFF;
      if (known) AppendUtf8(out, cp);
    } else {
      known = false;
    }
    if (known) {
      text.remove_prefix(semi + 1);
    } else {
      out += '&';
      text.remove_prefix(1);
    }
  }
  return out;
}

const std::string* FindHeader(const std::map<std::string, std::string>& headers,
                              std::string_view lower_name) {
  const auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? nullptr : &it->second;
}

std::string Truncate(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

void EnsureCurlGlobalInit() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)rc;
}

struct HttpResult {
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<HttpResult*>(user)->body.append(data, size * n);
  return size * n;
}

std::size_t WriteHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  std::string_view line(data, size * n);
  // A new status line (100 Continue, then the real one) starts a new header set.
  if (line.starts_with("HTTP/")) {
    result->headers.clear();
    return size * n;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  result->headers[Lower(line.substr(0, colon))] = std::string(value);
  return size * n;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool Append(Slist& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (next == nullptr) return false;
  (void)list.release();
  list.reset(next);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Services

const ServiceInfo& SageMakerService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "SageMaker";
    s.signing_name = "sagemaker";
    s.host_prefix = "api.sagemaker";
    s.protocol = Protocol::kJson11;
    s.target_prefix = "SageMaker";
    s.api_version = "2017-07-24";
    return s;
  }();
  return info;
}

const ServiceInfo& CloudWatchService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "CloudWatch";
    s.signing_name = "monitoring";
    s.host_prefix = "monitoring";
    s.protocol = Protocol::kJson10;
    s.target_prefix = "GraniteServiceVersion20100801";
    s.api_version = "2010-08-01";
    s.query_compatible = true;
    return s;
  }();
  return info;
}

const ServiceInfo& SnsService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "SNS";
    s.signing_name = "sns";
    s.host_prefix = "sns";
    s.protocol = Protocol::kQuery;
    s.api_version = "2010-03-31";
    return s;
  }();
  return info;
}

const ServiceInfo& DynamoDbService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "DynamoDB";
    s.signing_name = "dynamodb";
    s.host_prefix = "dynamodb";
    s.protocol = Protocol::kJson10;
    s.target_prefix = "DynamoDB_20120810";
    s.api_version = "2012-08-10";
    s.default_max_attempts = 4;
    s.transient_base = std::chrono::milliseconds(25);
    return s;
  }();
  return info;
}

const ServiceInfo& SageMakerRuntimeService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "SageMaker Runtime";
    s.signing_name = "sagemaker";
    s.host_prefix = "runtime.sagemaker";
    s.protocol = Protocol::kRestJson;
    s.api_version = "2017-05-13";
    return s;
  }();
  return info;
}

const ServiceInfo& AutoScalingService() {
  static const ServiceInfo info = [] {
    ServiceInfo s;
    s.name = "Application Auto Scaling";
    s.signing_name = "application-autoscaling";
    s.host_prefix = "application-autoscaling";
    s.protocol = Protocol::kJson11;
    s.target_prefix = "AnyScaleFrontendService";
    s.api_version = "2016-02-06";
    return s;
  }();
  return info;
}

// ---------------------------------------------------------------------------
// Error classification

RetryClass ClassifyRetry(const AwsErrorDetail& error) {
  if (error.http_status == 0) {  // no answer at all
    return IsTransientCurlCode(error.curl_code) ? RetryClass::kTransient : RetryClass::kNone;
  }
  if (IsThrottleCode(error.code) || error.http_status == 429 || error.http_status == 509) {
    return RetryClass::kThrottle;
  }
  if (IsTransientCode(error.code)) return RetryClass::kTransient;
  switch (error.http_status) {
    case 500:
    case 502:
    case 503:
    case 504:
      return RetryClass::kTransient;
    default:
      return RetryClass::kNone;
  }
}

namespace {

core::ErrorCode CoreCodeFor(const AwsErrorDetail& e) {
  using core::ErrorCode;
  const std::string_view code = e.code;
  if (code == "ModelError") return ErrorCode::kModelError;
  const RetryClass retry = ClassifyRetry(e);
  if (e.http_status == 0 && retry == RetryClass::kNone) return ErrorCode::kInternal;
  if (retry == RetryClass::kThrottle) return ErrorCode::kThrottled;
  const bool validation_code = code == "ValidationException" || code == "ValidationError" ||
                               code.starts_with("InvalidParameter") || code == "MissingParameter" ||
                               code == "SerializationException";
  // SageMaker reports unknown endpoints and configs as ValidationException
  // "Could not find endpoint ..."; its runtime as "Endpoint ... not found".
  const bool client_error = e.http_status >= 400 && e.http_status < 500;
  if (code.starts_with("ResourceNotFound") || code == "NotFound" ||
      code.ends_with("NotFoundException") || code == "NotFoundError" ||
      (client_error && ContainsNoCase(e.message, "could not find")) ||
      (validation_code && ContainsNoCase(e.message, " not found"))) {
    return ErrorCode::kNotFound;
  }
  if (IsUpdateInProgress(e, validation_code)) return ErrorCode::kUnavailable;
  if (validation_code) return ErrorCode::kValidation;
  if (code == "ConditionalCheckFailedException" || code == "TransactionCanceledException" ||
      code == "TransactionConflictException" || code == "ConflictException" ||
      code.starts_with("ResourceInUse")) {
    return ErrorCode::kConflict;
  }
  if (code.starts_with("AccessDenied") || code == "AuthorizationError" || code == "NotAuthorized" ||
      code == "OptInRequired") {
    return ErrorCode::kPermissionDenied;
  }
  if (code == "IncompleteSignature" || code.starts_with("InvalidClientTokenId") ||
      code.starts_with("UnrecognizedClient") || code.starts_with("InvalidSignature") ||
      code == "SignatureDoesNotMatch" || code.starts_with("ExpiredToken") ||
      code.starts_with("MissingAuthenticationToken") || code == "RequestExpired" ||
      code == "AuthFailure" || code == "InvalidToken") {
    return ErrorCode::kUnauthenticated;
  }
  if (code.starts_with("ResourceLimitExceeded")) return ErrorCode::kFailedPrecondition;
  if (retry == RetryClass::kTransient) {
    return e.timed_out ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
  }
  return ErrorCode::kInternal;
}

}  // namespace

core::Error ToCoreError(const AwsErrorDetail& error, std::string_view service,
                        std::string_view operation) {
  std::string message = std::string(service) + " " + std::string(operation) + ": ";
  if (error.http_status == 0) {
    if (!IsTransientCurlCode(error.curl_code)) {
      message += "request failed";
    } else {
      message += error.timed_out ? "no answer in time" : "no answer";
    }
    if (error.curl_code != 0) {
      message += ": curl error " + std::to_string(error.curl_code) + " (" +
                 curl_easy_strerror(static_cast<CURLcode>(error.curl_code)) + ")";
    }
    if (!error.message.empty()) message += ": " + error.message;
  } else {
    if (!error.code.empty()) message += error.code + ": ";
    if (!error.message.empty()) {
      message += error.message;
    } else if (error.code.empty()) {
      message += error.body.empty() ? "empty error body"
                                    : "unparsed error body '" + Truncate(error.body, 200) + "'";
    } else {
      message += "(no message)";
    }
    message += " (HTTP " + std::to_string(error.http_status);
    if (!error.request_id.empty()) message += ", request id " + error.request_id;
    message += ")";
  }
  return core::Error(CoreCodeFor(error), std::move(message));
}

// ---------------------------------------------------------------------------
// Text helpers

std::optional<std::string> XmlText(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name);
  std::size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const std::size_t after = pos + open.size();
    if (after >= xml.size()) return std::nullopt;
    const char next = xml[after];
    if (next != '>' && next != ' ' && next != '\t' && next != '\n' && next != '\r' && next != '/') {
      pos = after;  // a longer name: <CodeSomething>
      continue;
    }
    const std::size_t tag_end = xml.find('>', after);
    if (tag_end == std::string_view::npos) return std::nullopt;
    if (xml[tag_end - 1] == '/') return std::string();  // <Name/>
    const std::string close = "</" + std::string(name) + ">";
    const std::size_t end = xml.find(close, tag_end + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return DecodeXmlEntities(xml.substr(tag_end + 1, end - tag_end - 1));
  }
  return std::nullopt;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// AwsClient

struct AwsClient::Impl {
  ServiceInfo service;
  ClientOptions options;
  std::string url;
  std::string sigv4;  // "aws:amz:<region>:<signing name>"

  std::mutex mu;
  std::vector<CURL*> idle;  // GUARDED_BY(mu)
  std::mt19937_64 rng;      // GUARDED_BY(mu)

  ~Impl() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }

  CURL* Acquire() {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* h) {
    {
      std::lock_guard lock(mu);
      if (idle.size() < options.max_idle_handles) {
        idle.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  std::uint64_t RandomBits() {
    if (options.random_bits) return options.random_bits();
    std::lock_guard lock(mu);
    return rng();
  }

  void Sleep(core::Duration d) {
    if (options.sleep) {
      options.sleep(d);
    } else {
      std::this_thread::sleep_for(d);
    }
  }

  // One signed POST of `body` to `to` with `headers` (plus the session token),
  // within `timeout`.
  HttpResult Post(const std::string& to, const std::vector<std::string>& headers,
                  const std::string& body, core::Duration timeout) {
    HttpResult result;
    const auto out_of_memory = [&result](std::string_view what) {
      result.curl_code = CURLE_OUT_OF_MEMORY;
      result.curl_error = "curl_slist_append failed for the " + std::string(what);
      return result;
    };
    Slist list;
    for (const std::string& h : headers) {
      if (!Append(list, h)) return out_of_memory("header '" + h.substr(0, h.find(':')) + "'");
    }
    if (!options.credentials.session_token.empty() &&
        !Append(list, "X-Amz-Security-Token: " + options.credentials.session_token)) {
      return out_of_memory("header 'X-Amz-Security-Token'");
    }
    if (!options.fixed_amz_date.empty() && !Append(list, "X-Amz-Date: " + options.fixed_amz_date)) {
      return out_of_memory("header 'X-Amz-Date'");
    }
    Slist connect_to;
    if (!options.connect_to.empty() && !Append(connect_to, options.connect_to)) {
      return out_of_memory("connect_to entry");
    }

    CURL* h = Acquire();
    if (h == nullptr) {
      result.curl_code = CURLE_FAILED_INIT;
      result.curl_error = "curl_easy_init failed";
      return result;
    }
    // Every option is set on each use: reset keeps the live connections only.
    curl_easy_reset(h);
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, to.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, options.credentials.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options.credentials.secret_access_key.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mlcanary-aws/1");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &result);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &WriteHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &result);
    if (connect_to) {
      curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to.get());
      curl_easy_setopt(h, CURLOPT_PROXY, "");
    }
    result.curl_code = curl_easy_perform(h);
    if (result.curl_code != CURLE_OK) {
      result.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result.curl_code);
    } else {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
    }
    // Nothing borrowed from this call may outlive it on the pooled handle.
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, nullptr);
    Release(h);
    return result;
  }

  // The AWS error of a failed exchange (no answer, or a non-2xx status).
  AwsErrorDetail ParseError(const HttpResult& r) const {
    AwsErrorDetail e;
    if (r.curl_code != CURLE_OK) {
      e.curl_code = static_cast<int>(r.curl_code);
      e.timed_out = r.curl_code == CURLE_OPERATION_TIMEDOUT;
      e.message = r.curl_error;
      return e;
    }
    e.http_status = static_cast<int>(r.status);
    e.body = r.body;
    if (const std::string* id = FindHeader(r.headers, "x-amzn-requestid")) e.request_id = *id;
    if (service.protocol == Protocol::kQuery) {
      if (auto code = XmlText(r.body, "Code")) e.code = StripErrorCode(*code);
      if (auto message = XmlText(r.body, "Message")) e.message = *message;
      if (auto id = XmlText(r.body, "RequestId"); id && e.request_id.empty()) e.request_id = *id;
      if (const std::string* id = FindHeader(r.headers, "x-amz-request-id");
          id && e.request_id.empty()) {
        e.request_id = *id;
      }
      return e;
    }
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(r.body, ec);
    if (!ec && body.is_object()) {
      const boost::json::object& obj = body.get_object();
      if (const auto* type = obj.if_contains("__type"); type && type->is_string()) {
        e.code = StripErrorCode(type->get_string());
      }
      for (const char* key : {"message", "Message"}) {
        if (const auto* m = obj.if_contains(key); m && m->is_string()) {
          e.message = std::string(m->get_string());
          break;
        }
      }
    }
    if (e.code.empty()) {
      if (const std::string* type = FindHeader(r.headers, "x-amzn-errortype")) {
        e.code = StripErrorCode(*type);
      }
    }
    if (service.query_compatible) {
      // "InvalidParameterValue;Sender": the legacy Query code is the one callers know.
      if (const std::string* q = FindHeader(r.headers, "x-amzn-query-error")) {
        const std::string code = StripErrorCode(std::string_view(*q).substr(0, q->find(';')));
        if (!code.empty()) e.code = code;
      }
    }
    return e;
  }

  // Posts with retries; the 2xx answer on success. `to` empty: `url`;
  // `timeout` 0 and `attempts` 0: the options'.
  core::Result<HttpResult> Call(std::string_view operation, const std::vector<std::string>& headers,
                                const std::string& body, AwsErrorDetail* detail,
                                const std::string& to = {}, core::Duration timeout = {},
                                int attempts = 0) {
    const int max_attempts = std::max(1, attempts > 0               ? attempts
                                         : options.max_attempts > 0 ? options.max_attempts
                                                                    : service.default_max_attempts);
    const core::Duration limit = timeout.count() > 0 ? timeout : options.timeout;
    AwsErrorDetail last;
    int attempt = 1;
    for (;; ++attempt) {
      HttpResult r = Post(to.empty() ? url : to, headers, body, limit);
      if (r.curl_code == CURLE_OK && r.status >= 200 && r.status < 300) {
        return r;
      }
      last = ParseError(r);
      const RetryClass retry = ClassifyRetry(last);
      if (retry == RetryClass::kNone || attempt >= max_attempts) break;
      core::Duration delay;
      const std::string* after = FindHeader(r.headers, "x-amz-retry-after");
      long long after_ms = -1;
      if (after != nullptr) {
        const auto [ptr, ec] =
            std::from_chars(after->data(), after->data() + after->size(), after_ms);
        if (ec != std::errc() || ptr != after->data() + after->size()) after_ms = -1;
      }
      if (after_ms >= 0) {
        delay = std::min(core::Duration(after_ms), options.backoff_cap);
      } else {
        const core::Duration base =
            retry == RetryClass::kThrottle ? options.throttle_base : service.transient_base;
        delay = core::BackoffDelay(attempt, base, options.backoff_cap, RandomBits());
      }
      Sleep(delay);
    }
    if (detail != nullptr) *detail = last;
    core::Error error = ToCoreError(last, service.name, operation);
    if (attempt > 1) {
      return std::unexpected(core::Error(
          error.code(), error.message() + " after " + std::to_string(attempt) + " attempts"));
    }
    return std::unexpected(std::move(error));
  }
};

core::Result<std::unique_ptr<AwsClient>> AwsClient::Create(ServiceInfo service,
                                                           ClientOptions options) {
  if (options.region.empty()) {
    return core::ValidationError(service.name + " client: empty region");
  }
  if (options.region.find_first_of(":/ ") != std::string::npos) {
    return core::ValidationError(service.name + " client: malformed region '" + options.region +
                                 "'");
  }
  if (options.timeout.count() <= 0) {
    return core::ValidationError(service.name + " client: timeout must be positive, got " +
                                 core::FormatDuration(options.timeout));
  }
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return core::ValidationError(service.name +
                                 " client: missing credentials (access key id and secret)");
  }
  if (service.signing_name.empty() || service.host_prefix.empty()) {
    return core::ValidationError(service.name + " client: service without signing name or host");
  }
  if (service.protocol == Protocol::kQuery && service.api_version.empty()) {
    return core::ValidationError(service.name + " client: Query protocol needs an api_version");
  }
  if ((service.protocol == Protocol::kJson10 || service.protocol == Protocol::kJson11) &&
      service.target_prefix.empty()) {
    return core::ValidationError(service.name + " client: JSON protocol needs a target_prefix");
  }
  std::string url;
  if (options.endpoint_url.empty()) {
    url = "https://" + service.host_prefix + "." + options.region + ".amazonaws.com/";
  } else {
    const std::string& e = options.endpoint_url;
    const std::size_t scheme_end = e.find("://");
    const std::string scheme =
        scheme_end == std::string::npos ? "" : Lower(e.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") {
      return core::ValidationError(service.name + " client: endpoint_url '" + e +
                                   "' is not an http:// or https:// URL");
    }
    const std::size_t host_start = scheme_end + 3;
    const std::size_t path_start = std::min(e.find('/', host_start), e.size());
    if (path_start == host_start) {
      return core::ValidationError(service.name + " client: endpoint_url '" + e + "' has no host");
    }
    if (e.find_first_of("?# ", host_start) != std::string::npos) {
      // libcurl 7.88 signs a query string verbatim; AWS would refuse it.
      return core::ValidationError(service.name + " client: endpoint_url '" + e +
                                   "' must not have a query, fragment or spaces");
    }
    url = e;
    if (path_start == e.size()) url += "/";
  }
  EnsureCurlGlobalInit();
  auto impl = std::make_unique<Impl>();
  impl->sigv4 = "aws:amz:" + options.region + ":" + service.signing_name;
  impl->url = std::move(url);
  impl->service = std::move(service);
  impl->options = std::move(options);
  impl->rng.seed(std::random_device{}());
  return std::unique_ptr<AwsClient>(new AwsClient(std::move(impl)));
}

AwsClient::AwsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AwsClient::~AwsClient() = default;

const ServiceInfo& AwsClient::service() const { return impl_->service; }
const std::string& AwsClient::url() const { return impl_->url; }

core::Result<boost::json::value> AwsClient::CallJson(std::string_view operation,
                                                     const boost::json::object& request,
                                                     AwsErrorDetail* detail) {
  const ServiceInfo& s = impl_->service;
  if (s.protocol != Protocol::kJson10 && s.protocol != Protocol::kJson11) {
    return core::InternalError(s.name + " " + std::string(operation) +
                               ": CallJson on a service that does not speak JSON 1.0/1.1");
  }
  std::vector<std::string> headers = {
      std::string("Content-Type: application/x-amz-json-") +
          (s.protocol == Protocol::kJson10 ? "1.0" : "1.1"),
      "X-Amz-Target: " + s.target_prefix + "." + std::string(operation),
  };
  if (s.query_compatible) headers.emplace_back("x-amzn-query-mode: true");
  auto answer = impl_->Call(operation, headers, boost::json::serialize(request), detail);
  if (!answer) return std::unexpected(std::move(answer.error()));
  const std::string* body = &answer->body;
  if (body->find_first_not_of(" \t\r\n") == std::string::npos) return boost::json::object();
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(*body, ec);
  if (ec) {
    return core::InternalError(s.name + " " + std::string(operation) + ": response is not JSON (" +
                               ec.message() + "): '" + Truncate(*body, 200) + "'");
  }
  return parsed;
}

core::Result<std::string> AwsClient::CallQuery(std::string_view action, const QueryParams& params,
                                               AwsErrorDetail* detail) {
  const ServiceInfo& s = impl_->service;
  if (s.protocol != Protocol::kQuery) {
    return core::InternalError(s.name + " " + std::string(action) +
                               ": CallQuery on a JSON-protocol service");
  }
  std::string body = "Action=" + UrlEncode(action) + "&Version=" + UrlEncode(s.api_version);
  for (const auto& [key, value] : params) {
    body += "&" + UrlEncode(key) + "=" + UrlEncode(value);
  }
  const std::vector<std::string> headers = {
      "Content-Type: application/x-www-form-urlencoded; charset=utf-8"};
  auto answer = impl_->Call(action, headers, body, detail);
  if (!answer) return std::unexpected(std::move(answer.error()));
  return std::move(answer->body);
}

core::Result<RestResponse> AwsClient::CallRest(const RestRequest& request, AwsErrorDetail* detail) {
  const ServiceInfo& s = impl_->service;
  if (s.protocol != Protocol::kRestJson) {
    return core::InternalError(s.name + " " + request.operation +
                               ": CallRest on a service that does not speak REST");
  }
  // libcurl 7.88 signs the path as sent: only characters that need no encoding.
  if (!request.path.starts_with('/') ||
      request.path.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-._~/") != std::string::npos) {
    return core::InternalError(s.name + " " + request.operation + ": path '" + request.path +
                               "' needs encoding");
  }
  std::string to = impl_->url;
  if (to.ends_with('/')) to.pop_back();
  to += request.path;
  auto answer = impl_->Call(request.operation, request.headers, request.body, detail, to,
                            request.timeout, request.max_attempts);
  if (!answer) return std::unexpected(std::move(answer.error()));
  return RestResponse{.status = static_cast<int>(answer->status),
                      .headers = std::move(answer->headers),
                      .body = std::move(answer->body)};
}

}  // namespace mlcanary::aws
