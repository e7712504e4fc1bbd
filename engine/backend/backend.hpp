// SPDX-License-Identifier: MPL-2.0
// A logical backend: what a mount (kv, sys, auth/token...) does with the part
// of a request path below its mount point.
#pragma once

#include <string>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

struct BackendRequest {
  Operation op;
  std::string path;   // below the mount point: "data/app/db" for secret/data/app/db
  const Json& data;   // request body or read parameters; always an object
  Storage& storage;   // this mount's own keys (a view; encrypted underneath)
  TimePoint now;      // one clock reading per request
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Serves one request. Errors: NotFound, InvalidArgument (with Vault's
  // message), CasMismatch, Unsupported (no such path/operation), storage errors.
  // Thread-safe: requests for one mount may run concurrently; a backend
  // serialises its own read-modify-write sequences.
  virtual Result<Response> handle(const BackendRequest& req) = 0;

  // Vault's existence check: does the target of a write exist already? The
  // core uses it to turn Update into Create before the ACL check. Backends
  // without the notion answer true (writes then need `update`, as in Vault).
  virtual Result<bool> exists(const BackendRequest& req) {
    (void)req;
    return true;
  }
};

}  // namespace engine
