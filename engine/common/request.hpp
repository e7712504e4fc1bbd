// SPDX-License-Identifier: MPL-2.0
// What a caller asks of the engine (a Vault API request) and what it gets back.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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
};

}  // namespace engine
