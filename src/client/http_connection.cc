// One libcurl easy handle, reset for each exchange so that its connection is
// kept alive between them.
#include "client/http_connection.h"

#include <curl/curl.h>

namespace mlcanary::client {
namespace {

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

struct HttpConnection::Impl {
  CURL* curl = nullptr;
};

HttpConnection::HttpConnection() : impl_(std::make_unique<Impl>()) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)global;
  impl_->curl = curl_easy_init();
}

HttpConnection::~HttpConnection() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

core::Result<HttpAnswer> HttpConnection::Send(const HttpExchange& exchange) {
  CURL* curl = impl_->curl;
  if (curl == nullptr) return core::InternalError("libcurl could not be initialised");
  const std::string url(exchange.url);
  const std::string method(exchange.method);
  HttpAnswer answer;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(exchange.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_slist* headers = nullptr;
  for (const std::string& h : exchange.headers) headers = curl_slist_append(headers, h.c_str());
  if (exchange.post) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, exchange.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(exchange.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    const auto code =
        rc == CURLE_OPERATION_TIMEDOUT ? core::ErrorCode::kTimeout : core::ErrorCode::kUnavailable;
    return core::MakeError(code, curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace mlcanary::client
