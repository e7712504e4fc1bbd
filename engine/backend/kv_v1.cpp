// SPDX-License-Identifier: MPL-2.0
#include "engine/backend/kv_v1.hpp"

#include "engine/backend/kv_common.hpp"

namespace engine {

namespace {

constexpr std::string_view kDataPrefix = "data/";

std::string data_key(std::string_view path) { return std::string(kDataPrefix) + std::string(path); }

Result<Response> read_secret(const BackendRequest& req) {
  COFFER_TRY_STATUS(kv::check_secret_name(req.path));
  COFFER_TRY(auto stored, req.storage.get(data_key(req.path)));
  if (!stored) return Error::not_found("no secret at " + req.path);
  COFFER_TRY(Json secret, kv::parse_secret(*stored));
  Response resp;
  resp.data = std::move(secret);
  return resp;
}

Result<Response> write_secret(const BackendRequest& req) {
  COFFER_TRY_STATUS(kv::check_secret_name(req.path));
  // Vault v1 stores the whole body as the secret; an empty one is refused.
  if (!req.data.is_object() || req.data.empty()) return Error::invalid("missing data fields");
  COFFER_TRY_STATUS(kv::check_rendered_size(render_pretty(req.data).size()));
  SecureBytes bytes = kv::dump_secret(req.data);
  COFFER_TRY_STATUS(req.storage.put(data_key(req.path), ByteView(bytes.data(), bytes.size())));
  return Response{};
}

Result<Response> delete_secret(const BackendRequest& req) {
  COFFER_TRY_STATUS(kv::check_secret_name(req.path));
  // The existence probe and the delete are two calls; a racing delete in
  // between only turns our NotFound into ok, which is harmless.
  std::string key = data_key(req.path);
  COFFER_TRY(auto probe, req.storage.get(key));
  if (!probe) return Error::not_found("no secret at " + req.path);
  COFFER_TRY_STATUS(req.storage.del(key));
  return Response{};
}

Result<Response> list_folder(const BackendRequest& req) {
  std::string folder = req.path;
  if (!folder.empty() && folder.back() != '/') folder.push_back('/');
  COFFER_TRY_STATUS(kv::check_folder(folder));
  COFFER_TRY(auto keys, req.storage.list(data_key(folder), kv::list_limit(req.data)));
  if (keys.empty()) return Error::not_found("no secrets under " + (folder.empty() ? "/" : folder));
  return kv::list_reply(req, std::move(keys));
}

}  // namespace

Result<Response> KvV1Backend::handle(const BackendRequest& req) {
  switch (req.op) {
    case Operation::Read: return read_secret(req);
    case Operation::Create:
    case Operation::Update: return write_secret(req);
    case Operation::Delete: return delete_secret(req);
    case Operation::List: return list_folder(req);
    case Operation::Patch:
      return Error::unsupported("unsupported operation: kv version 1 does not support patch; write the whole secret");
  }
  return Error::unsupported("unsupported operation");
}

Result<bool> KvV1Backend::exists(const BackendRequest& req) {
  if (!kv::check_secret_name(req.path).ok()) return false;
  COFFER_TRY(auto stored, req.storage.get(data_key(req.path)));
  return stored.has_value();
}

}  // namespace engine
