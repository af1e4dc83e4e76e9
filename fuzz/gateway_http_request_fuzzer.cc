// The gateway's HTTP/1.1 request parser (gateway/http_request_parser.h) on a
// pipelined byte stream, fed the way the gateway feeds it.
//
// Input: byte 0 picks the read size of the incremental pass, byte 1 the header
// and body limits; the rest is the stream. Invariants:
//  - the stream parsed at once and parsed in reads of 1..64 bytes, each read
//    moving the bytes to a new buffer (and dropping the consumed ones), gives
//    the same requests and the same error: the views follow moved bytes;
//  - a complete request is within the limits, has a token method and a target
//    without spaces or controls, consumed() lies within the bytes given;
//  - a complete request written out again parses to the same request;
//  - an error has one of the documented statuses and a message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "gateway/http_request_parser.h"

namespace {

using mlcanary::gateway::HttpRequestHead;
using mlcanary::gateway::HttpRequestParser;

struct Outcome {
  HttpRequestParser::State state = HttpRequestParser::State::kNeedMore;
  std::string method, target, target_variant, body;
  int version_minor = 0;
  bool keep_alive = false;
  bool expect_continue = false;
  std::size_t consumed = 0;
  int error_status = 0;
  std::string error_message;

  bool operator==(const Outcome&) const = default;
};

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

Outcome Record(const HttpRequestParser& parser, HttpRequestParser::State state,
               std::string_view data, std::size_t header_limit, std::size_t body_limit) {
  Outcome o;
  o.state = state;
  if (state == HttpRequestParser::State::kError) {
    const int s = parser.error_status();
    FUZZ_CHECK(s == 400 || s == 413 || s == 431 || s == 501, "status %d", s);
    FUZZ_CHECK(!parser.error_message().empty(), "an error without a message");
    o.error_status = s;
    o.error_message = std::string(parser.error_message());
    return o;
  }
  if (state != HttpRequestParser::State::kComplete) return o;
  const HttpRequestHead& r = parser.request();
  FUZZ_CHECK(parser.consumed() <= data.size(), "consumed %zu of %zu", parser.consumed(),
             data.size());
  FUZZ_CHECK(r.body.size() <= body_limit, "body %zu over the limit %zu", r.body.size(), body_limit);
  FUZZ_CHECK(!r.method.empty(), "empty method");
  for (char c : r.method) FUZZ_CHECK(IsTokenChar(static_cast<unsigned char>(c)), "method char");
  FUZZ_CHECK(!r.target.empty(), "empty target");
  for (char c : r.target) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 0x20 && u != 0x7f, "target char %02x", u);
  }
  FUZZ_CHECK(r.version_minor == 0 || r.version_minor == 1, "version %d", r.version_minor);
  FUZZ_CHECK(!(r.version_minor == 0 && r.expect_continue), "100-continue in HTTP/1.0");
  // The head ends within the header limit: the views point into it.
  FUZZ_CHECK(r.method.data() == data.data(), "the method is not the stream's first byte");
  FUZZ_CHECK(r.target.data() + r.target.size() <= data.data() + header_limit, "target past limit");
  o.method = std::string(r.method);
  o.target = std::string(r.target);
  o.target_variant = std::string(r.target_variant);
  o.body = std::string(r.body);
  o.version_minor = r.version_minor;
  o.keep_alive = r.keep_alive;
  o.expect_continue = r.expect_continue;
  o.consumed = parser.consumed();
  return o;
}

// Every request of `stream` until an error, a close or the end. `read` bytes
// arrive at a time (0: all at once); each arrival moves the unconsumed bytes
// to a new buffer, as a gateway compacting or growing its buffer does.
std::vector<Outcome> ParseStream(std::string_view stream, std::size_t read,
                                 std::size_t header_limit, std::size_t body_limit) {
  std::vector<Outcome> out;
  HttpRequestParser parser(header_limit, body_limit);
  std::string buffer;
  std::size_t begin = 0;      // first unconsumed byte of buffer
  std::size_t delivered = 0;  // bytes of stream in buffer so far
  auto deliver = [&] {
    const std::size_t n = read == 0 ? stream.size() - delivered : read;
    std::string moved;
    moved.reserve(buffer.size() - begin + n + 1);
    moved.append(buffer, begin);
    moved.append(stream.substr(delivered, n));
    delivered += std::min(n, stream.size() - delivered);
    buffer = std::move(moved);
    begin = 0;
  };
  deliver();
  while (true) {
    const std::string_view data = std::string_view(buffer).substr(begin);
    const HttpRequestParser::State state = parser.Parse(data);
    if (state == HttpRequestParser::State::kNeedMore) {
      if (delivered < stream.size()) {
        deliver();
        continue;
      }
      out.push_back(Record(parser, state, data, header_limit, body_limit));
      break;
    }
    out.push_back(Record(parser, state, data, header_limit, body_limit));
    if (state == HttpRequestParser::State::kError || !parser.request().keep_alive) break;
    begin += parser.consumed();
    parser.Reset();
  }
  return out;
}

// The request written out again, in the fields the parser keeps.
std::string Serialize(const Outcome& o) {
  std::string s = o.method + " " + o.target + (o.version_minor == 1 ? " HTTP/1.1" : " HTTP/1.0");
  s += "\r\nContent-Length: " + std::to_string(o.body.size()) + "\r\n";
  if (!o.target_variant.empty())
    s += "X-Amzn-SageMaker-Target-Variant: " + o.target_variant + "\r\n";
  if (o.version_minor == 1 && !o.keep_alive) s += "Connection: close\r\n";
  if (o.version_minor == 0 && o.keep_alive) s += "Connection: keep-alive\r\n";
  if (o.expect_continue) s += "Expect: 100-continue\r\n";
  return s + "\r\n" + o.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t read = 1 + data[0] % 64;
  const std::size_t header_limit = std::size_t{64} << (data[1] & 7);  // 64 B .. 8 KiB
  const std::size_t body_limit = std::size_t{64} * (data[1] >> 3);    // 0 .. 1984 B
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const std::vector<Outcome> whole = ParseStream(stream, 0, header_limit, body_limit);
  const std::vector<Outcome> pieces = ParseStream(stream, read, header_limit, body_limit);
  if (whole != pieces) {
    for (const auto* run : {&whole, &pieces}) {
      std::fprintf(stderr, "%s:\n", run == &whole ? "at once" : "in reads");
      for (const Outcome& o : *run) {
        std::fprintf(stderr, "  state %d consumed %zu error %d '%s' %s %s body %zu\n",
                     static_cast<int>(o.state), o.consumed, o.error_status, o.error_message.c_str(),
                     o.method.c_str(), o.target.c_str(), o.body.size());
      }
    }
  }
  FUZZ_CHECK(whole == pieces, "%zu requests at once, %zu in reads of %zu bytes", whole.size(),
             pieces.size(), read);

  for (const Outcome& o : whole) {
    if (o.state != HttpRequestParser::State::kComplete) continue;
    const std::string again = Serialize(o);
    HttpRequestParser parser(again.size() + 1, body_limit);
    const HttpRequestParser::State state = parser.Parse(again);
    FUZZ_CHECK(state == HttpRequestParser::State::kComplete, "the request written out again: %.*s",
               static_cast<int>(parser.error_message().size()), parser.error_message().data());
    Outcome round = Record(parser, state, again, again.size() + 1, body_limit);
    FUZZ_CHECK(round.consumed == again.size(), "consumed %zu of %zu", round.consumed, again.size());
    round.consumed = o.consumed;
    FUZZ_CHECK(round == o, "the request written out again differs");
  }
  return 0;
}
