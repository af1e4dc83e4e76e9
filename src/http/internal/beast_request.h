// What the control server makes of a message Beast has parsed: an http::Request
// (fields given more than once joined with ", ", as RFC 9110 §5.3 allows). One
// place for the server and for the fuzz target that reads requests as it does.
#ifndef MLCANARY_HTTP_INTERNAL_BEAST_REQUEST_H_
#define MLCANARY_HTTP_INTERNAL_BEAST_REQUEST_H_

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <utility>

#include "http/message.h"

namespace mlcanary::http::internal {

// Moves the body out of `message`.
inline Request FromBeast(boost::beast::http::request<boost::beast::http::string_body>& message) {
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    auto [it, inserted] =
        request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  request.body = std::move(message.body());
  return request;
}

}  // namespace mlcanary::http::internal

#endif  // MLCANARY_HTTP_INTERNAL_BEAST_REQUEST_H_
