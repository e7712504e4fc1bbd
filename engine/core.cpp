// SPDX-License-Identifier: MPL-2.0
// The request pipeline. Each hop is a named step so a reader can follow one
// request from the top of handle() to the backend.
#include "engine/core.hpp"

#include <mutex>
#include <thread>

#include "engine/audit/audit_trail.hpp"
#include "engine/auth/auth_method.hpp"
#include "engine/token/login.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/names.hpp"
#include "engine/common/time.hpp"
#include "engine/common/utf8.hpp"
#include "engine/core_impl.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/identity/identity_backend.hpp"
#include "engine/policy/policy.hpp"
#include "engine/storage/group_commit.hpp"
#include "engine/sys/sys_backend.hpp"
#include "engine/token/token_acl.hpp"
#include "engine/token/token_backend.hpp"

namespace engine {

namespace {
// A seal or unseal: everything may look different.
ChangeEvent seal_change() {
  ChangeEvent c;
  c.kind = ChangeKind::Seal;
  return c;
}
}  // namespace
namespace {

// Endpoints that answer without a token and while sealed (root namespace).
// Rekey and generate-root take no token either (the shares are the
// credential) but answer only while unsealed (core_seal.cpp).
enum class SealEndpoint { None, Init, Unseal, SealStatus, Health, Lifecycle };

SealEndpoint seal_endpoint(std::string_view path) {
  if (path == "sys/init") return SealEndpoint::Init;
  if (path == "sys/unseal") return SealEndpoint::Unseal;
  if (path == "sys/seal-status") return SealEndpoint::SealStatus;
  if (path == "sys/health") return SealEndpoint::Health;
  if (path == "sys/rekey/init" || path == "sys/rekey/update" || path == "sys/generate-root/attempt" ||
      path == "sys/generate-root/update") {
    return SealEndpoint::Lifecycle;
  }
  return SealEndpoint::None;
}

// Canonical request path: no leading '/', no empty or "." segments; ".."
// is refused (a path never climbs). A List path ends in '/' (vault-semantics §1).
Result<std::string> canonical_path(std::string_view path, Operation op) {
  std::string out;
  out.reserve(path.size() + 1);
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    pos = slash == std::string_view::npos ? path.size() : slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return Error::invalid("path must not contain \"..\"");
    if (seg.find('\0') != std::string_view::npos) return Error::invalid("path must not contain NUL");
    if (seg.size() > 255) return Error::name_too_long("path segment longer than 255 bytes");
    // Paths end up in JSON (listings, errors, audit lines): text only.
    if (!utf8::valid(seg)) return Error::invalid("path is not valid UTF-8");
    if (!out.empty()) out.push_back('/');
    out.append(seg);
  }
  if (op == Operation::List || (!path.empty() && path.back() == '/' && !out.empty())) out.push_back('/');
  return out;
}

}  // namespace

Core::Impl::Impl(std::unique_ptr<Storage> physical_storage, CoreOptions options)
    : opts(std::move(options)),
      physical(std::move(physical_storage)),
      barrier(*physical),
      seal(*physical, barrier),
      router(barrier),
      changes(bus, router),
      tokens(barrier),
      policies(barrier),
      identity(barrier),
      acls(policies),
      audit(barrier),
      lockout(barrier),
      token_backend(TokenStores{router, tokens, policies, identity, acls}),
      started(Clock::now()) {
  barrier.set_commit_hook([this](std::span<const WriteOp> batch) { changes.committed(batch); });
  // Compiled ACLs are built from policies, identity and the namespace tree.
  acl_changes = bus.subscribe([this](const ChangeEvent& change) {
    switch (change.kind) {
      case ChangeKind::Policy:
      case ChangeKind::Identity:
      case ChangeKind::Namespace:
      case ChangeKind::Seal:
      case ChangeKind::Other: acls.invalidate(); break;
      default: break;
    }
  });
  router.set_backend_factory([this](const MountEntry& entry) -> Result<std::unique_ptr<Backend>> {
    if (entry.is_auth()) return auth::make_auth_backend(entry);
    return builtin_backend(entry);
  });
}

std::unique_ptr<Backend> Core::Impl::builtin_backend(const MountEntry& entry) {
  if (entry.type == "system") {
    return std::make_unique<SysBackend>(
        SysStores{router, tokens, policies, identity, acls, lockout, audit, opts, [this] { seal_now(); }, barrier});
  }
  if (entry.type == "identity") return std::make_unique<IdentityBackend>(IdentityStores{identity, router});
  return nullptr;
}

