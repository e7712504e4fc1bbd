// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/approle.hpp"

#include "engine/auth/records.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/time.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/storage/group_commit.hpp"

namespace engine::auth {
namespace {

constexpr const char* kInvalidLogin = "invalid role or secret ID";

std::string role_id_key(std::string_view hash) { return "role_id/" + std::string(hash); }
std::string secrets_prefix(std::string_view role) { return "secret_id/" + std::string(role) + "/"; }
std::string secret_key(std::string_view role, std::string_view hash) {
  return secrets_prefix(role) + std::string(hash);
}
std::string accessor_key(std::string_view accessor) { return "accessor/" + std::string(accessor); }

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

// A required id-like string (role_id, secret_id): present, not empty, not huge.
Result<std::optional<SecureString>> id_field(const Json& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<SecureString>{};
  if (!it->is_string()) return Error::invalid("field \"" + std::string(key) + "\" must be a string");
  const SecureString& v = it->get_ref<const SecureString&>();
  if (v.size() > AppRoleBackend::kMaxIdBytes) {
    return Error::invalid("\"" + std::string(key) + "\" is longer than " + std::to_string(AppRoleBackend::kMaxIdBytes) +
                          " bytes");
  }
  return std::optional<SecureString>{v};
}

// Secret-id metadata: an object of strings, or (as Vault takes it) a string
// holding one in JSON.
Result<std::map<std::string, std::string>> metadata_of(const Json& body) {
  auto it = body.find(std::string_view("metadata"));
  if (it == body.end() || it->is_null()) return std::map<std::string, std::string>{};
  Json object;
  if (it->is_string()) {
    const SecureString& s = it->get_ref<const SecureString&>();
    if (s.empty()) return std::map<std::string, std::string>{};
    auto parsed = parse_json(as_view(s), "metadata");
    if (!parsed.ok()) return Error::invalid("failed to parse metadata: " + parsed.error().message);
    object = std::move(*parsed);
  } else {
    object = *it;
  }
  if (!object.is_object()) return Error::invalid("failed to parse metadata: not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : object.items()) {
    if (!v.is_string()) return Error::invalid("metadata values must be strings");
    out[std::string(k.data(), k.size())] = v.get<std::string>();
  }
  return out;
}

Json secret_info(const SecretIdEntry& e) {
  auto time_of = [](std::int64_t ns) { return format_time(TimePoint(std::chrono::nanoseconds(ns))); };
  return Json{{"cidr_list", Json::array()},
              {"creation_time", time_of(e.creation_unix_ns)},
              {"expiration_time",
               e.expiration_unix_ns == 0 ? std::string("0001-01-01T00:00:00Z") : time_of(e.expiration_unix_ns)},
              {"last_updated_time", time_of(e.last_updated_unix_ns)},
              {"metadata", string_map(e.metadata)},
              {"secret_id_accessor", e.accessor},
              {"secret_id_num_uses", e.num_uses},
              {"secret_id_ttl", e.ttl},
              {"token_bound_cidrs", Json::array()}};
}

bool expired(const SecretIdEntry& e, TimePoint now) {
  return e.expiration_unix_ns != 0 && unix_ns(now) >= e.expiration_unix_ns;
}

// Deletes a secret id and its accessor entry.
Status drop_secret(Storage& storage, std::string_view role, std::string_view hash, const SecretIdEntry& e) {
  std::vector<WriteOp> batch;
  batch.push_back({WriteOp::Kind::Delete, secret_key(role, hash), {}});
  batch.push_back({WriteOp::Kind::Delete, accessor_key(e.accessor), {}});
  return storage.apply(batch);
}

}  // namespace

Result<std::string> AppRoleBackend::hashed(Storage& storage, std::string_view value) {
  if (salt_hex_.empty()) {
    COFFER_TRY(auto stored, storage.get("salt"));
    if (!stored) {
      SecureBytes key = crypto::random_key();
      COFFER_TRY_STATUS(storage.put("salt", ByteView(key.data(), key.size())));
      stored = std::move(key);
    }
    salt_hex_ = crypto::to_hex(ByteView(stored->data(), stored->size()));
  }
  COFFER_TRY(auto key, crypto::from_hex(salt_hex_));
  return crypto::keyed_hash_hex(ByteView(key.data(), key.size()), value);
}

Result<bool> AppRoleBackend::exists(const BackendRequest& req) { return role_exists(req); }

Result<Response> AppRoleBackend::handle(const BackendRequest& req) {
  std::string_view rel = req.path;
  const bool write = req.op == Operation::Create || req.op == Operation::Update;
  if (rel.empty() || rel == "/") {
    // Not in Vault: lets `ls auth/approle/` show where things are.
    if (req.op != Operation::List && req.op != Operation::Read) return Error::unsupported_path(rel);
    return keys_reply(Json::array({"login", "role/"}));
  }
  if (is_login_path(rel)) {
    if (!write) return Error::unsupported_path(rel);
    return login(req);
  }
  if (rel == "role" || rel == "role/") {
    if (req.op != Operation::List) return Error::unsupported_path(rel);
    return list_roles(req.storage);
  }
  if (!rel.starts_with("role/")) return Error::unsupported_path(rel);
  std::string_view rest = rel.substr(5);
  auto slash = rest.find('/');
  std::string name(rest.substr(0, slash));
  std::string_view sub = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (auto bad = check_name(name, "role_name"); !bad.ok()) {
    // No such role can exist: reads say not found (the file view then tries
    // NAME@VIEW#FIELD suffixes); writes say why the name is refused.
    if (req.op == Operation::Read || req.op == Operation::List) return Error::not_found("role not found");
    return std::move(bad).error();
  }
  return handle_role(req, name, sub);
}

Result<Response> AppRoleBackend::handle_role(const BackendRequest& req, const std::string& name, std::string_view sub) {
  const bool write = req.op == Operation::Create || req.op == Operation::Update;
  if (sub.empty()) {
    switch (req.op) {
      case Operation::Read: {
        COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
        if (!role) return Error::not_found("role \"" + name + "\" not found");
        Response resp;
        resp.data = Json{{"bind_secret_id", role->bind_secret_id},
                         {"local_secret_ids", role->local_secret_ids},
                         {"secret_id_bound_cidrs", Json::array()},
                         {"secret_id_num_uses", role->secret_id_num_uses},
                         {"secret_id_ttl", role->secret_id_ttl}};
        show_token_params(role->token, resp.data);
        return resp;
      }
      case Operation::Create:
      case Operation::Update: return write_role(req, name);
      case Operation::Delete: return delete_role(req, name);
      // No LIST of role/NAME: the file view takes a listable path for a
      // directory, and a role is a file (its sub-endpoints are NAME@VIEW).
      default: return Error::unsupported_path(req.path);
    }
  }
  auto lock = CommitDelay::locked(mu_);
  COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  if (!role) return Error::invalid("role \"" + name + "\" does not exist");

  if (sub == "role-id") {
    if (req.op == Operation::Read) {
      Response resp;
      resp.data["role_id"] = role->role_id;
      return resp;
    }
    if (!write) return Error::unsupported_path(req.path);
    COFFER_TRY_STATUS(fields::only(req.data, {"role_id"}));
    COFFER_TRY(auto role_id, id_field(req.data, "role_id"));
    if (!role_id || role_id->empty()) return Error::invalid("missing role_id");
    return set_role_id(req, name, as_view(*role_id));
  }
  if (sub == "secret-id" || sub == "secret-id/") {
    // LIST (Vault) and, as a Coffer extension, Read: the secret ids'
    // accessors. Read makes `role/NAME@secret-id` a file in the file view
    // (a listable-only path would be a directory), and shows what exists.
    if (req.op == Operation::List || req.op == Operation::Read) {
      COFFER_TRY(auto hashes, req.storage.list(secrets_prefix(name)));
      Json keys = Json::array();
      for (const auto& h : hashes) {
        COFFER_TRY(auto e, get_record<SecretIdEntry>(req.storage, secret_key(name, h), "approle secret id"));
        if (e) keys.push_back(e->accessor);
      }
      return keys_reply(std::move(keys));
    }
    if (!write) return Error::unsupported_path(req.path);
    return new_secret_id(req, name, /*custom=*/false);
  }
  if (sub == "custom-secret-id") {
    if (!write) return Error::unsupported_path(req.path);
    return new_secret_id(req, name, /*custom=*/true);
  }
  if (sub == "secret-id/lookup" || sub == "secret-id/destroy") {
    const bool destroy = sub.ends_with("destroy");
    if (!(write || (destroy && req.op == Operation::Delete))) return Error::unsupported_path(req.path);
    COFFER_TRY_STATUS(fields::only(req.data, {"secret_id"}));
    COFFER_TRY(auto secret, id_field(req.data, "secret_id"));
    if (!secret || secret->empty()) return Error::invalid("missing secret_id");
    COFFER_TRY(std::string hash, hashed(req.storage, as_view(*secret)));
    COFFER_TRY(auto e, get_record<SecretIdEntry>(req.storage, secret_key(name, hash), "approle secret id"));
    if (destroy) {
      if (e) COFFER_TRY_STATUS(drop_secret(req.storage, name, hash, *e));
      return Response{};
    }
    if (!e) return Response{};  // Vault answers nothing for an unknown secret id
    if (expired(*e, req.now)) {
      COFFER_TRY_STATUS(drop_secret(req.storage, name, hash, *e));
      return Response{};
    }
    Response resp;
    resp.data = secret_info(*e);
    return resp;
  }
  if (sub == "secret-id-accessor/lookup" || sub == "secret-id-accessor/destroy") {
    const bool destroy = sub.ends_with("destroy");
    if (!(write || (destroy && req.op == Operation::Delete))) return Error::unsupported_path(req.path);
    COFFER_TRY_STATUS(fields::only(req.data, {"secret_id_accessor"}));
    COFFER_TRY(auto accessor, fields::get_string(req.data, "secret_id_accessor"));
    if (!accessor || accessor->empty()) return Error::invalid("missing secret_id_accessor");
    if (accessor->find('/') != std::string::npos || accessor->size() > 255) {
      return Error::invalid("failed to find accessor entry for secret_id_accessor: \"" + *accessor + "\"");
    }
    COFFER_TRY(auto index, get_record<AccessorEntry>(req.storage, accessor_key(*accessor), "approle accessor"));
    if (!index || index->role != name) {
      return Error::invalid("failed to find accessor entry for secret_id_accessor: \"" + *accessor + "\"");
    }
    COFFER_TRY(auto e,
               get_record<SecretIdEntry>(req.storage, secret_key(name, index->secret_hash), "approle secret id"));
    if (destroy) {
      if (e) {
        COFFER_TRY_STATUS(drop_secret(req.storage, name, index->secret_hash, *e));
      } else {
        COFFER_TRY_STATUS(req.storage.del(accessor_key(*accessor)));
      }
      return Response{};
    }
    if (!e || expired(*e, req.now)) {
      return Error::invalid("failed to find accessor entry for secret_id_accessor: \"" + *accessor + "\"");
    }
    Response resp;
    resp.data = secret_info(*e);
    return resp;
  }
  if (sub == "secret-id-accessor" || sub == "secret-id-accessor/") {
    if (req.op != Operation::List) return Error::unsupported_path(req.path);
    return keys_reply(Json::array({"destroy", "lookup"}));
  }
  return Error::unsupported_path(req.path);
}

Result<Response> AppRoleBackend::write_role(const BackendRequest& req, const std::string& name) {
  COFFER_TRY_STATUS(
      only_with_token_params(req.data, {"role_name", "bind_secret_id", "secret_id_num_uses", "secret_id_ttl",
                                        "local_secret_ids", "secret_id_bound_cidrs", "role_id"}));
  auto lock = CommitDelay::locked(mu_);
  COFFER_TRY(auto existing, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  RoleEntry role = existing.value_or(RoleEntry{});
  COFFER_TRY(auto bind, fields::get_bool(req.data, "bind_secret_id"));
  if (bind) role.bind_secret_id = *bind;
  COFFER_TRY(auto uses, fields::get_int(req.data, "secret_id_num_uses"));
  if (uses) {
    if (*uses < 0) return Error::invalid("secret_id_num_uses cannot be negative");
    role.secret_id_num_uses = *uses;
  }
  COFFER_TRY(auto ttl, fields::get_duration(req.data, "secret_id_ttl"));
  if (ttl) role.secret_id_ttl = *ttl;
  COFFER_TRY(auto local, fields::get_bool(req.data, "local_secret_ids"));
  if (local) {
    if (existing && *local != role.local_secret_ids)
      return Error::invalid("local_secret_ids can only be modified during role creation");
    role.local_secret_ids = *local;
  }
  COFFER_TRY(auto cidrs, fields::get_string_list(req.data, "secret_id_bound_cidrs"));
  if (cidrs && !cidrs->empty()) {
    return Error::invalid(
        "\"secret_id_bound_cidrs\" is not supported: a filesystem has no client addresses to check it against");
  }
  COFFER_TRY_STATUS(parse_token_params(req.data, role.token));
  if (!role.bind_secret_id) return Error::invalid("at least one constraint should be enabled on the role");
  COFFER_TRY(auto role_id, id_field(req.data, "role_id"));
  if (role_id && role_id->empty()) return Error::invalid("missing role_id");
  if (role_id) {
    // Refuse a taken role id before anything is stored.
    COFFER_TRY(std::string hash, hashed(req.storage, as_view(*role_id)));
    COFFER_TRY(auto owner, req.storage.get(role_id_key(hash)));
    if (owner && as_view(*owner) != name) return Error::invalid("role_id already in use");
  }
  if (!existing) {
    COFFER_TRY_STATUS(put_record(req.storage, role_key(name), role));
    // A new role gets a random role id unless one is given.
    return set_role_id(req, name, role_id ? as_view(*role_id) : std::string_view{});
  }
  COFFER_TRY_STATUS(put_record(req.storage, role_key(name), role));
  if (role_id && as_view(*role_id) != role.role_id) return set_role_id(req, name, as_view(*role_id));
  return Response{};
}

// Caller holds mu_ and has checked the role exists.
Result<Response> AppRoleBackend::set_role_id(const BackendRequest& req, const std::string& name,
                                             std::string_view role_id) {
  std::string random;
  if (role_id.empty()) {
    random = crypto::random_uuid();
    role_id = random;
  }
  COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  if (!role) return Error::invalid("role \"" + name + "\" does not exist");
  COFFER_TRY(std::string hash, hashed(req.storage, role_id));
  COFFER_TRY(auto owner, req.storage.get(role_id_key(hash)));
  if (owner) {
    if (as_view(*owner) == name) return Response{};
    return Error::invalid("role_id already in use");
  }
  std::vector<WriteOp> batch;
  if (!role->role_id.empty()) {
    COFFER_TRY(std::string old_hash, hashed(req.storage, role->role_id));
    batch.push_back({WriteOp::Kind::Delete, role_id_key(old_hash), {}});
  }
  role->role_id = std::string(role_id);
  batch.push_back({WriteOp::Kind::Put, role_id_key(hash), SecureBytes(name.begin(), name.end())});
  batch.push_back({WriteOp::Kind::Put, role_key(name), encode_record(*role)});
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

Result<Response> AppRoleBackend::delete_role(const BackendRequest& req, const std::string& name) {
  auto lock = CommitDelay::locked(mu_);
  COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  if (!role) return Response{};
  std::vector<WriteOp> batch;
  COFFER_TRY(auto hashes, req.storage.list(secrets_prefix(name)));
  for (const auto& h : hashes) {
    COFFER_TRY(auto e, get_record<SecretIdEntry>(req.storage, secret_key(name, h), "approle secret id"));
    if (e) batch.push_back({WriteOp::Kind::Delete, accessor_key(e->accessor), {}});
  }
  batch.push_back({WriteOp::Kind::DeletePrefix, secrets_prefix(name), {}});
  if (!role->role_id.empty()) {
    COFFER_TRY(std::string hash, hashed(req.storage, role->role_id));
    batch.push_back({WriteOp::Kind::Delete, role_id_key(hash), {}});
  }
  batch.push_back({WriteOp::Kind::Delete, role_key(name), {}});
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

// Caller holds mu_.
Result<Response> AppRoleBackend::new_secret_id(const BackendRequest& req, const std::string& name, bool custom) {
  if (custom) {
    COFFER_TRY_STATUS(
        fields::only(req.data, {"secret_id", "metadata", "cidr_list", "token_bound_cidrs", "num_uses", "ttl"}));
  } else {
    COFFER_TRY_STATUS(fields::only(req.data, {"metadata", "cidr_list", "token_bound_cidrs", "num_uses", "ttl"}));
  }
  COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  if (!role) return Error::invalid("role \"" + name + "\" does not exist");
  for (std::string_view key : {"cidr_list", "token_bound_cidrs"}) {
    COFFER_TRY(auto cidrs, fields::get_string_list(req.data, key));
    if (cidrs && !cidrs->empty()) {
      return Error::invalid("\"" + std::string(key) +
                            "\" is not supported: a filesystem has no client addresses to check it against");
    }
  }
  SecureString secret;
  if (custom) {
    COFFER_TRY(auto given, id_field(req.data, "secret_id"));
    if (!given || given->empty()) return Error::invalid("missing secret_id");
    secret = *given;
  } else {
    secret = to_secure(crypto::random_uuid());
  }
  COFFER_TRY(auto metadata, metadata_of(req.data));
  COFFER_TRY(auto uses, fields::get_int(req.data, "num_uses"));
  COFFER_TRY(auto ttl, fields::get_duration(req.data, "ttl"));
  SecretIdEntry e;
  e.metadata = std::move(metadata);
  e.num_uses = role->secret_id_num_uses;
  if (uses) {
    if (*uses < 0) return Error::invalid("num_uses cannot be negative");
    if (role->secret_id_num_uses > 0 && (*uses == 0 || *uses > role->secret_id_num_uses)) {
      return Error::invalid("num_uses cannot be higher than the role's secret_id_num_uses");
    }
    e.num_uses = *uses;
  }
  e.ttl = role->secret_id_ttl;
  if (ttl) {
    if (role->secret_id_ttl > 0 && (*ttl == 0 || *ttl > role->secret_id_ttl)) {
      return Error::invalid("ttl cannot be longer than the role's secret_id_ttl");
    }
    e.ttl = *ttl;
  }
  e.creation_unix_ns = unix_ns(req.now);
  e.last_updated_unix_ns = e.creation_unix_ns;
  e.expiration_unix_ns = e.ttl > 0 ? ns_after(e.creation_unix_ns, e.ttl) : 0;  // saturating
  e.accessor = crypto::random_uuid();
  COFFER_TRY(std::string hash, hashed(req.storage, as_view(secret)));
  COFFER_TRY(auto clash, req.storage.get(secret_key(name, hash)));
  if (clash) return Error::invalid("secret_id is already registered");
  std::vector<WriteOp> batch;
  batch.push_back({WriteOp::Kind::Put, secret_key(name, hash), encode_record(e)});
  batch.push_back({WriteOp::Kind::Put, accessor_key(e.accessor), encode_record(AccessorEntry{name, hash})});
  COFFER_TRY_STATUS(req.storage.apply(batch));
  Response resp;
  resp.data = Json{{"secret_id", secret},
                   {"secret_id_accessor", e.accessor},
                   {"secret_id_num_uses", e.num_uses},
                   {"secret_id_ttl", e.ttl}};
  return resp;
}

Result<Response> AppRoleBackend::login(const BackendRequest& req) {
  COFFER_TRY_STATUS(fields::only(req.data, {"role_id", "secret_id"}));
  COFFER_TRY(auto role_id, id_field(req.data, "role_id"));
  if (!role_id || role_id->empty()) return Error::invalid("missing role_id");
  COFFER_TRY(auto secret, id_field(req.data, "secret_id"));
  auto lock = CommitDelay::locked(mu_);
  COFFER_TRY(std::string role_hash, hashed(req.storage, as_view(*role_id)));
  COFFER_TRY(auto owner, req.storage.get(role_id_key(role_hash)));
  if (!owner) return Error::invalid(kInvalidLogin);
  const std::string name(as_view(*owner));
  COFFER_TRY(auto role, get_record<RoleEntry>(req.storage, role_key(name), "approle role"));
  if (!role || as_view(*role_id) != role->role_id) return Error::invalid(kInvalidLogin);
  LoginAuth login;
  login.metadata = {{"role_name", name}};
  if (role->bind_secret_id) {
    if (!secret || secret->empty()) return Error::invalid("missing secret_id");
    COFFER_TRY(std::string hash, hashed(req.storage, as_view(*secret)));
    COFFER_TRY(auto e, get_record<SecretIdEntry>(req.storage, secret_key(name, hash), "approle secret id"));
    if (!e) return Error::invalid(kInvalidLogin);
    if (expired(*e, req.now)) {
      COFFER_TRY_STATUS(drop_secret(req.storage, name, hash, *e));
      return Error::invalid(kInvalidLogin);
    }
    if (e->num_uses == 1) {
      // The last use: gone before the token is made, so it cannot be replayed.
      COFFER_TRY_STATUS(drop_secret(req.storage, name, hash, *e));
    } else if (e->num_uses > 1) {
      e->num_uses -= 1;
      e->last_updated_unix_ns = unix_ns(req.now);
      COFFER_TRY_STATUS(put_record(req.storage, secret_key(name, hash), *e));
    }
    for (const auto& [k, v] : e->metadata) login.metadata.emplace(k, v);
  }
  fill_login(role->token, login);
  login.alias_name = role->role_id;
  login.alias_metadata = login.metadata;
  Response resp;
  resp.login = std::move(login);
  return resp;
}

std::string AppRoleBackend::login_alias(const BackendRequest& req) {
  if (!is_login_path(req.path)) return {};
  auto role_id = id_field(req.data, "role_id");
  if (!role_id.ok() || !*role_id) return {};
  return std::string(as_view(**role_id));
}

bool AppRoleBackend::invalid_credentials(const BackendRequest& req, const Error& error) {
  if (error.code != ErrorCode::InvalidArgument || error.message != kInvalidLogin) return false;
  const std::string role_id = login_alias(req);
  if (role_id.empty()) return false;
  auto lock = CommitDelay::locked(mu_);
  auto role_hash = hashed(req.storage, role_id);
  if (!role_hash.ok()) return false;
  auto owner = req.storage.get(role_id_key(*role_hash));
  return owner.ok() && owner->has_value();
}

}  // namespace engine::auth
