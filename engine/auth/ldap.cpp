// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/ldap.hpp"

#include <algorithm>
#include <set>

#include "engine/auth/records.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/policy/policy.hpp"

namespace engine::auth {
namespace {

constexpr const char* kNotConfigured = "ldap backend not configured";

std::string canonical(std::string_view name, const LdapConfig& cfg) {
  return cfg.case_sensitive_names ? std::string(name) : lower(name);
}

Result<LdapConfig> config_or_defaults(Storage& storage) {
  COFFER_TRY(auto cfg, get_record<LdapConfig>(storage, "config", "ldap config"));
  return cfg.value_or(LdapConfig{});
}

Result<LdapConfig> configured(Storage& storage) {
  COFFER_TRY(auto cfg, get_record<LdapConfig>(storage, "config", "ldap config"));
  if (!cfg) return Error::invalid(kNotConfigured);
  return std::move(*cfg);
}

// A local group or user name: directory names may hold spaces, commas and
// the like, so only what cannot be a file name or a storage key is refused.
Status check_mapping_name(std::string_view name, std::string_view what) {
  if (name.empty()) return Error::invalid("missing " + std::string(what));
  if (name.size() > 255) return Error::name_too_long(std::string(what) + " longer than 255 bytes");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return Error::invalid(std::string(what) + " contains '/' or a control character");
    }
  }
  if (name == "." || name == "..") return Error::invalid("invalid " + std::string(what));
  return {};
}

std::string mapping_key(std::string_view kind, std::string_view name) {
  return std::string(kind == "groups" ? "group/" : "user/") + std::string(name);
}

// The password of a login body: a string (possibly empty: the directory
// check refuses it unless deny_null_bind is off).
Result<SecureString> login_password(const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"password", "username"}));
  auto it = body.find(std::string_view("password"));
  if (it == body.end() || it->is_null()) return SecureString{};
  if (!it->is_string()) return Error::invalid("field \"password\" must be a string");
  return it->get_ref<const SecureString&>();
}

// Vault's Login after the directory answered: local mappings give the
// policies; every group name, local and from the directory, becomes a
// group alias.
Result<LoginAuth> complete_login(Storage& storage, const LdapConfig& cfg, std::string_view username,
                                 const SecureString& password, const DirectoryUser& user) {
  COFFER_TRY(auto local_user,
             get_record<LdapMapping>(storage, mapping_key("users", canonical(username, cfg)), "ldap user"));
  std::vector<std::string> all_groups;
  if (local_user) all_groups = local_user->groups;
  all_groups.insert(all_groups.end(), user.groups.begin(), user.groups.end());

  LoginAuth login;
  fill_login(cfg.token, login);
  std::set<std::string> looked_up;
  for (const auto& group : all_groups) {
    std::string name = canonical(group, cfg);
    if (name.empty() || !check_mapping_name(name, "group name").ok() || !looked_up.insert(name).second) continue;
    COFFER_TRY(auto mapped, get_record<LdapMapping>(storage, mapping_key("groups", name), "ldap group"));
    if (mapped) login.policies.insert(login.policies.end(), mapped->policies.begin(), mapped->policies.end());
  }
  if (local_user) login.policies.insert(login.policies.end(), local_user->policies.begin(), local_user->policies.end());

  login.display_name = std::string(username);
  login.metadata = {{"username", std::string(username)}};
  login.alias_name = user.alias;
  login.alias_metadata = {{"name", std::string(username)}};
  std::vector<std::string> aliases;
  std::set<std::string> seen;
  for (const auto& g : all_groups) {
    if (!g.empty() && seen.insert(g).second) aliases.push_back(g);
  }
  login.group_aliases = std::move(aliases);
  login.renew_secret = password;
  return login;
}

class LdapPendingLogin final : public PendingLogin {
 public:
  LdapPendingLogin(LdapConfig cfg, std::string username, SecureString password)
      : cfg_(std::move(cfg)), username_(std::move(username)), password_(std::move(password)) {}