Core::Impl::Target Core::Impl::target_of(const Route& route) {
  if (route.mount) {
    return {route.mount->backend.get(), route.mount->storage.get(), route.rel};
  }
  // The token store answers at auth/token/ of every namespace, mount or not.
  constexpr std::string_view mount_path = TokenBackend::kMountPath;
  const std::string_view rest = route.rest;
  if (rest == mount_path.substr(0, mount_path.size() - 1) || rest.starts_with(mount_path)) {
    return {&token_backend, &barrier, std::string(rest.substr(std::min(rest.size(), mount_path.size())))};
  }
  return {};
}

PathProperties Core::Impl::properties_of(const Target& target, Operation op) {
  return target.backend != nullptr ? target.backend->path_properties(target.rel, op) : PathProperties{};
}

Result<std::unique_ptr<Core>> Core::open(std::unique_ptr<Storage> physical, CoreOptions opts) {
  crypto::init();
  auto impl = std::make_unique<Impl>(std::move(physical), std::move(opts));
  if (impl->opts.dev) {
    // Dev store: one share, unsealed, the given root token, secret/ as kv-v2
    // (what `vault server -dev` gives).
    COFFER_TRY(auto shares, impl->seal.init(1, 1));
    COFFER_TRY_STATUS(impl->tokens.open(/*create=*/true));
    COFFER_TRY_STATUS(impl->router.bootstrap_root(Clock::now()));
    std::string root_id = impl->opts.dev_root_token.empty() ? "root" : impl->opts.dev_root_token;
    COFFER_TRY(auto token, impl->tokens.create_root(root_id, Clock::now()));
    MountEntry secret;
    secret.path = "secret/";
    secret.type = "kv";
    secret.options = {{"version", "2"}};
    secret.description = "key/value secret storage";
    COFFER_TRY(auto mount, impl->router.enable_mount(impl->router.root(), std::move(secret), Clock::now()));
    COFFER_TRY_STATUS(impl->load_identity());
  } else if (impl->seal.status().initialized) {
    // An existing store opens sealed; sys/unseal opens it.
  }
  return std::unique_ptr<Core>(new Core(std::move(impl)));
}

Core::Core(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Core::~Core() = default;

bool Core::sealed() const { return impl_->barrier.sealed(); }

Status Core::reopen_audit_files() { return impl_->audit.reopen(); }

Result<Response> Core::handle(const Request& req) {
  handle_calls_.fetch_add(1, std::memory_order_relaxed);
  // Every later step copies or walks the body recursively. Text from outside
  // was bounded by parse_json already; this bounds a body built any other
  // way, before any of those steps. Twice the parser's bound: callers wrap
  // a parsed body ({"data": body}), and 128 levels are still a shallow stack.
  constexpr int kMaxRequestDepth = 2 * kMaxJsonDepth;
  if (!json_depth_within(req.data, kMaxRequestDepth)) {
    return Error::invalid("request body nested too deep (more than " + std::to_string(kMaxRequestDepth) + " levels)");
  }
  bool failed_login = false;
  const auto started = std::chrono::steady_clock::now();
  Result<Response> result = Response{};
  // A fleet store refuses a write whose request read something another
  // host has changed since (Conflict, postgres_mirror.hpp), and has the
  // other host's commit in hand by then: the request runs again on the new
  // state, a few times at most. Nothing of a refused attempt was written.
  constexpr int kAttempts = 5;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    // What the request commits is announced when it ends (core_changes.hpp).
    ChangeRecorder::Scope changes(impl_->changes);
    failed_login = false;
    result = impl_->handle(req, &failed_login);
    if (result.ok() && req.op != Operation::Read && req.op != Operation::List) {
      // Events name what the request did (engine/fileview/events.hpp).
      std::int64_t version = 0;
      if (const Json& d = result->data; d.is_object()) {
        if (auto v = d.find("version"); v != d.end() && v->is_number_integer()) version = v->get<std::int64_t>();
      }
      changes.describe(req.op, req.path, version);
    }
    if (result.ok() || result.error().code != ErrorCode::Conflict) break;
    if (attempt < kAttempts) impl_->wait_fed(std::chrono::seconds(2));
  }
  // A failed login answers no sooner than failed_login_delay after it
  // began: guessing is slow, an unknown user costs what a wrong password
  // costs, and the wait holds no lock, so other callers go on meanwhile.
  if (failed_login) std::this_thread::sleep_until(started + impl_->opts.failed_login_delay);
  return result;
}

std::uint64_t Core::generation() const { return impl_->bus.revision(); }

ChangeBus::Subscription Core::subscribe(ChangeBus::Handler handler) { return impl_->bus.subscribe(std::move(handler)); }

