// SPDX-License-Identifier: MPL-2.0
// The core's state, shared by the request pipeline (core.cpp), the system
// backend (sys/) and the file view. Internal to the engine.
#pragma once

#include <shared_mutex>

#include "engine/barrier/barrier.hpp"
#include "engine/core.hpp"
#include "engine/router/router.hpp"
#include "engine/seal/seal.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

// The token and policies a request is made with, once authenticated.
struct Auth {
  TokenEntry token;
};

struct Core::Impl {
  Impl(std::unique_ptr<Storage> physical_storage, CoreOptions options);

  CoreOptions opts;
  std::unique_ptr<Storage> physical;
  Barrier barrier;
  SealManager seal;
  Router router;
  TokenStore tokens;
  TimePoint started;

  // Guards the router's contents and seal transitions. Requests hold it
  // shared for their whole run, so a mount or namespace cannot disappear
  // under a backend; topology changes and seal/unseal hold it exclusively.
  mutable std::shared_mutex mu;

  Result<Response> handle(const Request& req);

  // Seal endpoints, answered also while sealed (root namespace only).
  Result<Response> init(const Json& body);
  Result<Response> unseal(const Json& body);
  Response seal_status() const;
  Response health() const;
  // Seals the store: keys forgotten, namespaces and mounts unloaded.
  void seal_now();
  // After the barrier opens: load tokens and topology (or seal again).
  Status finish_unseal();

 private:
  Result<Response> handle_routed(const Request& req, std::unique_lock<std::shared_mutex>* exclusive);
};

// Vault-style version string reported by sys/health and seal-status.
inline constexpr const char* kVersion = "0.1.0+coffer";

}  // namespace engine
