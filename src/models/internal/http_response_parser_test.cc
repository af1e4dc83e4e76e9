#include "models/internal/http_response_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcanary::models::internal {
namespace {

using State = HttpResponseParser::State;

constexpr std::size_t kHeaderLimit = 1024;
constexpr std::size_t kBodyLimit = 4096;

// Feeds `wire` in pieces of `step` bytes through `buffer`, a growing string
// (its bytes move as it grows), as a connection's buffer does. The state after
// the last piece.
State FeedInSteps(HttpResponseParser& parser, std::string_view wire, std::size_t step,
                  std::string& buffer) {
  buffer.clear();
  State state = State::kNeedMore;
  for (std::size_t i = 0; i < wire.size(); i += step) {
    buffer.append(wire.substr(i, step));
    buffer.shrink_to_fit();
    state = parser.Parse(buffer);
    if (state != State::kNeedMore) {
      EXPECT_GE(i + step, wire.size()) << "ended early at byte " << i;
      return state;
    }
  }
  return state;
}

TEST(HttpResponseParserTest, ReadsAContentLengthAnswer) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n"
      "Content-Length: 22\r\nConnection: keep-alive\r\n\r\n{\"predictions\":[0.25]}";
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  ASSERT_EQ(parser.Parse(wire), State::kComplete) << parser.error();
  EXPECT_EQ(parser.response().status, 200);
  EXPECT_TRUE(parser.response().keep_alive);
  EXPECT_EQ(parser.response().body, "{\"predictions\":[0.25]}");
  EXPECT_EQ(parser.consumed(), wire.size());
}

TEST(HttpResponseParserTest, SameAnswerWhateverTheFragments) {
  const std::string wire = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nbusy!";
  for (std::size_t step : {1u, 2u, 3u, 7u, 19u}) {
    HttpResponseParser parser(kHeaderLimit, kBodyLimit);
    std::string buffer;
    ASSERT_EQ(FeedInSteps(parser, wire, step, buffer), State::kComplete) << "step " << step;
    EXPECT_EQ(parser.response().status, 503);
    EXPECT_EQ(parser.response().body, "busy!");
    EXPECT_EQ(parser.consumed(), wire.size());
  }
}

TEST(HttpResponseParserTest, DecodesChunkedBodiesByteByByte) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"pre\r\n"
      "A;name=value\r\ndictions\":\r\n"
      "7\r\n[0.5]}\n\r\n"
      "0\r\nX-Trailer: 1\r\n\r\n";
  for (std::size_t step : {1u, 4u, 1000u}) {
    HttpResponseParser parser(kHeaderLimit, kBodyLimit);
    std::string buffer;
    ASSERT_EQ(FeedInSteps(parser, wire, step, buffer), State::kComplete) << parser.error();
    EXPECT_EQ(parser.response().body, "{\"predictions\":[0.5]}\n");
    EXPECT_EQ(parser.consumed(), wire.size());
    EXPECT_TRUE(parser.response().keep_alive);
  }
}

