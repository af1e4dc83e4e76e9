// The upstream client's user-space pieces, per answer, against what they
// replaced: the response parser versus Beast's, the {"predictions": [...]} fast
// path versus Boost.JSON, and whole calls over loopback to a FakeModelServer.
#include <benchmark/benchmark.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <string>
#include <vector>

#include "models/http_backend.h"
#include "models/internal/http_response_parser.h"
#include "models/internal/upstream_predictions.h"
#include "models/testing/fake_model_server.h"

namespace mlcanary::models {
namespace {

namespace http = boost::beast::http;

// What nginx answers in bench/gateway/run_http_split.sh.
constexpr std::string_view kNginxAnswer =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 29 Nov 2026 03:40:00 GMT\r\n"
    "Content-Type: application/json\r\nContent-Length: 22\r\nConnection: keep-alive\r\n\r\n"
    "{\"predictions\":[0.25]}";

void BM_ResponseParser(benchmark::State& state) {
  internal::HttpResponseParser parser(64 * 1024, 64 * 1024 * 1024);
  for (auto _ : state) {
    parser.Reset();
    auto s = parser.Parse(kNginxAnswer);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(parser.response().body.data());
  }
}
BENCHMARK(BM_ResponseParser);

// The replaced reading: a Beast parser (fields and body string) per answer.
void BM_BeastResponseParser(benchmark::State& state) {
  for (auto _ : state) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(kNginxAnswer.data(), kNginxAnswer.size()), ec);
    auto response = parser.release();
    benchmark::DoNotOptimize(response.body().data());
  }
}
BENCHMARK(BM_BeastResponseParser);

void BM_PredictionsFastPath(benchmark::State& state) {
  Predictions out;
  for (auto _ : state) {
    bool ok = internal::ParsePredictionsFast("{\"predictions\":[0.25]}", 1, out);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_PredictionsFastPath);

void BM_PredictionsBoostJson(benchmark::State& state) {
  for (auto _ : state) {
    auto out = internal::ParseJsonPredictions("{\"predictions\":[0.25]}", 1);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PredictionsBoostJson);

// Whole calls, one at a time, from a thread without a loop (the own loop serves
// them): includes the loopback round trip and the fake server's thread.
void BM_PredictRoundTrip(benchmark::State& state) {
  testing::FakeModelServer server;
  auto backend = HttpBackend::Create({.url = server.url(), .timeout = core::Duration(5000)});
  if (!backend) {
    state.SkipWithError(backend.error().ToString().c_str());
    return;
  }
  const std::vector<float> row = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f};
  for (auto _ : state) {
    std::promise<bool> done;
    (*backend)->PredictAsync({row, 1, 8},
                             [&](core::Result<Predictions> r) { done.set_value(r.has_value()); });
    if (!done.get_future().get()) state.SkipWithError("a call failed");
  }
}
BENCHMARK(BM_PredictRoundTrip)->UseRealTime();

}  // namespace
}  // namespace mlcanary::models

BENCHMARK_MAIN();
