// SPDX-License-Identifier: MPL-2.0
// The userpass auth method (vault-semantics §10.2), mounted at auth/<path>/:
//
//   users/            LIST usernames
//   users/NAME        read, write (password, token_*), delete
//   users/NAME/password   write {password}
//   users/NAME/policies   write {token_policies}
//   login/NAME        write {password}: a login (Response::login)
//
// Usernames are lower-cased. Passwords are stored as Argon2id hashes and
// never shown. Storage (the mount's view): user/<name> → UserEntry.
#pragma once

#include <mutex>

#include "engine/auth/token_params.hpp"
#include "engine/backend/backend.hpp"

namespace engine::auth {

struct UserEntry {
  std::string password_hash;  // crypto_pwhash_str (Argon2id)
  TokenParams token;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(password_hash, token);
  }
};

class UserpassBackend final : public Backend {
 public:
  Result<Response> handle(const BackendRequest& req) override;
  Result<bool> exists(const BackendRequest& req) override;
  // login/NAME: the user is read here; the Argon2id check runs in the
  // pending login, with no core lock held.
  Result<std::unique_ptr<PendingLogin>> begin_login(const BackendRequest& req) override;
  // The lower-cased name of login/NAME (Vault's lookahead takes the name as
  // written, so its case variants count apart; here they are one user, as
  // everywhere else in userpass).
  std::string login_alias(const BackendRequest& req) override;
  // "invalid username or password" for a user that exists.
  bool invalid_credentials(const BackendRequest& req, const Error& error) override;

  // Is rel (below the mount) a login endpoint? Those answer without a token.
  static bool is_login_path(std::string_view rel);

 private:
  Result<Response> write_user(const BackendRequest& req, const std::string& name);
  std::mutex write_mu_;  // serialises read-modify-write of user records
};

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::UserEntry, 1);
