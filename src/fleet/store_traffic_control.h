// StoreTrafficControl: the leader's TrafficControl in the fleet. The
// endpoints' variants and weights live in the store's endpoint records
// (DeploymentStore::SaveEndpoint), which every replica's EndpointFollower
// applies to its own router; changing traffic is writing the record. Given
// the leader's fenced store, a deposed leader's changes are refused by the
// store, not applied by anyone.
//
// The TrafficControl contract holds as for a router (core/traffic_weights.h
// checks every weight change), with "ready" meaning ready on this replica:
// CreateVariant records the variant at weight 0 and returns once this
// replica's follower has loaded its model (`sync_local`); a model this
// replica cannot load is taken out of the record again and the error
// returned. Other replicas load it when they read the record, before they
// give it traffic (the follower creates variants before it sets weights).
// CreateVariant of a variant the record already has with the same model
// succeeds (a new leader readying a canary its predecessor had recorded
// before it died); with another model it is kConflict.
//
// SetWeights and RemoveVariant write the record and return: every replica,
// this one included, applies it when its follower reads it (the change feed
// wakes them all on commit). A write the store refuses (the database is
// unreachable; a newer leader holds the lease) changes nothing anywhere.
#ifndef MLCANARY_FLEET_STORE_TRAFFIC_CONTROL_H_
#define MLCANARY_FLEET_STORE_TRAFFIC_CONTROL_H_

#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/ports.h"

namespace mlcanary::fleet {

// Thread-safe: changes are serialised (read, change, write the record).
class StoreTrafficControl final : public core::TrafficControl {
 public:
  // `store` holds the records (the leader's fenced store); `local` is this
  // replica's router (CheckVariant); `sync_local` brings it in line with the
  // records (EndpointFollower::SyncOnce). All borrowed.
  StoreTrafficControl(core::DeploymentStore& store, core::TrafficControl& local,
                      std::function<core::Status()> sync_local);

  core::Result<core::Endpoint> DescribeEndpoint(std::string_view endpoint) override;
  core::Status CheckVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status CreateVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status RemoveVariant(std::string_view endpoint, std::string_view variant) override;
  core::Status SetWeights(std::string_view endpoint,
                          const std::vector<core::VariantWeight>& weights) override;

 private:
  // REQUIRES: mu_ held.
  core::Result<core::Endpoint> Load(std::string_view endpoint);
  // Syncs this replica's router and answers whether it serves `variant` now.
  core::Status LoadedHere(std::string_view endpoint, const core::Variant& variant);

  core::DeploymentStore& store_;
  core::TrafficControl& local_;
  const std::function<core::Status()> sync_local_;
  std::mutex mu_;
};

}  // namespace mlcanary::fleet

#endif  // MLCANARY_FLEET_STORE_TRAFFIC_CONTROL_H_
