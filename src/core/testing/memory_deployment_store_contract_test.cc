// The DeploymentStore contract (deployment_store_contract.h) on
// MemoryDeploymentStore, the simulator's store and every component test's.
#include <gtest/gtest.h>

#include <memory>

#include "core/testing/deployment_store_contract.h"
#include "core/testing/memory_deployment_store.h"

namespace mlcanary::core::testing {
namespace {

std::unique_ptr<DeploymentStore> MakeMemory() { return std::make_unique<MemoryDeploymentStore>(); }

INSTANTIATE_TEST_SUITE_P(Stores, DeploymentStoreContractTest,
                         ::testing::Values(DeploymentStoreKind{"Memory", MakeMemory, {}}),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::core::testing
