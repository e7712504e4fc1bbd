// SPDX-License-Identifier: MPL-2.0
// Secret-engine mounts (sys/mounts): the persisted entry and its live form.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>

#include "engine/backend/backend.hpp"
#include "engine/common/error.hpp"
#include "engine/storage/view.hpp"

namespace engine {

// As stored at core/mounts/<namespace id>/<uuid>.
struct MountEntry {
  std::string uuid;
  std::string accessor;  // "kv_1a2b3c4d", unique server-wide
  std::string path;      // below the namespace, one trailing '/': "secret/", "team/kv/", "auth/userpass/"
  std::string type;      // "kv", "system", "identity"; auth mounts "userpass", "approle"
  std::string description;
  std::map<std::string, std::string> options;  // kv: {"version": "1"|"2"}
  std::int64_t default_lease_ttl = 0;          // seconds; 0 = system default
  std::int64_t max_lease_ttl = 0;
  std::string namespace_id;
  std::int64_t created_unix_ns = 0;
  // Auth mounts: Vault's user_lockout_config from sys/auth/PATH/tune
  // (engine/auth/lockout.hpp). 0 = not tuned (the default applies).
  bool lockout_tuned = false;  // tune ever set one (tune shows them then)
  std::int64_t lockout_threshold = 0;
  std::int64_t lockout_duration = 0;       // seconds
  std::int64_t lockout_counter_reset = 0;  // seconds
  bool lockout_disable = false;

  // kv version (1 or 2); 0 for other types.
  int kv_version() const;
  // Built-in mounts every namespace has (sys/, identity/): not removable.
  bool builtin() const { return type == "system" || type == "identity"; }
  // An auth method (sys/auth) rather than a secrets engine (sys/mounts):
  // secret mount paths never start with "auth/".
  bool is_auth() const { return path.starts_with("auth/"); }

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(uuid, accessor, path, type, description, options, default_lease_ttl, max_lease_ttl, namespace_id,
       created_unix_ns);
    if (version >= 2) ar(lockout_tuned, lockout_threshold, lockout_duration, lockout_counter_reset, lockout_disable);
  }
};

// A live mount: its entry, its own storage view (logical/<uuid>/) and backend
// (for built-in mounts, the one Router::set_backend_factory makes).
struct Mount {
  MountEntry entry;
  std::unique_ptr<View> storage;
  std::unique_ptr<Backend> backend;
};

// Storage prefix of a mount's data.
inline std::string mount_data_prefix(std::string_view uuid) { return "logical/" + std::string(uuid) + "/"; }

// Checks a mount path (already canonical: one trailing '/'). InvalidArgument
// for empty paths, "." / ".." segments, empty segments, and the reserved
// prefixes sys/, auth/, identity/, cubbyhole/.
Status validate_mount_path(std::string_view path);

// The checks mount and auth method paths share (canonical, one trailing
// '/'), with `what` ("mount path") in the messages: not empty, at most 1024
// bytes; then each segment not empty, "." or "..", at most 255 bytes, and
// without control characters or any of `forbidden`.
Status check_path_size(std::string_view path, std::string_view what);
Status check_path_segments(std::string_view path, std::string_view what, std::string_view forbidden = {});

// Canonical mount path: strips leading '/', collapses nothing, adds the
// trailing '/'.
std::string canonical_mount_path(std::string_view path);

// Creates the backend for a mount type. InvalidArgument for unknown types or
// kv versions.
Result<std::unique_ptr<Backend>> make_backend(const MountEntry& entry);

}  // namespace engine

CEREAL_CLASS_VERSION(engine::MountEntry, 2);
