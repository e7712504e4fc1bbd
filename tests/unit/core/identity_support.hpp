// SPDX-License-Identifier: MPL-2.0
// Helpers for identity tests: requests as root, entities, groups,
// namespaces, auth mounts, and tokens bound to an entity.
#pragma once

#include <catch2/catch.hpp>

#include "tests/unit/core/core_test_access.hpp"
#include "tests/unit/core/authz_support.hpp"

namespace coffer_test {

using engine::ErrorCode;
using engine::Json;
using engine::Operation;

inline Json body(const char* text) { return Json::parse(text); }

inline engine::Response ok(engine::Result<engine::Response> r) {
  if (!r.ok()) FAIL("request failed: " << r.error().message);
  return std::move(r).value();
}

// The error message of a failed request (and that it failed).
inline std::string error_of(const engine::Result<engine::Response>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

inline std::string str(const Json& j) { return j.get<std::string>(); }

inline engine::Result<engine::Response> root_api(DevCore& d, Operation op, const std::string& path,
                                                 Json b = Json::object()) {
  return api(d, "root", op, path, std::move(b));
}

// Creates an entity in namespace ns ("" root, "ns1/"); returns its id.
inline std::string make_entity(DevCore& d, const std::string& ns, const std::string& json) {
  auto r = ok(root_api(d, Operation::Update, ns + "identity/entity", Json::parse(json)));
  return str(r.data["id"]);
}

inline std::string make_group(DevCore& d, const std::string& ns, const std::string& json) {
  auto r = ok(root_api(d, Operation::Update, ns + "identity/group", Json::parse(json)));
  return str(r.data["id"]);
}

// Creates child namespace `name` under ns; returns its id.
inline std::string make_namespace(DevCore& d, const std::string& ns, const std::string& name) {
  auto r = ok(root_api(d, Operation::Update, ns + "sys/namespaces/" + name));
  return str(r.data["id"]);
}

// Enables userpass at ns + "auth/<path>/" through sys/auth; returns the accessor.
inline std::string enable_userpass(DevCore& d, const std::string& ns = "", const std::string& path = "userpass") {
  ok(root_api(d, Operation::Update, ns + "sys/auth/" + path, body(R"({"type":"userpass"})")));
  const auto tree = d.core->namespaces();
  const engine::NamespaceView* node = tree->find(ns);
  REQUIRE(node != nullptr);
  auto it = node->mounts.find("auth/" + path + "/");
  REQUIRE(it != node->mounts.end());
  return it->second.accessor;
}

// A token of namespace ns_id bound to an entity, made through the token
// store as a login would (auth methods are tested elsewhere).
inline std::string entity_token(DevCore& d, const std::string& entity_id, const std::string& ns_id = "root",
                                std::vector<std::string> policies = {"default"}) {
  engine::TokenEntry e;
  e.namespace_id = ns_id;
  e.policies = std::move(policies);
  e.entity_id = entity_id;
  e.display_name = "test";
  e.path = "auth/test/login";
  auto r = coffer_test::internals(*d.core).tokens.create(std::move(e), "");
  if (!r.ok()) FAIL("token: " << r.error().message);
  return std::string(engine::as_view(r.value().first));
}

inline void write_policy(DevCore& d, const std::string& ns, const std::string& name, const std::string& text) {
  ok(root_api(d, Operation::Update, ns + "sys/policies/acl/" + name, Json{{"policy", text}}));
}

inline bool can_read(DevCore& d, const std::string& token, const std::string& path) {
  auto r = api(d, token, Operation::Read, path);
  if (r.ok()) return true;
  CHECK(r.error().code == ErrorCode::PermissionDenied);
  return false;
}

inline void put_secret(DevCore& d, const std::string& ns, const std::string& path) {
  ok(root_api(d, Operation::Update, ns + "kv/data/" + path, body(R"({"data":{"v":"1"}})")));
}

inline void enable_kv(DevCore& d, const std::string& ns) {
  ok(root_api(d, Operation::Update, ns + "sys/mounts/kv", body(R"({"type":"kv-v2"})")));
}

inline std::vector<std::string> keys_of(const engine::Response& r) {
  std::vector<std::string> out;
  for (const auto& k : r.data["keys"]) out.push_back(str(k));
  return out;
}

}  // namespace coffer_test
