#include "config/service_config.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(c->webhooks, std::vector<std::string>{"http://127.0.0.1:9000/hook"});
  EXPECT_EQ(c->gateway_threads, 2);
  EXPECT_EQ(c->max_body_bytes, 65536u);
  EXPECT_EQ(c->endpoints[0].variants[0].instances, 2);
  EXPECT_EQ(c->endpoints[0].variants[1].model.kind, core::ModelKind::kHttp);
  EXPECT_EQ(c->endpoints[0].variants[1].model.timeout, std::chrono::milliseconds(150));
  EXPECT_EQ(c->endpoints[0].policy.bake, std::chrono::seconds(2));
  EXPECT_DOUBLE_EQ(c->endpoints[0].policy.max_p99_ms, 50);
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
        Bad{"listen: {control: 'h:70000'}\n", "listen.control"},
        Bad{"store: postgres://x\n", "store"},
        Bad{"controller: {interval: 60}\n", "controller.interval"},
        Bad{"controller: {interval: 0s}\n", "controller.interval"},
        Bad{"notifications: {webhooks: [ftp://x]}\n", "notifications.webhooks[0]"},
        Bad{"gateway: {threads: -1}\n", "gateway.threads"}, Bad{"endpoints: []\n", "endpoints"},
        Bad{"endpointz: []\n", "endpointz"},
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

}  // namespace
}  // namespace mlcanary::config
