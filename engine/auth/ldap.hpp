// SPDX-License-Identifier: MPL-2.0
// The ldap auth method (Vault's builtin/credential/ldap), mounted at
// auth/<path>/:
//
//   config            read, write: the directory (ldap_client.hpp)
//   groups/           LIST; groups/NAME read, write {policies}, delete
//   users/            LIST; users/NAME read, write {groups, policies}, delete
//   login/NAME        write {password}: a login
//
// A login binds to the directory as the user, reads their groups, and
// reports the group names as group aliases: external identity groups
// follow them at every login and token renewal (which binds again, with
// the password kept in the token's encrypted record, as Vault does). The
// token's policies are the config's token_policies, those of the local
// groups/NAME entries the user is in (directory groups and users/NAME
// groups) and the user's own users/NAME policies.
//
// Names of local groups and users are lower-cased unless
// case_sensitive_names. Storage: config → LdapConfig, group/<name>,
// user/<name> → LdapMapping.
#pragma once

#include <mutex>

#include <cereal/types/vector.hpp>

#include "engine/auth/ldap_client.hpp"
#include "engine/backend/backend.hpp"

namespace engine::auth {

struct LdapMapping {
  std::vector<std::string> policies;
  std::vector<std::string> groups;  // users only: local groups the user is in

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(policies, groups);
  }
};

class LdapBackend final : public Backend {
 public:
  Result<Response> handle(const BackendRequest& req) override;
  Result<bool> exists(const BackendRequest& req) override;
  Result<std::unique_ptr<PendingLogin>> begin_login(const BackendRequest& req) override;
  Result<std::unique_ptr<PendingLogin>> begin_renewal(const BackendRequest& req,
                                                      const std::map<std::string, std::string>& meta,
                                                      std::string_view secret) override;

  static bool is_login_path(std::string_view rel);
  // Vault's user lockout: the username as given; a failed bind counts.
  std::string login_alias(const BackendRequest& req) override;
  bool invalid_credentials(const BackendRequest& req, const Error& error) override;

 private:
  Result<Response> mapping(const BackendRequest& req, std::string_view kind, std::string_view rest);
  std::mutex write_mu_;  // serialises read-modify-write of the config and mappings
};

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::LdapMapping, 1);
