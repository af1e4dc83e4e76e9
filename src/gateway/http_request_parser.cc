// HttpRequestParser: RFC 9112 request framing, strict (CRLF line ends, no
// obs-fold), without copying the head.
#include "gateway/http_request_parser.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "http/http_text.h"

namespace mlcanary::gateway {
namespace {

// The answer to a head whose framing fields break RFC 9112.
std::pair<int, std::string_view> FramingFailure(http::FramingStatus status) {
  switch (status) {
    case http::FramingStatus::kOk:
      break;
    case http::FramingStatus::kEmptyLength:
      return {400, "malformed HTTP request: empty Content-Length"};
    case http::FramingStatus::kLengthNotNumber:
      return {400, "malformed HTTP request: Content-Length is not a number"};
    case http::FramingStatus::kLengthTooLarge:
      return {413, "request body is too large"};
    case http::FramingStatus::kConflictingLengths:
      return {400, "malformed HTTP request: conflicting Content-Length headers"};
    case http::FramingStatus::kOtherCoding:
      return {501, "transfer coding not supported (only chunked)"};
    case http::FramingStatus::kChunkedTwice:
      return {400, "malformed HTTP request: chunked applied more than once"};
  }
  return {400, "malformed HTTP request"};
}

using http::ForEachListElement;
using http::IEquals;
using http::IsTokenChar;
using http::kCrlf;
using http::Lower;
using http::TrimOws;

constexpr std::size_t kChunkLineLimit = 4096;  // chunk size and its extensions

}  // namespace

void HttpRequestParser::Reset() {
  head_ = HttpRequestHead{};
  scanned_ = 0;
  header_end_ = 0;
  content_length_ = 0;
  chunked_ = false;
  chunk_pos_ = 0;
  chunked_body_.clear();
  consumed_ = 0;
  error_status_ = 0;
  error_message_ = {};
}

HttpRequestParser::State HttpRequestParser::Fail(int status, std::string_view message) {
  error_status_ = status;
  error_message_ = message;
  return State::kError;
}

HttpRequestParser::State HttpRequestParser::Parse(std::string_view data) {
  if (error_status_ != 0) return State::kError;
  if (header_end_ != 0 && data.data() != base_) {
    // The caller moved its bytes (compacted or grew its buffer): move the views.
    auto rebase = [&](std::string_view& view) {
      if (!view.empty()) view = std::string_view(data.data() + (view.data() - base_), view.size());
    };
    rebase(head_.method);
    rebase(head_.target);
    rebase(head_.target_variant);
  }
  base_ = data.data();
  if (header_end_ == 0) {
    // Search only the bytes not searched yet (and the 3 before them, where a
    // terminator may have begun).
    const std::size_t from = scanned_ > 3 ? scanned_ - 3 : 0;
    const auto end = data.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      scanned_ = data.size();
      if (data.size() > header_limit_) return Fail(431, "request header is too large");
      return State::kNeedMore;
    }
    if (end + 4 > header_limit_) return Fail(431, "request header is too large");
    if (State s = ParseHead(data.substr(0, end + 2)); s == State::kError) return s;
    header_end_ = end + 4;
    chunk_pos_ = header_end_;
  }
  if (chunked_) return ParseChunked(data);
  if (data.size() - header_end_ < content_length_) return State::kNeedMore;
  head_.body = data.substr(header_end_, content_length_);
  consumed_ = header_end_ + content_length_;
  return State::kComplete;
}