namespace {

// The renewal of a login token whose auth method checks the login again
// against a server: that check, run with `lock` released (taken again
// before returning). nullopt when there is nothing to check ahead: no such
// token, a method without such a check, or a caller the ACL does not let
// renew another token (nobody sets off directory binds they may not ask
// for); the request then goes its usual way, which also gives the errors.
std::optional<auth::PreparedRenewal> prepare_renewal(Core::Impl& core, const Request& req, std::string_view endpoint,
                                                     const NamespaceNode& ns,
                                                     std::shared_lock<std::shared_mutex>& lock) {
  if (req.token.empty()) return std::nullopt;
  const TimePoint now = Clock::now();
  Result<TokenPtr> found = TokenPtr{};
  if (endpoint == "renew-self") {
    found = core.tokens.lookup(as_view(req.token), now);
  } else {
    auto caller = core.authenticate(req.token, now);
    if (!caller.ok() || (caller->acl->capability_bits(req.path) & (policy::cap::kUpdate | policy::cap::kCreate)) == 0) {
      return std::nullopt;
    }
    const char* key = endpoint == "renew" ? "token" : "accessor";
    auto it = req.data.find(std::string_view(key));
    if (it == req.data.end() || !it->is_string()) return std::nullopt;
    const SecureString& value = it->get_ref<const SecureString&>();
    found = endpoint == "renew" ? core.tokens.lookup(as_view(value), now)
                                : core.tokens.lookup_accessor(as_view(value), now);
  }
  if (!found.ok() || !*found) return std::nullopt;
  const TokenPtr token = *found;
  // Another token outside this namespace's reach is unknown to its store.
  if (endpoint != "renew-self" && !token_within_namespace(core.router, *token, ns)) return std::nullopt;
  if (token->expire_unix_ns == 0 || !token->renewable) return std::nullopt;
  Route route = auth::login_route_of(core.router, *token);
  if (!route.mount) return std::nullopt;
  const Json body = Json::object();
  BackendRequest breq{Operation::Update, route.rel, body, *route.mount->storage, Clock::now()};
  auto pending = route.mount->backend->begin_renewal(breq, token->meta, as_view(token->login_secret));
  if (!pending.ok() || !*pending) return std::nullopt;  // the usual way reports the error

  auth::PreparedRenewal prepared;
  prepared.token_hash = token->hash;
  prepared.mount_uuid = route.mount->entry.uuid;
  lock.unlock();
  prepared.status = (*pending)->run();
  lock.lock();
  if (!prepared.status.ok()) return prepared;
  // The method may have been disabled or remounted meanwhile: finish only
  // where it still is (else the request finds no login route and passes).
  Route again = auth::login_route_of(core.router, *token);
  if (!again.mount || again.mount->entry.uuid != prepared.mount_uuid) return std::nullopt;
  BackendRequest finish{Operation::Update, again.rel, body, *again.mount->storage, Clock::now()};
  auto resp = (*pending)->finish(finish);
  if (!resp.ok()) {
    prepared.status = std::move(resp).error();
  } else {
    prepared.login = std::move(resp->login);
  }
  return prepared;
}

}  // namespace

Result<Response> Core::Impl::handle(const Request& req, bool* failed_login) {
  COFFER_TRY(std::string path, canonical_path(req.path, req.op));
  Request canonical = req;
  canonical.path = std::move(path);
  if (!canonical.data.is_object()) return Error::invalid("request body must be a JSON object");

  switch (seal_endpoint(canonical.path)) {
    case SealEndpoint::Init: {
      if (canonical.op == Operation::Read) {
        Response resp;
        resp.data = {{"initialized", seal.status().initialized}};
        return resp;
      }
      std::unique_lock lock(mu);
      return init(canonical.data);
    }
    case SealEndpoint::Unseal: {
      if (canonical.op == Operation::Read) return seal_status();
      std::unique_lock lock(mu);
      return unseal(canonical.data);
    }
    case SealEndpoint::SealStatus: return seal_status();
    case SealEndpoint::Health: return health();
    case SealEndpoint::Lifecycle: return seal_operation(canonical);
    case SealEndpoint::None: break;
  }

  std::shared_lock shared(mu);
  if (barrier.sealed() || !router.loaded()) return Error::sealed();
  Route probe = router.resolve(router.root(), canonical.path);
  if (probe.mount && probe.mount->backend && probe.mount->entry.is_auth() &&
      (canonical.op == Operation::Update || canonical.op == Operation::Create) &&
      auth::is_login_path(probe.mount->entry, probe.rel)) {
    AuditEvent event = audit_event(canonical);
    audit_route(event, probe);
    COFFER_TRY_STATUS(audit.log_request(event, nullptr));  // none could log it: the login is not tried
    bool delay = true;
    auto result = login(probe, canonical, shared, &delay);
    if (!result.ok() && delay && failed_login != nullptr) *failed_login = true;
    return audit_result(audit, event, std::move(result));
  }
  // The path table of the backend it lands on says which lock it needs.
  const Target probe_target = target_of(probe);
  if (!properties_of(probe_target, canonical.op).exclusive) {
    const std::string_view endpoint = probe_target.backend == &token_backend
                                          ? TokenBackend::renewal_endpoint(probe_target.rel, canonical.op)
                                          : std::string_view{};
    if (!endpoint.empty()) {
      // A login token's renewal may wait on a server (LDAP binds again):
      // that wait runs now, without the lock, and the request uses it.
      std::optional<auth::PreparedRenewal> renewal = prepare_renewal(*this, canonical, endpoint, *probe.ns, shared);
      if (barrier.sealed() || !router.loaded()) return Error::sealed();
      return handle_routed(canonical, nullptr, renewal ? &*renewal : nullptr);
    }
    return handle_routed(canonical, nullptr);
  }
  shared.unlock();
  std::unique_lock exclusive(mu);
  if (barrier.sealed() || !router.loaded()) return Error::sealed();
  return handle_routed(canonical, &exclusive);
}

