// A test double of the store port: the memory store, whose writes fail the way
// SQLite's do on a full disk while `full` is set. Reads still work. Used by the
// tests of what the controller and the control API do when the store cannot be
// written.
#ifndef MLCANARY_CORE_TESTING_FULL_DISK_STORE_H_
#define MLCANARY_CORE_TESTING_FULL_DISK_STORE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "core/testing/memory_deployment_store.h"

namespace mlcanary::core::testing {

class FullDiskStore final : public core::DeploymentStore {
 public:
  std::atomic<bool> full{false};
  std::atomic<int> refused_writes{0};

  using core::DeploymentStore::Create;
  using core::DeploymentStore::Update;

  core::Result<core::Deployment> Create(const core::Deployment& d,
                                        const std::vector<core::DeploymentEvent>& e,
                                        std::vector<core::DeploymentEvent>* appended) override {
    if (full) return Refuse("insert deployment");
    return inner.Create(d, e, appended);
  }
  core::Result<core::Deployment> Get(std::string_view id) override { return inner.Get(id); }
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& f) override {
    return inner.List(f);
  }
  core::Result<core::Deployment> Update(const core::Deployment& d,
                                        const std::vector<core::DeploymentEvent>& e,
                                        std::vector<core::DeploymentEvent>* appended) override {
    if (full) return Refuse("update deployment");
    return inner.Update(d, e, appended);
  }
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view id,
                                                              std::int64_t after) override {
    return inner.ListEvents(id, after);
  }
  core::Status SaveEndpoint(const core::Endpoint& e) override {
    if (full) return Refuse("save endpoint");
    return inner.SaveEndpoint(e);
  }
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override {
    return inner.ListEndpoints();
  }

  MemoryDeploymentStore inner;

 private:
  std::unexpected<core::Error> Refuse(const std::string& what) {
    ++refused_writes;
    return core::MakeError(core::ErrorCode::kInternal, what + ": database or disk is full");
  }
};

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_FULL_DISK_STORE_H_