  Status run() override {
    COFFER_TRY(user_, ldap_login(cfg_, username_, as_view(password_)));
    return {};
  }

  Result<Response> finish(const BackendRequest& req) override {
    COFFER_TRY(LoginAuth login, complete_login(req.storage, cfg_, username_, password_, user_));
    Response resp;
    resp.warnings = user_.warnings;
    resp.login = std::move(login);
    return resp;
  }

 private:
  LdapConfig cfg_;
  std::string username_;
  SecureString password_;
  DirectoryUser user_;
};

}  // namespace

bool LdapBackend::is_login_path(std::string_view rel) {
  return rel.starts_with("login/") && rel.size() > 6 && rel.find('/', 6) == std::string_view::npos;
}

std::string LdapBackend::login_alias(const BackendRequest& req) {
  if (!is_login_path(req.path)) return {};
  return req.path.substr(6);
}

bool LdapBackend::invalid_credentials(const BackendRequest& req, const Error& error) {
  (void)req;
  return error.code == ErrorCode::InvalidArgument && error.message == kLdapBindFailed;
}

Result<bool> LdapBackend::exists(const BackendRequest& req) {
  std::string_view rel = req.path;
  if (rel == "config") {
    COFFER_TRY(auto bytes, req.storage.get("config"));
    return bytes.has_value();
  }
  for (std::string_view kind : {"groups", "users"}) {
    std::string prefix = std::string(kind) + "/";
    if (!rel.starts_with(prefix) || rel.size() == prefix.size()) continue;
    COFFER_TRY(LdapConfig cfg, config_or_defaults(req.storage));
    std::string name = canonical(rel.substr(prefix.size()), cfg);
    if (!check_mapping_name(name, "name").ok()) return false;
    COFFER_TRY(auto bytes, req.storage.get(mapping_key(kind, name)));
    return bytes.has_value();
  }
  return true;
}

Result<std::unique_ptr<PendingLogin>> LdapBackend::begin_login(const BackendRequest& req) {
  if (!is_login_path(req.path)) return std::unique_ptr<PendingLogin>{};
  COFFER_TRY(SecureString password, login_password(req.data));
  COFFER_TRY(LdapConfig cfg, configured(req.storage));
  if (cfg.deny_null_bind && password.empty()) {
    // Refused before any server is asked.
    return Error::invalid("password cannot be of zero length when passwordless binds are being denied");
  }
  return std::unique_ptr<PendingLogin>(
      std::make_unique<LdapPendingLogin>(std::move(cfg), std::string(req.path.substr(6)), std::move(password)));
}

Result<std::unique_ptr<PendingLogin>> LdapBackend::begin_renewal(const BackendRequest& req,
                                                                 const std::map<std::string, std::string>& meta,
                                                                 std::string_view secret) {
  COFFER_TRY(LdapConfig cfg, configured(req.storage));
  auto it = meta.find("username");
  if (it == meta.end()) return Error::invalid("token has no username to renew with");
  return std::unique_ptr<PendingLogin>(
      std::make_unique<LdapPendingLogin>(std::move(cfg), it->second, to_secure(secret)));
}

