// HttpResponseParser: RFC 9112 response framing, strict (CRLF line ends, no
// obs-fold, one framing), without copying the head.
#include "models/internal/http_response_parser.h"

#include <array>
#include <limits>

#include "http/http_text.h"

namespace mlcanary::models::internal {
namespace {

using http::ForEachListElement;
using http::HasControlChar;
using http::IEquals;
using http::IsTokenChar;
using http::Lower;
using http::TrimOws;

constexpr std::size_t kChunkLineLimit = 1024;  // a chunk-size line with its extensions

// Why a head whose framing fields break RFC 9112 is refused.
std::string_view FramingFailure(http::FramingStatus status) {
  switch (status) {
    case http::FramingStatus::kOk:
      break;
    case http::FramingStatus::kEmptyLength:
      return "malformed upstream response: empty Content-Length";
    case http::FramingStatus::kLengthNotNumber:
      return "malformed upstream response: Content-Length is not a number";
    case http::FramingStatus::kLengthTooLarge:
      return "upstream response body is too large";
    case http::FramingStatus::kConflictingLengths:
      return "malformed upstream response: conflicting Content-Length headers";
    case http::FramingStatus::kOtherCoding:
      return "upstream response uses a transfer coding other than chunked";
    case http::FramingStatus::kChunkedTwice:
      return "malformed upstream response: chunked applied more than once";
  }
  return "malformed upstream response";
}

}  // namespace

void HttpResponseParser::Reset() {
  head_ = HttpResponseHead{};
  start_ = 0;
  scanned_ = 0;
  header_end_ = 0;
  framing_ = Framing::kNone;
  content_length_ = 0;
  chunk_pos_ = 0;
  chunked_body_.clear();
  consumed_ = 0;
  started_ = false;
  error_ = {};
}

HttpResponseParser::State HttpResponseParser::Fail(std::string_view message) {
  error_ = message;
  return State::kError;
}

HttpResponseParser::State HttpResponseParser::Parse(std::string_view data) {
  if (!error_.empty()) return State::kError;
  started_ = started_ || !data.empty();
  while (header_end_ == 0) {
    const std::string_view rest = data.substr(start_);
    // Search only what was not searched yet (and the 3 bytes before, where the
    // terminator may have begun).
    const auto end = rest.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
    if (end == std::string_view::npos) {
      scanned_ = rest.size();
      if (rest.size() > header_limit_) return Fail("upstream response header is too large");
      return State::kNeedMore;
    }
    if (end + 4 > header_limit_) return Fail("upstream response header is too large");
    if (State s = ParseHead(rest.substr(0, end + 2)); s == State::kError) return s;
    if (head_.status < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the final one follows.
      start_ += end + 4;
      scanned_ = 0;
      head_ = HttpResponseHead{};
      continue;
    }
    header_end_ = start_ + end + 4;
    chunk_pos_ = header_end_;
  }
  switch (framing_) {
    case Framing::kNone:
      consumed_ = header_end_;
      return State::kComplete;
    case Framing::kLength:
      if (data.size() - header_end_ < content_length_) return State::kNeedMore;
      head_.body = data.substr(header_end_, content_length_);
      consumed_ = header_end_ + content_length_;
      return State::kComplete;
    case Framing::kChunked:
      return ParseChunked(data);
    case Framing::kUntilClose:
      if (data.size() - header_end_ > body_limit_)
        return Fail("upstream response body is too large");
      return State::kNeedMore;
  }
  return State::kNeedMore;
}

HttpResponseParser::State HttpResponseParser::ParseEof(std::string_view data) {
  const State state = Parse(data);
  if (state != State::kNeedMore) return state;
  if (header_end_ == 0) {
    return Fail(data.size() == start_ ? "upstream closed the connection without an answer"
                                      : "upstream closed the connection in the response header");
  }
  if (framing_ != Framing::kUntilClose) {
    return Fail("upstream closed the connection in the response body");
  }
  head_.body = data.substr(header_end_);
  consumed_ = data.size();
  return State::kComplete;
}

// `head`: the status line and the field lines, each ending in CRLF.
HttpResponseParser::State HttpResponseParser::ParseHead(std::string_view head) {
  // status-line = HTTP-version SP 3DIGIT SP [reason-phrase] CRLF
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.starts_with("HTTP/1.1 ")) {
    head_.version_minor = 1;
  } else if (line.starts_with("HTTP/1.0 ")) {
    head_.version_minor = 0;
  } else {
    return Fail("malformed upstream response: bad status line (HTTP/1.0 or HTTP/1.1 expected)");
  }
  line.remove_prefix(9);
  if (line.size() < 3 || (line.size() > 3 && line[3] != ' ')) {
    return Fail("malformed upstream response: bad status code");
  }
  int status = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return Fail("malformed upstream response: bad status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return Fail("malformed upstream response: bad status code");
  if (HasControlChar(line.substr(3))) {
    return Fail("malformed upstream response: bad character in the reason phrase");
  }
  head_.status = status;

  http::FramingFields framing;
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    eol = head.find("\r\n", pos);
    line = head.substr(pos, eol - pos);
    pos = eol + 2;
    std::string_view name, value;
    switch (http::SplitFieldLine(line, name, value)) {
      case http::FieldLineStatus::kOk:
        break;
      case http::FieldLineStatus::kNoName:
        return Fail("malformed upstream response: a header line has no field name");
      case http::FieldLineStatus::kBadName:
        return Fail("malformed upstream response: bad character in a header field name");
      case http::FieldLineStatus::kBadValue:
        return Fail("malformed upstream response: bad character in a header field value");
    }
    if (auto framed = http::AddFramingField(name, value, framing);
        framed != http::FramingStatus::kOk) {
      return Fail(FramingFailure(framed));
    }
  }
  content_length_ = framing.length;
  head_.keep_alive =
      head_.version_minor == 1 ? !framing.close : framing.keep_alive && !framing.close;
  if (status < 200 || status == 204 || status == 304) {
    framing_ = Framing::kNone;  // never a body (RFC 9112 6.3), whatever the fields say
  } else if (framing.chunked) {
    if (framing.has_length) {
      return Fail("malformed upstream response: both Content-Length and Transfer-Encoding");
    }
    framing_ = Framing::kChunked;
  } else if (framing.has_length) {
    if (content_length_ > body_limit_) return Fail("upstream response body is too large");
    framing_ = Framing::kLength;
  } else {
    framing_ = Framing::kUntilClose;
    head_.keep_alive = false;
  }
  return State::kNeedMore;
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1).
HttpResponseParser::State HttpResponseParser::ParseChunked(std::string_view data) {
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
      return Fail("malformed upstream response: chunk size line too long");
    case ChunkedStatus::kBadSize:
      return Fail("malformed upstream response: bad chunk size");
    case ChunkedStatus::kBadExtension:
      return Fail("malformed upstream response: bad character in a chunk extension");
    case ChunkedStatus::kTooLarge:
      return Fail("upstream response body is too large");
    case ChunkedStatus::kBadChunkEnd:
      return Fail("malformed upstream response: chunk data not followed by CRLF");
    case ChunkedStatus::kTrailerTooLarge:
      return Fail("upstream response trailer is too large");
    case ChunkedStatus::kBadTrailer:
      return Fail("malformed upstream response: bad trailer field line");
  }
  return Fail("malformed upstream response: bad chunked body");
}

}  // namespace mlcanary::models::internal
