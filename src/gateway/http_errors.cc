// The error -> HTTP status mapping and error bodies.
#include "gateway/http_errors.h"

#include "http/http_status.h"
#include "util/json_writer.h"

namespace mlcanary::gateway {

int HttpStatusFor(core::ErrorCode code) { return http::HttpStatusFor(code); }

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out = R"({"error":{"code":)";
  util::AppendJsonString(out, code);
  out += R"(,"message":)";
  util::AppendJsonString(out, message);
  out += "}}";
  return out;
}

}  // namespace mlcanary::gateway
