// MemoryDeploymentStore: a DeploymentStore held in memory, with the same
// contract as the durable stores (atomic writes, optimistic versions, one
// active deployment per endpoint). Used by the simulator and by tests.
#ifndef MLCANARY_STORE_MEMORY_DEPLOYMENT_STORE_H_
#define MLCANARY_STORE_MEMORY_DEPLOYMENT_STORE_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports.h"

namespace mlcanary::store {

// Thread-safe: every method takes mu_.
class MemoryDeploymentStore final : public core::DeploymentStore {
 public:
  core::Result<core::Deployment> Create(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events) override;
  core::Result<core::Deployment> Get(std::string_view id) override;
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& filter) override;
  core::Result<core::Deployment> Update(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events) override;
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                              std::int64_t after_seq) override;
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override;
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override;

 private:
  struct Entry {
    core::Deployment deployment;
    std::vector<core::DeploymentEvent> events;
    std::int64_t order = 0;  // creation order, for newest-first listing
  };
  // REQUIRES: mu_ is held.
  void AppendEvents(Entry& entry, const std::vector<core::DeploymentEvent>& events);

  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;             // GUARDED_BY(mu_)
  std::int64_t next_order_ = 0;                                   // GUARDED_BY(mu_)
  std::map<std::string, core::Endpoint, std::less<>> endpoints_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_MEMORY_DEPLOYMENT_STORE_H_
