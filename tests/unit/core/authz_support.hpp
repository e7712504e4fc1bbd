// SPDX-License-Identifier: MPL-2.0
// Helpers for access-control tests: tokens made through auth/token/create,
// requests made as a given token.
#pragma once

#include <nlohmann/json.hpp>

#include "tests/unit/core/support.hpp"

namespace coffer_test {

inline engine::Caller as(const std::string& token) { return engine::Caller{engine::to_secure(token)}; }

// The parsed reply of a write.
inline nlohmann::json reply(std::string_view s) {
  return s.empty() ? nlohmann::json::object() : nlohmann::json::parse(s);
}
inline nlohmann::json reply(const engine::SecureString& s) { return reply(engine::as_view(s)); }

// Creates a token with `body` through `ns_path`auth/token/create as `parent`
// (root by default); returns the client token.
inline std::string make_token(DevCore& d, const std::string& body, const std::string& ns_path = "",
                              const engine::Caller* parent = nullptr) {
  auto r = d.files->write(parent != nullptr ? *parent : d.root, ns_path + "auth/token/create", body,
                          engine::WriteMode::Replace);
  if (!r.ok()) FAIL("token create: " << r.error().message);
  return reply(r.value())["auth"]["client_token"].get<std::string>();
}

// One API request as `token`.
inline engine::Result<engine::Response> api(DevCore& d, const std::string& token, engine::Operation op,
                                            const std::string& path, engine::Json body = engine::Json::object()) {
  engine::Request req;
  req.op = op;
  req.path = path;
  req.data = std::move(body);
  req.token = engine::to_secure(token);
  return d.core->handle(req);
}

inline engine::ErrorCode code_of(const engine::Result<engine::Response>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

inline std::vector<std::string> names(const engine::Result<std::vector<engine::DirEntry>>& r) {
  if (!r.ok()) FAIL("ls: " << r.error().message);
  std::vector<std::string> out;
  for (const auto& e : r.value()) out.push_back(e.name);
  return out;
}

}  // namespace coffer_test
