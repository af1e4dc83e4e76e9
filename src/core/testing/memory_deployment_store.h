// MemoryDeploymentStore: a DeploymentStore held in memory, with the same
// contract as the durable stores (atomic writes, optimistic versions, one
// active deployment per endpoint, the event outbox). Used by the simulator and
// by tests.
#ifndef MLCANARY_CORE_TESTING_MEMORY_DEPLOYMENT_STORE_H_
#define MLCANARY_CORE_TESTING_MEMORY_DEPLOYMENT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports.h"

namespace mlcanary::core::testing {

// Thread-safe: every method takes mu_.
class MemoryDeploymentStore final : public core::DeploymentStore, public core::EventOutbox {
 public:
  using core::DeploymentStore::Create;
  using core::DeploymentStore::Update;

  core::Result<core::Deployment> Create(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<core::Deployment> Get(std::string_view id) override;
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& filter) override;
  core::Result<core::Deployment> Update(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                              std::int64_t after_seq) override;
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override;
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override;

  core::Status SetSinks(const std::vector<std::string>& sinks) override;
  core::Result<std::int64_t> Cursor(std::string_view sink) override;
  core::Result<std::vector<core::OutboxEntry>> ReadOutbox(std::int64_t after,
                                                          std::size_t limit) override;
  core::Status AdvanceCursor(std::string_view sink, std::int64_t position) override;

 private:
  struct Entry {
    core::Deployment deployment;
    std::vector<core::DeploymentEvent> events;
  };
  // REQUIRES: mu_ is held. Appends to the log and, when there are sinks, the outbox.
  void AppendEvents(Entry& entry, const std::vector<core::DeploymentEvent>& events,
                    std::vector<core::DeploymentEvent>* appended);
  // REQUIRES: mu_ is held. Drops the outbox entries every cursor has passed.
  void PruneOutbox();

  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;             // GUARDED_BY(mu_)
  std::map<std::string, core::Endpoint, std::less<>> endpoints_;  // GUARDED_BY(mu_)
  std::deque<core::OutboxEntry> outbox_;                          // GUARDED_BY(mu_)
  std::int64_t last_position_ = 0;                                // GUARDED_BY(mu_)
  std::map<std::string, std::int64_t, std::less<>> cursors_;      // GUARDED_BY(mu_)
};

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_MEMORY_DEPLOYMENT_STORE_H_
