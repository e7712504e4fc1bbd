// SPDX-License-Identifier: MPL-2.0
#include "mountd/options.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

namespace mountd {

namespace {

// Splits "--name=value" into its parts; value is nullopt without '='.
struct Arg {
  std::string_view name;
  std::optional<std::string_view> value;
};

Arg split_arg(std::string_view a) {
  if (a.starts_with("--")) {
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      return {a.substr(0, eq), a.substr(eq + 1)};
    }
  }
  return {a, std::nullopt};
}

// The value of an option that takes one: inline (--x=v) or the next argv.
engine::Result<std::string> take_value(const Arg& arg, const std::vector<std::string>& argv, std::size_t& i) {
  if (arg.value) {
    if (arg.value->empty()) {
      return engine::Error::invalid(std::string(arg.name) + " needs a value");
    }
    return std::string(*arg.value);
  }
  if (i + 1 >= argv.size() || argv[i + 1].empty()) {
    return engine::Error::invalid(std::string(arg.name) + " needs a value");
  }
  return argv[++i];
}

}  // namespace

engine::Result<std::string> peer_login_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return engine::Error::invalid("the peer auth method's path is empty");
  bool after_auth = false;
  bool has_auth = false;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(pos, end - pos);
    if (seg.empty() || seg == "." || seg == "..") {
      return engine::Error::invalid("\"" + std::string(path) + "\" is not a clean path");
    }
    if (after_auth) has_auth = true;
    after_auth = !has_auth && seg == "auth";
    pos = end + 1;
  }
  if (!has_auth) {
    return engine::Error::invalid("\"" + std::string(path) + "\" is not an auth method's path (like \"ns/auth/peer\")");
  }
  return std::string(path);
}

bool is_postgres_url(std::string_view s) { return s.starts_with("postgres://") || s.starts_with("postgresql://"); }

