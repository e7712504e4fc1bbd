// SPDX-License-Identifier: MPL-2.0
#include "mountd/seal_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/common/base64.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/seal/seal.hpp"
#include "mountd/config.hpp"
#include "mountd/options.hpp"

namespace mountd {

namespace {

constexpr std::size_t kMaxShares = 255;  // Vault's (and Shamir's over GF(2^8)) limit

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Hex or base64 (what sys/unseal takes), without knowing the length yet.
bool share_syntax(std::string_view s) {
  if (s.empty()) return false;
  if (engine::crypto::from_hex(s).ok()) return true;
  return engine::from_base64(s).ok();
}

engine::Status add_share(std::vector<engine::SecureString>& out, std::string_view text, const std::string& where) {
  if (!share_syntax(text)) return engine::Error::invalid(where + " is not a hex or base64 unseal key share");
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (engine::crypto::equal_constant_time(engine::as_view(out[i]), text)) {
      return engine::Error::invalid(where + " repeats an earlier share (share " + std::to_string(i + 1) + ")");
    }
  }
  if (out.size() == kMaxShares) return engine::Error::invalid("more than 255 shares");
  out.push_back(engine::to_secure(text));
  return engine::ok_status();
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

engine::Result<std::string> seal_file_path(std::string_view path, const char* credentials_dir) {
  if (path.empty()) return engine::Error::invalid("the key file's path is empty");
  if (path.front() == '/') return std::string(path);
  for (std::size_t pos = 0; pos <= path.size();) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(pos, end - pos) == "..") {
      return engine::Error::invalid("the key file's relative path " + std::string(path) + " climbs out with \"..\"");
    }
    pos = end + 1;
  }
  if (credentials_dir == nullptr || *credentials_dir == '\0') {
    return engine::Error::invalid("the key file's path " + std::string(path) +
                                  " is relative, which means under $CREDENTIALS_DIRECTORY (systemd "
                                  "LoadCredential=/LoadCredentialEncrypted=), and that is not set");
  }
  if (*credentials_dir != '/') {
    return engine::Error::invalid("$CREDENTIALS_DIRECTORY is not an absolute path");
  }
  std::string dir(credentials_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/" + std::string(path);
}

engine::Result<std::vector<engine::SecureString>> parse_seal_shares(std::string_view text) {
  std::vector<engine::SecureString> out;
  const std::string_view body = trim(text);
  if (body.starts_with("{")) {
    // sys/init's answer, as saved: {"keys": [...], "keys_base64": [...], ...}.
    const engine::Json doc = engine::Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return engine::Error::invalid("the key file starts with '{' but is not a JSON object");
    const char* field = doc.contains("keys") ? "keys" : doc.contains("keys_base64") ? "keys_base64" : nullptr;
    if (field == nullptr || !doc[field].is_array()) {
      return engine::Error::invalid("the key file's JSON has no \"keys\" (or \"keys_base64\") array");
    }
    const auto& keys = doc[field];
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
      if (!keys[i].is_string()) return engine::Error::invalid(where + " is not a string");
      COFFER_TRY_STATUS(add_share(out, trim(engine::as_view(keys[i].get_ref<const engine::SecureString&>())), where));
    }
  } else {
    std::size_t line = 0;
    for (std::size_t pos = 0; pos < text.size();) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      ++line;
      const std::string_view share = trim(text.substr(pos, end - pos));
      pos = end + 1;
      if (share.empty() || share.front() == '#') continue;
      COFFER_TRY_STATUS(add_share(out, share, "line " + std::to_string(line)));
    }
  }
  if (out.empty()) return engine::Error::invalid("the key file holds no share");
  return out;
}

engine::Result<std::vector<engine::SecureString>> read_seal_file(const std::string& path) {
  const std::string what = "key file " + path;
  // O_NONBLOCK: a FIFO put there does not hang the start (it is refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP) return engine::Error::invalid(what + " is a symbolic link (not followed)");
    return engine::Error::invalid("cannot open the " + what + ": " + errno_text(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return engine::Error::invalid("cannot stat the " + what + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return engine::Error::invalid(what + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return engine::Error::invalid(what + " is owned by uid " + std::to_string(st.st_uid) + ", not by cofferd's (" +
                                  std::to_string(::geteuid()) + "): chown it");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return engine::Error::invalid(what + " has mode " + mode +
                                  ": group or others may use it; chmod 0600 (or 0400) it, and treat the "
                                  "shares as exposed");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxSealFileBytes) {
    return engine::Error::invalid(what + " is over 64 KiB");
  }
  engine::SecureString text;
  text.reserve(static_cast<std::size_t>(st.st_size) + 1);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      engine::secure_zero(buf, sizeof buf);
      return engine::Error::invalid("cannot read the " + what + ": " + errno_text(errno));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxSealFileBytes) {
      engine::secure_zero(buf, sizeof buf);
      return engine::Error::invalid(what + " is over 64 KiB");
    }
  }
  engine::secure_zero(buf, sizeof buf);
  auto shares = parse_seal_shares(engine::as_view(text));
  if (!shares.ok()) return engine::Error::invalid(what + ": " + shares.error().message);
  return shares;
}

engine::Status write_seal_file(const std::string& path, std::span<const engine::SecureString> shares) {
  engine::SecureString text;
  for (const auto& s : shares) {
    text += s;
    text += '\n';
  }
  std::string tmpl = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());  // mode 0600
  if (fd < 0) return engine::Error::storage("cannot create a file next to " + path + ": " + errno_text(errno));
  auto fail = [&](const std::string& why) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return engine::Error::storage(why + " " + path + ": " + errno_text(e));
  };
  if (::fchmod(fd, 0600) != 0) return fail("cannot chmod");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    return engine::Error::storage("cannot write " + path + ": " + errno_text(e));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    return engine::Error::storage("cannot rename the new file to " + path + ": " + errno_text(e));
  }
  // The rename itself is durable once the directory is synced.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return engine::ok_status();
}

