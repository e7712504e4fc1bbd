// SPDX-License-Identifier: MPL-2.0
#include "mountd/config.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "engine/common/duration.hpp"
#include "engine/common/numbers.hpp"
#include "engine/common/path.hpp"
#include "engine/policy/hcl.hpp"
#include "mountd/options.hpp"

namespace mountd {

namespace {

namespace hcl = engine::policy::hcl;

constexpr std::size_t kMaxConfigBytes = 1 << 20;

// Collects "FILE:LINE: message" errors; the first one is returned.
struct Where {
  std::string_view file;
  engine::Error at(int line, const std::string& what) const {
    return engine::Error::invalid(std::string(file) + ":" + std::to_string(line) + ": " + what);
  }
};

// (Not "quoted": std::quoted would win by argument lookup, <iomanip> comes
// with nlohmann/json.)
std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A labelled block (`mount "/p" { }`) arrives as one item with keys
// ["mount", "/p"] in HCL, and as {"mount": {"/p": {...}}} in JSON (and in
// HCL's `mount = { "/p" = {...} }`). Both become (label, body) pairs here.
struct Block {
  std::string label;
  int line = 0;
  const hcl::Value* body = nullptr;
};

engine::Result<std::vector<Block>> labelled_blocks(const hcl::Item& item, const Where& where,
                                                   std::string_view example) {
  const std::string& kind = item.keys[0];
  std::vector<Block> out;
  if (item.keys.size() == 2) {
    if (item.value.kind != hcl::Value::Kind::Object) {
      return where.at(item.line, kind + " " + in_quotes(item.keys[1]) + " must be a block { ... }");
    }
    out.push_back({item.keys[1], item.line, &item.value});
    return out;
  }
  if (item.keys.size() > 2) {
    return where.at(item.line, kind + " takes one label, as in " + std::string(example));
  }
  if (item.value.kind == hcl::Value::Kind::Object) {
    for (const hcl::Item& sub : item.value.items) {
      if (sub.keys.size() != 1 || sub.value.kind != hcl::Value::Kind::Object) {
        return where.at(sub.line, kind + " needs a label, as in " + std::string(example));
      }
      out.push_back({sub.keys[0], sub.line, &sub.value});
    }
    if (!out.empty()) return out;
  }
  return where.at(item.line, kind + " needs a label, as in " + std::string(example));
}

// Typed reads of `key = value`, each naming the line on a wrong type.
engine::Result<std::string> string_value(const hcl::Item& item, const Where& where, std::string_view context) {
  if (item.value.kind != hcl::Value::Kind::String) {
    return where.at(item.line, in_quotes(item.keys[0]) + std::string(context) + " must be a string, not a " +
                                   hcl::kind_name(item.value.kind));
  }
  return item.value.text;
}

engine::Result<bool> bool_value(const hcl::Item& item, const Where& where, std::string_view context) {
  if (item.value.kind == hcl::Value::Kind::Bool) return item.value.bool_value;
  // Vault's config decoder takes "true"/"false" strings too.
  if (item.value.kind == hcl::Value::Kind::String) {
    if (item.value.text == "true") return true;
    if (item.value.text == "false") return false;
  }
  return where.at(item.line, in_quotes(item.keys[0]) + std::string(context) + " must be true or false");
}

// Checks an item is a plain `key = value` (not a block with labels) and is
// not repeated in its block.
engine::Status plain_key(const hcl::Item& item, const Where& where, std::set<std::string>& seen,
                         std::string_view context) {
  if (item.keys.size() != 1) {
    return where.at(item.line, "unknown block " + in_quotes(item.keys[0]) + std::string(context));
  }
  if (!seen.insert(item.keys[0]).second) {
    return where.at(item.line, in_quotes(item.keys[0]) + std::string(context) + " is set twice");
  }
  return engine::ok_status();
}

// "usa-hq", "/usa-hq/", "a/b/" -> "usa-hq", "a/b". Empty segments, "." and
// ".." are refused: a chroot must name one namespace, plainly.
engine::Result<std::string> namespace_path(const hcl::Item& item, const Where& where, std::string_view context) {
  COFFER_TRY(std::string v, string_value(item, where, context));
  while (!v.empty() && v.back() == '/') v.pop_back();
  while (!v.empty() && v.front() == '/') v.erase(v.begin());
  if (v.empty()) {
    return where.at(item.line, in_quotes(item.keys[0]) + std::string(context) +
                                   " must name a namespace (leave it out for the root)");
  }
  for (const std::string_view seg : engine::split_segments(v)) {
    if (seg.empty() || seg == "." || seg == ".." || seg.find_first_of(" \t\r\n") != std::string::npos) {
      return where.at(
          item.line, in_quotes(item.keys[0]) + std::string(context) + ": " + in_quotes(v) + " is not a namespace path");
    }
  }
  return v;
}

// A template's name is one file in the mount's root: not a path, not one
// of the file view's suffix characters, not a name the tree already has.
engine::Status check_template_name(const std::string& name, int line, const Where& where, std::string_view context) {
  const std::string what = "template " + in_quotes(name) + std::string(context);
  if (name.empty() || name == "." || name == "..") return where.at(line, what + ": not a file name");
  if (name.size() > 255) return where.at(line, what + ": the name is longer than 255 bytes");
  for (const char c : name) {
    if (c == '/' || c == '@' || c == '#' || c == '*' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return where.at(line, what + ": the name may not contain '/', '@', '#', '*' or control characters");
    }
  }
  if (name == "sys" || name == "auth" || name == "identity" || name == "cubbyhole") {
    return where.at(line, what + " would shadow the built-in " + in_quotes(name));
  }
  return engine::ok_status();
}

engine::Result<std::shared_ptr<const engine::ctmpl::Template>> parse_template_text(const std::string& text,
                                                                                   const std::string& name) {
  auto t = engine::ctmpl::Template::parse(name, text);
  if (!t.ok()) return std::move(t).error();
  return std::make_shared<const engine::ctmpl::Template>(std::move(t).value());
}

engine::Result<TemplateConfig> parse_template(const Block& block, const Where& where, std::string_view mount_context,
                                              mode_t default_mode) {
  TemplateConfig t;
  t.name = block.label;
  t.line = block.line;
  COFFER_TRY_STATUS(check_template_name(t.name, t.line, where, mount_context));
  const std::string context = " in template " + in_quotes(t.name) + std::string(mount_context);
  std::set<std::string> seen;
  bool has_contents = false;
  t.perms = default_mode;
  for (const hcl::Item& item : block.body->items) {
    COFFER_TRY_STATUS(plain_key(item, where, seen, context));
    const std::string& key = item.keys[0];
    if (key == "source") {
      COFFER_TRY(t.source, string_value(item, where, context));
      if (t.source.empty() || t.source.front() != '/') {
        return where.at(item.line, "\"source\"" + context + " must be an absolute path");
      }
    } else if (key == "contents") {
      COFFER_TRY(t.contents, string_value(item, where, context));
      has_contents = true;
    } else if (key == "perms") {
      if (item.value.kind != hcl::Value::Kind::String) {
        return where.at(item.line, "\"perms\"" + context + " must be a string of octal digits, as in \"0400\"");
      }
      auto mode = parse_mode(item.value.text, false);
      if (!mode.ok()) return where.at(item.line, mode.error().message + context);
      t.perms = *mode;
    } else if (key == "error_on_missing_key") {
      COFFER_TRY(bool on, bool_value(item, where, context));
      if (!on) {
        return where.at(item.line, "\"error_on_missing_key\"" + context +
                                       " cannot be false: a missing key is always an error (no \"<no value>\")");
      }
    } else {
      return where.at(item.line, "unknown key " + in_quotes(key) + context +
                                     " (known: source, contents, perms, error_on_missing_key)");
    }
  }
  if (has_contents == !t.source.empty()) {
    return where.at(block.line, "template " + in_quotes(t.name) + std::string(mount_context) +
                                    " needs exactly one of source and contents");
  }
  if (has_contents) {
    // Syntax errors name the config file's line of the block plus the
    // template's own line: "coffer.hcl:12: template \"app.env\": app.env:3: ...".
    auto parsed = parse_template_text(t.contents, t.name);
    if (!parsed.ok()) {
      return where.at(block.line, "template " + in_quotes(t.name) + ": " + parsed.error().message);
    }
    t.parsed = std::move(parsed).value();
  }
  return t;
}

engine::Result<MountConfig> parse_mount(const Block& block, const Where& where) {
  MountConfig m;
  m.line = block.line;
  m.mountpoint = block.label;
  if (m.mountpoint.empty() || m.mountpoint.front() != '/') {
    return where.at(block.line,
                    "mount " + in_quotes(block.label) + ": the label must be an absolute path (the mountpoint)");
  }
  while (m.mountpoint.size() > 1 && m.mountpoint.back() == '/') m.mountpoint.pop_back();
  const std::string context = " in mount " + in_quotes(m.mountpoint);
  std::set<std::string> seen;
  bool cache_set = false;
  std::vector<Block> template_blocks;
  for (const hcl::Item& item : block.body->items) {
    if (!item.keys.empty() && item.keys[0] == "template") {
      COFFER_TRY(std::vector<Block> blocks,
                 labelled_blocks(item, where, "template \"app.env\" { source = \"/etc/app/app.env.ctmpl\" }"));
      template_blocks.insert(template_blocks.end(), blocks.begin(), blocks.end());
      continue;
    }
    COFFER_TRY_STATUS(plain_key(item, where, seen, context));
    const std::string& key = item.keys[0];
    if (key == "chroot_namespace") {
      COFFER_TRY(m.chroot_namespace, namespace_path(item, where, context));
    } else if (key == "token_file") {
      COFFER_TRY(m.token_file, string_value(item, where, context));
      if (m.token_file.empty()) return where.at(item.line, "\"token_file\"" + context + " is empty");
    } else if (key == "allow_other") {
      COFFER_TRY(m.allow_other, bool_value(item, where, context));
    } else if (key == "cache") {
      COFFER_TRY(m.cache, bool_value(item, where, context));
      cache_set = m.cache;
    } else if (key == "inotify") {
      COFFER_TRY(m.inotify, bool_value(item, where, context));
    } else if (key == "read_only") {
      COFFER_TRY(m.read_only, bool_value(item, where, context));
    } else if (key == "peer_login") {
      COFFER_TRY(auto v, string_value(item, where, context));
      auto path = peer_login_path(v);
      if (!path.ok()) return where.at(item.line, "\"peer_login\"" + context + ": " + path.error().message);
      m.peer_login = std::move(path).value();
    } else if (key == "uid" || key == "gid") {
      std::string text;
      if (item.value.kind == hcl::Value::Kind::Int) {
        text = std::to_string(item.value.int_value);
      } else {
        COFFER_TRY(text, string_value(item, where, context));
      }
      auto id = parse_id(text, key);
      if (!id.ok()) return where.at(item.line, id.error().message + context);
      (key == "uid" ? m.uid : m.gid) = *id;
    } else if (key == "file_mode" || key == "dir_mode") {
      // A string, as Vault Agent's perms = "0640": an HCL number 0640 would
      // be read as decimal.
      if (item.value.kind != hcl::Value::Kind::String) {
        return where.at(item.line, in_quotes(key) + context + " must be a string of octal digits, as in \"0640\"");
      }
      auto mode = parse_mode(item.value.text, key == "dir_mode");
      if (!mode.ok()) return where.at(item.line, mode.error().message + context);
      (key == "dir_mode" ? m.dir_mode : m.file_mode) = *mode;
    } else {
      return where.at(item.line,
                      "unknown key " + in_quotes(key) + context +
                          " (known: chroot_namespace, token_file, allow_other, cache, read_only, inotify, peer_login, "
                          "uid, gid, file_mode, dir_mode, template)");
    }
  }
  // After the keys, so a template's default perms are the mount's file_mode.
  std::map<std::string, int> template_lines;
  for (const Block& b : template_blocks) {
    COFFER_TRY(TemplateConfig t, parse_template(b, where, context, m.file_mode));
    auto [it, fresh] = template_lines.emplace(t.name, t.line);
    if (!fresh) {
      return where.at(t.line, "template " + in_quotes(t.name) + context + " is declared twice (also on line " +
                                  std::to_string(it->second) + ")");
    }
    m.templates.push_back(std::move(t));
  }
  if (m.read_only && m.inotify) {
    return where.at(block.line, "mount " + in_quotes(m.mountpoint) +
                                    ": read_only = true and inotify = true exclude each other (inotify replays "
                                    "changes by writing through the mount)");
  }
  if (cache_set && m.token_file.empty()) {
    return where.at(block.line, "mount " + in_quotes(m.mountpoint) +
                                    ": cache = true needs token_file (a mount shared by several "
                                    "callers caches nothing)");
  }
  return m;
}

engine::Status parse_storage(const Block& block, const Where& where, Config& c) {
  // Vault's stanza names and keys: sqlite's path, postgresql's connection_url.
  const bool pg = block.label == "postgresql";
  if (block.label != "sqlite" && !pg) {
    return where.at(block.line,
                    "storage " + in_quotes(block.label) + " is not supported (only \"sqlite\" and \"postgresql\")");
  }
  const std::string context = " in storage " + in_quotes(block.label);
  const std::string place = pg ? "connection_url" : "path";
  std::set<std::string> seen;
  for (const hcl::Item& item : block.body->items) {
    COFFER_TRY_STATUS(plain_key(item, where, seen, context));
    const std::string& key = item.keys[0];
    if (key == "init") {
      COFFER_TRY(c.storage_init, bool_value(item, where, context));
      continue;
    }
    if (pg && key == "table") {
      COFFER_TRY(c.storage_table, string_value(item, where, context));
      continue;
    }
    if (key != place) {
      return where.at(item.line, "unknown key " + in_quotes(key) + context + " (known: " + place +
                                     (pg ? ", table, init)" : ", init)"));
    }
    COFFER_TRY(c.storage_path, string_value(item, where, context));
    if (c.storage_path.empty()) return where.at(item.line, in_quotes(place) + context + " is empty");
  }
  if (c.storage_path.empty()) {
    return where.at(block.line, pg ? "storage \"postgresql\" needs connection_url = \"postgres://...\""
                                   : "storage \"sqlite\" needs path = \"FILE\"");
  }
  if (pg && !is_postgres_url(c.storage_path)) {
    return where.at(block.line,
                    "connection_url in storage \"postgresql\" must start with postgres:// or postgresql://");
  }
  if (!pg && is_postgres_url(c.storage_path)) {
    return where.at(block.line, "storage \"sqlite\" was given a PostgreSQL URL; use storage \"postgresql\"");
  }
  return engine::ok_status();
}

// seal "file" { path = "..." }. Vault's seal stanza names a KMS (transit,
// awskms, ...); Coffer's one kind is a file of unseal shares.
engine::Status parse_seal(const Block& block, const Where& where, Config& c) {
  if (block.label != "file") {
    return where.at(block.line, "seal " + in_quotes(block.label) + " is not supported (only \"file\")");
  }
  const std::string context = " in seal \"file\"";
  std::set<std::string> seen;
  for (const hcl::Item& item : block.body->items) {
    COFFER_TRY_STATUS(plain_key(item, where, seen, context));
    if (item.keys[0] != "path") {
      return where.at(item.line, "unknown key " + in_quotes(item.keys[0]) + context + " (known: path)");
    }
    COFFER_TRY(c.seal_file, string_value(item, where, context));
    if (c.seal_file.empty()) return where.at(item.line, "\"path\"" + context + " is empty");
  }
  if (c.seal_file.empty()) {
    return where.at(block.line, "seal \"file\" needs path = \"FILE\" (relative: under $CREDENTIALS_DIRECTORY)");
  }
  return engine::ok_status();
}

// One user_lockout stanza's values, as given (nullopt: not set).
struct LockoutStanza {
  int line = 0;
  std::optional<std::int64_t> threshold, duration, counter_reset;
  std::optional<bool> disable;
};

engine::Result<std::int64_t> lockout_number(const hcl::Item& item, const Where& where, const std::string& context,
                                            bool duration) {
  std::int64_t v = 0;
  if (item.value.kind == hcl::Value::Kind::Int) {
    v = item.value.int_value;
  } else if (item.value.kind == hcl::Value::Kind::String) {
    const std::string& t = item.value.text;
    const bool digits = !t.empty() && t.size() < 18 && t.find_first_not_of("0123456789") == std::string::npos;
    auto parsed = duration ? engine::parse_duration_seconds(t)
                  : digits ? engine::parse_count(t, "number")
                           : engine::Result<std::int64_t>(engine::Error::invalid("not a number"));
    if (!parsed.ok()) {
      return where.at(item.line, in_quotes(item.keys[0]) + context + ": " + in_quotes(item.value.text) +
                                     (duration ? " is not a duration" : " is not a number"));
    }
    v = *parsed;
  } else {
    return where.at(item.line, in_quotes(item.keys[0]) + context + " must be a number or a string");
  }
  if (v < 0) return where.at(item.line, in_quotes(item.keys[0]) + context + " cannot be negative");
  return v;
}

engine::Result<LockoutStanza> parse_lockout(const Block& block, const Where& where) {
  if (block.label != "all" && block.label != "userpass" && block.label != "approle" && block.label != "ldap") {
    return where.at(block.line,
                    "user_lockout " + in_quotes(block.label) + ": the label must be all, userpass, approle or ldap");
  }
  const std::string context = " in user_lockout " + in_quotes(block.label);
  LockoutStanza l;
  l.line = block.line;
  std::set<std::string> seen;
  for (const hcl::Item& item : block.body->items) {
    COFFER_TRY_STATUS(plain_key(item, where, seen, context));
    const std::string& key = item.keys[0];
    if (key == "lockout_threshold") {
      COFFER_TRY(l.threshold, lockout_number(item, where, context, false));
    } else if (key == "lockout_duration") {
      COFFER_TRY(l.duration, lockout_number(item, where, context, true));
    } else if (key == "lockout_counter_reset") {
      COFFER_TRY(l.counter_reset, lockout_number(item, where, context, true));
    } else if (key == "disable_lockout") {
      COFFER_TRY(l.disable, bool_value(item, where, context));
    } else {
      return where.at(item.line, "unknown key " + in_quotes(key) + context +
                                     " (known: lockout_threshold, lockout_duration, lockout_counter_reset, "
                                     "disable_lockout)");
    }
  }
  return l;
}

// Vault's setMissingUserLockoutValuesInMap: "all" over the defaults, each
// type over "all".
std::map<std::string, UserLockout> complete_lockouts(const std::map<std::string, LockoutStanza>& given) {
  auto over = [](UserLockout base, const LockoutStanza& s) {
    if (s.threshold && *s.threshold > 0) base.threshold = *s.threshold;
    if (s.duration && *s.duration > 0) base.duration = *s.duration;
    if (s.counter_reset && *s.counter_reset > 0) base.counter_reset = *s.counter_reset;
    if (s.disable) base.disable = *s.disable;
    return base;
  };
  std::map<std::string, UserLockout> out;
  UserLockout all;
  if (auto it = given.find("all"); it != given.end()) all = over(all, it->second);
  if (!given.empty()) out["all"] = all;
  for (const auto& [type, stanza] : given) {
    if (type != "all") out[type] = over(all, stanza);
  }
  return out;
}

}  // namespace

engine::Result<Config> parse_config(std::string_view text, std::string_view file) {
  const Where where{file};
  auto doc = hcl::parse(text);
  if (!doc.ok()) {
    // The parser says "At LINE:COL: what"; make it "FILE:LINE:COL: what".
    std::string message = doc.error().message;
    if (message.rfind("At ", 0) == 0) message.erase(0, 3);
    return engine::Error::invalid(std::string(file) + ":" + message);
  }

  Config c;
  c.file = std::string(file);
  std::set<std::string> seen;
  int storage_line = 0;
  int seal_line = 0;
  std::map<std::string, int> mount_lines;
  std::map<std::string, LockoutStanza> lockouts;
  for (const hcl::Item& item : doc->items) {
    const std::string& key = item.keys[0];
    if (key == "storage") {
      COFFER_TRY(std::vector<Block> blocks, labelled_blocks(item, where, "storage \"sqlite\" { path = \"...\" }"));
      for (const Block& b : blocks) {
        if (storage_line != 0) {
          return where.at(b.line, "a second storage block (the first is on line " + std::to_string(storage_line) + ")");
        }
        storage_line = b.line;
        COFFER_TRY_STATUS(parse_storage(b, where, c));
      }
    } else if (key == "seal") {
      COFFER_TRY(std::vector<Block> blocks, labelled_blocks(item, where, "seal \"file\" { path = \"...\" }"));
      for (const Block& b : blocks) {
        if (seal_line != 0) {
          return where.at(b.line, "a second seal block (the first is on line " + std::to_string(seal_line) + ")");
        }
        seal_line = b.line;
        COFFER_TRY_STATUS(parse_seal(b, where, c));
      }
    } else if (key == "mount") {
      COFFER_TRY(std::vector<Block> blocks, labelled_blocks(item, where, "mount \"/run/coffer\" { ... }"));
      for (const Block& b : blocks) {
        COFFER_TRY(MountConfig m, parse_mount(b, where));
        auto [it, fresh] = mount_lines.emplace(m.mountpoint, m.line);
        if (!fresh) {
          return where.at(m.line, "mount " + in_quotes(m.mountpoint) + " is declared twice (also on line " +
                                      std::to_string(it->second) + ")");
        }
        c.mounts.push_back(std::move(m));
      }
    } else if (key == "user_lockout") {
      COFFER_TRY(std::vector<Block> blocks,
                 labelled_blocks(item, where, "user_lockout \"all\" { lockout_threshold = 5 }"));
      for (const Block& b : blocks) {
        COFFER_TRY(LockoutStanza l, parse_lockout(b, where));
        auto [it, fresh] = lockouts.emplace(b.label, l);
        if (!fresh) {
          return where.at(b.line, "user_lockout " + in_quotes(b.label) + " is declared twice (also on line " +
                                      std::to_string(it->second.line) + ")");
        }
      }
    } else if (key == "administrative_namespace_path" || key == "log_level" || key == "disable_mlock") {
      COFFER_TRY_STATUS(plain_key(item, where, seen, ""));
      if (key == "administrative_namespace_path") {
        COFFER_TRY(std::string ns, namespace_path(item, where, ""));
        c.administrative_namespace_path = ns + "/";
      } else if (key == "log_level") {
        COFFER_TRY(std::string level, string_value(item, where, ""));
        auto parsed = fsd::parse_log_level(level);
        if (!parsed) {
          return where.at(item.line, "\"log_level\" must be error, warn, info or debug, not " + in_quotes(level));
        }
        c.log_level = *parsed;
      } else {
        COFFER_TRY(c.disable_mlock, bool_value(item, where, ""));
      }
    } else {
      return where.at(item.line, "unknown key " + in_quotes(key) +
                                     " (known: storage, seal, mount, administrative_namespace_path, "
                                     "user_lockout, log_level, disable_mlock)");
    }
  }
  c.user_lockout = complete_lockouts(lockouts);
  if (storage_line == 0) {
    return engine::Error::invalid(std::string(file) + ": no storage block (storage \"sqlite\" { path = \"...\" })");
  }
  if (c.mounts.empty()) {
    return engine::Error::invalid(std::string(file) + ": no mount block (mount \"/run/coffer\" { })");
  }
  return c;
}

engine::Status load_template_sources(Config& config) {
  const Where where{config.file};
  for (MountConfig& m : config.mounts) {
    for (TemplateConfig& t : m.templates) {
      if (t.source.empty()) continue;
      const std::string what = "template " + in_quotes(t.name) + " in mount " + in_quotes(m.mountpoint);
      std::ifstream in(t.source, std::ios::binary);
      if (!in) return where.at(t.line, what + ": cannot read the source " + t.source);
      std::string text;
      char buf[4096];
      while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > engine::ctmpl::Limits{}.max_template) {
          return where.at(t.line, what + ": the source " + t.source + " is over 64 KiB");
        }
      }
      if (in.bad()) return where.at(t.line, what + ": cannot read the source " + t.source);
      auto parsed = parse_template_text(text, t.source);
      if (!parsed.ok()) return std::move(parsed).error();  // "SOURCE:LINE: ..."
      t.contents = std::move(text);
      t.parsed = std::move(parsed).value();
    }
  }
  return engine::ok_status();
}

engine::Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return engine::Error::invalid("cannot read the config file " + path);
  std::string text;
  text.reserve(4096);
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return engine::Error::invalid("config file " + path + " is over 1 MiB");
    }
  }
  if (in.bad()) return engine::Error::invalid("cannot read the config file " + path);
  COFFER_TRY(Config c, parse_config(text, path));
  COFFER_TRY_STATUS(load_template_sources(c));
  return c;
}

}  // namespace mountd
