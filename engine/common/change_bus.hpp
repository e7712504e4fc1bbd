// SPDX-License-Identifier: MPL-2.0
// The change bus: the one place where a committed change is announced.
//
// The core publishes every change once, after it is durable and after the
// store that made it has updated what it keeps in memory (core_changes.hpp
// says how): a KV write, a policy, token, identity, mount, namespace, audit
// or seal change. Whatever caches what the store says subscribes here — the
// ACL cache, Core::generation(), the file view's stat memo, the kernel
// invalidators of bound mounts, the monitor — instead of being poked from
// each place that writes. A store shared by several hosts will publish the
// changes it reads from the other hosts into the same bus.
//
// Delivery is synchronous and in revision order: publish() returns after
// every subscriber has seen the change, and publishes are serialised, so
// each subscriber sees each change exactly once, in order.
//
// Lock order: a publisher may hold the core lock and store locks; the bus
// lock comes after them; a handler may take only locks of its own (a cache's
// mutex, a queue's) and must never take the core lock, call back into the
// core, publish, subscribe or drop a subscription (all would deadlock).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace engine {

enum class ChangeKind : std::uint8_t {
  Secret,     // data of a secrets engine (KV) below a mount
  AuthData,   // data of an auth method (users, roles, config) below its mount
  Policy,     // an ACL policy of a namespace
  Token,      // tokens and accessors (created, used, renewed, revoked)
  Identity,   // entities, groups, aliases of a namespace
  Mount,      // a namespace's mount table or auth table (enable, disable, tune)
  Namespace,  // the namespace tree (create, delete, metadata)
  Audit,      // the audit device table
  Lockout,    // user lockout records
  Seal,       // sealed or unsealed: everything may look different
  Other,      // a record of the core not named above: anything may have changed
};

std::string_view to_string(ChangeKind kind) noexcept;

// One committed change. Contains no secret value: kinds, ids and paths.
struct ChangeEvent {
  std::uint64_t revision = 0;  // set by the bus; changes of one commit share it
  ChangeKind kind = ChangeKind::Seal;
  std::string namespace_id;    // the namespace it belongs to ("" = the whole store)
  std::string namespace_path;  // its path: "" for root, "ns1/ns2/"
  // Below the namespace: for Secret the mount path and the secret's name in
  // the file tree ("secret/app/db", KV v1 and v2 alike), or just the mount
  // path ("secret/") when which secret is not known; for Policy
  // "sys/policies/acl/NAME"; for Mount the mount path; else "".
  std::string path;
  // What the request that made it did, when the core knows (a local
  // request; "" for a change read from another host's log or made outside
  // a request): Vault's event type ("kv-v2/data-write", "kv-v1/delete") or
  // Coffer's ("coffer/policy-write"), the request's API path below the
  // namespace ("secret/delete/app") and the version it wrote (KV v2; 0 =
  // none). Events (engine/fileview/events.hpp) are made from these.
  // (Defaulted, so ChangeEvent{rev, kind, id, ns, path} still says all.)
  std::string event_type = {};
  std::string mount_path = {};  // Secret, AuthData: the mount's path ("secret/")
  std::string api_path = {};
  std::int64_t version = 0;

  bool operator==(const ChangeEvent&) const = default;
};

class ChangeBus {
 public:
  using Handler = std::function<void(const ChangeEvent&)>;

  // Delivers to its handler until destroyed (or reset). Destroying it waits
  // for a delivery in progress, so the handler's captures may be freed after.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription();
    void reset();

   private:
    friend class ChangeBus;
    Subscription(ChangeBus* bus, std::uint64_t id) : bus_(bus), id_(id) {}
    ChangeBus* bus_ = nullptr;
    std::uint64_t id_ = 0;
  };

  ChangeBus() = default;
  ChangeBus(const ChangeBus&) = delete;
  ChangeBus& operator=(const ChangeBus&) = delete;

  // The bus must outlive the subscription.
  [[nodiscard]] Subscription subscribe(Handler handler);

  // Gives the changes of one commit the next revision and delivers them, in
  // the order given. Nothing to deliver: the revision stays. Returns the
  // revision (the current one when changes is empty).
  std::uint64_t publish(std::vector<ChangeEvent> changes);

  // The revision of the last change published (0 before the first). Lock-free.
  std::uint64_t revision() const noexcept { return revision_.load(std::memory_order_acquire); }

 private:
  void unsubscribe(std::uint64_t id);

  mutable std::mutex mu_;  // serialises publishing and (un)subscribing
  std::atomic<std::uint64_t> revision_{0};
  std::uint64_t next_id_ = 1;
  std::vector<std::pair<std::uint64_t, Handler>> handlers_;
};

}  // namespace engine
