// SPDX-License-Identifier: MPL-2.0
// Any other mount (identity/, auth methods other than auth/token/), shown
// generically: files are what Read answers, directories what List answers,
// NAME@VIEW the sub-endpoint NAME/VIEW, NAME#KEY one field; and the auth
// methods' login files, open to everyone.
#include "engine/auth/auth_method.hpp"
#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/fileview/file_kind.hpp"

namespace engine::fileview {
namespace {

// NAME@data on an API mount: a collection's create endpoint (view_path).
bool is_collection_endpoint(const Located& at) {
  auto suffix = parse_suffix(split_last(at.rel).second);
  return suffix && suffix->has_view && suffix->view == "data";
}

// The directory that holds a method's login files (userpass's "login").
bool is_login_dir(const Located& at) {
  return at.mount_path.starts_with("auth/") && !at.rel.empty() && !auth::is_login_path(at.mount_type, at.rel) &&
         auth::is_login_path(at.mount_type, at.rel + "/x");
}

bool absent_or_unsupported(ErrorCode code) { return code == ErrorCode::NotFound || code == ErrorCode::Unsupported; }

}  // namespace

// Auth method paths anyone may write without a token: logins ("login" for
// AppRole, "login/NAME" for userpass, as each method says).
bool ApiFiles::is_login_file(const Located& at) {
  return at.mount_path.starts_with("auth/") && auth::is_login_path(at.mount_type, at.rel);
}

// NAME@data is the endpoint NAME itself where NAME is also a directory
// (Vault's create-by-POST collections: identity/group-alias,
// identity/entity...), as a KV secret that shares its name with a folder is
// NAME@data.
std::string ApiFiles::view_path(std::string prefix, const Suffixed& s) {
  std::string out = std::move(prefix) + s.name;
  if (s.has_view && s.view != "data") out += "/" + s.view;
  return out;
}

Result<ApiFiles::Target> ApiFiles::target_of(const Caller& caller, const Located& at, bool fields) const {
  Target out;
  out.path = at.ns_path + at.mount_path + at.rel;
  auto [dir, last] = split_last(at.rel);
  auto suffix = parse_suffix(last);
  if (!suffix) return out;
  out.literal = state_.call(caller, Operation::Read, out.path);
  if (literal_wins(*out.literal)) return out;
  if (suffix->has_field) {
    if (!fields) return Error::unsupported("a field is read-only");
    out.field = suffix->field;
  }
  out.literal_won = false;
  out.path = view_path(at.ns_path + at.mount_path + std::string(dir), *suffix);
  return out;
}

Result<SecureString> ApiFiles::read_target(const Caller& caller, const Located& at, Target& target) const {
  // The literal's own answer when it won: asked once.
  auto resp = target.literal && target.literal_won ? std::move(*target.literal)
                                                   : state_.call(caller, Operation::Read, target.path);
  if (!resp.ok()) {
    const ErrorCode code = resp.error().code;
    if (is_collection_endpoint(at) && target.field.empty() && absent_or_unsupported(code)) {
      return SecureString{};  // a create endpoint: written, its reply read from the same handle
    }
    if (absent_or_unsupported(code)) {
      auto listing = state_.call(caller, Operation::List, target.path + "/");
      if (listing.ok()) return is_directory();
    }
    // An endpoint that only takes writes reads as empty (its reply is read
    // from the handle that wrote).
    if (code == ErrorCode::Unsupported && target.field.empty()) return SecureString{};
    if (!target.literal_won && target.literal)
      return suffix_answer(*target.literal, Result<SecureString>(resp.error()));
    return std::move(resp).error();
  }
  if (!target.field.empty()) {
    auto field = field_of(resp->data, target.field);
    if (!target.literal_won && target.literal) return suffix_answer(*target.literal, std::move(field));
    return field;
  }
  return render_pretty(resp->data);
}

Result<NodeInfo> ApiFiles::stat(const Caller& caller, std::string_view, const Located& at) {
  if (at.rel.empty()) return state_.dir();
  // A login endpoint is there for everyone, token or not.
  if (is_login_file(at)) return NodeInfo{NodeKind::File, 0, state_.epoch(), /*login=*/true};
  if (is_login_dir(at)) return state_.dir();
  COFFER_TRY(Target target, target_of(caller, at, /*fields=*/true));
  auto content = read_target(caller, at, target);
  if (content.ok()) return NodeInfo{NodeKind::File, content->size(), state_.epoch()};
  // read_target listed an absent name already: what List answers is a
  // directory (IsDirectory), anything else is not one.
  const ErrorCode code = content.error().code;
  if (code == ErrorCode::IsDirectory) return state_.dir();
  // Endpoints that only take writes (role/r@secret-id) are empty files.
  if (code == ErrorCode::Unsupported) return state_.empty_file();
  return std::move(content).error();
}

Result<SecureString> ApiFiles::read(const Caller& caller, std::string_view, const Located& at) {
  if (at.rel.empty()) return is_directory();
  if (is_login_file(at)) return SecureString{};
  if (is_login_dir(at)) return is_directory();
  COFFER_TRY(Target target, target_of(caller, at, /*fields=*/true));
  return read_target(caller, at, target);
}

Result<SecureString> ApiFiles::write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                                     SecureString* issued) {
  Json parsed = Json::object();
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    COFFER_TRY(parsed, parse_body(body));
  }
  if (at.rel.empty()) return is_directory();
  std::string api;
  if (is_login_file(at)) {
    api = at.ns_path + at.mount_path + at.rel;  // no lookups on the way: the caller may have no token
  } else {
    COFFER_TRY(Target target, target_of(caller, at, /*fields=*/false));
    api = std::move(target.path);
  }
  Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
  COFFER_TRY(auto resp, state_.call(caller, op, std::move(api), std::move(parsed)));
  if (issued != nullptr && resp.issued_token) *issued = *resp.issued_token;
  return reply_of(resp);
}

Result<std::vector<DirEntry>> ApiFiles::list(const Caller& caller, std::string_view, const Located& at) {
  if (is_login_dir(at)) return std::vector<DirEntry>{};  // logins are not listed: any name may log in
  std::string dir = at.ns_path + at.mount_path + at.rel;
  if (!at.rel.empty()) dir.push_back('/');
  auto listing = state_.call(caller, Operation::List, dir);
  if (!listing.ok()) {
    if (absent_or_unsupported(listing.error().code)) {
      // A file, or nothing at all.
      auto read = state_.call(caller, Operation::Read, dir.substr(0, dir.size() - 1));
      if (read.ok()) return not_directory();
      if (at.rel.empty()) return std::vector<DirEntry>{};
    }
    return std::move(listing).error();
  }
  std::vector<DirEntry> out;
  const Json& keys = listing->data["keys"];
  if (keys.is_array()) {
    for (const Json& key : keys) {
      if (!key.is_string()) continue;
      std::string name = key.get<std::string>();
      bool is_dir = !name.empty() && name.back() == '/';
      if (is_dir) name.pop_back();
      if (name.empty() || name.find('/') != std::string::npos) continue;
      out.push_back({name, is_dir ? NodeKind::Directory : NodeKind::File});
    }
  }
  return tidy(std::move(out));
}

Status ApiFiles::remove(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return is_directory();
  COFFER_TRY(Target target, target_of(caller, at, /*fields=*/false));
  return to_status(state_.call(caller, Operation::Delete, std::move(target.path)));
}

}  // namespace engine::fileview
