// SPDX-License-Identifier: MPL-2.0
// How the core announces what changed (engine/common/change_bus.hpp).
//
// Every durable write goes through the barrier, which reports each committed
// batch here. The recorder names what the batch's keys are — a secret of a
// mount, a policy, a token, an identity record... — while the writer still
// holds the core lock (so the namespace tree and mount tables stand still),
// and keeps those changes until the operation that wrote them ends (a
// Scope: one Core call). By then every store that wrote has also updated
// what it keeps in memory, so a subscriber that drops a cache and rebuilds
// it at once sees the new state. Then each batch is published with its own
// revision. A write outside any Scope is published at once.
//
// Internal to the core (engine/core*).
#pragma once

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/common/change_bus.hpp"
#include "engine/common/request.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

class Router;

class ChangeRecorder {
 public:
  // bus and router must outlive the recorder.
  ChangeRecorder(ChangeBus& bus, Router& router);

  // The barrier's commit hook. The writer holds the core lock (shared or
  // exclusive), as every writer does.
  void committed(std::span<const WriteOp> batch);

  // A change that is not a write (sealed, unsealed): recorded like a batch.
  void note(ChangeEvent change);

  // One operation on this thread: changes recorded while it lives are
  // published when it ends. Scopes nest (the outermost publishes); a scope
  // belongs to one recorder, so two cores in one process stay apart.
  class Scope {
   public:
    explicit Scope(ChangeRecorder& recorder);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    // Names what the operation did, for the changes it recorded that
    // belong to its target: abs_path is the request's absolute API path
    // ("ns1/secret/data/app"), version what a KV v2 write reports (0 =
    // none). Call before the scope ends; the outermost describe wins.
    void describe(Operation op, std::string_view abs_path, std::int64_t version);

   private:
    ChangeRecorder& recorder_;
    Scope* outer_;
    bool described_ = false;
    Operation op_ = Operation::Read;
    std::string abs_path_;
    std::int64_t version_ = 0;
    std::vector<std::vector<ChangeEvent>> pending_;  // one entry a batch
    friend class ChangeRecorder;
  };

  // The event type of a change made by op on abs_path, given the type
  // classify() guessed (a KV change: its version's write; others: Coffer's
  // "-write"); nullopt when abs_path is not the change's own mount or
  // record (the guess stands). Pure; for tests.
  static std::optional<std::string> event_type_of(const ChangeEvent& change, Operation op, std::string_view abs_path);

  // What the keys of one batch are (for tests and the bus). Caller holds the
  // core lock.
  std::vector<ChangeEvent> classify(std::span<const WriteOp> batch);

 private:
  struct MountInfo {
    std::string namespace_id;
    std::string namespace_path;
    std::string path;  // "secret/", "auth/userpass/"
    std::string type;  // "kv", "userpass"...
    int kv_version = 0;
  };
  void record(std::vector<ChangeEvent> changes);
  // The mount whose data lives under logical/<uuid>/; the index is rebuilt
  // from the router on a miss. nullopt if no mount has that uuid.
  std::optional<MountInfo> mount_of(const std::string& uuid);
  void forget_mounts();
  std::string namespace_path_of(std::string_view id) const;

  ChangeBus& bus_;
  Router& router_;
  std::mutex mounts_mu_;
  std::unordered_map<std::string, MountInfo> mounts_;  // by uuid
};

}  // namespace engine