TEST(HttpResponseParserTest, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  for (const auto& c : {Case{"HTTP/1.1 200 OK\r\nConnection: close\r\n", false},
                        Case{"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n", false},
                        Case{"HTTP/1.1 200 OK\r\n", true}, Case{"HTTP/1.0 200 OK\r\n", false},
                        Case{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", true}}) {
    HttpResponseParser parser(kHeaderLimit, kBodyLimit);
    const std::string wire = c.head + "Content-Length: 0\r\n\r\n";
    ASSERT_EQ(parser.Parse(wire), State::kComplete) << c.head;
    EXPECT_EQ(parser.response().keep_alive, c.keep_alive) << c.head;
  }
}

TEST(HttpResponseParserTest, SkipsInterimAnswersAndKnowsBodilessOnes) {
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  ASSERT_EQ(parser.Parse(wire), State::kComplete) << parser.error();
  EXPECT_EQ(parser.response().status, 204);
  EXPECT_EQ(parser.response().body, "");
  EXPECT_EQ(parser.consumed(), wire.size());
}

TEST(HttpResponseParserTest, ABodyUntilTheCloseEndsAtEof) {
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  const std::string wire = "HTTP/1.0 200 OK\r\n\r\n0.5\n0.25\n";
  EXPECT_EQ(parser.Parse(wire), State::kNeedMore);
  ASSERT_EQ(parser.ParseEof(wire), State::kComplete) << parser.error();
  EXPECT_EQ(parser.response().body, "0.5\n0.25\n");
  EXPECT_FALSE(parser.response().keep_alive);
}

TEST(HttpResponseParserTest, EofBeforeTheEndIsAnError) {
  HttpResponseParser cut_body(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(cut_body.ParseEof("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n0.5"), State::kError);
  EXPECT_NE(cut_body.error().find("body"), std::string_view::npos) << cut_body.error();

  HttpResponseParser nothing(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(nothing.ParseEof(""), State::kError);
  EXPECT_FALSE(nothing.started());  // the caller may retry: no answer began
}

TEST(HttpResponseParserTest, StopsAtTheEndOfTheAnswer) {
  // Bytes after an answer are not its own: consumed() says where it ends, so
  // the client sees the upstream sent more than one answer.
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n0.5";
  const std::string second = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  const std::string wire = first + second;
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  ASSERT_EQ(parser.Parse(wire), State::kComplete);
  EXPECT_EQ(parser.response().body, "0.5");
  EXPECT_EQ(parser.consumed(), first.size());
  parser.Reset();
  ASSERT_EQ(parser.Parse(std::string_view(wire).substr(first.size())), State::kComplete);
  EXPECT_EQ(parser.consumed(), second.size());
}

TEST(HttpResponseParserTest, RefusesMalformedAnswersNamingWhatIsWrong) {
  struct Case {
    std::string wire;
    std::string_view says;
  };
  for (const auto& c : {
           Case{"HTTP/2 200 OK\r\n\r\n", "status line"},
           Case{"ICY 200 OK\r\n\r\n", "status line"},
           Case{"HTTP/1.1 2x0 OK\r\n\r\n", "status code"},
           Case{"HTTP/1.1 20 OK\r\n\r\n", "status code"},
           Case{"HTTP/1.1 200OK\r\n\r\n", "status code"},
           Case{"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "no field name"},
           Case{"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", "field name"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "not a number"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "both"},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "other than"},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", "CRLF"},
       }) {
    HttpResponseParser parser(kHeaderLimit, kBodyLimit);
    EXPECT_EQ(parser.Parse(c.wire), State::kError) << c.wire;
    EXPECT_NE(parser.error().find(c.says), std::string_view::npos)
        << c.wire << " -> " << parser.error();
    EXPECT_EQ(parser.Parse(c.wire), State::kError);  // stays failed
  }
}

TEST(HttpResponseParserTest, RefusesControlCharactersInChunkLinesAndBadTrailers) {
  const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  struct Case {
    std::string wire;
    std::string_view says;
  };
  for (const auto& c : {
           Case{chunked + "5;a\nb\r\nhello\r\n0\r\n\r\n", "chunk extension"},
           Case{chunked + "5;a\rb\r\nhello\r\n0\r\n\r\n", "chunk extension"},
           Case{chunked + "0;a=\x01\r\n\r\n", "chunk extension"},
           Case{chunked + "0\r\nX: a\nb\r\n\r\n", "trailer"},
           Case{chunked + "0\r\nX: a\rb\r\n\r\n", "trailer"},
           Case{chunked + "0\r\nno colon\r\n\r\n", "trailer"},
           Case{chunked + "0\r\nA: 1\r\n folded\r\n\r\n", "trailer"},
           Case{chunked + "0\r\n\nX: 1\r\n\r\n", "trailer"},
       }) {
    HttpResponseParser parser(kHeaderLimit, kBodyLimit);
    EXPECT_EQ(parser.Parse(c.wire), State::kError) << c.wire;
    EXPECT_NE(parser.error().find(c.says), std::string_view::npos)
        << c.wire << " -> " << parser.error();
  }
  // A tab in an extension and well-formed trailers still pass.
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(parser.Parse(chunked + "5;a=\"x\ty\"\r\nhello\r\n0\r\nA: 1\r\nB:\t2\r\n\r\n"),
            State::kComplete)
      << parser.error();
  EXPECT_EQ(parser.response().body, "hello");
}

TEST(HttpResponseParserTest, EnforcesTheLimits) {
  HttpResponseParser big_head(kHeaderLimit, kBodyLimit);
  std::string head = "HTTP/1.1 200 OK\r\nX-Padding: " + std::string(kHeaderLimit, 'a');
  EXPECT_EQ(big_head.Parse(head), State::kError);  // before its end arrives
  EXPECT_NE(big_head.error().find("header is too large"), std::string_view::npos);

  HttpResponseParser big_length(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(big_length.Parse("HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n"), State::kError);
  EXPECT_NE(big_length.error().find("body is too large"), std::string_view::npos);

  HttpResponseParser huge_length(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(huge_length.Parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            State::kError);

  HttpResponseParser big_chunks(kHeaderLimit, kBodyLimit);
  const std::string chunk = "800\r\n" + std::string(0x800, 'x') + "\r\n";
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk;
  EXPECT_EQ(big_chunks.Parse(wire), State::kError);
  EXPECT_NE(big_chunks.error().find("body is too large"), std::string_view::npos);

  HttpResponseParser until_close(kHeaderLimit, kBodyLimit);
  EXPECT_EQ(until_close.Parse("HTTP/1.1 200 OK\r\n\r\n" + std::string(kBodyLimit + 1, 'x')),
            State::kError);
}

TEST(HttpResponseParserTest, ResetStartsAFreshAnswer) {
  HttpResponseParser parser(kHeaderLimit, kBodyLimit);
  ASSERT_EQ(
      parser.Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
      State::kComplete);
  EXPECT_EQ(parser.response().body, "a");
  parser.Reset();
  EXPECT_FALSE(parser.started());
  ASSERT_EQ(parser.Parse("HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nb"), State::kComplete);
  EXPECT_EQ(parser.response().status, 500);
  EXPECT_EQ(parser.response().body, "b");
}

}  // namespace
}  // namespace mlcanary::models::internal