Result<Response> LdapBackend::handle(const BackendRequest& req) {
  std::string_view rel = req.path;
  const bool write = req.op == Operation::Create || req.op == Operation::Update;
  if (rel.empty() || rel == "/") {
    // Not in Vault: lets `ls auth/ldap/` show where things are.
    if (req.op != Operation::List && req.op != Operation::Read) return Error::unsupported_path(rel);
    return keys_reply(Json::array({"config", "groups/", "login/", "users/"}));
  }
  if (rel == "config") {
    if (req.op == Operation::Read) {
      COFFER_TRY(LdapConfig cfg, config_or_defaults(req.storage));
      Response resp;
      resp.data = show_ldap_config(cfg);
      return resp;
    }
    if (!write) return Error::unsupported_path(rel);
    std::lock_guard lock(write_mu_);
    COFFER_TRY(LdapConfig cfg, config_or_defaults(req.storage));
    COFFER_TRY_STATUS(parse_ldap_config(req.data, cfg));
    COFFER_TRY_STATUS(put_record(req.storage, "config", cfg));
    return Response{};
  }
  if (rel == "login" || rel == "login/") {
    if (req.op != Operation::List) return Error::unsupported_path(rel);
    return keys_reply(Json::array());  // who may log in is the directory's business
  }
  // login/NAME is answered through begin_login(), never here.
  for (std::string_view kind : {"groups", "users"}) {
    if (rel == kind || (rel.starts_with(kind) && rel.substr(kind.size()) == "/")) {
      if (req.op != Operation::List) return Error::unsupported_path(rel);
      COFFER_TRY(auto names, req.storage.list(kind == "groups" ? "group/" : "user/"));
      Json keys = Json::array();
      for (const auto& n : names) {
        if (!n.empty() && n.back() != '/') keys.push_back(n);
      }
      return keys_reply(std::move(keys));
    }
    if (rel.starts_with(kind) && rel.size() > kind.size() && rel[kind.size()] == '/') {
      return mapping(req, kind, rel.substr(kind.size() + 1));
    }
  }
  return Error::unsupported_path(rel);
}

Result<Response> LdapBackend::mapping(const BackendRequest& req, std::string_view kind, std::string_view rest) {
  const bool users = kind == "users";
  const char* what = users ? "ldap user" : "ldap group";
  COFFER_TRY(LdapConfig cfg, config_or_defaults(req.storage));
  const std::string name = canonical(rest, cfg);
  if (req.op == Operation::List) return Error::not_found("no entries under \"" + std::string(kind) + "/" + name + "\"");
  if (auto bad = check_mapping_name(name, users ? "username" : "group name"); !bad.ok()) {
    if (req.op == Operation::Read) return Error::not_found(std::string(what) + " not found");
    return std::move(bad).error();
  }
  const std::string key = mapping_key(kind, name);
  switch (req.op) {
    case Operation::Read: {
      COFFER_TRY(auto record, get_record<LdapMapping>(req.storage, key, what));
      if (!record) return Error::not_found(std::string(what) + " \"" + name + "\" not found");
      Response resp;
      resp.data["policies"] = string_list(record->policies);
      if (users) {
        // Vault shows a user's groups as one comma-separated string.
        std::string joined;
        for (const auto& g : record->groups) joined += (joined.empty() ? "" : ",") + g;
        resp.data["groups"] = joined;
      }
      return resp;
    }
    case Operation::Create:
    case Operation::Update: {
      if (users) {
        COFFER_TRY_STATUS(fields::only(req.data, {"policies", "groups", "name"}));
      } else {
        COFFER_TRY_STATUS(fields::only(req.data, {"policies", "name"}));
      }
      COFFER_TRY(auto policies, fields::get_string_list(req.data, "policies"));
      COFFER_TRY(auto groups, fields::get_string_list(req.data, "groups"));
      std::lock_guard lock(write_mu_);
      COFFER_TRY(auto existing, get_record<LdapMapping>(req.storage, key, what));
      LdapMapping record = existing.value_or(LdapMapping{});
      if (policies) {
        record.policies.clear();
        for (const auto& p : *policies) {
          std::string n = policy::normalize_policy_name(p);
          if (!n.empty() && std::find(record.policies.begin(), record.policies.end(), n) == record.policies.end()) {
            record.policies.push_back(std::move(n));
          }
        }
      }
      if (groups) {
        record.groups.clear();
        for (const auto& g : *groups) {
          if (!g.empty() && std::find(record.groups.begin(), record.groups.end(), g) == record.groups.end()) {
            record.groups.push_back(g);
          }
        }
      }
      COFFER_TRY_STATUS(put_record(req.storage, key, record));
      return Response{};
    }
    case Operation::Delete: {
      std::lock_guard lock(write_mu_);
      COFFER_TRY_STATUS(req.storage.del(key));
      return Response{};
    }
    default: return Error::unsupported_path(std::string(kind) + "/" + name);
  }
}

}  // namespace engine::auth
