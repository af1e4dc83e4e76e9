// FanoutNotifier: forwards every event to several notifiers, in order.
#ifndef MLCANARY_NOTIFY_FANOUT_NOTIFIER_H_
#define MLCANARY_NOTIFY_FANOUT_NOTIFIER_H_

#include <vector>

#include "core/ports.h"

namespace mlcanary::notify {

// The notifiers are borrowed and must outlive it. Thread-safe when they are.
class FanoutNotifier final : public core::Notifier {
 public:
  explicit FanoutNotifier(std::vector<core::Notifier*> notifiers)
      : notifiers_(std::move(notifiers)) {}
  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override {
    for (core::Notifier* n : notifiers_) n->Notify(deployment, event);
  }

 private:
  std::vector<core::Notifier*> notifiers_;
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_FANOUT_NOTIFIER_H_
