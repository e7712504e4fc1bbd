// SPDX-License-Identifier: MPL-2.0
// A logical backend: what a mount (kv, sys, auth/token...) does with the part
// of a request path below its mount point.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

// A login that must ask a server outside Coffer (a directory): the core
// runs it in two steps so the wait holds no lock.
class PendingLogin {
 public:
  virtual ~PendingLogin() = default;
  // Talks to the outside; runs with no core lock held, so it may only use
  // what the pending login copied when it was made.
  virtual Status run() = 0;
  // With the lock held again and the mount still in place: the login, as
  // handle() would have answered it (Response::login set).
  virtual Result<Response> finish(const BackendRequest& req) = 0;
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
  // Logins that talk to an outside server answer here instead of in
  // handle(): a PendingLogin the core runs without its lock. nullptr: the
  // login is answered by handle().
  virtual Result<std::unique_ptr<PendingLogin>> begin_login(const BackendRequest& req) {
    (void)req;
    return std::unique_ptr<PendingLogin>{};
  }
  // Vault's user lockout (engine/auth/lockout.hpp), for logins: the user a
  // login request names, found before its credentials are tried (Vault's
  // alias lookahead); "" when it names none (no lockout applies).
  virtual std::string login_alias(const BackendRequest& req) {
    (void)req;
    return {};
  }
  // Did this failed login fail on the credentials of a user that exists
  // (Vault's ErrInvalidCredentials)? Only those count toward a lockout.
  virtual bool invalid_credentials(const BackendRequest& req, const Error& error) {
    (void)req;
    (void)error;
    return false;
  }
  // Vault's renew callback for a login token: the login to check again as
  // it stands now (req.path is the token's login path below the mount;
  // meta the token's metadata; secret what the login kept for this). Its
  // finish() answers with the login (Response::login), or an error that
  // refuses the renewal. nullptr: nothing to check.
  virtual Result<std::unique_ptr<PendingLogin>> begin_renewal(const BackendRequest& req,
                                                              const std::map<std::string, std::string>& meta,
                                                              std::string_view secret) {
    (void)req;
    (void)meta;
    (void)secret;
    return std::unique_ptr<PendingLogin>{};
  }
};

}  // namespace engine