EntityPolicies Core::Impl::identity_policies_of(const TokenEntry& token) {
  return engine::identity_policies_of(identity, router, token);
}

AclSource Core::Impl::acl_source(const TokenEntry& token) { return engine::acl_source(identity, router, token); }

Status Core::Impl::load_identity() {
  std::vector<std::string> ids;
  std::vector<const NamespaceNode*> todo{&router.root()};
  while (!todo.empty()) {
    const NamespaceNode* ns = todo.back();
    todo.pop_back();
    ids.push_back(ns->record.id);
    for (const auto& [name, child] : ns->children) todo.push_back(child.get());
  }
  return identity.load(ids);
}

Result<std::shared_ptr<const policy::Acl>> Core::Impl::acl_of(const TokenEntry& token) {
  return engine::acl_of(acls, identity, router, token);
}

Result<Auth> Core::Impl::authenticate(const SecureString& token, TimePoint now) {
  COFFER_TRY(TokenPtr entry, tokens.lookup(as_view(token), now));
  // A spent use-limited token (num_uses -1) waits for its revocation.
  if (!entry || entry->num_uses < 0) return Error::denied("permission denied");
  // Tokens of a disabled entity are refused (not revoked: enabling the
  // entity again brings them back, as in Vault).
  if (!entry->entity_id.empty()) {
    if (EntityPtr entity = identity.entity_by_id(entry->entity_id); entity && entity->disabled) {
      return Error::denied("permission denied");
    }
  }
  Auth auth;
  auth.token_id = token;
  auto source = [&] { return acl_source(*entry); };
  COFFER_TRY(auth.acl, acls.for_token(entry->hash, source, namespace_paths(router)));
  auth.token = std::move(entry);
  return auth;
}

Result<std::uint32_t> Core::Impl::capability_bits(const SecureString& token, std::string_view abs_path) {
  std::shared_lock lock(mu);
  if (barrier.sealed() || !router.loaded()) return Error::sealed();
  COFFER_TRY(Auth auth, authenticate(token, Clock::now()));
  return auth.acl->capability_bits(abs_path);
}

Result<bool> Core::Impl::may_see(const SecureString& token, std::string_view abs_prefix) {
  std::shared_lock lock(mu);
  if (barrier.sealed() || !router.loaded()) return Error::sealed();
  COFFER_TRY(Auth auth, authenticate(token, Clock::now()));
  return auth.acl->has_capability_below(abs_prefix);
}

