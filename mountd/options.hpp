// SPDX-License-Identifier: MPL-2.0
// cofferd's command line (SPEC §6), parsed into Options without side effects:
// the parser never prints or exits, so it is unit-tested like any function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "fs/log.hpp"

namespace mountd {

struct Options {
  enum class Mode { Dev, Storage, Config };

  Mode mode = Mode::Dev;
  std::string dev_root_token = "root";            // --dev-root-token-id (dev only)
  std::string storage_path;                       // --storage FILE
  bool init = false;                              // --init: create the store if there is none
  std::string chroot;                             // --chroot NS ("" = root namespace)
  std::string token_file;                         // --token-file F: the mount's own token
  std::string peer_login;                         // --peer-login PATH ("ns/auth/peer"; "" = none)
  bool allow_other = false;                       // --allow-other
  bool no_env_token = false;                      // --no-env-token: ignore callers' VAULT_TOKEN
  bool cache = false;                             // --cache (needs --token-file)
  bool inotify = false;                           // --inotify: replay changes made elsewhere
  bool disable_mlock = false;                     // --disable-mlock: do not mlockall()
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

// The usage text for --help and errors.
std::string usage();

}  // namespace mountd
