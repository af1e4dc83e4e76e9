// The fixture of the DeploymentStore contract tests
// (deployment_store_contract_test.cc), shared so that a store whose tests
// need more than a directory (the DynamoDB store on the moto harness) can
// instantiate the same tests in its own binary.
#ifndef MLCANARY_STORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_
#define MLCANARY_STORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/ports.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::store::testing {

// One implementation under the contract.
struct StoreKind {
  std::string name;
  // A fresh, empty store; `dir` is a per-test temporary directory.
  std::function<std::unique_ptr<core::DeploymentStore>(const std::string& dir)> make;
  // Optional: runs after each test, with the store still open (e.g. to check
  // that every request a remote store sent was well formed).
  std::function<void()> after_each;
};

// Test names and failure messages show the store's name, not its bytes.
inline void PrintTo(const StoreKind& kind, std::ostream* os) { *os << kind.name; }

class DeploymentStoreContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(dir_.path());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    if (GetParam().after_each) GetParam().after_each();
  }

  TempDir dir_;
  std::unique_ptr<core::DeploymentStore> store_;
};

}  // namespace mlcanary::store::testing

#endif  // MLCANARY_STORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_
