// SPDX-License-Identifier: MPL-2.0
// auth/ of a namespace (the token store and the auth methods mounted there)
// and the token store's files: auth/token/lookup-self is read, the other
// files are write-with-reply control files, accessors/ is a directory.
#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/fileview/file_kind.hpp"

namespace engine::fileview {
namespace {

// auth/token/ files (below "token/").
constexpr std::string_view kTokenFiles[] = {"create",      "create-orphan",   "lookup",         "lookup-accessor",
                                            "lookup-self", "renew",           "renew-accessor", "renew-self",
                                            "revoke",      "revoke-accessor", "revoke-orphan",  "revoke-self"};
bool is_token_file(std::string_view name) {
  for (std::string_view f : kTokenFiles) {
    if (f == name) return true;
  }
  return false;
}

// Endpoints whose write needs no body: `: > revoke-self`, `echo > create`.
bool body_optional(std::string_view api_rel) {
  return api_rel == "token/create" || api_rel == "token/create-orphan" || api_rel == "token/renew-self" ||
         api_rel == "token/revoke-self" || api_rel == "token/lookup-self";
}

bool is_dir_rel(std::string_view rel) { return rel.empty() || rel == "token" || rel == "token/accessors"; }

}  // namespace

Result<NodeInfo> TokenFiles::stat(const Caller& caller, std::string_view path, const Located& at) {
  if (at.rel.empty() || at.rel == "token") return state_.dir();
  if (at.rel == "token/accessors") {
    COFFER_TRY(auto bits, state_.core().capabilities(caller.token, at.ns_path + "auth/token/accessors/"));
    if (!grants_something(bits)) return Error::denied();
    return state_.dir();
  }
  COFFER_TRY(auto content, read(caller, path, at));
  return NodeInfo{NodeKind::File, content.size(), state_.epoch()};
}

Result<SecureString> TokenFiles::read(const Caller& caller, std::string_view, const Located& at) {
  if (is_dir_rel(at.rel)) return is_directory();
  std::string_view name = at.rel.starts_with("token/") ? std::string_view(at.rel).substr(6) : std::string_view{};
  auto hash = name.find('#');
  std::string_view base = name.substr(0, hash);
  if (!is_token_file(base)) return Error::not_found("no such auth path");
  if (base == "lookup-self") {
    COFFER_TRY(auto resp, state_.call(caller, Operation::Read, at.ns_path + "auth/token/lookup-self"));
    if (hash != std::string_view::npos) return field_of(resp.data, name.substr(hash + 1));
    return render_pretty(resp.data);
  }
  if (hash != std::string_view::npos) return Error::not_found("a control file has no fields");
  COFFER_TRY_STATUS(state_.may_touch(caller, at.ns_path + "auth/token/" + std::string(base)));
  return SecureString{};
}

Result<SecureString> TokenFiles::write(const Caller& caller, const Located& at, std::string_view body, WriteMode,
                                       SecureString* issued) {
  if (!at.rel.starts_with("token/") || !is_token_file(std::string_view(at.rel).substr(6))) {
    if (is_dir_rel(at.rel)) return is_directory();
    return Error::not_found("no such auth path");
  }
  Json parsed = Json::object();
  if (!body_optional(at.rel) || body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    COFFER_TRY(parsed, parse_body(body));
  }
  COFFER_TRY(auto resp, state_.call(caller, Operation::Update, at.ns_path + "auth/" + at.rel, std::move(parsed)));
  if (issued != nullptr && resp.issued_token) *issued = *resp.issued_token;
  return reply_of(resp);
}

Result<std::vector<DirEntry>> TokenFiles::list(const Caller& caller, std::string_view path, const Located& at) {
  if (at.rel.empty()) {
    std::string dir = std::string(strip_slashes(path)) + "/";
    std::vector<DirEntry> shown;
    for (auto& e : tidy(at.entries)) {
      COFFER_TRY(bool visible, state_.core().may_see(caller.token, dir + e.name + "/"));
      if (visible || e.name == "token") shown.push_back(std::move(e));
    }
    return shown;
  }
  if (at.rel == "token") {
    std::vector<DirEntry> out{{"accessors", NodeKind::Directory}};
    for (std::string_view f : kTokenFiles) out.push_back({std::string(f), NodeKind::File});
    return tidy(std::move(out));
  }
  if (at.rel == "token/accessors") {
    COFFER_TRY(auto resp, state_.call(caller, Operation::List, at.ns_path + "auth/token/accessors/"));
    std::vector<DirEntry> out;
    for (const Json& key : resp.data["keys"]) out.push_back({key.get<std::string>(), NodeKind::File});
    return tidy(std::move(out));
  }
  if (at.rel.starts_with("token/") && is_token_file(std::string_view(at.rel).substr(6))) return not_directory();
  return Error::not_found("no such auth path");
}

Status TokenFiles::remove(const Caller&, const Located&) { return is_directory(); }

}  // namespace engine::fileview
