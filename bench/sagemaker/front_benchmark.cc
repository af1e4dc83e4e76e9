// The SageMaker inference front's own cost per request, against a stub runtime:
// models::testing::FakeModelServer, a real HTTP server on 127.0.0.1 that answers
// any POST (here /endpoints/recs/invocations) with one "0.5" per CSV row.
//   BM_StubRoundTrip      plain libcurl POST of the same body on a kept-alive
//                         connection: the floor (loopback + the stub's work)
//   BM_RuntimeInvoke      SageMakerRuntime::Invoke: CSV body, SigV4 signing,
//                         the pooled AwsClient handle, reading the answer
//   BM_FrontRequest       the whole front: an inference API request to the
//                         gateway (parse, sticky pick, worker hand-off,
//                         InvokeEndpoint, metrics, JSON answer)
//   BM_EmbeddedHttpRequest the embedded mode's path to the same stub (gateway +
//                         HttpBackend), for comparison
// One request at a time. CPU is the whole process's (client, gateway, workers and
// the stub, all in this process): the front's cost is a row minus BM_StubRoundTrip.
#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aws/aws_client.h"
#include "core/system_clock.h"
#include "gateway/gateway.h"
#include "metrics/registry.h"
#include "models/backend_factory.h"
#include "models/testing/fake_model_server.h"
#include "sagemaker/runtime_backend.h"

namespace mlcanary {
namespace {

constexpr const char* kCsv = "0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5\n";
constexpr const char* kRequest =
    R"({"user_id":"u-17","features":[0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5]})";

std::size_t Discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

// A kept-alive libcurl POST to `url`; false when it failed or was not 200.
bool Post(CURL* h, const std::string& url, const char* body, curl_slist* headers) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
  if (curl_easy_perform(h) != CURLE_OK) return false;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return status == 200;
}

std::shared_ptr<sagemaker::SageMakerRuntime> Runtime(const std::string& url) {
  aws::ClientOptions o;
  o.endpoint_url = url;
  o.credentials = {"AKIDBENCH", "bench-secret", ""};
  o.max_idle_handles = 4;
  auto client = aws::AwsClient::Create(aws::SageMakerRuntimeService(), o);
  if (!client) return nullptr;
  sagemaker::RuntimeOptions options;
  options.threads = 4;
  auto runtime = sagemaker::SageMakerRuntime::Create(std::move(*client), options);
  return runtime ? *runtime : nullptr;
}

void BM_StubRoundTrip(benchmark::State& state) {
  models::testing::FakeModelServer stub;
  const std::string url = stub.url() + "/endpoints/recs/invocations";
  CURL* h = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/csv");
  for (auto _ : state) {
    if (!Post(h, url, kCsv, headers)) {
      state.SkipWithError("stub POST failed");
      break;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
}
BENCHMARK(BM_StubRoundTrip)->MeasureProcessCPUTime()->UseRealTime();

void BM_RuntimeInvoke(benchmark::State& state) {
  models::testing::FakeModelServer stub;
  auto runtime = Runtime(stub.url());
  if (runtime == nullptr) {
    state.SkipWithError("no runtime");
    return;
  }
  const std::vector<float> row = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f};
  for (auto _ : state) {
    auto p = runtime->Invoke("recs", "prod", models::FeatureRows{row, 1, row.size()});
    if (!p) {
      state.SkipWithError(p.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(p->values.data());
  }
}
BENCHMARK(BM_RuntimeInvoke)->MeasureProcessCPUTime()->UseRealTime();

// A gateway on 127.0.0.1 serving endpoint "recs" with one variant whose backend
// is `backend`, and a client posting the inference API request to it.
void RunGateway(benchmark::State& state, std::shared_ptr<models::ModelBackend> backend) {
  core::SystemClock clock;
  metrics::MetricsRegistry registry(clock);
  gateway::GatewayOptions g;
  g.listen = "127.0.0.1:0";
  g.threads = 1;
  gateway::Gateway gw(g, registry, nullptr);
  core::Endpoint endpoint{.name = "recs",
                          .status = core::EndpointStatus::kInService,
                          .variants = {core::Variant{.name = "prod", .weight = 1.0}}};
  // The router holds the only reference: the gateway frees the model before its
  // I/O threads (an HttpBackend keeps idle connections on them).
  std::vector<std::shared_ptr<models::ModelBackend>> backends;
  backends.push_back(std::move(backend));
  if (auto s = gw.router().AddEndpointWithBackends(endpoint, std::move(backends));
      !s || !gw.Start()) {
    state.SkipWithError("gateway did not start");
    return;
  }
  const std::string url =
      "http://127.0.0.1:" + std::to_string(gw.port()) + "/v1/endpoints/recs/invocations";
  CURL* h = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  for (auto _ : state) {
    if (!Post(h, url, kRequest, headers)) {
      state.SkipWithError("front POST failed");
      break;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  gw.Shutdown();
}

void BM_FrontRequest(benchmark::State& state) {
  models::testing::FakeModelServer stub;
  auto runtime = Runtime(stub.url());
  if (runtime == nullptr) {
    state.SkipWithError("no runtime");
    return;
  }
  RunGateway(state, runtime->Backend("recs", "prod"));
}
BENCHMARK(BM_FrontRequest)->MeasureProcessCPUTime()->UseRealTime();

void BM_EmbeddedHttpRequest(benchmark::State& state) {
  models::testing::FakeModelServer stub;
  auto backend = models::MakeModelBackendFactory()(
      core::ModelSpec{.kind = core::ModelKind::kHttp, .url = stub.url()});
  if (!backend) {
    state.SkipWithError(backend.error().ToString().c_str());
    return;
  }
  RunGateway(state, std::shared_ptr<models::ModelBackend>(std::move(*backend)));
}
BENCHMARK(BM_EmbeddedHttpRequest)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace
}  // namespace mlcanary

BENCHMARK_MAIN();