// Steps after the seal check, under the core lock (shared, or exclusive for
// topology changes).
Result<Response> Core::Impl::handle_routed(const Request& req, std::unique_lock<std::shared_mutex>* exclusive,
                                           const auth::PreparedRenewal* renewal) {
  const TimePoint now = Clock::now();

  AuditEvent event = audit_event(req);  // what the audit trail says of it

  // 1. Who is asking.
  auto authenticated = authenticate(req.token, now);
  if (!authenticated.ok()) {
    audit_route(event, router.resolve(router.root(), req.path));
    return audit_refused(audit, event, std::move(authenticated).error());
  }
  Auth auth = std::move(authenticated).value();
  audit_auth(event, audit, identity, router, auth);

  // 2. Where the path lands. Paths the backend's table marks root-only do
  // not exist in other namespaces (Vault: 404 "unsupported path"), whoever
  // asks.
  Route route = router.resolve(router.root(), req.path);
  const Target target = target_of(route);
  audit_route(event, route);
  if (route.ns->parent != nullptr && properties_of(target, req.op).root_only &&
      !admin_namespace_allows(opts, route.ns->record.path, target.rel)) {
    return audit_refused(audit, event, Error::unsupported_path(route.rest));
  }
  const std::string& absolute = req.path;  // namespace path + path below it

  // 3. Create or update: ask the backend whether the target exists.
  Operation op = req.op;
  if (op == Operation::Update && target.backend != nullptr) {
    const RequestContext ctx{*route.ns, nullptr, exclusive != nullptr, renewal};
    BackendRequest probe{op, target.rel, req.data, *target.storage, now, &ctx};
    COFFER_TRY(bool exists, target.backend->exists(probe));
    if (!exists) op = Operation::Create;
  }

  // 4. Authorise on the absolute path, before the backend: a denied request
  // learns nothing about what exists. Sudo paths are the backend's.
  policy::AclDecision decision = auth.acl->allow(op, absolute, req.data, std::nullopt, properties_of(target, op).sudo);
  event.op = op;
  if (!decision.allowed) return audit_refused(audit, event, Error::denied("permission denied"));
  auth.sudo = decision.root_privs;

  // Audited before anything happens: when no device can log the request,
  // it fails and changes nothing (vault-semantics §12).
  COFFER_TRY_STATUS(audit.log_request(event, nullptr));

  // A use-limited token spends one use per authorised request; the request
  // that spends the last one still runs, then the token is revoked.
  // A file operation that already spent its use makes no further spending
  // (Request::uses).
  bool last_use = false;
  if (auth.token->num_uses > 0 && (req.uses == nullptr || !req.uses->spent)) {
    // Marked spent only once spent: a use refused by a conflict with
    // another host is spent again when the core runs the request again.
    COFFER_TRY(TokenPtr used, tokens.use(auth.token->hash));
    if (req.uses != nullptr) req.uses->spent = true;
    if (used) {
      last_use = used->num_uses < 0;
      auth.token = std::move(used);
    }
  }
  // A write on its way: a concurrent commit may wait a moment for its
  // batch (group_commit.hpp). Only once authorised, so a caller without the
  // right to write cannot make others' commits wait; not under the
  // exclusive lock, where no other write runs.
  const bool writes = req.op != Operation::Read && req.op != Operation::List;
  CommitDelay::Announce underway(writes && exclusive == nullptr ? physical->commit_delay() : nullptr);
  auto result = dispatch(route, op, req, auth, now, exclusive, renewal);
  if (last_use) {
    Status revoked = tokens.revoke_tree(auth.token->hash);
    acls.forget_token(auth.token->hash);
    if (!revoked.ok() && result.ok()) return audit_result(audit, event, std::move(revoked).error());
  }
  return audit_result(audit, event, std::move(result));
}

// A login: answered without a token and outside the ACL (Vault's
// unauthenticated paths). The auth method checks the credentials; a login
// it accepts becomes a token of the mount's namespace.
//
// A method that asks an outside server (LDAP) hands back a PendingLogin: its
// wait runs with `lock` released, so a slow or dead server holds up nobody
// else; then the lock is taken again and the route resolved afresh, since
// the namespace or the auth method may have gone meanwhile.
Result<Response> Core::Impl::login(const Route& route, const Request& req, std::shared_lock<std::shared_mutex>& lock,
                                   bool* delay) {
  // Vault's user lockout: a locked user is refused before the credentials
  // are tried, a correct password too, and at once (auth/lockout.hpp).
  std::optional<auth::LockoutTable::Attempt> attempt;
  const MountEntry& entry = route.mount->entry;
  if (auth::lockout_supported(entry.type)) {
    const UserLockoutConfig cfg = auth::lockout_config(entry, opts.user_lockout);
    const BackendRequest probe{req.op, route.rel, req.data, *route.mount->storage, Clock::now()};
    std::string alias = cfg.disable ? std::string() : route.mount->backend->login_alias(probe);
    if (!alias.empty()) {
      auto begun = lockout.begin({route.ns->record.id, entry.accessor, std::move(alias)}, cfg, probe.now);
      if (!begun.ok()) {
        *delay = false;
        return std::move(begun).error();
      }
      attempt.emplace(std::move(begun).value());
    }
  }
  return try_login(route, req, lock, attempt);
}

