// In-memory deployment records.
#include "core/testing/memory_deployment_store.h"

#include <algorithm>

namespace mlcanary::core::testing {

using core::Deployment;
using core::DeploymentEvent;

void MemoryDeploymentStore::AppendEvents(Entry& entry, const std::vector<DeploymentEvent>& events,
                                         std::vector<DeploymentEvent>* appended) {
  if (appended != nullptr) appended->clear();
  for (DeploymentEvent e : events) {
    e.seq = static_cast<std::int64_t>(entry.events.size()) + 1;
    e.deployment_id = entry.deployment.id;
    if (!cursors_.empty()) {
      outbox_.push_back({.position = ++last_position_, .deployment = entry.deployment, .event = e});
    }
    if (appended != nullptr) appended->push_back(e);
    entry.events.push_back(std::move(e));
  }
}

void MemoryDeploymentStore::PruneOutbox() {
  if (cursors_.empty()) {
    outbox_.clear();
    return;
  }
  std::int64_t passed = last_position_;
  for (const auto& [sink, position] : cursors_) passed = std::min(passed, position);
  while (!outbox_.empty() && outbox_.front().position <= passed) outbox_.pop_front();
}

core::Result<Deployment> MemoryDeploymentStore::Create(const Deployment& deployment,
                                                       const std::vector<DeploymentEvent>& events,
                                                       std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  std::lock_guard lock(mu_);
  if (entries_.contains(deployment.id)) {
    return core::ConflictError("deployment '" + deployment.id + "' already exists");
  }
  for (const auto& [id, entry] : entries_) {
    if (entry.deployment.endpoint == deployment.endpoint &&
        core::IsActive(entry.deployment.state)) {
      return core::ConflictError("deployment '" + id + "' is already active on endpoint '" +
                                 deployment.endpoint + "'");
    }
  }
  Entry entry;
  entry.deployment = deployment;
  entry.deployment.version = 1;
  AppendEvents(entry, events, appended);
  auto [it, inserted] = entries_.emplace(deployment.id, std::move(entry));
  return it->second.deployment;
}

core::Result<Deployment> MemoryDeploymentStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end())
    return core::NotFoundError("deployment '" + std::string(id) + "' not found");
  return it->second.deployment;
}

core::Result<std::vector<Deployment>> MemoryDeploymentStore::List(
    const core::DeploymentFilter& filter) {
  std::lock_guard lock(mu_);
  std::vector<const Entry*> matches;
  for (const auto& [id, entry] : entries_) {
    const Deployment& d = entry.deployment;
    if (filter.endpoint && d.endpoint != *filter.endpoint) continue;
    if (filter.state && d.state != *filter.state) continue;
    if (filter.active_only && !core::IsActive(d.state)) continue;
    if (!core::InWindow(filter, d)) continue;
    matches.push_back(&entry);
  }
  std::sort(matches.begin(), matches.end(), [](const Entry* a, const Entry* b) {
    return core::ListedBefore(a->deployment, b->deployment);
  });
  if (filter.limit > 0 && matches.size() > filter.limit) matches.resize(filter.limit);
  std::vector<Deployment> out;
  out.reserve(matches.size());
  for (const Entry* e : matches) out.push_back(e->deployment);
  return out;
}

core::Result<Deployment> MemoryDeploymentStore::Update(const Deployment& deployment,
                                                       const std::vector<DeploymentEvent>& events,
                                                       std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  std::lock_guard lock(mu_);
  auto it = entries_.find(deployment.id);
  if (it == entries_.end()) {
    return core::NotFoundError("deployment '" + deployment.id + "' not found");
  }
  Entry& entry = it->second;
  if (core::IsActive(deployment.state)) {
    for (const auto& [id, other] : entries_) {
      if (id != deployment.id && other.deployment.endpoint == deployment.endpoint &&
          core::IsActive(other.deployment.state)) {
        return core::ConflictError("deployment '" + id + "' is already active on endpoint '" +
                                   deployment.endpoint + "'");
      }
    }
  }
  if (entry.deployment.version != deployment.version) {
    return core::ConflictError("deployment '" + deployment.id +
                               "' was changed concurrently (version " +
                               std::to_string(deployment.version) + ", stored " +
                               std::to_string(entry.deployment.version) + ")");
  }
  entry.deployment = deployment;
  entry.deployment.version = deployment.version + 1;
  AppendEvents(entry, events, appended);
  return entry.deployment;
}

core::Result<std::vector<DeploymentEvent>> MemoryDeploymentStore::ListEvents(
    std::string_view deployment_id, std::int64_t after_seq) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(deployment_id);
  if (it == entries_.end()) {
    return core::NotFoundError("deployment '" + std::string(deployment_id) + "' not found");
  }
  std::vector<DeploymentEvent> out;
  for (const auto& e : it->second.events) {
    if (e.seq > after_seq) out.push_back(e);
  }
  return out;
}

core::Status MemoryDeploymentStore::SaveEndpoint(const core::Endpoint& endpoint) {
  if (endpoint.name.empty()) return core::ValidationError("endpoint name must not be empty");
  std::lock_guard lock(mu_);
  endpoints_[endpoint.name] = endpoint;
  return core::Ok();
}

core::Result<std::vector<core::Endpoint>> MemoryDeploymentStore::ListEndpoints() {
  std::lock_guard lock(mu_);
  std::vector<core::Endpoint> out;
  for (const auto& [name, endpoint] : endpoints_) out.push_back(endpoint);
  return out;
}

core::Status MemoryDeploymentStore::SetSinks(const std::vector<std::string>& sinks) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::int64_t, std::less<>> next;
  for (const std::string& sink : sinks) {
    if (sink.empty()) return core::ValidationError("outbox sink name must not be empty");
    auto it = cursors_.find(sink);
    next[sink] = it == cursors_.end() ? last_position_ : it->second;
  }
  cursors_ = std::move(next);
  PruneOutbox();
  return core::Ok();
}

core::Result<std::int64_t> MemoryDeploymentStore::Cursor(std::string_view sink) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(sink);
  if (it == cursors_.end()) {
    return core::NotFoundError("outbox sink '" + std::string(sink) + "' not found");
  }
  return it->second;
}

core::Result<std::vector<core::OutboxEntry>> MemoryDeploymentStore::ReadOutbox(std::int64_t after,
                                                                               std::size_t limit) {
  if (limit == 0) return core::ValidationError("outbox read limit must be >= 1");
  std::lock_guard lock(mu_);
  std::vector<core::OutboxEntry> out;
  for (const core::OutboxEntry& e : outbox_) {
    if (out.size() >= limit) break;
    if (e.position > after) out.push_back(e);
  }
  return out;
}

core::Status MemoryDeploymentStore::AdvanceCursor(std::string_view sink, std::int64_t position) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(sink);
  if (it == cursors_.end()) {
    return core::NotFoundError("outbox sink '" + std::string(sink) + "' not found");
  }
  it->second = std::max(it->second, std::min(position, last_position_));
  PruneOutbox();
  return core::Ok();
}

}  // namespace mlcanary::core::testing
