// SPDX-License-Identifier: MPL-2.0
// A consul-template template (engine/ctmpl) rendered as a caller: each
// `secret PATH` is an ordinary Read through Core::handle with the caller's
// token (ACL-checked and audited like a `cat`), each `secrets PATH` a List.
// The whole render spends at most one use of a use-limited token.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/core.hpp"
#include "engine/ctmpl/ctmpl.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/router/namespace_snapshot.hpp"

namespace engine {

struct TemplateRender {
  std::string bytes;
  std::vector<std::string> dependencies;  // API paths read, in order ("secret/data/app")
  std::optional<TimePoint> modified;      // the newest dependency's time, when they have one
};

// The path consul-template's `secret` reads for `path` (relative to
// ns_prefix): on a KV v2 mount, "kv/app" is read as "kv/data/app" and "kv"
// as "kv/data"; a path with data/ or metadata/ right after the mount, and any
// path on another mount, is left as written.
std::string kv2_read_path(const NamespaceSnapshot& tree, std::string_view ns_prefix, const std::string& path);

// Renders `t` as `caller` in the namespace `ns_prefix` ("" for the caller's
// root, or "team/"): template paths are Vault API paths relative to it, a
// KV v2 secret as Vault Agent takes it ("secret/app" or "secret/data/app",
// see kv2_read_path); dependencies hold the paths actually read. The result of
// `secret` is Vault Agent's envelope: {"Data": <the response's data>, so
// .Data.data.KEY and .Data.metadata for KV v2; "Warnings", "LeaseID",
// "LeaseDuration", "Renewable", "RequestID"}. Errors, never partial bytes:
// PermissionDenied (a dependency denied), NotFound (a secret missing),
// Corrupt (a missing key or other execution error), TooLarge (limits), or
// the core's own.
Result<TemplateRender> render_template(Core& core, const Caller& caller, std::string_view ns_prefix,
                                       const ctmpl::Template& t);

}  // namespace engine
