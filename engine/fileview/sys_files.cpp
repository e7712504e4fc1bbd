// SPDX-License-Identifier: MPL-2.0
// A namespace's sys/: fixed directories (mounts, auth, policies...), mount
// tables whose paths nest, policy files that are the policy text itself,
// write-only control files, and any other endpoint as the JSON it reads.
#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/fileview/events.hpp"
#include "engine/fileview/file_kind.hpp"

namespace engine::fileview {
namespace {

// Sys paths that are directories whatever the store holds.
bool is_static_sys_dir(std::string_view rel) {
  return rel.empty() || rel == "mounts" || rel == "auth" || rel == "namespaces" || rel == "policies" ||
         rel == "policies/acl" || rel == "audit" || rel == "audit-hash" || rel == "config" || rel == "locked-users" ||
         rel == "rekey" || rel == "generate-root";
}

// sys/locked-users/ACCESSOR and .../ACCESSOR/unlock: folders of the mounts
// with locked users and their users; .../unlock/ALIAS: the file whose write
// unlocks ALIAS. The report itself (Vault's GET sys/locked-users) is
// sys/locked-users@data, the folder holding the name.
bool is_locked_users_dir(std::string_view rel) {
  if (!rel.starts_with("locked-users/") || rel.size() == 13) return false;
  std::string_view below = rel.substr(13);
  auto slash = below.find('/');
  return slash == std::string_view::npos || below.substr(slash + 1) == "unlock";
}
bool is_unlock_file(std::string_view rel) {
  if (!rel.starts_with("locked-users/")) return false;
  std::string_view below = rel.substr(13);
  auto slash = below.find('/');
  return slash != std::string_view::npos && slash > 0 && below.substr(slash + 1).starts_with("unlock/") &&
         below.size() > slash + 8 && below.find('/', slash + 8) == std::string_view::npos;
}

// sys/mounts/... and sys/auth/...: mount tables, whose paths may nest.
bool is_mount_table_path(std::string_view rel) { return rel.starts_with("mounts/") || rel.starts_with("auth/"); }

// sys/events/subscribe/TYPE: an event stream (engine/fileview/events.hpp),
// served by the fs while open; to the view an empty file.
bool is_events_file(std::string_view rel) {
  return rel.starts_with("events/subscribe/") && !is_events_dir(rel) && rel.back() != '/';
}

// The type folders' entries: Vault's event types, as stream files.
constexpr std::string_view kKvV1Types[] = {"write", "delete"};
constexpr std::string_view kKvV2Types[] = {"data-write",      "data-patch",  "data-delete",    "delete",
                                           "undelete",        "destroy",     "metadata-write", "metadata-patch",
                                           "metadata-delete", "config-write"};
constexpr std::string_view kCofferTypes[] = {"policy-write", "policy-delete", "namespace-write", "namespace-delete",
                                             "mount-write",  "mount-delete",  "identity-write",  "identity-delete",
                                             "token-create", "token-revoke",  "token-write",     "auth-write",
                                             "template-change"};

std::vector<DirEntry> events_listing(std::string_view rel) {
  std::vector<DirEntry> out;
  auto files = [&out](auto& names) {
    for (std::string_view n : names) out.push_back({std::string(n), NodeKind::File});
  };
  if (rel == "events") {
    out.push_back({"subscribe", NodeKind::Directory});
  } else if (rel == "events/subscribe") {
    for (const char* d : {"coffer", "kv-v1", "kv-v2"}) out.push_back({d, NodeKind::Directory});
  } else if (rel == "events/subscribe/kv-v1") {
    files(kKvV1Types);
  } else if (rel == "events/subscribe/kv-v2") {
    files(kKvV2Types);
  } else {
    files(kCofferTypes);
  }
  return out;
}

// sys/config/ holds settings files, not a listable API directory; so do
// sys/rekey/ and sys/generate-root/ (Vault's endpoints of the seal
// lifecycle, engine/core_seal.cpp).
constexpr std::string_view kSysConfigFiles[] = {"group-policy-application"};
constexpr std::string_view kRekeyFiles[] = {"init", "update"};
constexpr std::string_view kGenerateRootFiles[] = {"attempt", "update"};

}  // namespace

bool SysFiles::is_policy_file(std::string_view rel) {
  return rel.starts_with("policies/acl/") && rel.size() > 13 && rel.find('/', 13) == std::string_view::npos;
}

bool SysFiles::is_write_only(std::string_view rel) {
  return rel == "seal" || rel == "rotate" || rel == "capabilities" || rel == "capabilities-self" || rel == "capabilities-accessor" ||
         rel.starts_with("audit-hash/") || is_unlock_file(rel);
}

std::string SysFiles::api_rel(std::string_view rel) {
  if (rel == "locked-users@data") return "locked-users";
  if (is_mount_table_path(rel) && rel.ends_with("@tune")) {
    return std::string(rel.substr(0, rel.size() - 5)) + "/tune";
  }
  return std::string(rel);
}

Result<NodeInfo> SysFiles::stat(const Caller& caller, std::string_view path, const Located& at) {
  if ((at.rel == "rekey" || at.rel == "generate-root") && !at.ns_path.empty()) {
    return Error::not_found("no such file or directory");  // root namespace only
  }
  if (is_static_sys_dir(at.rel) || is_events_dir(at.rel)) return state_.dir();
  if (is_events_file(at.rel)) {
    COFFER_TRY_STATUS(may_open_events(state_.core(), caller, at.ns_path + "sys/" + at.rel));
    return state_.empty_file();
  }
  if (is_locked_users_dir(at.rel)) {
    COFFER_TRY_STATUS(to_status(state_.call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/")));
    return state_.dir();
  }
  auto content = read(caller, path, at);
  if (content.ok()) return NodeInfo{NodeKind::File, content->size(), state_.epoch()};
  if (content.error().code == ErrorCode::NotFound && is_mount_table_path(at.rel)) {
    auto listing = state_.call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/");
    if (listing.ok() && !listing->data["keys"].empty()) return state_.dir();
  }
  return std::move(content).error();
}

Result<SecureString> SysFiles::read(const Caller& caller, std::string_view, const Located& at) {
  if (is_static_sys_dir(at.rel) || is_events_dir(at.rel)) return is_directory();
  if (is_events_file(at.rel)) {  // the stream itself is the fs's (fs/monitor.hpp)
    COFFER_TRY_STATUS(may_open_events(state_.core(), caller, at.ns_path + "sys/" + at.rel));
    return SecureString{};
  }
  if (at.rel == "seal") return SecureString{};  // answers while sealed too
  if (is_write_only(at.rel)) {
    // Authorised, so stat tells nothing to the denied.
    COFFER_TRY_STATUS(state_.may_touch(caller, at.ns_path + "sys/" + at.rel));
    return SecureString{};
  }
  if (is_policy_file(at.rel)) {
    COFFER_TRY(auto resp, state_.call(caller, Operation::Read, at.ns_path + "sys/" + at.rel));
    return field_of(resp.data, "policy");
  }
  auto literal = state_.call(caller, Operation::Read, at.ns_path + "sys/" + api_rel(at.rel));
  if (literal.ok()) return render_pretty(literal->data);
  // NAME#KEY: one field of any JSON file.
  auto hash = at.rel.rfind('#');
  if (literal_wins(literal) || hash == std::string::npos || hash == 0) return std::move(literal).error();
  auto whole = state_.call(caller, Operation::Read, at.ns_path + "sys/" + api_rel(at.rel.substr(0, hash)));
  Result<SecureString> field = whole.ok() ? field_of(whole->data, std::string_view(at.rel).substr(hash + 1))
                                          : Result<SecureString>(whole.error());
  return suffix_answer(literal, std::move(field));
}

Result<SecureString> SysFiles::write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                                     SecureString*) {
  if (is_static_sys_dir(at.rel)) return is_directory();
  if (is_policy_file(at.rel)) {
    // The body is the policy itself (HCL, JSON or base64), not a request.
    COFFER_TRY(auto resp, state_.call(caller, Operation::Update, at.ns_path + "sys/" + at.rel,
                                      Json{{"policy", SecureString(body)}}));
    return reply_of(resp);
  }
  Json parsed;
  std::string_view trimmed = body;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.remove_suffix(1);
  if (at.rel == "unseal" && !trimmed.empty() && trimmed.find_first_of("={ \n") == std::string_view::npos) {
    // `echo SHARE > sys/unseal`: a bare share is the key.
    parsed = Json{{"key", SecureString(trimmed)}};
  } else if (trimmed.empty() && (at.rel == "seal" || at.rel == "init" || at.rel == "rotate" ||
                                 at.rel == "generate-root/attempt" || is_unlock_file(at.rel))) {
    parsed = Json::object();  // `: > sys/seal`, `echo > sys/init`, `echo > sys/rotate` or an unlock: no parameters
  } else {
    COFFER_TRY(parsed, parse_body(body));
  }
  Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
  COFFER_TRY(auto resp, state_.call(caller, op, at.ns_path + "sys/" + api_rel(at.rel), std::move(parsed)));
  return reply_of(resp);
}

Result<std::vector<DirEntry>> SysFiles::list(const Caller& caller, std::string_view, const Located& at) {
  if (is_events_dir(at.rel)) return tidy(events_listing(at.rel));
  if (!is_static_sys_dir(at.rel) && !is_mount_table_path(at.rel) && !is_locked_users_dir(at.rel)) {
    return not_directory();
  }
  auto files = [](auto& names) {
    std::vector<DirEntry> out;
    for (std::string_view f : names) out.push_back({std::string(f), NodeKind::File});
    return out;
  };
  if (at.rel == "config") return files(kSysConfigFiles);
  // Root namespace only, as the endpoints are (elsewhere: no such directory).
  if (at.rel == "rekey" || at.rel == "generate-root") {
    if (!at.ns_path.empty()) return Error::not_found("no such directory");
    return at.rel == "rekey" ? files(kRekeyFiles) : files(kGenerateRootFiles);
  }
  COFFER_TRY(auto resp, state_.call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/"));
  std::vector<DirEntry> out;
  for (const Json& key : resp.data["keys"]) {
    std::string name = key.get<std::string>();
    bool dir = !name.empty() && name.back() == '/';
    if (dir) name.pop_back();
    // sys/namespaces lists namespaces as files (their records).
    out.push_back({name, dir && at.rel != "namespaces" ? NodeKind::Directory : NodeKind::File});
  }
  if (out.empty() && !is_static_sys_dir(at.rel)) return Error::not_found("no such directory");
  return tidy(std::move(out));
}

Status SysFiles::remove(const Caller& caller, const Located& at) {
  if (is_static_sys_dir(at.rel)) return is_directory();
  return to_status(state_.call(caller, Operation::Delete, at.ns_path + "sys/" + api_rel(at.rel)));
}

}  // namespace engine::fileview
