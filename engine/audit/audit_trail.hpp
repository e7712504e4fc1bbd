// SPDX-License-Identifier: MPL-2.0
// The core's side of the audit trail: builds the AuditEvent of a request as
// the pipeline learns who asks and where the path lands, and writes its
// entries (engine/core.cpp calls these; see audit_broker.hpp).
#pragma once

#include "engine/audit/audit_broker.hpp"
#include "engine/common/core_options.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/token/auth.hpp"

namespace engine {

// A fresh event for a canonical request (op, path, data).
AuditEvent audit_event(const Request& req);
// Where the request lands: namespace, path below it, mount.
void audit_route(AuditEvent& event, const Route& route);
// Who asks: the token's display name, policies, entity (identity policies
// looked up in identity; caller holds the core lock). Skipped while no
// device of broker is enabled.
void audit_auth(AuditEvent& event, const AuditBroker& broker, const IdentityStore& identity, const Router& router,
                const Auth& auth);

// A request refused before its backend: logs its request entry with the
// error (a failing device does not change the answer) and returns error.
Error audit_refused(AuditBroker& broker, AuditEvent& event, Error error);
// After the backend: logs the response entry. When devices are enabled and
// none logged it, the caller gets that error (the change is made, as in Vault).
Result<Response> audit_result(AuditBroker& broker, const AuditEvent& event, Result<Response> result);

// The administrative namespace (vault-semantics §11): may a request in the
// namespace at ns_path use the root-only sys endpoint `rel` (below sys/)?
// True for sys/audit-hash, sys/monitor and sys/quotas/{config,rate-limit,
// lease-count} when ns_path is CoreOptions::administrative_namespace_path.
bool admin_namespace_allows(const CoreOptions& opts, std::string_view ns_path, std::string_view rel);

}  // namespace engine
