// SPDX-License-Identifier: MPL-2.0
// Vault's user lockout (Vault >= 1.13, vault/request_handling.go): after
// `threshold` failed logins of one user on one auth mount, the user's logins
// are refused with "permission denied" without trying the credentials (a
// correct password too), until `duration` has passed since the last
// failure. A failure more than `counter_reset` after the previous one
// counts from 1 again; a successful login, or
// sys/locked-users/ACCESSOR/unlock/ALIAS, clears the count. Only userpass,
// approle and ldap take part, and only failures on the credentials of a
// user that exists count (Vault's ErrInvalidCredentials; Backend::
// invalid_credentials): guesses at unknown names create no state.
//
// Settings, most specific first: the mount's tune (sys/auth/PATH/tune
// user_lockout_config, non-zero values), the config file's stanza for the
// type, its "all" stanza, Vault's defaults (5 failures, 15m, 15m).
//
// The state is durable: every counted failure is written through the
// barrier at core/login/lockedusers/<namespace id>/<accessor>/<alias>, and
// read back at each login. A restart or a crash of the daemon (which a local
// user may be able to bring about) therefore hands out no fresh guesses.
// Vault keeps the count in memory and stores only locked users; here the
// writes are bounded by the threshold per user and window (a locked user's
// refusals write nothing), and a user with no failures costs one read.
//
// Attempts in flight count too: while N logins of a user are being tried,
// at most threshold - count of them are let through, so parallel guessers
// get no more tries than serial ones (Vault checks before and counts after,
// which lets a burst of parallel guesses past the threshold).
//
// Nothing here is held across the credentials check or the failed-login
// delay: each user's state sits behind one of a few striped mutexes, held
// for a storage read or write only.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/core_options.hpp"
#include "engine/router/mount.hpp"
#include "engine/storage/storage.hpp"

namespace engine::auth {

// userpass, approle and ldap (Vault's GetSupportedUserLockoutsAuthMethods).
bool lockout_supported(std::string_view type);

// The settings in force for an auth mount: its tune over `defaults`
// (CoreOptions::user_lockout).
UserLockoutConfig lockout_config(const MountEntry& entry, const std::map<std::string, UserLockoutConfig>& defaults);

// Storage prefix of the lockout state (below the barrier).
inline constexpr std::string_view kLockedUsersPrefix = "core/login/lockedusers/";

struct LockoutUser {
  std::string namespace_id;
  std::string accessor;  // of the auth mount
  std::string alias;     // the user as the method names it (userpass name, role_id, ldap username)
};

class LockoutTable {
 public:
  // storage (the barrier) must outlive the table.
  explicit LockoutTable(Storage& storage);

  enum class Outcome {
    Succeeded,       // a token was made: the count is cleared
    BadCredentials,  // counts toward the lockout
    Other,           // any other failure: nothing changes
  };

  // One login attempt of a user. Made by begin(); finish() records its
  // outcome; destroyed unfinished it records nothing (but releases its
  // place among the attempts in flight).
  class Attempt {
   public:
    Attempt(Attempt&& other) noexcept;
    Attempt& operator=(Attempt&&) = delete;
    ~Attempt();
    Status finish(Outcome outcome, TimePoint now);

   private:
    friend class LockoutTable;
    Attempt(LockoutTable* table, LockoutUser user, UserLockoutConfig config);
    LockoutTable* table_;
    LockoutUser user_;
    UserLockoutConfig config_;
  };

  // Before a login is tried: PermissionDenied "permission denied" (Vault's
  // answer) when the user is locked, or when the attempts in flight would
  // reach the threshold; else the attempt.
  Result<Attempt> begin(LockoutUser user, const UserLockoutConfig& config, TimePoint now);

  // Is the user locked now? (sys/locked-users)
  Result<bool> locked(const LockoutUser& user, const UserLockoutConfig& config, TimePoint now);

  // Clears the user's state (Vault's unlock: succeeds whether or not the
  // user was locked).
  Status unlock(const LockoutUser& user);

  // The users of namespace_id locked now, by mount accessor (aliases
  // sorted), the accessors with the most first. config_of gives an
  // accessor's settings. Stale state (lock over and counter reset passed) is
  // removed on the way.
  struct Locked {
    std::string accessor;
    std::vector<std::string> aliases;
  };
  Result<std::vector<Locked>> locked_users(std::string_view namespace_id,
                                           const std::function<UserLockoutConfig(std::string_view)>& config_of,
                                           TimePoint now);

  // Drops the state of an auth mount (disabled) or a namespace (deleted).
  Status forget_mount(std::string_view namespace_id, std::string_view accessor);
  Status forget_namespace(std::string_view namespace_id);

 private:
  struct Stripe {
    std::mutex mu;
    std::map<std::string, int> in_flight;  // storage key → attempts being tried
  };
  Stripe& stripe_of(const std::string& key);
  void release(const LockoutUser& user);

  Storage& storage_;
  std::array<Stripe, 16> stripes_;
};

}  // namespace engine::auth