Result<Response> Core::Impl::try_login(const Route& route, const Request& req,
                                       std::shared_lock<std::shared_mutex>& lock,
                                       std::optional<auth::LockoutTable::Attempt>& attempt) {
  const TimePoint now = Clock::now();
  // The attempt's outcome, once known; an error of its own replaces the login's.
  auto settle = [&](Result<Response> result, Backend* backend, const BackendRequest& breq) -> Result<Response> {
    if (!attempt) return result;
    using Outcome = auth::LockoutTable::Outcome;
    Outcome outcome = result.ok() ? Outcome::Succeeded
                      : backend != nullptr && backend->invalid_credentials(breq, result.error())
                          ? Outcome::BadCredentials
                          : Outcome::Other;
    COFFER_TRY_STATUS(attempt->finish(outcome, Clock::now()));
    return result;
  };
  const PeerCredentials* peer = req.peer ? &*req.peer : nullptr;
  BackendRequest breq{req.op, route.rel, req.data, *route.mount->storage, now, nullptr, peer};
  auto begun = route.mount->backend->begin_login(breq);
  if (!begun.ok()) return settle(std::move(begun).error(), route.mount->backend.get(), breq);
  std::unique_ptr<PendingLogin> pending = std::move(begun).value();
  Result<Response> resp = Response{};
  Route current = route;
  if (pending) {
    const std::string mount_uuid = route.mount->entry.uuid;
    lock.unlock();
    Status ran = pending->run();
    lock.lock();
    if (barrier.sealed() || !router.loaded()) return Error::sealed();
    current = router.resolve(router.root(), req.path);
    if (!current.mount || current.mount->entry.uuid != mount_uuid || !current.mount->backend) {
      return Error::not_found("the auth method at \"" + route.mount->entry.path + "\" was disabled during the login");
    }
    BackendRequest again{req.op, current.rel, req.data, *current.mount->storage, Clock::now(), nullptr, peer};
    if (!ran.ok()) return settle(std::move(ran).error(), current.mount->backend.get(), again);
    resp = pending->finish(again);
    if (!resp.ok()) return settle(std::move(resp).error(), current.mount->backend.get(), again);
  } else {
    resp = route.mount->backend->handle(breq);
    if (!resp.ok()) return settle(std::move(resp).error(), route.mount->backend.get(), breq);
  }
  if (!resp->login) return Error::internal("login endpoint \"" + req.path + "\" reported no login");
  const std::vector<std::string> warnings = resp->warnings;
  auth::LoginStores stores = login_stores();
  auto out = auth::finish_login(stores, *current.ns, *current.mount, current.rest, std::move(*resp->login), now);
  if (out.ok()) out->warnings = warnings;
  return settle(std::move(out), nullptr, breq);
}

// 5. Dispatch to the backend that owns the path.
Result<Response> Core::Impl::dispatch(const Route& route, Operation op, const Request& req, const Auth& auth,
                                      TimePoint now, std::unique_lock<std::shared_mutex>* exclusive,
                                      const auth::PreparedRenewal* renewal) {
  const Target target = target_of(route);
  if (!route.mount && target.backend == nullptr) return Error::not_found("no handler for route \"" + req.path + "\"");
  if (target.backend == nullptr) {
    return Error::unsupported("\"" + route.mount->entry.path + "\" has no endpoints yet");
  }
  const RequestContext ctx{*route.ns, &auth, exclusive != nullptr, renewal};
  BackendRequest breq{op, target.rel, req.data, *target.storage, now, &ctx};
  // Parts in place of the reply's JSON only while the caller alone sees it:
  // an audit device logs the reply as the backend made it.
  if (!audit.enabled()) breq.parts = req.parts;
  auto resp = target.backend->handle(breq);
  if (resp.ok() && resp->revoke_logins && route.mount && route.mount->entry.is_auth()) {
    // An auth method ended some of its logins (a peer role deleted).
    auth::LoginStores stores = login_stores();
    COFFER_TRY_STATUS(auth::revoke_mount_tokens(stores, *route.ns, route.mount->entry, now, &*resp->revoke_logins));
    resp->revoke_logins.reset();
  }
  return resp;
}

Result<Response> Core::Impl::init(const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"secret_shares", "secret_threshold"}));
  COFFER_TRY(auto shares, fields::get_int(body, "secret_shares"));
  COFFER_TRY(auto threshold, fields::get_int(body, "secret_threshold"));
  int n = static_cast<int>(shares.value_or(5));
  int t = static_cast<int>(threshold.value_or(n == 1 ? 1 : 3));
  if (shares.value_or(5) > 255 || threshold.value_or(3) > 255) {
    return Error::invalid("secret shares and threshold must be at most 255");
  }
  COFFER_TRY(InitOutput out, seal.init(n, t));
  // Write the root token and the root namespace while the barrier is open,
  // then seal: like Vault, a fresh store must be unsealed with its shares.
  auto finish = [&]() -> Result<SecureString> {
    COFFER_TRY_STATUS(tokens.open(/*create=*/true));
    COFFER_TRY_STATUS(router.bootstrap_root(Clock::now()));
    return tokens.create_root("", Clock::now());
  };
  auto root_token = finish();
  seal_now();
  if (!root_token.ok()) return std::move(root_token).error();
  Response resp;
  resp.data["keys"] = Json::array();
  resp.data["keys_base64"] = Json::array();
  for (const auto& k : out.keys_hex) resp.data["keys"].push_back(k);
  for (const auto& k : out.keys_base64) resp.data["keys_base64"].push_back(k);
  resp.data["root_token"] = root_token.value();
  return resp;
}

