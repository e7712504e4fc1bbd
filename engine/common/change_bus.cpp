// SPDX-License-Identifier: MPL-2.0
#include "engine/common/change_bus.hpp"

#include <algorithm>

namespace engine {

std::string_view to_string(ChangeKind kind) noexcept {
  switch (kind) {
    case ChangeKind::Secret: return "secret";
    case ChangeKind::AuthData: return "auth";
    case ChangeKind::Policy: return "policy";
    case ChangeKind::Token: return "token";
    case ChangeKind::Identity: return "identity";
    case ChangeKind::Mount: return "mount";
    case ChangeKind::Namespace: return "namespace";
    case ChangeKind::Audit: return "audit";
    case ChangeKind::Lockout: return "lockout";
    case ChangeKind::Seal: return "seal";
    case ChangeKind::Other: return "other";
  }
  return "unknown";
}

ChangeBus::Subscription::Subscription(Subscription&& other) noexcept : bus_(other.bus_), id_(other.id_) {
  other.bus_ = nullptr;
}

ChangeBus::Subscription& ChangeBus::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    bus_ = other.bus_;
    id_ = other.id_;
    other.bus_ = nullptr;
  }
  return *this;
}

ChangeBus::Subscription::~Subscription() { reset(); }

void ChangeBus::Subscription::reset() {
  if (bus_ != nullptr) bus_->unsubscribe(id_);
  bus_ = nullptr;
}

ChangeBus::Subscription ChangeBus::subscribe(Handler handler) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_id_++;
  handlers_.emplace_back(id, std::move(handler));
  return Subscription(this, id);
}

void ChangeBus::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(handlers_, [id](const auto& entry) { return entry.first == id; });
}

std::uint64_t ChangeBus::publish(std::vector<ChangeEvent> changes) {
  std::lock_guard lock(mu_);
  if (changes.empty()) return revision_.load(std::memory_order_relaxed);
  const std::uint64_t revision = revision_.load(std::memory_order_relaxed) + 1;
  revision_.store(revision, std::memory_order_release);
  for (ChangeEvent& change : changes) {
    change.revision = revision;
    for (const auto& [id, handler] : handlers_) handler(change);
  }
  return revision;
}

}  // namespace engine
