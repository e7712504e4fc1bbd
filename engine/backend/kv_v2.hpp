// SPDX-License-Identifier: MPL-2.0
// KV version 2: versioned secrets with Vault's paths and semantics
// (vault-semantics §7.2, §7.3).
#pragma once

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string_view>

#include "engine/backend/backend.hpp"

namespace engine {

// Paths (below the mount): data/<p>, delete/<p>, undelete/<p>, destroy/<p>,
// metadata/<p>, metadata/<folder>/ (list), subkeys/<p>, config.
//
// Storage layout inside the mount's Storage:
//   "config"              engine config record
//   "meta/<p>"            key metadata record (versions, settings, key_id)
//   "ver/<key_id>/<N>"    JSON of version N; key_id is random per key, so a
//                         metadata delete drops every version with one
//                         DeletePrefix and a re-created key never sees them.
//   "live/<path>"         empty; present while the key's current version
//                         reads (not deleted or destroyed), for the file
//                         view's LIST with {"live": true}; "live-index"
//                         says the index is complete (built at the first
//                         such LIST on a mount from before it)
// Every change is one atomic Storage::apply batch.
//
// Thread-safe. Read-modify-write requests on one key are serialised by that
// key's lock stripe, and config writes exclude every other write; writes to
// different keys run at once (so their commits can share one). Reads take no
// lock (one get of metadata, then one of the data).
class KvV2Backend final : public Backend {
 public:
  KvV2Backend() = default;

  // Errors: NotFound (missing key, or a version that is deleted, destroyed,
  // purged or never existed; the message says which), InvalidArgument
  // (Vault's message where Vault has one; unknown body fields are rejected),
  // CasMismatch, Unsupported (no such path or operation), storage errors.
  // Differences from Vault: DELETE of data/<p> or metadata/<p> for a key
  // that does not exist is NotFound (Vault: 204), so `rm` of a missing file
  // fails as it should.
  Result<Response> handle(const BackendRequest& req) override;

  // data/<p>, metadata/<p>: the key's metadata exists (so a write after
  // every version was deleted is still an update, as in Vault). Everything
  // else: true.
  Result<bool> exists(const BackendRequest& req) override;

 private:
  std::shared_mutex config_mu_;  // exclusive for config writes, shared for the rest
  // The lock for one key of this mount: one of a set of stripes every KV v2
  // mount shares (an array per mount was 2.5 KB each, 25 MB for 10k
  // namespaces). Only one is ever held at a time.
  std::mutex& key_mu(std::string_view name) const;
  // The live/ index (kv_v2.cpp, live_key) is complete in this mount's
  // storage: built once, at the first live listing, under config_mu_.
  Status build_live_index(const BackendRequest& req);
  std::atomic<bool> live_index_ready_{false};
};

}  // namespace engine
