// The control API's client, on libcurl.
#include "client/api_client.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "client/http_connection.h"
#include "codec/domain_json.h"
#include "core/time.h"
#include "http/http_status.h"

namespace mlcanary::client {
namespace {

// An answer that does not read as what was asked for: the server is not the
// one this client speaks to (or a newer one it does not understand).
core::Error Unreadable(std::string_view method, std::string_view path, const core::Error& e) {
  return core::InternalError("the server's answer to " + std::string(method) + " " +
                             std::string(path) + " is not what was expected: " + e.message())
      .error();
}

template <typename T, typename Parse>
core::Result<Answer<T>> Typed(core::Result<boost::json::value> doc, std::string_view method,
                              std::string_view path, Parse parse) {
  if (!doc) return std::unexpected(doc.error());
  auto value = parse(*doc, "answer");
  if (!value) return std::unexpected(Unreadable(method, path, value.error()));
  return Answer<T>{std::move(*value), std::move(*doc)};
}

// The typed list, each element with its own JSON (the doc's array at `key`).
template <typename T>
core::Result<Answer<std::vector<Answer<T>>>> TypedList(
    core::Result<boost::json::value> doc, std::string_view method, std::string_view path,
    std::string_view key,
    core::Result<std::vector<T>> (*parse)(const boost::json::value&, std::string_view)) {
  if (!doc) return std::unexpected(doc.error());
  auto values = parse(*doc, "answer");
  if (!values) return std::unexpected(Unreadable(method, path, values.error()));
  const boost::json::array& items = doc->get_object().at(key).get_array();
  Answer<std::vector<Answer<T>>> out{.value = {}, .json = {}};
  out.value.reserve(values->size());
  for (std::size_t i = 0; i < values->size(); ++i) {
    out.value.push_back(Answer<T>{std::move((*values)[i]), items[i]});
  }
  out.json = std::move(*doc);
  return out;
}

std::string DeploymentPath(std::string_view id) { return "/v1/deployments/" + PercentEncode(id); }

}  // namespace

struct ApiClient::Impl {
  HttpConnection connection;
};

ApiClient::ApiClient(ClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') {
    options_.base_url.pop_back();
  }
}

ApiClient::~ApiClient() = default;

core::Result<boost::json::value> ApiClient::Call(std::string_view method, std::string_view path,
                                                 std::string_view body) {
  const std::string url = options_.base_url + std::string(path);
  HttpExchange exchange{.method = method, .url = url, .timeout = options_.timeout};
  exchange.headers.push_back("Accept: application/json");
  if (!options_.token.empty()) {
    exchange.headers.push_back("Authorization: Bearer " + options_.token);
  }
  if (method == "POST") {
    exchange.headers.push_back("Content-Type: application/json");
    exchange.body = body.empty() ? std::string_view("{}") : body;
    exchange.post = true;
  }
  auto sent = impl_->connection.Send(exchange);
  if (!sent && sent.error().code() == core::ErrorCode::kInternal) {
    return std::unexpected(sent.error());
  }
  if (!sent) {
    return core::MakeError(sent.error().code(), "cannot reach " + options_.base_url + ": " +
                                                    sent.error().message() +
                                                    " (is `mlcanary serve` running? "
                                                    "set MLCANARY_URL)");
  }
  const long status = sent->status;
  const std::string& answer = sent->body;
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(answer, ec);
  if (status >= 200 && status < 300) {
    if (ec) {
      return core::InternalError("the server's answer to " + std::string(method) + " " +
                                 std::string(path) + " is not JSON");
    }
    return doc;
  }
  std::string message = "HTTP " + std::to_string(status);
  if (!ec && doc.is_object()) {
    if (const auto* err = doc.get_object().if_contains("error"); err && err->is_object()) {
      if (const auto* m = err->get_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->get_string());
      }
    }
  }
  if (status == 401) {
    message += options_.token.empty() ? " (set MLCANARY_API_TOKEN)" : " (check MLCANARY_API_TOKEN)";
  }
  return core::MakeError(http::ErrorCodeForStatus(status), message);
}

core::Result<Answer<core::Deployment>> ApiClient::GetDeployment(std::string_view id) {
  const std::string path = DeploymentPath(id);
  return Typed<core::Deployment>(Call("GET", path), "GET", path, codec::ParseDeployment);
}