engine::Result<std::vector<engine::SecureString>> load_seal_file(const std::string& path, engine::Storage& physical) {
  COFFER_TRY(auto shares, read_seal_file(path));
  if (auto st = engine::check_unseal_shares(physical, shares); !st.ok()) {
    engine::Error e = std::move(st).error();
    e.message = "key file " + path + ": " + e.message;
    return e;
  }
  return shares;
}

engine::Result<UnsealFileArgs> parse_unseal_file_args(const std::vector<std::string>& args) {
  std::string config, storage;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string* target = nullptr;
    std::string value;
    for (const char* name : {"--config", "--storage"}) {
      const std::string n(name);
      if (a == n || a.rfind(n + "=", 0) == 0) {
        target = n == "--config" ? &config : &storage;
        if (a == n) {
          if (i + 1 >= args.size() || args[i + 1].empty()) return engine::Error::invalid(n + " needs a value");
          value = args[++i];
        } else {
          value = a.substr(n.size() + 1);
        }
        if (value.empty()) return engine::Error::invalid(n + " needs a value");
      }
    }
    if (target != nullptr) {
      if (!target->empty()) return engine::Error::invalid("unseal-file: an option is given twice");
      *target = value;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return engine::Error::invalid("unseal-file: unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (config.empty() == storage.empty()) {
    return engine::Error::invalid("unseal-file needs one of --config FILE or --storage FILE|postgres://...");
  }
  if (positional.size() != 1 || positional[0].empty()) {
    return engine::Error::invalid("unseal-file needs one output file: cofferd unseal-file --config F OUT");
  }
  UnsealFileArgs out;
  out.out = positional[0];
  if (!storage.empty()) {
    COFFER_TRY(out.store, parse_store_location(storage, "--storage"));
    return out;
  }
  COFFER_TRY(Config c, load_config(config));
  out.store.postgres = is_postgres_url(c.storage_path);
  out.store.path = c.storage_path;
  if (!c.storage_table.empty()) out.store.table = c.storage_table;
  return out;
}

int run_unseal_file(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  auto parsed = parse_unseal_file_args(args);
  if (!parsed.ok()) {
    err << "cofferd: " << parsed.error().message << "\n";
    return 2;
  }
  // The shares, from stdin (typed, or the saved sys/init answer).
  engine::SecureString text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxSealFileBytes) break;
  }
  engine::secure_zero(buf, sizeof buf);
  if (text.size() > kMaxSealFileBytes) {
    err << "cofferd: unseal-file: more than 64 KiB on stdin\n";
    return 1;
  }
  auto shares = parse_seal_shares(engine::as_view(text));
  if (!shares.ok()) {
    err << "cofferd: unseal-file: stdin: " << shares.error().message << "\n";
    return 1;
  }
  auto store = open_store(parsed->store, /*create=*/false);
  if (!store.ok()) {
    err << "cofferd: unseal-file: cannot open the store " << describe(parsed->store) << ": " << store.error().message
        << (store.error().code == engine::ErrorCode::Locked ? " (stop that cofferd first: the shares are checked "
                                                              "against the store, which it holds)"
                                                            : "")
        << "\n";
    return 1;
  }
  if (auto st = engine::check_unseal_shares(**store, *shares); !st.ok()) {
    err << "cofferd: unseal-file: " << st.error().message << "; nothing written\n";
    return 1;
  }
  if (auto st = write_seal_file(parsed->out, *shares); !st.ok()) {
    err << "cofferd: unseal-file: " << st.error().message << "\n";
    return 1;
  }
  out << "cofferd: wrote " << shares->size() << " share(s) to " << parsed->out << " (mode 0600); they open the store "
      << describe(parsed->store) << "\n";
  return 0;
}

}  // namespace mountd
