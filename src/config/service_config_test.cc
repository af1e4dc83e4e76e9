#include "config/service_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mlcanary::config {
namespace {

namespace fs = std::filesystem;

class ServiceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mlcanary-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "models");
    std::ofstream(dir_ / "models" / "v1.json") << "{}";
  }
  void TearDown() override { fs::remove_all(dir_); }

  core::Result<ServiceConfig> Parse(const std::string& yaml) {
    return ParseServiceConfig(yaml, "serve.yaml", dir_.string());
  }

  fs::path dir_;
};

constexpr const char* kMinimal = R"(
endpoints:
  - name: recs
    variants:
      - name: production
        model: {kind: xgboost, path: models/v1.json}
)";

TEST_F(ServiceConfigTest, MinimalConfigGetsDefaults) {
  auto c = Parse(kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->inference_listen, "127.0.0.1:8080");
  EXPECT_EQ(c->control_listen, "127.0.0.1:8081");
  EXPECT_EQ(c->store, "sqlite:" + (dir_ / "data/mlcanary.db").string());
  EXPECT_EQ(c->controller_interval, std::chrono::seconds(60));
  EXPECT_EQ(c->controller_lease, std::chrono::seconds(10));
  ASSERT_EQ(c->endpoints.size(), 1u);
  EXPECT_DOUBLE_EQ(c->endpoints[0].variants[0].weight, 1.0);  // a single variant takes all
  EXPECT_EQ(c->endpoints[0].variants[0].model.path, (dir_ / "models/v1.json").string());
  EXPECT_EQ(c->endpoints[0].policy, core::Policy{});
}

