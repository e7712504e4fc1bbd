// SPDX-License-Identifier: MPL-2.0
#include "engine/audit/audit_trail.hpp"

#include <algorithm>

#include "engine/token/token_acl.hpp"

namespace engine {

AuditEvent audit_event(const Request& req) {
  // Cheap while no device is enabled (the common case): the request id is
  // drawn when the first entry is written.
  AuditEvent e;
  e.op = req.op;
  e.path = req.path;
  e.data = &req.data;
  return e;
}

void audit_route(AuditEvent& event, const Route& route) {
  if (route.ns != nullptr) {
    event.namespace_id = route.ns->record.id;
    event.namespace_path = route.ns->record.path;
    event.path = route.rest;
  }
  if (route.mount) {
    event.mount_type = route.mount->entry.type;
    event.mount_accessor = route.mount->entry.accessor;
    event.mount_point = route.mount->entry.path;
  }
}

void audit_auth(AuditEvent& event, const AuditBroker& broker, const IdentityStore& identity, const Router& router,
                const Auth& auth) {
  if (!auth.token || !broker.enabled()) return;
  const TokenEntry& t = *auth.token;
  AuditAuth& a = event.auth;
  a.present = true;
  a.client_token = auth.token_id;
  a.accessor = t.accessor;
  a.display_name = t.display_name;
  a.token_policies = t.policies;
  a.metadata = t.meta;
  a.entity_id = t.entity_id;
  a.token_type = t.type;
  if (!t.entity_id.empty()) {
    for (const auto& [ns_id, names] : identity_policies_of(identity, router, t).by_namespace) {
      a.identity_policies.insert(a.identity_policies.end(), names.begin(), names.end());
    }
  }
  a.policies = a.token_policies;
  a.policies.insert(a.policies.end(), a.identity_policies.begin(), a.identity_policies.end());
  std::sort(a.policies.begin(), a.policies.end());
  a.policies.erase(std::unique(a.policies.begin(), a.policies.end()), a.policies.end());
}

Error audit_refused(AuditBroker& broker, AuditEvent& event, Error error) {
  if (broker.enabled()) (void)broker.log_request(event, &error);
  return error;
}

namespace {

std::vector<std::string> strings_of(const Json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& s : v) {
    if (s.is_string()) out.emplace_back(as_view(s.get_ref<const SecureString&>()));
  }
  return out;
}

std::string string_of(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return std::string(as_view(it->get_ref<const SecureString&>()));
}

// A login's response entry carries the new token in its auth block (as
// Vault's does), from the reply's "auth" object.
void auth_of_login(AuditAuth& a, const SecureString& token, const Json& data) {
  auto it = data.find(std::string_view("auth"));
  if (it == data.end() || !it->is_object()) return;
  const Json& auth = *it;
  a.present = true;
  a.client_token = token;
  a.accessor = string_of(auth, "accessor");
  a.display_name = string_of(auth, "display_name");
  a.entity_id = string_of(auth, "entity_id");
  a.token_type = string_of(auth, "token_type");
  if (auto p = auth.find(std::string_view("policies")); p != auth.end()) a.policies = strings_of(*p);
  if (auto p = auth.find(std::string_view("token_policies")); p != auth.end()) a.token_policies = strings_of(*p);
  if (auto p = auth.find(std::string_view("identity_policies")); p != auth.end()) a.identity_policies = strings_of(*p);
  if (auto m = auth.find(std::string_view("metadata")); m != auth.end() && m->is_object()) {
    for (const auto& [k, v] : m->items()) {
      if (v.is_string()) a.metadata[std::string(k)] = std::string(as_view(v.get_ref<const SecureString&>()));
    }
  }
}

}  // namespace

Result<Response> audit_result(AuditBroker& broker, const AuditEvent& event, Result<Response> result) {
  if (!broker.enabled()) return result;
  const AuditEvent* entry = &event;
  AuditEvent login;
  if (result.ok() && result->issued_token && !event.auth.present) {
    login = event;
    auth_of_login(login.auth, *result->issued_token, result->data);
    entry = &login;
  }
  Status logged = result.ok() ? broker.log_response(*entry, &result.value(), nullptr)
                              : broker.log_response(*entry, nullptr, &result.error());
  if (!logged.ok() && event.devices_at_request > 0) return std::move(logged).error();
  return result;
}

bool admin_namespace_allows(const CoreOptions& opts, std::string_view ns_path, std::string_view rel) {
  std::string_view admin = opts.administrative_namespace_path;
  while (!admin.empty() && admin.front() == '/') admin.remove_prefix(1);
  while (!admin.empty() && admin.back() == '/') admin.remove_suffix(1);
  if (admin.empty() || ns_path.size() != admin.size() + 1 || !ns_path.starts_with(admin)) return false;
  static constexpr std::string_view kAllowed[] = {"audit-hash", "monitor", "quotas/config", "quotas/rate-limit",
                                                  "quotas/lease-count"};
  for (std::string_view a : kAllowed) {
    if (rel == a || (rel.starts_with(a) && rel.size() > a.size() && (rel[a.size()] == '/' || rel[a.size()] == '@'))) {
      return true;
    }
  }
  return false;
}

}  // namespace engine