Result<Response> Core::Impl::unseal(const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"key", "reset"}));
  COFFER_TRY(auto reset, fields::get_bool(body, "reset"));
  if (reset.value_or(false)) {
    seal.reset();
    return seal_status();
  }
  COFFER_TRY(auto key, fields::get_string(body, "key"));
  if (!key || key->empty()) return Error::invalid("missing required input \"key\"");
  bool was_sealed = barrier.sealed();
  COFFER_TRY(SealStatus status, seal.submit_share(*key));
  if (was_sealed && !status.sealed) COFFER_TRY_STATUS(finish_unseal());
  return seal_status();
}

Status Core::Impl::finish_unseal() {
  Status st = tokens.open(/*create=*/false);
  if (st.ok()) st = router.load();
  if (st.ok() && !router.loaded()) st = Error::corrupt("store has no root namespace");
  if (st.ok()) st = load_identity();
  if (st.ok()) st = audit.load();
  if (!st.ok()) {
    seal_now();
    return st;
  }
  changes.note(seal_change());  // unsealed
  return st;
}

Status Core::absorb(bool reload, std::span<const KeyRange> changed) {
  Impl& c = *impl_;
  std::vector<WriteOp> ops;
  ops.reserve(changed.size());
  // The seal's records (outside the barrier) are nothing the core keeps in
  // memory, but the keyring: a rotation on another host adds a term, which
  // this host must read with and then write with. Reloaded before anything
  // below reads through the barrier (which would also reload on meeting the
  // unknown term, once).
  bool keyring = reload;
  for (const KeyRange& k : changed) {
    if (Barrier::is_reserved_key(k.key)) {
      keyring = keyring || k.key == "core/keyring";
      continue;
    }
    ops.push_back({k.prefix ? WriteOp::Kind::DeletePrefix : WriteOp::Kind::Put, k.key, {}});
  }
  std::vector<ChangeEvent> events;
  {
    std::shared_lock lock(c.mu);
    if (c.barrier.sealed()) return {};
    if (keyring) COFFER_TRY_STATUS(c.barrier.reload());
    if (!reload) events = c.changes.classify(ops);
  }
  // What the core keeps in memory for each kind; secrets and auth data are
  // read from the store each time, so for them announcing is enough.
  bool topology = reload, identity = false, policies = false, tokens = false, audit = false;
  for (const ChangeEvent& e : events) {
    switch (e.kind) {
      case ChangeKind::Mount:
      case ChangeKind::Namespace:
      case ChangeKind::Seal:
      case ChangeKind::Other: topology = true; break;
      case ChangeKind::Identity: identity = true; break;
      case ChangeKind::Policy: policies = true; break;
      case ChangeKind::Token: tokens = true; break;
      case ChangeKind::Audit: audit = true; break;
      case ChangeKind::Secret:
      case ChangeKind::AuthData:
      case ChangeKind::Lockout: break;
    }
  }
  if (topology || identity || policies || tokens || audit) {
    std::unique_lock lock(c.mu);
    if (c.barrier.sealed()) return {};
    if (topology) {
      // Backends are made again with the tables; every cache may be stale.
      COFFER_TRY_STATUS(c.router.load());
      if (!c.router.loaded()) return Error::corrupt("store has no root namespace");
      identity = policies = tokens = audit = true;
      // Named again on the new tree: a mount or namespace made by the same
      // changes was unknown before, and their keys came out as Other.
      if (!reload) events = c.changes.classify(ops);
    }
    if (identity) COFFER_TRY_STATUS(c.load_identity());
    if (policies) c.policies.forget_all();
    if (tokens) c.tokens.forget_cached();
    if (audit) COFFER_TRY_STATUS(c.audit.load());
    c.acls.invalidate();
  }
  if (reload) events = {ChangeEvent{0, ChangeKind::Other, {}, {}, {}}};
  c.bus.publish(std::move(events));
  return {};
}

