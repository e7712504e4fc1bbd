// SPDX-License-Identifier: MPL-2.0
// cofferd's configuration file (SPEC §6), in HCL like Vault's server config:
//
//   storage "sqlite" { path = "/var/lib/coffer/coffer.db" }   (init = true: create it if missing)
//   storage "postgresql" { connection_url = "postgres://..." table = "coffer" }   (a fleet's store)
//   seal "file" { path = "coffer-unseal" }   (auto-unseal: mountd/seal_file.hpp)
//   mount "/run/coffer" { allow_other = true }
//   mount "/run/coffer-hq" { chroot_namespace = "usa-hq" }
//   mount "/run/app/secrets" { token_file = "/etc/app/token", cache = true }
//   mount "/run/app/keys" { uid = 1000, gid = 1000, file_mode = "0600", dir_mode = "0700" }
//   mount "/run/app" { template "app.env" { source = "/etc/app/app.env.ctmpl"  perms = "0400" } }
//   administrative_namespace_path = "admin/"
//   user_lockout "all" { lockout_threshold = 5, lockout_duration = "15m" }
//   log_level = "info"
//   disable_mlock = false
//
// The JSON form of the same document is accepted too (as Vault does).
// Parsing has no side effects (it reads no other file), so it is unit-tested
// like any function; every error names the file and the line.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/ctmpl/ctmpl.hpp"
#include "fs/log.hpp"
#include "mountd/options.hpp"

namespace mountd {

// One `user_lockout "TYPE" { ... }` stanza, complete (engine::UserLockoutConfig).
struct UserLockout {
  std::int64_t threshold = 5;
  std::int64_t duration = 15 * 60;       // seconds
  std::int64_t counter_reset = 15 * 60;  // seconds
  bool disable = false;
};

// One `template "NAME" { source = "FILE" | contents = "..."  perms = "0400" }`
// inside a mount block, as Vault Agent's stanza: MOUNT/NAME, rendered in
// consul-template's language (engine/ctmpl).
struct TemplateConfig {
  std::string name;      // one file name: no '/', '@', '#', not sys/auth/identity
  int line = 0;          // line of the block in the config file
  std::string source;    // the template file ("" when contents is given)
  std::string contents;  // the template text (read from source by load_config)
  mode_t perms = 0;      // 0: the mount's file_mode
  // Parsed: by parse_config for contents, by load_config for a source.
  std::shared_ptr<const engine::ctmpl::Template> parsed;
};

// One `mount "PATH" { ... }` block: a FUSE mount, like a Vault listener.
struct MountConfig {
  std::string mountpoint;        // the block's label, without trailing '/'
  int line = 0;                  // line of the block, for messages
  std::string chroot_namespace;  // "" = the root namespace; else "usa-hq" (no slashes at the ends)
  std::string token_file;        // "" = not bound: callers bring their own tokens
  bool allow_other = false;
  std::string peer_login;  // a peer auth method ("ns/auth/peer") logging in callers with no token; "" = none
  // Let the kernel cache entries, attributes and data (bound mounts only:
  // a mount shared by several identities must cache nothing, SPEC §4).
  bool cache = false;
  // Owner and modes of every node (SPEC §4): uid/gid numbers (unset: the
  // daemon's), file_mode/dir_mode as octal strings ("0600").
  std::optional<std::uint32_t> uid, gid;
  mode_t file_mode = kDefaultFileMode;
  mode_t dir_mode = kDefaultDirMode;
  // inotify by replay (fs/replay.hpp): changes made elsewhere raise
  // inotify events on this mount.
  bool inotify = false;
  // Mounted read-only (the kernel answers writes EROFS). With cache = true
  // the kernel serves reads of what it keeps alone (fs/operations.hpp,
  // Filesystem::kernel_reads).
  bool read_only = false;
  std::vector<TemplateConfig> templates;
};

struct Config {
  std::string file;           // where it was read from (messages, SIGHUP reload)
  std::string storage_path;   // storage "sqlite" { path }, or storage "postgresql" { connection_url }
  std::string storage_table;  // storage "postgresql" { table } ("" = "coffer")
  bool storage_init = false;  // storage "..." { init = true }: create the store if missing
  // seal "file" { path = "..." }: the key file to unseal with at start
  // ("" = none; relative: under $CREDENTIALS_DIRECTORY, resolved at start).
  std::string seal_file;
  std::vector<MountConfig> mounts;
  // "admin/" form (one trailing slash) or "" when not set. Kept for the
  // administrative namespace (vault-semantics §11).
  std::string administrative_namespace_path;
  fsd::LogLevel log_level = fsd::LogLevel::Info;
  bool disable_mlock = false;
  // Vault's `user_lockout "TYPE" { lockout_threshold, lockout_duration,
  // lockout_counter_reset, disable_lockout }` stanzas, TYPE "all",
  // "userpass", "approle" or "ldap"; each complete, as Vault fills them: a
  // type's missing values from "all", those of "all" from Vault's defaults.
  std::map<std::string, UserLockout> user_lockout;
};

// Parses a config document. file names the source in messages
// ("coffer.hcl:7: unknown key \"chroot\" in mount \"/run/coffer\"").
// Errors: InvalidArgument for syntax errors, unknown keys, values of the
// wrong type or out of range, a missing or repeated storage block, no mount,
// two mounts on the same path, a template with a bad name, both or neither
// of source and contents, or (for contents) bad syntax. A template's source
// file is not read here (parsing reads no other file).
engine::Result<Config> parse_config(std::string_view text, std::string_view file);

// Reads and parses each template's source file (at most 64 KiB). Errors:
// InvalidArgument "CONFIG:LINE: ..." for an unreadable or oversized file,
// "SOURCE:LINE: ..." for its syntax.
engine::Status load_template_sources(Config& config);

// Reads and parses the file at path, then its templates' sources. Errors:
// InvalidArgument (unreadable file, or as parse_config and
// load_template_sources).
engine::Result<Config> load_config(const std::string& path);

}  // namespace mountd
