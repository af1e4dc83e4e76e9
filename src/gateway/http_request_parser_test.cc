// HttpRequestParser: framing, fragmentation, pipelining, limits, malformed input.
#include "gateway/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcanary::gateway {
namespace {

using State = HttpRequestParser::State;

constexpr std::string_view kPost =
    "POST /v1/endpoints/recs/invocations HTTP/1.1\r\n"
    "Host: x\r\n"
    "Content-Type: application/json\r\n"
    "X-Amzn-SageMaker-Target-Variant: canary\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"features\":1";

TEST(HttpRequestParserTest, ParsesAWholeRequest) {
  HttpRequestParser parser(16 * 1024, 1024);
  ASSERT_EQ(parser.Parse(kPost), State::kComplete);
  const auto& r = parser.request();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/endpoints/recs/invocations");
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.expect_continue);
  EXPECT_EQ(r.target_variant, "canary");
  EXPECT_EQ(r.body, "{\"features\":1");
  EXPECT_EQ(parser.consumed(), kPost.size());
}

TEST(HttpRequestParserTest, ByteByByteGivesTheSameRequest) {
  HttpRequestParser parser(16 * 1024, 1024);
  // A fresh copy per step, as a connection buffer that grows moves its bytes.
  for (std::size_t n = 1; n < kPost.size(); ++n) {
    const std::string prefix(kPost.substr(0, n));
    ASSERT_EQ(parser.Parse(prefix), State::kNeedMore) << n;
    EXPECT_EQ(parser.header_done(), n >= kPost.find("\r\n\r\n") + 4) << n;
  }
  const std::string whole(kPost);
  ASSERT_EQ(parser.Parse(whole), State::kComplete);
  EXPECT_EQ(parser.request().method, "POST");
  EXPECT_EQ(parser.request().target, "/v1/endpoints/recs/invocations");
  EXPECT_EQ(parser.request().target_variant, "canary");
  EXPECT_EQ(parser.request().body, "{\"features\":1");
  EXPECT_EQ(parser.consumed(), kPost.size());
}

TEST(HttpRequestParserTest, PipelinedRequestsParseOneAfterTheOther) {
  const std::string two = std::string(kPost) + "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n";
  HttpRequestParser parser(16 * 1024, 1024);
  ASSERT_EQ(parser.Parse(two), State::kComplete);
  EXPECT_EQ(parser.consumed(), kPost.size());
  const std::string_view rest = std::string_view(two).substr(parser.consumed());
  parser.Reset();
  ASSERT_EQ(parser.Parse(rest), State::kComplete);
  EXPECT_EQ(parser.request().method, "GET");
  EXPECT_EQ(parser.request().target, "/ping");
  EXPECT_TRUE(parser.request().body.empty());
  EXPECT_FALSE(parser.request().keep_alive);
  EXPECT_EQ(parser.consumed(), rest.size());
}

TEST(HttpRequestParserTest, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    std::string_view request;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    HttpRequestParser parser(1024, 1024);
    ASSERT_EQ(parser.Parse(c.request), State::kComplete) << c.request;
    EXPECT_EQ(parser.request().keep_alive, c.keep_alive) << c.request;
  }
}

TEST(HttpRequestParserTest, ExpectContinueIsSeenOnceTheHeadIsIn) {
  HttpRequestParser parser(1024, 1024);
  const std::string_view head =
      "POST /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  ASSERT_EQ(parser.Parse(head), State::kNeedMore);
  EXPECT_TRUE(parser.header_done());
  EXPECT_TRUE(parser.request().expect_continue);
  const std::string whole = std::string(head) + "abc";  // the request's views point into it
  ASSERT_EQ(parser.Parse(whole), State::kComplete);
  EXPECT_EQ(parser.request().body, "abc");
}

TEST(HttpRequestParserTest, ChunkedBodiesAreDecodedInAnyFragmentation) {
  const std::string request =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n"
      "A\r\n, world!!!\r\n"
      "0\r\nTrailer: x\r\n\r\n"
      "GET /next HTTP/1.1\r\n\r\n";
  const std::size_t first_size = request.find("GET /next");
  for (std::size_t split = 1; split < first_size; ++split) {
    HttpRequestParser parser(1024, 1024);
    ASSERT_EQ(parser.Parse(request.substr(0, split)), State::kNeedMore) << split;
    ASSERT_EQ(parser.Parse(request), State::kComplete) << split;
    EXPECT_EQ(parser.request().body, "hello, world!!!") << split;
    EXPECT_EQ(parser.consumed(), first_size) << split;
  }
}

TEST(HttpRequestParserTest, ChunkedBodyOverTheLimitIs413) {
  HttpRequestParser parser(1024, 8);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"),
            State::kError);
  EXPECT_EQ(parser.error_status(), 413);
}

