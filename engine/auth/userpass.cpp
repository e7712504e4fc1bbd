// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/userpass.hpp"

#include <algorithm>

#include "engine/auth/password.hpp"
#include "engine/auth/records.hpp"
#include "engine/common/fields.hpp"

namespace engine::auth {
namespace {

constexpr const char* kInvalidLogin = "invalid username or password";

std::string user_key(std::string_view name) { return "user/" + std::string(name); }

// The password of a write, if any: a non-empty string.
Result<std::optional<SecureString>> password_of(const Json& body) {
  auto it = body.find(std::string_view("password"));
  if (it == body.end() || it->is_null()) return std::optional<SecureString>{};
  if (!it->is_string()) return Error::invalid("field \"password\" must be a string");
  return std::optional<SecureString>{it->get_ref<const SecureString&>()};
}

// "users/NAME[/sub]" → (NAME, sub).
std::pair<std::string, std::string_view> split_user(std::string_view rest) {
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return {lower(rest), {}};
  return {lower(rest.substr(0, slash)), rest.substr(slash + 1)};
}

}  // namespace

bool UserpassBackend::is_login_path(std::string_view rel) {
  return rel.starts_with("login/") && rel.size() > 6 && rel.find('/', 6) == std::string_view::npos;
}

Result<bool> UserpassBackend::exists(const BackendRequest& req) {
  if (!req.path.starts_with("users/")) return true;
  auto [name, sub] = split_user(std::string_view(req.path).substr(6));
  if (!sub.empty() || name.empty()) return true;
  COFFER_TRY(auto bytes, req.storage.get(user_key(name)));
  return bytes.has_value();
}

Result<Response> UserpassBackend::handle(const BackendRequest& req) {
  std::string_view rel = req.path;
  const bool write = req.op == Operation::Create || req.op == Operation::Update;
  if (rel.empty() || rel == "/") {
    // Not in Vault: lets `ls auth/userpass/` show where things are.
    if (req.op != Operation::List && req.op != Operation::Read) return Error::unsupported_path(rel);
    return keys_reply(Json::array({"login/", "users/"}));
  }
  if (rel == "login" || rel == "login/") {
    if (req.op != Operation::List) return Error::unsupported_path(rel);
    return keys_reply(Json::array());  // who may log in is not listed here
  }
  // login/NAME is answered through begin_login(), never here.
  if (is_login_path(rel)) return Error::unsupported_path(rel);
  if (rel == "users" || rel == "users/") {
    if (req.op != Operation::List) return Error::unsupported_path(rel);
    COFFER_TRY(auto names, req.storage.list("user/"));
    Json keys = Json::array();
    for (const auto& n : names) {
      if (!n.empty() && n.back() != '/') keys.push_back(n);
    }
    return keys_reply(std::move(keys));
  }
  if (!rel.starts_with("users/")) return Error::unsupported_path(rel);
  auto [name, sub] = split_user(rel.substr(6));
  if (req.op == Operation::List) {
    return Error::not_found("no users under \"" + std::string(rel) + "\"");
  }
  if (auto bad = check_name(name, "username"); !bad.ok()) {
    // No such user can exist: reads say not found (the file view then tries
    // NAME@VIEW#FIELD suffixes); writes say why the name is refused.
    if (req.op == Operation::Read) return Error::not_found("user not found");
    return std::move(bad).error();
  }
  if (sub.empty()) {
    switch (req.op) {
      case Operation::Read: {
        COFFER_TRY(auto user, get_record<UserEntry>(req.storage, user_key(name), "userpass user"));
        if (!user) return Error::not_found("user \"" + name + "\" not found");
        Response resp;
        show_token_params(user->token, resp.data);
        return resp;
      }
      case Operation::Create:
      case Operation::Update: return write_user(req, name);
      case Operation::Delete: {
        std::lock_guard lock(write_mu_);
        COFFER_TRY_STATUS(req.storage.del(user_key(name)));
        return Response{};
      }
      default: return Error::unsupported_path(rel);
    }
  }
  if (!write) return Error::unsupported_path(rel);
  if (sub == "password") {
    COFFER_TRY_STATUS(fields::only(req.data, {"password"}));
    COFFER_TRY(auto password, password_of(req.data));
    if (!password || password->empty()) return Error::invalid("missing password");
    COFFER_TRY(std::string hash, hash_password(as_view(*password)));
    std::lock_guard lock(write_mu_);
    COFFER_TRY(auto user, get_record<UserEntry>(req.storage, user_key(name), "userpass user"));
    if (!user) return Error::not_found("username does not exist");
    user->password_hash = std::move(hash);
    COFFER_TRY_STATUS(put_record(req.storage, user_key(name), *user));
    return Response{};
  }
  if (sub == "policies") {
    COFFER_TRY_STATUS(fields::only(req.data, {"policies", "token_policies"}));
    std::lock_guard lock(write_mu_);
    COFFER_TRY(auto user, get_record<UserEntry>(req.storage, user_key(name), "userpass user"));
    if (!user) return Error::not_found("username does not exist");
    COFFER_TRY_STATUS(parse_token_params(req.data, user->token));
    COFFER_TRY_STATUS(put_record(req.storage, user_key(name), *user));
    return Response{};
  }
  return Error::unsupported_path(rel);
}

Result<Response> UserpassBackend::write_user(const BackendRequest& req, const std::string& name) {
  COFFER_TRY_STATUS(only_with_token_params(req.data, {"password", "username"}));
  COFFER_TRY(auto password, password_of(req.data));
  // Hash before taking the lock: Argon2id is the slow part.
  std::optional<std::string> hash;
  if (password && !password->empty()) {
    COFFER_TRY(auto h, hash_password(as_view(*password)));
    hash = std::move(h);
  }
  std::lock_guard lock(write_mu_);
  COFFER_TRY(auto existing, get_record<UserEntry>(req.storage, user_key(name), "userpass user"));
  UserEntry user = existing.value_or(UserEntry{});
  if (!existing && !hash) return Error::invalid("missing password");
  if (hash) user.password_hash = std::move(*hash);
  COFFER_TRY_STATUS(parse_token_params(req.data, user.token));
  COFFER_TRY_STATUS(put_record(req.storage, user_key(name), user));
  return Response{};
}

namespace {

// A login whose user was read under the core lock; the password check
// (Argon2id, the slow part) runs in run() without it.
class UserpassPendingLogin final : public PendingLogin {
 public:
  UserpassPendingLogin(std::string name, SecureString password, std::optional<UserEntry> user)
      : name_(std::move(name)), password_(std::move(password)), user_(std::move(user)) {}

