// HttpRequestParser: a lean HTTP/1.1 request parser for the inference port. It
// reads straight from the connection's buffer, keeps only what the gateway
// needs (request line, Content-Length, Transfer-Encoding, Connection, Expect,
// X-Amzn-SageMaker-Target-Variant) and allocates nothing per request, except
// to decode a chunked body.
#ifndef MLCANARY_GATEWAY_HTTP_REQUEST_PARSER_H_
#define MLCANARY_GATEWAY_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace mlcanary::gateway {

// A parsed request. The views point into the bytes given to the last Parse (or,
// for a chunked body, into the parser): valid until those bytes move or the
// parser is Reset. A Parse with moved bytes moves the views along.
struct HttpRequestHead {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.0 or HTTP/1.1
  bool keep_alive = true;
  bool expect_continue = false;  // "Expect: 100-continue"
  std::string_view target_variant;
  std::string_view body;
};

class HttpRequestParser {
 public:
  enum class State {
    kNeedMore,  // feed more bytes (header_done() says whether the head is in)
    kComplete,  // request() is whole; consumed() bytes belong to it
    kError,     // error_status() and error_message() say why; close after answering
  };

  HttpRequestParser(std::size_t header_limit, std::size_t body_limit)
      : header_limit_(header_limit), body_limit_(body_limit) {}

  // Parses `data`: every unconsumed byte of the connection, starting at the
  // request's first byte. Call again with the same bytes plus more after
  // kNeedMore; work already done is not repeated.
  State Parse(std::string_view data);

  // Forgets the current request: the next Parse starts a new one.
  void Reset();

  bool header_done() const { return header_end_ != 0; }
  const HttpRequestHead& request() const { return head_; }
  std::size_t consumed() const { return consumed_; }
  // 400 malformed, 413 body over the limit, 431 header over the limit,
  // 501 a transfer coding other than chunked.
  int error_status() const { return error_status_; }
  std::string_view error_message() const { return error_message_; }

 private:
  State Fail(int status, std::string_view message);
  State ParseHead(std::string_view head);
  State ParseChunked(std::string_view data);

  const std::size_t header_limit_;
  const std::size_t body_limit_;

  HttpRequestHead head_;
  const char* base_ = nullptr;  // data.data() of the last Parse: the views' base
  std::size_t scanned_ = 0;     // bytes searched for the end of the head so far
  std::size_t header_end_ = 0;  // offset of the body; 0 while the head is incomplete
  std::size_t content_length_ = 0;
  bool chunked_ = false;
  std::size_t chunk_pos_ = 0;  // offset of the next chunk-size line (chunked)
  std::string chunked_body_;   // decoded chunks; capacity kept across requests
  std::size_t consumed_ = 0;
  int error_status_ = 0;
  std::string_view error_message_;
};

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_HTTP_REQUEST_PARSER_H_
