// The DeploymentStore contract (core/testing/deployment_store_contract.h) on
// SqliteDeploymentStore: each test a fresh database file in a directory of its
// own (the store makes the missing `db/` directory, as in the contract before).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "core/testing/deployment_store_contract.h"
#include "store/sqlite_deployment_store.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::store {
namespace {

using core::testing::DeploymentStoreContractTest;
using core::testing::DeploymentStoreKind;

std::unique_ptr<core::DeploymentStore> MakeSqlite() {
  static testing::TempDir dir;  // removed at exit, with every test's database
  static std::atomic<int> count{0};
  const std::string own = dir.path() + "/" + std::to_string(++count);
  std::filesystem::create_directory(own);
  auto store = SqliteDeploymentStore::Open(own + "/db/mlcanary.db");
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Stores, DeploymentStoreContractTest,
                         ::testing::Values(DeploymentStoreKind{"Sqlite", MakeSqlite, {}}),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::store
