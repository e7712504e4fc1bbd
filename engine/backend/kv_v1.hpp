// SPDX-License-Identifier: MPL-2.0
// KV version 1: secrets stored at their paths, no versions (vault-semantics §7.1).
#pragma once

#include "engine/backend/backend.hpp"

namespace engine {

// Paths are used directly: Read/Create/Update/Delete "app/db", List "app/"
// (or "" for the root). Storage layout (inside the mount's Storage):
// "data/<path>" holds the secret's JSON object. Stateless apart from storage,
// so thread-safe; every operation is a single storage call, so no lock.
class KvV1Backend final : public Backend {
 public:
  KvV1Backend() = default;

  // Read → the secret as Response.data. Create/Update → replaces the whole
  // secret (InvalidArgument "missing data fields" for an empty body).
  // Delete → NotFound when absent (Vault answers 204 either way; the file
  // layer needs ENOENT for `rm` of a missing file). List → {"keys": [...]},
  // sub-folders ending in '/', NotFound when empty. Patch → Unsupported.
  Result<Response> handle(const BackendRequest& req) override;

  // True iff a secret is stored at req.path (false for folder paths).
  Result<bool> exists(const BackendRequest& req) override;
};

}  // namespace engine
