// SPDX-License-Identifier: MPL-2.0
// What a core is opened with (Core::open), in a header of its own so the
// parts inside the core that read an option (sys/, audit/, auth/lockout)
// need not include the core's public API above them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace engine {

// Vault's user lockout settings (engine/auth/lockout.hpp): one `user_lockout`
// stanza of the config file, or what a mount's tune makes of it.
struct UserLockoutConfig {
  std::int64_t threshold = 5;            // failed logins that lock the user
  std::int64_t duration = 15 * 60;       // seconds locked, from the last failure
  std::int64_t counter_reset = 15 * 60;  // seconds without failures that zero the count
  bool disable = false;
};

struct CoreOptions {
  // Root token id to use for a dev store (initialised at open).
  std::string dev_root_token;
  bool dev = false;  // in-memory store, initialised and unsealed at open
  // A failed login answers no sooner than this after it began (slows
  // guessing; spent outside every lock).
  std::chrono::milliseconds failed_login_delay{250};
  // The administrative namespace (vault-semantics §11), "admin/" style
  // ("" = none): requests in it may use sys/audit-hash and sys/monitor.
  std::string administrative_namespace_path{};
  // The config file's user_lockout stanzas by type ("all", "userpass",
  // "approle", "ldap"), each complete (mountd fills a type's missing values
  // from "all", and those of "all" from Vault's defaults). Empty: Vault's
  // defaults everywhere.
  std::map<std::string, UserLockoutConfig> user_lockout{};
  // On a fleet store (PostgresMirror): the revision its copy of the store
  // holds. A request refused as a Conflict runs again once the core has
  // taken in every change up to there (Core::fed), so what it checks in
  // memory (names in use, the namespace tree) includes the other host's
  // commit. Unset on one host.
  std::function<std::int64_t()> fleet_revision{};
};

}  // namespace engine
