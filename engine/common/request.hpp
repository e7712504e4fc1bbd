// SPDX-License-Identifier: MPL-2.0
// What a caller asks of the engine (a Vault API request) and what it gets back.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/secure.hpp"

namespace engine {

// Vault's logical operations. A write arrives as Update; the core turns it
// into Create when the backend's existence check says the target is new
// (vault-semantics §1), because the ACL treats the two differently.
enum class Operation { Read, List, Create, Update, Patch, Delete };

const char* to_string(Operation op) noexcept;

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;

// Who is asking, as the kernel says it (the FUSE request's fsuid, fsgid and
// pid) and the start time of that pid when the request came (field 22 of
// /proc/PID/stat; 0 = unknown). Set by the fs layer only, never from a
// request body; only the peer auth method reads it.
struct PeerCredentials {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;
};

// One file operation's allowance of token uses (see Request::uses).
struct UseBudget {
  bool spent = false;
};

// Parts of a reply the KV engines may hand over as they are, in place of
// the reply's JSON, to the file view: one JSON value per listed key, or a
// parse and a render of a whole secret, were most of an `ls`'s and a
// `cat`'s cost. Each set pointer is filled only when the engine took that
// way, and the reply then lacks that part; a null pointer (and any other
// backend) leaves the reply whole. The core passes them to the backend only
// while no audit device is on, so a device logs every reply as it was.
struct ReplyParts {
  // A LIST's keys, for the reply's {"keys": [...]}.
  std::vector<std::string>* list_keys = nullptr;
  // A KV v2 data read, for a stat: the size of the whole secret's rendering
  // (render_pretty of its data), recorded at write, in place of the data.
  std::optional<std::uint64_t>* rendered_size = nullptr;
  // With rendered_size: the size of this top-level field's text
  // (field_text, what NAME#KEY shows) in place of the whole secret's. Left
  // unset, and the reply carries the data, when the write did not record it.
  const std::string_view* field = nullptr;
  // A KV v2 data read, for a cat: the whole secret's rendering, as stored
  // at write, in place of the data (no parse, no render).
  std::optional<SecureString>* rendered = nullptr;
};

struct Request {
  Operation op = Operation::Read;
  // Path relative to the root the caller sees (a chroot mount's namespace, or
  // the root namespace): "ns1/ns2/secret/data/foo". No leading '/'. A List
  // path is normalised to end in '/' by the core.
  std::string path;
  // Body of a write, or query parameters of a read ({"version": 3}). Always
  // an object (possibly empty).
  Json data = Json::object();
  // The client token ("" = none). Never logged.
  SecureString token;
  // Use accounting for use-limited tokens (num_uses). nullptr: this request
  // spends one use, as every Vault API request does. Otherwise the request
  // spends one only while !uses->spent, and sets it when it does: the file
  // view makes several API requests for one file operation, which must cost
  // one use at most (a budget already marked spent makes them free).
  UseBudget* uses = nullptr;
  // The kernel's word on the caller, when the request came through FUSE.
  std::optional<PeerCredentials> peer{};
  // Where the KV engines may put a part of the reply instead (ReplyParts).
  ReplyParts parts{};
};

// A successful login, as an auth method reports it (Vault's logical.Auth).
// The core turns it into a token of the mount's namespace, with the entity
// found (or created) for the alias; see engine/token/login.hpp.
struct LoginAuth {
  std::vector<std::string> policies;  // token_policies as configured ("default" added unless no_default_policy)
  bool no_default_policy = false;
  // Seconds; 0 = the mount's, then the system's default.
  std::int64_t ttl = 0;
  std::int64_t max_ttl = 0;
  std::int64_t explicit_max_ttl = 0;
  std::int64_t period = 0;
  std::int64_t num_uses = 0;  // 0 = unlimited
  bool renewable = true;
  // Appended to the mount path for the token's display name: "bob" on
  // auth/userpass/ gives "userpass-bob"; "" gives "approle".
  std::string display_name;
  std::map<std::string, std::string> metadata;  // the token's meta
  // The entity alias: its name on this mount (username, role_id) and the
  // metadata the method sets at each login.
  std::string alias_name;
  std::map<std::string, std::string> alias_metadata;
  // External group names the method reports (LDAP): the entity's external
  // groups on this mount are set to exactly these at every login and
  // renewal. nullopt for methods without groups (userpass, AppRole).
  std::optional<std::vector<std::string>> group_aliases;
  // What the method needs to check the login again at renewal (LDAP: the
  // password, as Vault keeps it). Kept in the token's record, which the
  // barrier encrypts; never shown.
  SecureString renew_secret;
};

struct Response {
  // The reply body (Vault's "data" object, or the whole reply for endpoints
  // that return more). Object, possibly empty.
  Json data = Json::object();
  std::vector<std::string> warnings;
  // When the thing read last changed (for file mtimes); unset when the
  // endpoint has no such notion.
  std::optional<TimePoint> modified;
  // A token this request issued for the caller to use from now on (a login
  // through an auth method): the fs binds it to the caller's session on the
  // mount. The reply body carries it too (auth.client_token), as Vault's does.
  std::optional<SecureString> issued_token{};
  // Set by an auth method's login endpoint (never by other backends): the
  // core makes the token, fills the reply's "auth" block and issued_token.
  std::optional<LoginAuth> login{};
  // Set by an auth method when a change ends logins it made (a peer role
  // deleted): the core revokes every token of the request's namespace made
  // by a login through this mount whose meta[first] is second.
  std::optional<std::pair<std::string, std::string>> revoke_logins{};
};

}  // namespace engine
