// SPDX-License-Identifier: MPL-2.0
// The sys/ endpoints of audit and monitoring: sys/audit[/NAME] (enable,
// read, disable, list), sys/audit-hash/NAME and sys/monitor. A Backend the
// system backend hands these paths to (engine/sys/sys_backend.hpp); the core
// has already checked the namespace (root, or the administrative namespace
// for audit-hash and monitor), the ACL and sudo, from this backend's path
// table.
#pragma once

#include "engine/audit/audit_broker.hpp"
#include "engine/audit/log_hub.hpp"
#include "engine/backend/backend.hpp"
#include "engine/common/core_options.hpp"

namespace engine {

// The stores the audit endpoints use.
struct AuditStores {
  AuditBroker& audit;
  const CoreOptions& opts;  // the administrative namespace
};

class AuditBackend final : public Backend {
 public:
  explicit AuditBackend(AuditStores stores) : stores_(stores) {}

  // Serves `sys/<req.path>` for the paths is_audit_sys_path() accepts, in
  // req.ctx->ns (req.ctx required). Errors: InvalidArgument, NotFound,
  // Unsupported ("unsupported path"), the broker's.
  Result<Response> handle(const BackendRequest& req) override;

  // sys/audit, sys/audit-hash and sys/monitor exist in the root namespace
  // only; sys/audit and sys/audit/... need sudo (Vault's PathsSpecial.Root).
  // No existence checks (OpenBao's audit/<path> has none).
  PathProperties path_properties(std::string_view rel, Operation op) const override;

 private:
  AuditStores stores_;
};

// True for the paths below sys/ served here ("audit", "audit/f",
// "audit-hash/f", "monitor", "monitor@debug").
bool is_audit_sys_path(std::string_view rel);

// The level a sys/monitor request asks for: rel "monitor" with body
// {"log_level": L} (default info), or "monitor@L". InvalidArgument for an
// unknown level.
Result<MonitorLevel> monitor_level(std::string_view rel, const Json& body);

}  // namespace engine
