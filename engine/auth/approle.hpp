// SPDX-License-Identifier: MPL-2.0
// The AppRole auth method (vault-semantics §10.1), mounted at auth/<path>/:
//
//   role/                               LIST role names
//   role/NAME                           read, write, delete
//   role/NAME/role-id                   read; write {role_id} (a custom one)
//   role/NAME/secret-id                 write → new secret_id + accessor; LIST (or read) accessors
//   role/NAME/custom-secret-id          write {secret_id}
//   role/NAME/secret-id/lookup|destroy  write {secret_id} (destroy also DELETE)
//   role/NAME/secret-id-accessor/lookup|destroy   write {secret_id_accessor}
//   login                               write {role_id, secret_id}: a login
//
// Secret ids and role ids are stored only as keyed hashes (BLAKE2b under a
// per-mount key kept in the mount's encrypted storage):
//   salt                          the hashing key
//   role/<name>                   RoleEntry
//   role_id/<hash of role_id>     role name
//   secret_id/<role>/<hash of secret_id>   SecretIdEntry
//   accessor/<accessor>           AccessorEntry → role and secret hash
// A secret id's uses and TTL are enforced at login: a used-up or expired
// one is deleted and the login refused ("invalid role or secret ID").
#pragma once

#include <map>
#include <mutex>

#include <cereal/types/map.hpp>

#include "engine/auth/token_params.hpp"
#include "engine/backend/backend.hpp"

namespace engine::auth {

struct RoleEntry {
  std::string role_id;  // shown by role-id; the index holds its hash
  bool bind_secret_id = true;
  std::int64_t secret_id_num_uses = 0;  // 0 = unlimited
  std::int64_t secret_id_ttl = 0;       // seconds; 0 = no expiry
  bool local_secret_ids = false;
  TokenParams token;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(role_id, bind_secret_id, secret_id_num_uses, secret_id_ttl, local_secret_ids, token);
  }
};

struct SecretIdEntry {
  std::string accessor;
  std::map<std::string, std::string> metadata;
  std::int64_t num_uses = 0;  // remaining; 0 = unlimited
  std::int64_t ttl = 0;       // seconds; 0 = no expiry
  std::int64_t creation_unix_ns = 0;
  std::int64_t expiration_unix_ns = 0;  // 0 = never
  std::int64_t last_updated_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(accessor, metadata, num_uses, ttl, creation_unix_ns, expiration_unix_ns, last_updated_unix_ns);
  }
};

struct AccessorEntry {
  std::string role;
  std::string secret_hash;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(role, secret_hash);
  }
};

class AppRoleBackend final : public Backend {
 public:
  Result<Response> handle(const BackendRequest& req) override;
  Result<bool> exists(const BackendRequest& req) override;

  static bool is_login_path(std::string_view rel) { return rel == "login"; }
  // Vault's user lockout: the user of a login is its role_id; only a
  // wrong secret id for a role_id that exists counts.
  std::string login_alias(const BackendRequest& req) override;
  bool invalid_credentials(const BackendRequest& req, const Error& error) override;

  // Longest role_id / secret_id accepted (custom ones included).
  static constexpr std::size_t kMaxIdBytes = 4096;

 private:
  Result<std::string> hashed(Storage& storage, std::string_view value);
  Result<Response> handle_role(const BackendRequest& req, const std::string& name, std::string_view sub);
  Result<Response> write_role(const BackendRequest& req, const std::string& name);
  Result<Response> delete_role(const BackendRequest& req, const std::string& name);
  Result<Response> set_role_id(const BackendRequest& req, const std::string& name, std::string_view role_id);
  Result<Response> new_secret_id(const BackendRequest& req, const std::string& name, bool custom);
  Result<Response> login(const BackendRequest& req);

  std::mutex mu_;         // serialises every read-modify-write (uses, ids, roles)
  std::string salt_hex_;  // cached hashing key (hex), loaded on first use
};

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::RoleEntry, 1);
CEREAL_CLASS_VERSION(engine::auth::SecretIdEntry, 1);
CEREAL_CLASS_VERSION(engine::auth::AccessorEntry, 1);
