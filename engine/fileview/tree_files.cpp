// SPDX-License-Identifier: MPL-2.0
// The root, namespace and mount-prefix directories (what the namespace
// snapshot shows), and paths that lead nowhere or into a sealed store.
#include "engine/core.hpp"
#include "engine/fileview/file_kind.hpp"

namespace engine::fileview {

Result<NodeInfo> TreeFiles::stat(const Caller&, std::string_view, const Located& at) {
  if (at.kind == Kind::Missing) return Error::not_found("no such file or directory");
  if (at.kind == Kind::Sealed) return Error::sealed();
  return state_.dir();
}

Result<SecureString> TreeFiles::read(const Caller&, std::string_view, const Located& at) {
  if (at.kind == Kind::Missing) return Error::not_found("no such file");
  if (at.kind == Kind::Sealed) return Error::sealed();
  return is_directory();
}

Result<SecureString> TreeFiles::write(const Caller&, const Located& at, std::string_view, WriteMode, SecureString*) {
  if (at.kind == Kind::Missing) return Error::not_found("no such file or directory");
  if (at.kind == Kind::Sealed) return Error::sealed();
  return is_directory();
}

Result<std::vector<DirEntry>> TreeFiles::list(const Caller& caller, std::string_view path, const Located& at) {
  if (at.kind == Kind::Missing) return Error::not_found("no such directory");
  if (at.kind == Kind::Sealed) return Error::sealed();
  // Only what the caller has some capability at or below (SPEC §4). A
  // sealed store shows its sys/ to everyone (seal-status, unseal).
  if (state_.core().sealed()) return tidy(at.entries);
  std::string dir = std::string(strip_slashes(path));
  if (!dir.empty()) dir.push_back('/');
  std::vector<DirEntry> shown;
  for (auto& e : tidy(at.entries)) {
    COFFER_TRY(bool visible, state_.core().may_see(caller.token, dir + e.name + "/"));
    if (visible) shown.push_back(std::move(e));
  }
  return shown;
}

Status TreeFiles::remove(const Caller&, const Located& at) {
  if (at.kind == Kind::Missing) return Error::not_found("no such file");
  if (at.kind == Kind::Sealed) return Error::sealed();
  return is_directory();
}

}  // namespace engine::fileview
