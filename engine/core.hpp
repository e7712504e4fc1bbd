// SPDX-License-Identifier: MPL-2.0
// Core: the engine's one entry point. Owns the store (physical storage,
// barrier, seal), the namespace tree, each namespace's mount table and the
// backends, and runs every request through the same pipeline:
//
//   sealed? → resolve namespace → route to mount → existence check
//           → authorise (ACL on the absolute path) → backend
//
// Thread-safe: any number of handle() calls may run at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "engine/common/change_bus.hpp"
#include "engine/common/core_options.hpp"
#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"
#include "engine/router/namespace_snapshot.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

class Core {
 public:
  // Opens a core over physical storage (SQLite or memory). A dev core is
  // initialised with one share, unsealed, given the root token
  // opts.dev_root_token and a kv-v2 mount at secret/.
  static Result<std::unique_ptr<Core>> open(std::unique_ptr<Storage> physical, CoreOptions opts);
  ~Core();

  // Serves one Vault API request. Errors as the backends report them, plus
  // Sealed, PermissionDenied, NotFound (no such namespace or mount).
  Result<Response> handle(const Request& req);

  bool sealed() const;

  // Reopens the audit devices' files (log rotation; cofferd does it on
  // SIGHUP). The first file that cannot be opened is the error.
  Status reopen_audit_files();

  // The change bus's revision: moves whenever a change is committed (or the
  // store is sealed or unsealed). While it stands still, a caller's view of
  // the store is what it was. Lock-free.
  std::uint64_t generation() const;

  // Every committed change, as the core announces it, after it is durable
  // (engine/common/change_bus.hpp says what a handler may do). Thread-safe.
  [[nodiscard]] ChangeBus::Subscription subscribe(ChangeBus::Handler handler);

  // What other hosts of a fleet committed, as the store's change feed
  // read it (PostgresMirror::follow): the keys and the DeletePrefix
  // prefixes those revisions touched, or reload when the feed cannot say.
  // Brings what the core keeps in memory (namespace tree, mount tables,
  // identity, policies, cached tokens, audit devices) to the store's state
  // and announces the changes on the bus as local commits are, so a remote
  // change invalidates exactly what a local one does. Nothing while sealed.
  // For the daemon's feed thread; errors: as the stores report them (the
  // caller retries with reload).
  Status absorb(bool reload, std::span<const KeyRange> changed);
  // The feed thread says that every change up to the store's `revision` is
  // absorbed (after absorb(), or when there was nothing to take in). A
  // request that lost a race to another host waits for this before it runs
  // again (CoreOptions::fleet_revision).
  void fed(std::int64_t revision);

  // ---- Queries for the layers above the core (file view, mountd, audit
  // monitor). None spends a token use or writes an audit line; each takes
  // the core lock (shared) for its own run only.

  // Capability bits (policy::cap) of token on an absolute API path
  // ("ns1/secret/data/app"), with the list-style fallback sys/capabilities
  // uses. Sealed while sealed; PermissionDenied for a missing, unknown,
  // expired, revoked or spent token.
  Result<std::uint32_t> capabilities(const SecureString& token, std::string_view abs_path);

  // Vault's per-event check (http/events.go allowMessage): true when the
  // token is root on abs_path, or holds `subscribe` there with a
  // subscribe_event_types glob matching event_type; root_only (an event
  // with no data path): root tokens alone. Errors as capabilities() (a
  // revoked token is PermissionDenied at once).
  Result<bool> may_subscribe(const SecureString& token, std::string_view abs_path, std::string_view event_type,
                             bool root_only = false);

  // True when token holds some capability at or below the absolute
  // directory prefix abs_prefix ("ns1/secret/"). Errors as capabilities().
  Result<bool> may_see(const SecureString& token, std::string_view abs_prefix);

  // A live token's standing: the namespace it belongs to.
  struct TokenStanding {
    std::string namespace_id;    // "root" or the namespace's id
    std::string namespace_path;  // "" or "a/b/"
    TimePoint expires{};         // when it expires ({} = never: root, or no TTL)
    std::int64_t uses_left = 0;  // a use-limited token's remaining uses (0 = unlimited)
  };
  // Checks token without spending a use. Sealed while sealed;
  // PermissionDenied for a missing, unknown, expired, revoked or spent token.
  Result<TokenStanding> check_token(const SecureString& token);

  // The namespace tree and mount tables as they stand (sealed: a snapshot
  // with no tree). Immutable; a new one is made only after the topology
  // changed, so repeated calls are cheap and take no lock then. Never null.
  std::shared_ptr<const NamespaceSnapshot> namespaces() const;

  // Debug counter: how many times handle() has been called (any outcome).
  // Tests pin how many engine calls a file operation costs with it.
  std::uint64_t handle_calls() const { return handle_calls_.load(std::memory_order_relaxed); }

  // The core's state (engine/core_impl.hpp), for the engine's own parts
  // (sys/, identity/, auth/, audit/); nothing above the core reaches it.
  struct Impl;

 private:
  friend struct CoreTestAccess;  // tests/unit/core/core_test_access.hpp only
  explicit Core(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint64_t> handle_calls_{0};
  mutable std::atomic<std::shared_ptr<const NamespaceSnapshot>> snapshot_{};
};

}  // namespace engine
