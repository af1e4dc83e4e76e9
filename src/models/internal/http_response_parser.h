// HttpResponseParser: a lean incremental HTTP/1.1 response parser for the
// upstream client. It reads in place from the connection's buffer, keeps only
// what the client needs (status, framing, keep-alive) and allocates nothing per
// response, except to decode a chunked body.
#ifndef MLCANARY_MODELS_INTERNAL_HTTP_RESPONSE_PARSER_H_
#define MLCANARY_MODELS_INTERNAL_HTTP_RESPONSE_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace mlcanary::models::internal {

struct HttpResponseHead {
  int status = 0;
  int version_minor = 1;   // HTTP/1.0 or HTTP/1.1
  bool keep_alive = true;  // false: close the connection after this answer
  // Into the bytes given to the last Parse (or into the parser, for a chunked
  // body): valid until those bytes change or the parser is Reset.
  std::string_view body;
};

class HttpResponseParser {
 public:
  enum class State {
    kNeedMore,  // feed more bytes, or ParseEof when the peer closed
    kComplete,  // response() is whole; consumed() bytes belong to it
    kError,     // error() says why; the connection cannot be used any more
  };

  HttpResponseParser(std::size_t header_limit, std::size_t body_limit)
      : header_limit_(header_limit), body_limit_(body_limit) {}

  // Parses `data`: every unconsumed byte of the connection, starting at the
  // response's first byte. Call again with the same bytes plus more after
  // kNeedMore (they may have moved); work already done is not repeated. Interim
  // 1xx answers are skipped (and counted in consumed()).
  State Parse(std::string_view data);

  // The peer closed the connection after `data`: completes an answer whose body
  // runs to the close (no Content-Length, not chunked); anything else cut off
  // is an error.
  State ParseEof(std::string_view data);

  // Forgets the current response: the next Parse starts a new one.
  void Reset();

  // Whether any byte of the (final or interim) answer arrived yet.
  bool started() const { return started_; }
  bool header_done() const { return header_end_ != 0; }
  const HttpResponseHead& response() const { return head_; }
  std::size_t consumed() const { return consumed_; }
  std::string_view error() const { return error_; }

 private:
  enum class Framing { kNone, kLength, kChunked, kUntilClose };

  State Fail(std::string_view message);
  State ParseHead(std::string_view head);
  State ParseChunked(std::string_view data);

  const std::size_t header_limit_;
  const std::size_t body_limit_;

  HttpResponseHead head_;
  std::size_t start_ = 0;       // offset of the answer being parsed (after interim ones)
  std::size_t scanned_ = 0;     // bytes after start_ searched for the end of the head
  std::size_t header_end_ = 0;  // offset of the body; 0 while the head is incomplete
  Framing framing_ = Framing::kNone;
  std::size_t content_length_ = 0;
  std::size_t chunk_pos_ = 0;  // offset of the next chunk-size line
  std::string chunked_body_;   // decoded chunks; capacity kept across responses
  std::size_t consumed_ = 0;
  bool started_ = false;
  std::string_view error_;  // a static message
};

}  // namespace mlcanary::models::internal

#endif  // MLCANARY_MODELS_INTERNAL_HTTP_RESPONSE_PARSER_H_
