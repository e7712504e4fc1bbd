// SPDX-License-Identifier: MPL-2.0
// cofferd's command line (SPEC §6), parsed into Options without side effects:
// the parser never prints or exits, so it is unit-tested like any function.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "fs/log.hpp"

namespace mountd {

// Owner and modes of a mount's nodes (SPEC §4) when none are given.
inline constexpr mode_t kDefaultFileMode = 0640;
inline constexpr mode_t kDefaultDirMode = 0750;

struct Options {
  enum class Mode { Dev, Storage, Config };

  Mode mode = Mode::Dev;
  std::string dev_root_token = "root";            // --dev-root-token-id (dev only)
  std::string storage_path;                       // --storage FILE or postgres://...
  bool init = false;                              // --init: create the store if there is none
  std::string chroot;                             // --chroot NS ("" = root namespace)
  std::string token_file;                         // --token-file F: the mount's own token
  std::string peer_login;                         // --peer-login PATH ("ns/auth/peer"; "" = none)
  bool allow_other = false;                       // --allow-other
  bool no_env_token = false;                      // --no-env-token: ignore callers' VAULT_TOKEN
  bool cache = false;                             // --cache (needs --token-file)
  bool inotify = false;                           // --inotify: replay changes made elsewhere
  bool read_only = false;                         // --read-only: mounted ro (EROFS on writes)
  bool disable_mlock = false;                     // --disable-mlock: do not mlockall()
  std::optional<std::uint32_t> uid, gid;          // --uid/--gid: owner of every node (default: the daemon's)
  mode_t file_mode = kDefaultFileMode;            // --file-mode 0600
  mode_t dir_mode = kDefaultDirMode;              // --dir-mode 0700
  std::string config_path;                        // --config FILE: everything else comes from it
  fsd::LogLevel log_level = fsd::LogLevel::Info;  // --log-level L
  std::string mountpoint;

  bool show_help = false;     // -h/--help: print usage, do nothing else
  bool show_version = false;  // --version
};

// Parses argv (argv[0] is the program name). Accepts `--opt VALUE` and
// `--opt=VALUE`. Errors: InvalidArgument with a message fit for the user
// (unknown option, missing value or mountpoint, --dev with --storage,
// --config with any option other than -f and --init, --init with --dev...).
engine::Result<Options> parse_options(const std::vector<std::string>& argv);

// The path of a peer auth method for --peer-login and `peer_login`, below
// the mount root: "ns/auth/peer" (leading and trailing '/' dropped).
// InvalidArgument unless it has an "auth" segment followed by the method's
// path, and no empty, "." or ".." segment.
engine::Result<std::string> peer_login_path(std::string_view path);

// A PostgreSQL connection URL (postgres:// or postgresql://), as --storage
// and storage "postgresql" { connection_url } take it.
bool is_postgres_url(std::string_view s);

// The URL with the password of its user part ("user:PASSWORD@") and any
// password= parameter replaced by "***": what messages and logs may show.
std::string redacted_url(std::string_view url);

// A mode for --file-mode/--dir-mode and file_mode/dir_mode: octal digits
// ("0600", "640"). InvalidArgument (the message names what) for anything
// else, for bits above 0777 (setuid, setgid, sticky), and for a file mode
// with an x bit: nothing on the mount is executable.
engine::Result<mode_t> parse_mode(std::string_view text, bool directory);

// A uid or gid for --uid/--gid and uid/gid: decimal digits, below
// 4294967295 (the kernel's "no id"). InvalidArgument otherwise; user and
// group names are not resolved.
engine::Result<std::uint32_t> parse_id(std::string_view text, std::string_view what);

// The usage text for --help and errors.
std::string usage();

}  // namespace mountd
