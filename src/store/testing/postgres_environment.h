// PostgresEnvironment: the one PostgresServer of a test binary, started before
// its first test (about 2 s) and stopped after its last. A binary registers it
// with `::testing::AddGlobalTestEnvironment(new PostgresEnvironment)`; a test
// asks `server()` (null when the start failed: `error()` says why).
#ifndef MLCANARY_STORE_TESTING_POSTGRES_ENVIRONMENT_H_
#define MLCANARY_STORE_TESTING_POSTGRES_ENVIRONMENT_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "store/testing/postgres_server.h"

namespace mlcanary::store::testing {

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto started = PostgresServer::Start();
    if (!started) {
      error_ = started.error().ToString();
      return;
    }
    server_ = std::move(*started);
  }
  void TearDown() override { server_.reset(); }

  static PostgresServer* server() { return server_.get(); }
  static const std::string& error() { return error_; }

 private:
  static inline std::unique_ptr<PostgresServer> server_;
  static inline std::string error_;
};

}  // namespace mlcanary::store::testing

#endif  // MLCANARY_STORE_TESTING_POSTGRES_ENVIRONMENT_H_