  Status run() override {
    if (!user_) {
      // Same cost as a wrong password, so timing does not tell who exists.
      verify_dummy_password(as_view(password_));
      return Error::invalid(kInvalidLogin);
    }
    if (!verify_password(user_->password_hash, as_view(password_))) return Error::invalid(kInvalidLogin);
    return {};
  }

  Result<Response> finish(const BackendRequest& req) override {
    // The user as it is now: deleted or given a new password meanwhile, the
    // password checked is no longer theirs.
    COFFER_TRY(auto now, get_record<UserEntry>(req.storage, user_key(name_), "userpass user"));
    if (!now || now->password_hash != user_->password_hash) return Error::invalid(kInvalidLogin);
    LoginAuth login;
    fill_login(now->token, login);
    login.display_name = name_;
    login.metadata = {{"username", name_}};
    login.alias_name = name_;
    Response resp;
    resp.login = std::move(login);
    return resp;
  }

 private:
  std::string name_;
  SecureString password_;
  std::optional<UserEntry> user_;
};

}  // namespace

Result<std::unique_ptr<PendingLogin>> UserpassBackend::begin_login(const BackendRequest& req) {
  if (!is_login_path(req.path)) return std::unique_ptr<PendingLogin>{};
  COFFER_TRY_STATUS(fields::only(req.data, {"password", "username"}));
  COFFER_TRY(auto password, password_of(req.data));
  if (!password || password->empty()) return Error::invalid("missing password");
  std::string name = lower(std::string_view(req.path).substr(6));
  std::optional<UserEntry> user;
  if (check_name(name, "username").ok()) {
    COFFER_TRY(user, get_record<UserEntry>(req.storage, user_key(name), "userpass user"));
  }
  return std::unique_ptr<PendingLogin>(
      std::make_unique<UserpassPendingLogin>(std::move(name), std::move(*password), std::move(user)));
}

std::string UserpassBackend::login_alias(const BackendRequest& req) {
  if (!is_login_path(req.path)) return {};
  return lower(std::string_view(req.path).substr(6));
}

bool UserpassBackend::invalid_credentials(const BackendRequest& req, const Error& error) {
  if (error.code != ErrorCode::InvalidArgument || error.message != kInvalidLogin) return false;
  const std::string name = login_alias(req);
  if (name.empty() || !check_name(name, "username").ok()) return false;
  auto bytes = req.storage.get(user_key(name));
  return bytes.ok() && bytes->has_value();
}

}  // namespace engine::auth