void Core::fed(std::int64_t revision) {
  Impl& c = *impl_;
  {
    std::lock_guard lock(c.fed_mu);
    if (revision <= c.fed_revision) return;
    c.fed_revision = revision;
  }
  c.fed_cv.notify_all();
}

void Core::Impl::wait_fed(std::chrono::milliseconds most) {
  if (!opts.fleet_revision) return;
  const std::int64_t target = opts.fleet_revision();
  std::unique_lock lock(fed_mu);
  fed_cv.wait_for(lock, most, [&] { return fed_revision >= target; });
}

void Core::Impl::seal_now() {
  router.clear();
  tokens.close();
  policies.forget_all();
  identity.clear();
  acls.clear();
  audit.clear();
  seal.seal();
  changes.note(seal_change());
}

Response Core::Impl::seal_status() const {
  SealStatus s = seal.status();
  Response resp;
  resp.data = {{"type", "shamir"},
               {"initialized", s.initialized},
               {"sealed", s.sealed},
               {"t", s.threshold},
               {"n", s.shares},
               {"progress", s.progress},
               {"nonce", s.nonce},
               {"version", kVersion},
               {"migration", false},
               {"recovery_seal", false},
               {"storage_type", opts.dev ? "inmem" : "sqlite"}};
  return resp;
}

Response Core::Impl::health() const {
  SealStatus s = seal.status();
  Response resp;
  resp.data = {{"initialized", s.initialized},
               {"sealed", s.sealed},
               {"standby", false},
               {"performance_standby", false},
               {"replication_performance_mode", "disabled"},
               {"replication_dr_mode", "disabled"},
               {"server_time_utc", unix_seconds(Clock::now())},
               {"version", kVersion}};
  return resp;
}

// ------------------------------------------------- queries for the layers above
//
// A query may write too (authenticating revokes a token found expired), so
// each runs in a change scope like handle(): what it commits is announced
// once it has let go of the core lock.

Result<std::uint32_t> Core::capabilities(const SecureString& token, std::string_view abs_path) {
  ChangeRecorder::Scope changes(impl_->changes);
  return impl_->capability_bits(token, abs_path);
}

Result<bool> Core::may_subscribe(const SecureString& token, std::string_view abs_path, std::string_view event_type,
                                 bool root_only) {
  ChangeRecorder::Scope changes(impl_->changes);  // declared first: ends after the lock
  std::shared_lock lock(impl_->mu);
  if (impl_->barrier.sealed() || !impl_->router.loaded()) return Error::sealed();
  COFFER_TRY(Auth auth, impl_->authenticate(token, Clock::now()));
  const std::uint32_t caps = auth.acl->capability_bits(abs_path);
  if (auth.acl->is_root()) return caps != 0;
  if (root_only || (caps & policy::cap::kDeny) != 0) return false;
  if ((caps & policy::cap::kSubscribe) == 0) return false;
  for (const std::string& pattern : auth.acl->subscribe_event_types(abs_path)) {
    if (glob_match(pattern, event_type)) return true;
  }
  return false;
}

Result<bool> Core::may_see(const SecureString& token, std::string_view abs_prefix) {
  ChangeRecorder::Scope changes(impl_->changes);
  return impl_->may_see(token, abs_prefix);
}

Result<Core::TokenStanding> Core::check_token(const SecureString& token) {
  ChangeRecorder::Scope changes(impl_->changes);  // declared first: ends after the lock
  std::shared_lock lock(impl_->mu);
  if (impl_->barrier.sealed() || !impl_->router.loaded()) return Error::sealed();
  COFFER_TRY(Auth auth, impl_->authenticate(token, Clock::now()));
  TokenStanding out;
  out.namespace_id = auth.token->namespace_id;
  if (auth.token->expire_unix_ns != 0) out.expires = TimePoint(std::chrono::nanoseconds(auth.token->expire_unix_ns));
  out.uses_left = auth.token->num_uses;
  if (const NamespaceNode* ns = impl_->router.find_namespace_by_id(out.namespace_id)) {
    out.namespace_path = ns->record.path;
  }
  return out;
}

std::shared_ptr<const NamespaceSnapshot> Core::namespaces() const {
  auto current = snapshot_.load(std::memory_order_acquire);
  if (current && current->version == impl_->router.version()) return current;
  // Stale (or none yet): copy the tree while nothing can change it. Two
  // callers may both copy; either copy is current, and a late store of an
  // older one is only rebuilt by the next caller.
  std::shared_lock lock(impl_->mu);
  auto fresh = NamespaceSnapshot::of(impl_->router, impl_->barrier.sealed());
  snapshot_.store(fresh, std::memory_order_release);
  return fresh;
}

}  // namespace engine
