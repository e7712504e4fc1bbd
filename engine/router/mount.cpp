// SPDX-License-Identifier: MPL-2.0
#include "engine/router/mount.hpp"

#include "engine/backend/kv_v1.hpp"
#include "engine/backend/kv_v2.hpp"
#include "engine/common/names.hpp"
#include "engine/common/path.hpp"

namespace engine {

int MountEntry::kv_version() const {
  if (type != "kv") return 0;
  auto it = options.find("version");
  if (it == options.end() || it->second == "1" || it->second.empty()) return 1;
  if (it->second == "2") return 2;
  return 0;
}

std::string canonical_mount_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(path);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  return out;
}

Status check_path_size(std::string_view path, std::string_view what) {
  if (path.empty() || path == "/") return Error::invalid(std::string(what) + " must not be empty");
  if (path.size() > 1024) return Error::name_too_long(std::string(what) + " is too long");
  return {};
}

Status check_path_segments(std::string_view path, std::string_view what, std::string_view forbidden) {
  // "contains a control character, '@' or '#'" for forbidden "@#".
  std::string also;
  for (std::size_t i = 0; i < forbidden.size(); ++i) {
    also += (i + 1 == forbidden.size() ? " or '" : ", '") + std::string(1, forbidden[i]) + "'";
  }
  for (const std::string_view seg : split_segments(path.substr(0, path.size() - 1))) {
    if (seg.empty() || seg == "." || seg == "..") {
      return Error::invalid("invalid " + std::string(what) + " \"" + std::string(path) + "\"");
    }
    if (seg.size() > 255) return Error::name_too_long(std::string(what) + " segment longer than 255 bytes");
    for (unsigned char c : seg) {
      if (c < 0x20 || c == 0x7f || forbidden.find(static_cast<char>(c)) != std::string_view::npos) {
        return Error::invalid(std::string(what) + " \"" + std::string(path) + "\" contains a control character" + also);
      }
    }
    COFFER_TRY_STATUS(check_name_text(seg, what));
  }
  return {};
}

Status validate_mount_path(std::string_view path) {
  COFFER_TRY_STATUS(check_path_size(path, "mount path"));
  for (std::string_view reserved : {"sys/", "auth/", "identity/", "cubbyhole/"}) {
    if (path.starts_with(reserved)) {
      return Error::invalid("cannot mount under reserved path \"" + std::string(reserved) + "\"");
    }
  }
  return check_path_segments(path, "mount path");
}

Result<std::unique_ptr<Backend>> make_backend(const MountEntry& entry) {
  if (entry.type == "kv") {
    switch (entry.kv_version()) {
      case 1: return std::unique_ptr<Backend>(std::make_unique<KvV1Backend>());
      case 2: return std::unique_ptr<Backend>(std::make_unique<KvV2Backend>());
      default: return Error::invalid("kv version must be 1 or 2");
    }
  }
  // Built-ins and auth methods: the router's backend factory makes them.
  if (entry.builtin() || entry.is_auth()) return std::unique_ptr<Backend>{};
  return Error::invalid("unknown secrets engine type \"" + entry.type + "\" (supported: kv, kv-v2)");
}

}  // namespace engine