std::string redacted_url(std::string_view url) {
  std::string out(url);
  // user:PASSWORD@host: the authority ends at the first '/', '?' or '#'.
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(out.find_first_of("/?#", start), out.size());
    const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... in the query string (or a key=value connection string).
  for (std::size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    const std::size_t value = pos + 9;
    const std::size_t end = std::min(out.find_first_of("& ", value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

engine::Result<mode_t> parse_mode(std::string_view text, bool directory) {
  const char* what = directory ? "dir_mode" : "file_mode";
  if (text.empty() || text.size() > 5 || text.find_first_not_of("01234567") != std::string_view::npos) {
    return engine::Error::invalid(std::string(what) + " must be octal digits like \"" + (directory ? "0750" : "0640") +
                                  "\", not \"" + std::string(text.substr(0, 16)) + "\"");
  }
  mode_t mode = 0;
  for (char c : text) mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  if (mode > 0777) {
    return engine::Error::invalid(std::string(what) + " " + std::string(text) +
                                  ": setuid, setgid and sticky bits are not allowed (at most 0777)");
  }
  if (!directory && (mode & 0111) != 0) {
    return engine::Error::invalid(std::string(what) + " " + std::string(text) +
                                  ": nothing on the mount is executable (no x bits, as in 0640)");
  }
  return mode;
}

engine::Result<std::uint32_t> parse_id(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return engine::Error::invalid(std::string(what) + " must be a number (names are not resolved), not \"" +
                                  std::string(text.substr(0, 32)) + "\"");
  }
  std::uint64_t v = 0;
  for (char c : text) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v >= 4294967295ULL)
    return engine::Error::invalid(std::string(what) + " " + std::string(text) + " is out of range");
  return static_cast<std::uint32_t>(v);
}

std::string usage() {
  return "usage: cofferd --dev [--dev-root-token-id ID] [options] MOUNTPOINT\n"
         "       cofferd --storage FILE|postgres://... [--init] [--chroot NS] [--token-file F] [options] MOUNTPOINT\n"
         "       cofferd [-f] [--init] --config FILE   (every setting from the file; see examples/coffer.hcl)\n"
         "       cofferd unseal-file (--config FILE | --storage FILE|postgres://...) OUT   (shares on stdin)\n"
         "       cofferd migrate --from sqlite:PATH|postgres://... --to sqlite:PATH|postgres://...\n"
         "options:\n"
         "  --dev                    in-memory store, unsealed, one root token (default \"root\")\n"
         "  --dev-root-token-id ID   the dev root token\n"
         "  --storage FILE           the SQLite store\n"
         "  --storage postgres://... a fleet's store in PostgreSQL (no password in the URL: use\n"
         "                           ~/.pgpass, PGPASSFILE or a config file)\n"
         "  --init                   create the store if there is none (first start only;\n"
         "                           without it a missing store is an error)\n"
         "  --chroot NS              show namespace NS as the mount root\n"
         "  --token-file F           make every request with the token in F\n"
         "  --allow-other            let other users use the mount\n"
         "  --no-env-token           ignore callers' VAULT_TOKEN (sessions and logins only)\n"
         "  --peer-login PATH        log callers with no token in through the peer auth method at\n"
         "                           PATH (\"ns/auth/peer\") on their first request\n"
         "  --uid N, --gid N         owner of every file and directory (default: the daemon's)\n"
         "  --file-mode M            mode of files, octal, no x bits (default 0640)\n"
         "  --dir-mode M             mode of directories, octal (default 0750)\n"
         "  --cache                  let the kernel cache a --token-file mount (invalidated on change)\n"
         "  --inotify                replay changes made elsewhere so inotify watchers on the mount see them\n"
         "  --read-only              mount read-only (writes get EROFS); with --cache the kernel serves reads\n"
         "                           alone, invalidated on change, revocation and the token's expiry\n"
         "  --disable-mlock          do not lock memory (only if swap is encrypted or off)\n"
         "  --log-level L            error, warn, info (default) or debug\n"
         "  -f, --foreground         accepted; cofferd always stays in the foreground\n"
         "  -h, --help               this text\n"
         "  --version                the version\n";
}

engine::Result<Options> parse_options(const std::vector<std::string>& argv) {
  Options o;
  bool dev = false;
  bool dev_token_given = false;
  std::vector<std::string> positional;
  bool only_positional = false;
  bool cli_mount_option = false;  // anything --config excludes

  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& raw = argv[i];
    if (only_positional || raw.empty() || raw[0] != '-' || raw == "-") {
      positional.push_back(raw);
      continue;
    }
    if (raw == "--") {
      only_positional = true;
      continue;
    }
    const Arg arg = split_arg(raw);
    const bool takes_value = arg.name == "--dev-root-token-id" || arg.name == "--storage" || arg.name == "--chroot" ||
                             arg.name == "--token-file" || arg.name == "--log-level" || arg.name == "--config" ||
                             arg.name == "--peer-login" || arg.name == "--uid" || arg.name == "--gid" ||
                             arg.name == "--file-mode" || arg.name == "--dir-mode";
    if (!takes_value && arg.value) {
      return engine::Error::invalid(std::string(arg.name) + " takes no value");
    }
    if (arg.name == "-h" || arg.name == "--help") {
      o.show_help = true;
    } else if (arg.name == "--version") {
      o.show_version = true;
    } else if (arg.name == "-f" || arg.name == "--foreground") {
      // Always in the foreground (systemd runs us so); kept for compatibility.
    } else if (arg.name == "--dev") {
      dev = true;
    } else if (arg.name == "--init") {
      // Allowed with --config (not a mount option): the first start of a
      // service whose file stays as it is.
      o.init = true;
    } else if (arg.name == "--no-env-token") {
      o.no_env_token = true;
    } else if (arg.name == "--disable-mlock") {
      o.disable_mlock = true;
      cli_mount_option = true;
    } else if (arg.name == "--allow-other") {
      o.allow_other = true;
      cli_mount_option = true;
    } else if (arg.name == "--cache") {
      o.cache = true;
      cli_mount_option = true;
    } else if (arg.name == "--inotify") {
      o.inotify = true;
      cli_mount_option = true;
    } else if (arg.name == "--read-only") {
      o.read_only = true;
      cli_mount_option = true;
    } else if (takes_value) {
      auto value = take_value(arg, argv, i);
      if (!value.ok()) return std::move(value).error();
      std::string v = std::move(value).value();
      if (arg.name != "--config") cli_mount_option = true;
      if (arg.name == "--dev-root-token-id") {
        o.dev_root_token = std::move(v);
        dev_token_given = true;
      } else if (arg.name == "--storage") {
        // A command line is readable by every user (ps, /proc/PID/cmdline).
        if (is_postgres_url(v) && redacted_url(v) != v) {
          return engine::Error::invalid(
              "--storage: the URL carries a password, which every user can read in ps; put it in "
              "a config file (storage \"postgresql\"), ~/.pgpass or PGPASSFILE");
        }
        o.storage_path = std::move(v);
      } else if (arg.name == "--chroot") {
        while (!v.empty() && v.back() == '/') v.pop_back();
        while (!v.empty() && v.front() == '/') v.erase(v.begin());
        if (v.empty()) return engine::Error::invalid("--chroot needs a namespace path");
        o.chroot = std::move(v);
      } else if (arg.name == "--token-file") {
        o.token_file = std::move(v);
      } else if (arg.name == "--peer-login") {
        auto path = peer_login_path(v);
        if (!path.ok()) return engine::Error::invalid("--peer-login: " + path.error().message);
        o.peer_login = std::move(path).value();
      } else if (arg.name == "--uid" || arg.name == "--gid") {
        auto id = parse_id(v, arg.name.substr(2));
        if (!id.ok()) return engine::Error::invalid("--" + id.error().message);
        (arg.name == "--uid" ? o.uid : o.gid) = *id;
      } else if (arg.name == "--file-mode" || arg.name == "--dir-mode") {
        auto mode = parse_mode(v, arg.name == "--dir-mode");
        if (!mode.ok()) return engine::Error::invalid(std::string(arg.name) + ": " + mode.error().message);
        (arg.name == "--dir-mode" ? o.dir_mode : o.file_mode) = *mode;
      } else if (arg.name == "--log-level") {
        auto level = fsd::parse_log_level(v);
        if (!level) {
          return engine::Error::invalid("--log-level must be error, warn, info or debug, not '" + v + "'");
        }
        o.log_level = *level;
      } else {  // --config
        o.config_path = std::move(v);
      }
    } else {
      return engine::Error::invalid("unknown option " + raw);
    }
  }

  if (o.show_help || o.show_version) return o;

  if (!o.config_path.empty()) {
    if (dev || cli_mount_option || !positional.empty()) {
      return engine::Error::invalid(
          "--config takes every setting from the file: give no other option (but -f and --init) "
          "and no mountpoint");
    }
    o.mode = Options::Mode::Config;
    return o;
  }

  if (dev && !o.storage_path.empty()) {
    return engine::Error::invalid("--dev and --storage exclude each other");
  }
  if (!dev && o.storage_path.empty()) {
    return engine::Error::invalid("one of --dev or --storage FILE is needed");
  }
  if (dev && o.init) {
    return engine::Error::invalid("--init needs --storage or --config (--dev keeps nothing)");
  }
  if (!dev && dev_token_given) {
    return engine::Error::invalid("--dev-root-token-id needs --dev");
  }
  if (dev && o.dev_root_token.empty()) {
    return engine::Error::invalid("--dev-root-token-id must not be empty");
  }
  o.mode = dev ? Options::Mode::Dev : Options::Mode::Storage;

  if (positional.empty()) return engine::Error::invalid("no mountpoint given");
  if (positional.size() > 1) {
    return engine::Error::invalid("one mountpoint expected, got " + std::to_string(positional.size()) + " (" +
                                  positional[1] + "...)");
  }
  if (o.read_only && o.inotify) {
    return engine::Error::invalid(
        "--read-only and --inotify exclude each other (inotify replays changes by writing through the mount)");
  }
  if (o.cache && o.token_file.empty()) {
    return engine::Error::invalid(
        "--cache needs --token-file (a mount shared by several callers "
        "caches nothing)");
  }
  o.mountpoint = positional[0];
  while (o.mountpoint.size() > 1 && o.mountpoint.back() == '/') o.mountpoint.pop_back();
  return o;
}

}  // namespace mountd