TEST_F(ServiceConfigTest, ReadsTheApiExample) {
  auto c = Parse(R"(
listen:
  inference: 127.0.0.1:18080
  control: 127.0.0.1:18081
store: sqlite:state/db.sqlite
auth:
  admin_token_env: ADMIN
  reader_token_env: READER
controller:
  interval: 500ms
  lease: 3s
notifications:
  webhooks: [http://127.0.0.1:9000/hook]
gateway: {threads: 2, max_body_bytes: 65536}
endpoints:
  - name: recs
    variants:
      - name: production
        weight: 1.0
        instances: 2
        model: {kind: xgboost, path: models/v1.json}
      - name: shadow
        weight: 0
        model: {kind: http, url: http://127.0.0.1:9001, timeout: 150ms}
    policy: {bake: 2s, interval: 1s, max_p99_ms: 50}
)");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->inference_listen, "127.0.0.1:18080");
  EXPECT_EQ(c->admin_token_env, "ADMIN");
  EXPECT_EQ(c->controller_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(c->controller_lease, std::chrono::seconds(3));
  EXPECT_EQ(c->webhooks, std::vector<std::string>{"http://127.0.0.1:9000/hook"});
  EXPECT_EQ(c->gateway_threads, 2);
  EXPECT_EQ(c->max_body_bytes, 65536u);
  EXPECT_EQ(c->endpoints[0].variants[0].instances, 2);
  EXPECT_EQ(c->endpoints[0].variants[1].model.kind, core::ModelKind::kHttp);
  EXPECT_EQ(c->endpoints[0].variants[1].model.timeout, std::chrono::milliseconds(150));
  EXPECT_EQ(c->endpoints[0].policy.bake, std::chrono::seconds(2));
  EXPECT_DOUBLE_EQ(c->endpoints[0].policy.max_p99_ms, 50);
}

TEST_F(ServiceConfigTest, ReadsTheConnectionCaps) {
  auto defaults = Parse(kMinimal);
  ASSERT_TRUE(defaults) << defaults.error().ToString();
  EXPECT_EQ(defaults->inference_max_connections, 10000u);
  EXPECT_EQ(defaults->control_max_connections, 256u);
  auto c =
      Parse(std::string("listen:\n  max_connections: {inference: 50000, control: 8}\n") + kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->inference_max_connections, 50000u);
  EXPECT_EQ(c->control_max_connections, 8u);
  auto one = Parse(std::string("listen: {max_connections: {control: 3}}\n") + kMinimal);
  ASSERT_TRUE(one) << one.error().ToString();
  EXPECT_EQ(one->inference_max_connections, 10000u);
  EXPECT_EQ(one->control_max_connections, 3u);
}

TEST_F(ServiceConfigTest, RefusesBadConnectionCapsNamingKeyAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"listen:\n  max_connections: {inference: 0}\n",
       "listen.max_connections.inference (line 2): must be in 1..1000000"},
      {"listen:\n  max_connections:\n    control: 1000001\n",
       "listen.max_connections.control (line 3): must be in 1..1000000"},
      {"listen:\n  max_connections: {control: many}\n", "listen.max_connections.control"},
      {"listen:\n  max_connections: 100\n",
       "listen.max_connections (line 2): expected a map of inference: N, control: N"},
      {"listen:\n  max_connections: {gateway: 5}\n", "gateway"},
      {"backend: sagemaker\nlisten:\n  max_connections: {inference: 5}\n",
       "listen.max_connections.inference (line 3): only with listen.inference"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto c = Parse(yaml + "endpoints: [{name: recs}]\n");
    ASSERT_FALSE(c) << yaml;
    EXPECT_EQ(c.error().code(), core::ErrorCode::kValidation);
    EXPECT_NE(c.error().message().find(expected), std::string::npos)
        << yaml << " -> " << c.error().message();
  }
}

struct Bad {
  const char* yaml;
  const char* needle;
};

class ServiceConfigBadTest : public ServiceConfigTest, public ::testing::WithParamInterface<Bad> {};

TEST_P(ServiceConfigBadTest, IsRefusedNamingTheKeyPath) {
  auto c = Parse(GetParam().yaml);
  ASSERT_FALSE(c) << GetParam().yaml;
  EXPECT_EQ(c.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(c.error().message().find("serve.yaml"), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find(GetParam().needle), std::string::npos) << c.error().message();
}

constexpr const char* kVariant =
    "      - name: production\n        model: {path: models/v1.json}\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, ServiceConfigBadTest,
    ::testing::Values(
        Bad{"listen: {inference: 'localhost'}\nendpoints: []\n", "listen.inference"},
        Bad{"listen: {control: 'h:70000'}\n", "listen.control"}, Bad{"store: mysql://x\n", "store"},
        Bad{"controller: {interval: 60}\n", "controller.interval"},
        Bad{"controller: {interval: 0s}\n", "controller.interval"},
        Bad{"notifications: {webhooks: [ftp://x]}\n", "notifications.webhooks[0]"},
        Bad{"gateway: {threads: -1}\n", "gateway.threads"}, Bad{"endpoints: []\n", "endpoints"},
        // The whole message of each range check: key path, line, range.
        Bad{"controller: {interval: 0s}\n", "controller.interval (line 1): must be > 0"},
        Bad{"controller:\n  lease: 500ms\n", "controller.lease (line 2): must be at least 1s"},
        Bad{"controller: {lease: 0s}\n", "controller.lease (line 1): must be > 0"},
        Bad{"gateway: {threads: 257}\n", "gateway.threads (line 1): must be in 0..256"},
        Bad{"gateway:\n  max_body_bytes: 1023\n",
            "gateway.max_body_bytes (line 2): must be in 1024..1073741824"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        instances: 65\n "
            "       model: {path: models/v1.json}\n",
            "endpoints[0].variants[0].instances (line 5): must be in 1..64"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {kind: "
            "http, url: 'http://x', timeout: 0ms}\n",
            "endpoints[0].variants[0].model.timeout (line 5): must be > 0"},
        Bad{"endpointz: []\n", "endpointz"},
        // A key given twice: yaml-cpp would keep the first silently.
        Bad{"listen:\n  control: 127.0.0.1:1\n  control: 127.0.0.1:2\n",
            "serve.yaml: listen.control (line 3): duplicate key (first at line 2)"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {path: "
            "models/v1.json, path: models/v2.json}\n",
            "endpoints[0].variants[0].model.path (line 5): duplicate key"},
        // Both servers on one port.
        Bad{"listen: {inference: '127.0.0.1:9000', control: '127.0.0.1:9000'}\n",
            "listen.control (line 1): '127.0.0.1:9000' has the port of listen.inference"},
        Bad{"listen:\n  inference: '0.0.0.0:9000'\n  control: '127.0.0.1:9000'\n",
            "listen.control (line 3): '127.0.0.1:9000' has the port of listen.inference"},
        Bad{"listen:\n  inference: '127.0.0.1:8081'\n",
            "listen.inference (line 2): '127.0.0.1:8081' has the port of listen.control"},
        Bad{"endpoints:\n  - name: 'a/b'\n    variants: []\n", "endpoints[0].name"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {path: "
            "nope.json}\n",
            "endpoints[0].variants[0].model.path"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {kind: "
            "onnx, path: models/v1.json}\n",
            "endpoints[0].variants[0].model.kind"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {kind: "
            "http, url: 'https://x'}\n",
            "endpoints[0].variants[0].model.url"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        weight: 0.5\n "
            "       model: {path: models/v1.json}\n      - name: q\n        weight: 0.2\n        "
            "model: {path: models/v1.json}\n",
            "weights must sum to 1"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        weight: 0.5\n "
            "       model: {path: models/v1.json}\n      - name: p\n        weight: 0.5\n        "
            "model: {path: models/v1.json}\n",
            "endpoints[0].variants[1].name"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {path: "
            "models/v1.json}\n    policy: {bake: 10}\n",
            "endpoints[0].policy.bake"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        model: {path: "
            "models/v1.json}\n    policy: {steps: [0.5, 0.1]}\n",
            "endpoints[0].policy.steps[1]"},
        Bad{"endpoints:\n  - name: recs\n    variants:\n      - name: p\n        instances: 0\n "
            "       model: {path: models/v1.json}\n",
            "endpoints[0].variants[0].instances"}));

TEST(ListenAddressTest, AcceptsHostPortAndPortZero) {
  EXPECT_TRUE(ValidateListenAddress("127.0.0.1:0"));
  EXPECT_TRUE(ValidateListenAddress("[::1]:8080"));
  EXPECT_FALSE(ValidateListenAddress(":80"));
  EXPECT_FALSE(ValidateListenAddress("127.0.0.1:http"));
}

// A PostgreSQL URL is kept as written (libpq reads it when the store opens),
// in both of libpq's schemes.
TEST_F(ServiceConfigTest, ReadsAPostgresqlStore) {
  for (const std::string url : {"postgresql://mlcanary:pw@db.example:5432/mlcanary?sslmode=require",
                                "postgres://db.example/mlcanary"}) {
    auto c = Parse("store: " + url + "\n" + kMinimal);
    ASSERT_TRUE(c) << c.error().ToString();
    EXPECT_EQ(c->store, url);
  }
}

constexpr const char* kSagemaker = R"(
backend: sagemaker
listen: {control: 127.0.0.1:9001}
store: dynamodb:mlcanary-deployments
aws:
  region: eu-west-1
  endpoint_url: http://127.0.0.1:5000
  endpoint_urls: {cloudwatch: "https://monitoring.example:443"}
  timeout: 5s
  max_attempts: 4
sagemaker:
  poll_interval: 2s
  wait_timeout: 10m
  delete_old_configs: false
  autoscaling: {min_capacity: 2, max_capacity: 6, target_invocations_per_instance: 750,
                scale_out_cooldown: 30s, scale_in_cooldown: 10m}
notifications:
  sns_topic_arn: arn:aws:sns:eu-west-1:123456789012:mlcanary-events
endpoints:
  - name: recs-prod
    policy: {step: 0.2}
)";

TEST_F(ServiceConfigTest, ReadsTheSagemakerBackend) {
  auto c = Parse(kSagemaker);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->backend, Backend::kSagemaker);
  EXPECT_EQ(c->store, "dynamodb:mlcanary-deployments");
  EXPECT_EQ(c->aws.region, "eu-west-1");
  EXPECT_EQ(c->aws.endpoint_url, "http://127.0.0.1:5000");
  EXPECT_EQ(c->aws.endpoint_urls.at("cloudwatch"), "https://monitoring.example:443");
  EXPECT_EQ(c->aws.timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->aws.max_attempts, 4);
  EXPECT_EQ(c->sagemaker.poll_interval, std::chrono::seconds(2));
  EXPECT_EQ(c->sagemaker.wait_timeout, std::chrono::minutes(10));
  EXPECT_FALSE(c->sagemaker.delete_old_configs);
  EXPECT_EQ(c->sagemaker.autoscaling.min_capacity, 2);
  EXPECT_EQ(c->sagemaker.autoscaling.max_capacity, 6);
  EXPECT_DOUBLE_EQ(c->sagemaker.autoscaling.target_invocations_per_instance, 750);
  EXPECT_EQ(c->sagemaker.autoscaling.scale_out_cooldown, std::chrono::seconds(30));
  EXPECT_EQ(c->sagemaker.autoscaling.scale_in_cooldown, std::chrono::minutes(10));
  EXPECT_EQ(c->sns_topic_arn, "arn:aws:sns:eu-west-1:123456789012:mlcanary-events");
  ASSERT_EQ(c->endpoints.size(), 1u);
  EXPECT_TRUE(c->endpoints[0].variants.empty());
  EXPECT_DOUBLE_EQ(c->endpoints[0].policy.step, 0.2);
}

TEST_F(ServiceConfigTest, SagemakerDefaultsFollowTheDesignDocument) {
  auto c = Parse("backend: sagemaker\nendpoints:\n  - name: recs\n");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->sagemaker.autoscaling.enabled);
  EXPECT_EQ(c->sagemaker.autoscaling.min_capacity, 1);
  EXPECT_EQ(c->sagemaker.autoscaling.max_capacity, 10);
  EXPECT_DOUBLE_EQ(c->sagemaker.autoscaling.target_invocations_per_instance, 1000);
  EXPECT_EQ(c->sagemaker.autoscaling.scale_out_cooldown, std::chrono::seconds(60));
  EXPECT_EQ(c->sagemaker.autoscaling.scale_in_cooldown, std::chrono::seconds(300));
  EXPECT_TRUE(c->sagemaker.delete_old_configs);
  EXPECT_TRUE(c->aws.region.empty());  // resolved from the environment at start
}

TEST_F(ServiceConfigTest, ListenInferenceWithSagemakerTurnsTheFrontOn) {
  auto off = Parse("backend: sagemaker\nendpoints: [{name: recs}]\n");
  ASSERT_TRUE(off) << off.error().ToString();
  EXPECT_FALSE(off->sagemaker.inference.enabled);
  EXPECT_EQ(off->sagemaker.inference.timeout, std::chrono::seconds(2));
  EXPECT_EQ(off->sagemaker.inference.max_attempts, 2);
  auto c = Parse(
      "backend: sagemaker\nlisten: {inference: 127.0.0.1:9000, max_connections: {inference: 50}}\n"
      "gateway: {threads: 3}\naws: {endpoint_urls: {sagemaker-runtime: http://127.0.0.1:7000}}\n"
      "sagemaker:\n  inference:\n    timeout: 300ms\n    variant_timeouts: {canary: 1s}\n"
      "    max_attempts: 3\n    threads: 8\n    refresh_interval: 5s\n"
      "endpoints: [{name: recs}]\n");
  ASSERT_TRUE(c) << c.error().ToString();
  const SagemakerInferenceConfig& f = c->sagemaker.inference;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(c->inference_listen, "127.0.0.1:9000");
  EXPECT_EQ(c->inference_max_connections, 50u);
  EXPECT_EQ(c->gateway_threads, 3);
  EXPECT_EQ(c->aws.endpoint_urls.at("sagemaker-runtime"), "http://127.0.0.1:7000");
  EXPECT_EQ(f.timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(f.variant_timeouts.at("canary"), std::chrono::seconds(1));
  EXPECT_EQ(f.max_attempts, 3);
  EXPECT_EQ(f.threads, 8);
  EXPECT_EQ(f.refresh_interval, std::chrono::seconds(5));
}

TEST_F(ServiceConfigTest, SagemakerMistakesAreNamed) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"backend: kubernetes\nendpoints: [{name: recs}]\n", "'kubernetes' is not embedded"},
      {"backend: sagemaker\nendpoints:\n  - name: recs\n    variants: []\n",
       "variants (line 4): not with backend: sagemaker"},
      {"backend: sagemaker\nendpoints:\n  - name: recs_prod\n", "not a SageMaker endpoint name"},
      {"backend: sagemaker\nlisten: {inference: 127.0.0.1:1, control: 127.0.0.1:1}\n"
       "endpoints: [{name: recs}]\n",
       "the two servers need two ports"},
      {"backend: sagemaker\nsagemaker: {inference: {timeout: 1s}}\nendpoints: [{name: recs}]\n",
       "sagemaker.inference (line 2): only with listen.inference"},
      {"backend: sagemaker\nlisten: {inference: 127.0.0.1:1}\n"
       "sagemaker: {inference: {timeout: 0s}}\nendpoints: [{name: recs}]\n",
       "sagemaker.inference.timeout (line 3)"},
      {"backend: sagemaker\nlisten: {inference: 127.0.0.1:1}\n"
       "sagemaker: {inference: {variant_timeouts: {canary_1: 1s}}}\nendpoints: [{name: recs}]\n",
       "'canary_1' is not a SageMaker variant name"},
      {"backend: sagemaker\nlisten: {inference: 127.0.0.1:1}\n"
       "sagemaker: {inference: {max_attempts: 11}}\nendpoints: [{name: recs}]\n",
       "sagemaker.inference.max_attempts (line 3): must be in 1..10"},
      {"backend: sagemaker\nlisten: {inference: 127.0.0.1:1}\n"
       "sagemaker: {inference: {retries: 3}}\nendpoints: [{name: recs}]\n",
       "retries"},
      // Found by fuzz/service_config: an uncaught YAML::BadSubscript.
      {"backend: sagemaker\nlisten: 127.0.0.1:8081\nendpoints: [{name: recs}]\n",
       "listen (line 2): expected a mapping"},
      {"backend: sagemaker\ngateway: {threads: 2}\nendpoints: [{name: recs}]\n",
       "gateway (line 2): only with listen.inference"},
      {"backend: sagemaker\nstore: dynamodb:x\nendpoints: [{name: recs}]\n", "table name"},
      {"backend: sagemaker\nstore: dynamodb:my/table\nendpoints: [{name: recs}]\n",
       "store (line 2): 'my/table' is not a DynamoDB table"},
      {"backend: sagemaker\nstore: postgres:x\nendpoints: [{name: recs}]\n",
       "expected sqlite:PATH, dynamodb:TABLE or postgresql://..."},
      {"backend: sagemaker\naws: {region: \"EU WEST\"}\nendpoints: [{name: recs}]\n",
       "not an AWS region"},
      {"backend: sagemaker\naws: {endpoint_url: localhost:5000}\nendpoints: [{name: recs}]\n",
       "aws.endpoint_url"},
      {"backend: sagemaker\naws: {endpoint_urls: {s3: http://x}}\nendpoints: [{name: recs}]\n",
       "s3"},
      {"backend: sagemaker\naws: {max_attempts: 0}\nendpoints: [{name: recs}]\n", "1..10"},
      {"backend: sagemaker\nsagemaker: {poll_interval: 0s}\nendpoints: [{name: recs}]\n",
       "must be > 0"},
      {"backend: sagemaker\nsagemaker: {autoscaling: {min_capacity: 5, max_capacity: 2}}\n"
       "endpoints: [{name: recs}]\n",
       "must not exceed max_capacity"},
      {"backend: sagemaker\nsagemaker: {autoscaling: {target_invocations_per_instance: -1}}\n"
       "endpoints: [{name: recs}]\n",
       "must be > 0"},
      {"backend: sagemaker\nnotifications: {sns_topic_arn: my-topic}\nendpoints: [{name: recs}]\n",
       "not an SNS topic ARN"},
      {"sagemaker: {poll_interval: 1s}\nendpoints:\n  - name: recs\n    variants:\n"
       "      - {name: p, model: {kind: xgboost, path: models/v1.json}}\n",
       "only with backend: sagemaker"},
      {"endpoints:\n  - name: recs\n    variants:\n"
       "      - {name: p, model: {kind: sagemaker}}\n",
       "variants come from the SageMaker endpoint"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(c.yaml);
    ASSERT_FALSE(parsed) << c.yaml;
    EXPECT_NE(parsed.error().message().find(c.expected), std::string::npos)
        << c.yaml << "\n-> " << parsed.error().message();
    EXPECT_NE(parsed.error().message().find("serve.yaml"), std::string::npos)
        << parsed.error().message();
  }
}

TEST_F(ServiceConfigTest, MetricsDefaultToTheEmbeddedRegistry) {
  auto c = Parse(kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->metrics.source, MetricsSource::kEmbedded);
  EXPECT_EQ(c->metrics.url, "");
  c = Parse(std::string("metrics: {source: embedded}\n") + kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->metrics.source, MetricsSource::kEmbedded);
}

TEST_F(ServiceConfigTest, ReadsPrometheusAsTheMetricsSource) {
  auto c = Parse(std::string("metrics:\n  source: prometheus\n  url: http://127.0.0.1:9090\n") +
                 kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->metrics.source, MetricsSource::kPrometheus);
  EXPECT_EQ(c->metrics.url, "http://127.0.0.1:9090");
  EXPECT_EQ(c->metrics.job, "");
  EXPECT_EQ(c->metrics.timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->key_lines.at("metrics.url"), 3);

  c = Parse(std::string("metrics: {source: prometheus, url: 'https://prom.example/p/', job: "
                        "mlcanary, timeout: 1500ms}\n") +
            kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->metrics.url, "https://prom.example/p/");
  EXPECT_EQ(c->metrics.job, "mlcanary");
  EXPECT_EQ(c->metrics.timeout, std::chrono::milliseconds(1500));
}

TEST_F(ServiceConfigTest, MetricsMistakesAreRefusedNamingTheField) {
  struct Case {
    std::string metrics;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"metrics: prometheus\n", "metrics (line 1): expected a map"},
      {"metrics: {source: graphite}\n",
       "metrics.source (line 1): 'graphite' is not embedded or prometheus"},
      {"metrics: {source: prometheus}\n", "metrics.url (line 1): required with source: prometheus"},
      {"metrics: {source: prometheus, url: 'prom:9090'}\n",
       "metrics.url (line 1): 'prom:9090' must start with http:// or https://"},
      {"metrics: {source: prometheus, url: 'http://'}\n",
       "metrics.url (line 1): 'http://' has no host"},
      {"metrics: {source: prometheus, url: 'http://p:9090/api/v1/query?query=up'}\n",
       "metrics.url (line 1): 'http://p:9090/api/v1/query?query=up' must be the server's base URL"},
      {"metrics: {source: prometheus, url: [a]}\n", "metrics.url (line 1)"},
      {"metrics:\n  source: prometheus\n  url: http://p:9090\n  timeout: 0s\n",
       "metrics.timeout (line 4): must be > 0"},
      {"metrics: {source: prometheus, url: 'http://p:9090', job: ''}\n",
       "metrics.job (line 1): must not be empty"},
      {"metrics: {url: 'http://p:9090'}\n", "metrics.url (line 1): only with source: prometheus"},
      {"metrics: {source: prometheus, url: 'http://p:9090', query: up}\n", "metrics.query"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(c.metrics + kMinimal);
    ASSERT_FALSE(parsed) << c.metrics;
    EXPECT_EQ(parsed.error().code(), core::ErrorCode::kValidation);
    EXPECT_NE(parsed.error().message().find("serve.yaml: " + c.expected), std::string::npos)
        << c.metrics << "-> " << parsed.error().message();
  }
  auto sagemaker = Parse(
      "backend: sagemaker\nmetrics: {source: prometheus, url: 'http://p:9090'}\n"
      "endpoints: [{name: recs}]\n");
  ASSERT_FALSE(sagemaker);
  EXPECT_NE(sagemaker.error().message().find("metrics (line 2): not with backend: sagemaker"),
            std::string::npos)
      << sagemaker.error().message();
}

TEST_F(ServiceConfigTest, TwoPortsThatCanCoexistAreAccepted) {
  for (const char* listen :
       {"listen: {inference: '127.0.0.1:0', control: '127.0.0.1:0'}\n",
        "listen: {inference: '127.0.0.1:9000', control: '127.0.0.2:9000'}\n",
        "listen: {inference: '127.0.0.1:9000', control: '127.0.0.1:9001'}\n"}) {
    auto c = Parse(std::string(listen) + kMinimal);
    EXPECT_TRUE(c) << listen << c.error().ToString();
  }
}

// The keys used only at start keep their lines, so that a port in use, a store
// that will not open or a model that will not load names key and line.
TEST_F(ServiceConfigTest, KeepsTheLinesOfTheKeysUsedAtStart) {
  auto c = Parse(R"(listen:
  inference: 127.0.0.1:18080
  control: 127.0.0.1:18081
store: sqlite:state/db.sqlite
endpoints:
  - name: recs
    variants:
      - name: production
        weight: 1
        model: {path: models/v1.json}
      - name: side
        weight: 0
        model:
          kind: http
          url: http://127.0.0.1:1
)");
  ASSERT_TRUE(c) << c.error().ToString();
  const std::map<std::string, int, std::less<>> expected = {
      {"listen.inference", 2},
      {"listen.control", 3},
      {"store", 4},
      {"endpoints[0].variants[0].model.path", 10},
      {"endpoints[0].variants[1].model.url", 15}};
  EXPECT_EQ(c->key_lines, expected);
  EXPECT_EQ(ConfigKeyError(*c, "listen.control", "cannot listen: address in use").message(),
            "serve.yaml: listen.control (line 3): cannot listen: address in use");
  EXPECT_EQ(ConfigKeyError(*c, "listen.control", "x").code(), core::ErrorCode::kValidation);
}

TEST_F(ServiceConfigTest, KeyErrorWithoutALineForADefault) {
  auto c = Parse(kMinimal);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(ConfigKeyError(*c, "store", "cannot open").message(), "serve.yaml: store: cannot open");
}

TEST(ServiceConfigExamplesTest, ShippedExamplesAreValid) {
  const std::string root = std::getenv("MLCANARY_SOURCE_DIR") ? std::getenv("MLCANARY_SOURCE_DIR")
                                                              : MLCANARY_SOURCE_DIR_FALLBACK;
  for (const char* name : {"serve.yaml", "sagemaker.yaml"}) {
    auto c = LoadServiceConfig(root + "/examples/" + name);
    EXPECT_TRUE(c) << name << ": " << c.error().ToString();
  }
  auto sm = LoadServiceConfig(root + "/examples/sagemaker.yaml");
  ASSERT_TRUE(sm);
  EXPECT_EQ(sm->backend, Backend::kSagemaker);
  EXPECT_EQ(sm->store, "dynamodb:mlcanary-deployments");
}

}  // namespace
}  // namespace mlcanary::config
