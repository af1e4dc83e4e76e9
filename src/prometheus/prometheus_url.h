// The form of a Prometheus server's base URL, header-only: config checks it
// too and must not depend on the HTTP client.
#ifndef MLCANARY_PROMETHEUS_PROMETHEUS_URL_H_
#define MLCANARY_PROMETHEUS_PROMETHEUS_URL_H_

#include <string>
#include <string_view>

#include "core/error.h"

namespace mlcanary::prometheus {

// Refuses (kValidation, saying what is wrong) a URL that is not http:// or
// https:// with a host, or that has a query, a fragment or a space. A path
// prefix is fine (http://host/prometheus).
inline core::Status ValidatePrometheusUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return core::ValidationError("'" + std::string(url) + "' must start with http:// or https://");
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return core::ValidationError("'" + std::string(url) + "' has no host");
  }
  if (url.find_first_of("?# \t\r\n") != std::string_view::npos) {
    return core::ValidationError("'" + std::string(url) +
                                 "' must be the server's base URL (no query, fragment or space)");
  }
  return core::Ok();
}

}  // namespace mlcanary::prometheus

#endif  // MLCANARY_PROMETHEUS_PROMETHEUS_URL_H_
