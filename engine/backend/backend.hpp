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

struct NamespaceNode;
struct Auth;
namespace auth {
struct PreparedRenewal;
}

// What the pipeline knows of a request beyond its path and body, for the
// built-in backends that act on the core's own state (sys/, auth/token/,
// identity/). Mounted backends such as kv never look at it.
struct RequestContext {
  NamespaceNode& ns;           // the namespace the request is in
  const Auth* auth = nullptr;  // the caller, once authorised (null in an existence check made before)
  bool exclusive = false;      // the core lock is held exclusively (the path asked for it)
  // A renewal check made ahead, without the lock (renew-self of a login
  // token whose method asks a server); null otherwise.
  const auth::PreparedRenewal* renewal = nullptr;
};

struct BackendRequest {
  Operation op;
  std::string path;                     // below the mount point: "data/app/db" for secret/data/app/db
  const Json& data;                     // request body or read parameters; always an object
  Storage& storage;                     // this mount's own keys (a view; encrypted underneath)
  TimePoint now;                        // one clock reading per request
  const RequestContext* ctx = nullptr;  // set by the pipeline for every request it dispatches
  // The kernel's word on the caller (login requests through FUSE only; null
  // otherwise). Only the peer auth method reads it.
  const PeerCredentials* peer = nullptr;
  // Request::parts, when the core lets the backend use them.
  ReplyParts parts{};
};

// What the core must know of a path before it runs a request there
// (OpenBao's PathsSpecial and the router's checks), as the backend's path
// table states it (engine/backend/path_table.hpp).
struct PathProperties {
  // The path exists in the root namespace only (vault-semantics §8.3):
  // elsewhere it is "unsupported path", whoever asks (the administrative
  // namespace aside, engine/audit/audit_trail.hpp).
  bool root_only = false;
  // Root-protected (vault-semantics §9.5): sudo is needed on top of the
  // operation's capability.
  bool sudo = false;
  // The request changes the namespace tree or a mount table, or seals: the
  // core runs it holding its lock exclusively.
  bool exclusive = false;
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
  // req.ctx->auth is null here: the check runs before authorisation.
  virtual Result<bool> exists(const BackendRequest& req) {
    (void)req;
    return true;
  }
  // The properties of `rel` (the path below the mount) for `op`, asked
  // before the request runs: the lock it needs (before authentication),
  // root-only and sudo (before the ACL check). Cheap and pure: no storage.
  // Backends without special paths answer none.
  virtual PathProperties path_properties(std::string_view rel, Operation op) const {
    (void)rel;
    (void)op;
    return {};
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