// `head`: the request line and the field lines, each ending in CRLF.
HttpRequestParser::State HttpRequestParser::ParseHead(std::string_view head) {
  // Request line: method SP request-target SP HTTP-version CRLF.
  std::size_t eol = head.find(kCrlf);
  std::string_view line = head.substr(0, eol);
  std::size_t i = 0;
  while (i < line.size() && IsTokenChar(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') {
    return Fail(400, "malformed HTTP request: bad method in the request line");
  }
  head_.method = line.substr(0, i);
  const std::size_t target_start = ++i;
  while (i < line.size() && static_cast<unsigned char>(line[i]) > 0x20 &&
         static_cast<unsigned char>(line[i]) != 0x7f) {
    ++i;
  }
  if (i == target_start || i >= line.size() || line[i] != ' ') {
    return Fail(400, "malformed HTTP request: bad target in the request line");
  }
  head_.target = line.substr(target_start, i - target_start);
  const std::string_view version = line.substr(i + 1);
  if (version == "HTTP/1.1") {
    head_.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    head_.version_minor = 0;
  } else {
    return Fail(400,
                "malformed HTTP request: bad version in the request line (HTTP/1.0 or "
                "HTTP/1.1 expected)");
  }

  http::FramingFields framing;
  bool seen_target_variant = false;
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    eol = head.find(kCrlf, pos);
    line = head.substr(pos, eol - pos);
    pos = eol + 2;
    std::string_view name, value;
    switch (http::SplitFieldLine(line, name, value)) {
      case http::FieldLineStatus::kOk:
        break;
      case http::FieldLineStatus::kNoName:
        return Fail(400, "malformed HTTP request: a header line has no field name");
      case http::FieldLineStatus::kBadName:
        return Fail(400, "malformed HTTP request: bad character in a header field name");
      case http::FieldLineStatus::kBadValue:
        return Fail(400, "malformed HTTP request: bad character in a header field value");
    }
    if (auto framed = http::AddFramingField(name, value, framing);
        framed != http::FramingStatus::kOk) {
      const auto [status, message] = FramingFailure(framed);
      return Fail(status, message);
    }
    const char first = Lower(name[0]);
    if (first == 'e' && IEquals(name, "expect") && IEquals(value, "100-continue")) {
      head_.expect_continue = true;
    } else if (first == 'x' && !seen_target_variant &&
               IEquals(name, "x-amzn-sagemaker-target-variant")) {
      seen_target_variant = true;
      head_.target_variant = value;
    }
  }
  content_length_ = framing.length;
  if (framing.chunked) {
    if (framing.has_length) {
      return Fail(400, "malformed HTTP request: both Content-Length and Transfer-Encoding");
    }
    if (head_.version_minor == 0) {
      return Fail(400, "malformed HTTP request: Transfer-Encoding in an HTTP/1.0 request");
    }
    chunked_ = true;
  } else if (content_length_ > body_limit_) {
    return Fail(413, "request body is too large");
  }
  head_.keep_alive =
      head_.version_minor == 1 ? !framing.close : framing.keep_alive && !framing.close;
  if (head_.version_minor == 0) head_.expect_continue = false;
  return State::kNeedMore;
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1).
HttpRequestParser::State HttpRequestParser::ParseChunked(std::string_view data) {
  using http::ChunkedStatus;
  const http::ChunkedLimits limits{
      .line = kChunkLineLimit, .body = body_limit_, .trailer = header_limit_};
  switch (http::DecodeChunked(data, chunk_pos_, chunked_body_, limits, &consumed_)) {
    case ChunkedStatus::kNeedMore:
      return State::kNeedMore;
    case ChunkedStatus::kComplete:
      head_.body = chunked_body_;
      return State::kComplete;
    case ChunkedStatus::kLineTooLong:
      return Fail(400, "malformed HTTP request: chunk size line too long");
    case ChunkedStatus::kBadSize:
      return Fail(400, "malformed HTTP request: bad chunk size");
    case ChunkedStatus::kBadExtension:
      return Fail(400, "malformed HTTP request: bad character in a chunk extension");
    case ChunkedStatus::kTooLarge:
      return Fail(413, "request body is too large");
    case ChunkedStatus::kBadChunkEnd:
      return Fail(400, "malformed HTTP request: chunk data not followed by CRLF");
    case ChunkedStatus::kTrailerTooLarge:
      return Fail(431, "request trailer is too large");
    case ChunkedStatus::kBadTrailer:
      return Fail(400, "malformed HTTP request: bad trailer field line");
  }
  return Fail(400, "malformed HTTP request: bad chunked body");
}

}  // namespace mlcanary::gateway