TEST(HttpRequestParserTest, ContentLengthOverTheLimitIs413BeforeTheBodyArrives) {
  HttpRequestParser parser(1024, 100);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), State::kError);
  EXPECT_EQ(parser.error_status(), 413);
  HttpRequestParser huge(1024, 100);
  EXPECT_EQ(huge.Parse("POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            State::kError);
  EXPECT_EQ(huge.error_status(), 413);
}

TEST(HttpRequestParserTest, HugeHeadersAre431WithOrWithoutTheirEnd) {
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n";
  HttpRequestParser unfinished(1024, 1024);
  EXPECT_EQ(unfinished.Parse(big), State::kError);
  EXPECT_EQ(unfinished.error_status(), 431);
  HttpRequestParser finished(1024, 1024);
  EXPECT_EQ(finished.Parse(big + "\r\n"), State::kError);
  EXPECT_EQ(finished.error_status(), 431);
  HttpRequestParser roomy(4096, 1024);
  EXPECT_EQ(roomy.Parse(big + "\r\n"), State::kComplete);
}

// Found by fuzz/gateway_http_request: a trailer over the limit was refused
// when it arrived in pieces but accepted when it arrived whole.
TEST(HttpRequestParserTest, HugeTrailersAre431WholeOrInPieces) {
  const std::string request = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: " +
                              std::string(2000, 'a') + "\r\n\r\n";
  HttpRequestParser whole(1024, 1024);
  EXPECT_EQ(whole.Parse(request), State::kError);
  EXPECT_EQ(whole.error_status(), 431);
  HttpRequestParser pieces(1024, 1024);
  State state = State::kNeedMore;
  for (std::size_t n = 1; n <= request.size() && state == State::kNeedMore; ++n) {
    state = pieces.Parse(std::string_view(request).substr(0, n));
  }
  EXPECT_EQ(state, State::kError);
  EXPECT_EQ(pieces.error_status(), 431);
  HttpRequestParser roomy(4096, 1024);
  EXPECT_EQ(roomy.Parse(request), State::kComplete);
}

TEST(HttpRequestParserTest, ContentLengthConflictsAndGarbageAre400) {
  for (std::string_view request : {
           "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
           "POST /x HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
           "POST /x HTTP/1.1\r\nContent-Length: 3x\r\n\r\n",
           "POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n",
           "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
           "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
       }) {
    HttpRequestParser parser(1024, 1024);
    EXPECT_EQ(parser.Parse(request), State::kError) << request;
    EXPECT_EQ(parser.error_status(), 400) << request;
    EXPECT_FALSE(parser.error_message().empty());
  }
  HttpRequestParser same(1024, 1024);
  EXPECT_EQ(same.Parse("POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
            State::kComplete);
}

TEST(HttpRequestParserTest, ShortBodyWaitsAndExtraBytesAreTheNextRequest) {
  HttpRequestParser parser(1024, 1024);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc"), State::kNeedMore);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdefg"), State::kComplete);
  EXPECT_EQ(parser.request().body, "abcde");
  EXPECT_EQ(parser.consumed(),
            std::string_view("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n").size() + 5);
}

TEST(HttpRequestParserTest, OtherTransferCodingsAre501) {
  HttpRequestParser parser(1024, 1024);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            State::kError);
  EXPECT_EQ(parser.error_status(), 501);
}

TEST(HttpRequestParserTest, MalformedRequestLinesAndHeadersAre400) {
  for (std::string_view request : {
           "\r\n\r\n",
           "GET\r\n\r\n",
           "GET /\r\n\r\n",
           "GET  / HTTP/1.1\r\n\r\n",
           "GET / HTTP/2.0\r\n\r\n",
           "GET / HTTP/1.1 \r\n\r\n",
           "G(T / HTTP/1.1\r\n\r\n",
           "GET /a\x01 HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
           "GET / HTTP/1.1\nHost: x\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
       }) {
    HttpRequestParser parser(1024, 1024);
    EXPECT_EQ(parser.Parse(request), State::kError) << request;
    EXPECT_EQ(parser.error_status(), 400) << request;
    EXPECT_NE(parser.error_message().find("malformed HTTP request"), std::string_view::npos);
  }
}

TEST(HttpRequestParserTest, ControlCharactersInChunkLinesAndBadTrailersAre400) {
  for (std::string_view request : {
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0;a\x7f\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\nb\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nNoColon\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Name: x\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n folded\r\n\r\n",
           "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nX: 1\r\n\r\n",
       }) {
    HttpRequestParser parser(1024, 1024);
    EXPECT_EQ(parser.Parse(request), State::kError) << request;
    EXPECT_EQ(parser.error_status(), 400) << request;
    EXPECT_NE(parser.error_message().find("malformed HTTP request"), std::string_view::npos);
  }
  // A tab in an extension and well-formed trailers still pass.
  HttpRequestParser parser(1024, 1024);
  EXPECT_EQ(parser.Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5;a=\"x\ty\"\r\nhello\r\n0\r\nA: 1\r\nB:\t2\r\n\r\n"),
            State::kComplete)
      << parser.error_message();
  EXPECT_EQ(parser.request().body, "hello");
}

TEST(HttpRequestParserTest, AnErrorIsSticky) {
  HttpRequestParser parser(1024, 1024);
  EXPECT_EQ(parser.Parse("BAD\r\n\r\n"), State::kError);
  EXPECT_EQ(parser.Parse("GET / HTTP/1.1\r\n\r\n"), State::kError);
  parser.Reset();
  EXPECT_EQ(parser.Parse("GET / HTTP/1.1\r\n\r\n"), State::kComplete);
}

}  // namespace
}  // namespace mlcanary::gateway