core::Result<Answer<std::vector<Answer<core::Deployment>>>> ApiClient::ListDeployments(
    const DeploymentFilter& filter) {
  const std::string since = filter.since ? core::FormatRfc3339(*filter.since) : "";
  const std::string until = filter.until ? core::FormatRfc3339(*filter.until) : "";
  const std::string limit = filter.limit > 0 ? std::to_string(filter.limit) : "";
  std::string path = "/v1/deployments";
  std::string_view sep = "?";
  for (const auto& [key, value] :
       {std::pair{"endpoint", &filter.endpoint}, std::pair{"state", &filter.state},
        std::pair{"since", &since}, std::pair{"until", &until}, std::pair{"limit", &limit},
        std::pair{"page_token", &filter.page_token}}) {
    if (value->empty()) continue;
    path += std::string(sep) + key + "=" + PercentEncode(*value);
    sep = "&";
  }
  return TypedList<core::Deployment>(Call("GET", path), "GET", path, "deployments",
                                     codec::ParseDeploymentList);
}

core::Result<Answer<std::vector<Answer<core::Deployment>>>> ApiClient::ListAllDeployments(
    DeploymentFilter filter, std::size_t max) {
  constexpr std::size_t kPage = 1000;  // the server's largest page
  const std::size_t page = filter.limit > 0 ? std::min(filter.limit, kPage) : kPage;
  Answer<std::vector<Answer<core::Deployment>>> out{.value = {}, .json = {}};
  boost::json::array items;
  std::string next;
  do {
    filter.limit = max > 0 ? std::min(page, max - out.value.size()) : page;
    filter.page_token = next;
    auto answer = ListDeployments(filter);
    if (!answer) return std::unexpected(answer.error());
    for (auto& d : answer->value) {
      items.push_back(d.json);
      out.value.push_back(std::move(d));
    }
    const boost::json::value* token = answer->json.as_object().if_contains("next_page_token");
    next = token != nullptr && token->is_string() ? std::string(token->as_string()) : "";
  } while (!next.empty() && (max == 0 || out.value.size() < max));
  boost::json::object doc{{"deployments", std::move(items)}};
  if (!next.empty()) doc["next_page_token"] = next;
  out.json = std::move(doc);
  return out;
}

core::Result<core::Timestamp> ParseListTime(std::string_view flag, std::string_view text,
                                            core::Timestamp now) {
  if (auto back = core::ParseDuration(text)) return now - *back;
  if (auto at = core::ParseRfc3339(text)) return *at;
  return core::ValidationError(std::string(flag) +
                               ": expected a duration back from now (24h, 90m) or an RFC 3339 "
                               "UTC time (2026-11-28T17:39:58Z), got '" +
                               std::string(text) + "'");
}

core::Result<Answer<std::vector<Answer<core::DeploymentEvent>>>> ApiClient::ListEvents(
    std::string_view id, std::int64_t after) {
  std::string path = DeploymentPath(id) + "/events";
  if (after > 0) path += "?after=" + std::to_string(after);
  return TypedList<core::DeploymentEvent>(Call("GET", path), "GET", path, "events",
                                          codec::ParseEventList);
}

core::Result<Answer<core::Deployment>> ApiClient::CreateDeployment(
    const DeploymentRequest& request) {
  const std::string path = "/v1/deployments";
  return Typed<core::Deployment>(Call("POST", path, RequestBody(request)), "POST", path,
                                 codec::ParseDeployment);
}

core::Result<Answer<core::Deployment>> ApiClient::Act(std::string_view id,
                                                      std::string_view action) {
  const std::string path = DeploymentPath(id) + "/" + std::string(action);
  return Typed<core::Deployment>(Call("POST", path), "POST", path, codec::ParseDeployment);
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '.' || b == '_' || b == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0F]);
    }
  }
  return out;
}

ClientOptions OptionsFromEnvironment() {
  ClientOptions options;
  if (const char* url = std::getenv("MLCANARY_URL"); url != nullptr && *url != '\0') {
    options.base_url = url;
  }
  if (const char* token = std::getenv("MLCANARY_API_TOKEN"); token != nullptr) {
    options.token = token;
  }
  return options;
}

}  // namespace mlcanary::client
