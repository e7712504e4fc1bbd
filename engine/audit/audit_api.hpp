// SPDX-License-Identifier: MPL-2.0
// The sys/ endpoints of audit and monitoring: sys/audit[/NAME] (enable,
// read, disable, list), sys/audit-hash/NAME and sys/monitor. The core has
// already checked the namespace (root, or the administrative namespace for
// audit-hash and monitor), the ACL and sudo.
#pragma once

#include "engine/audit/log_hub.hpp"
#include "engine/sys/sys_backend.hpp"

namespace engine {

// True for the paths below sys/ served here ("audit", "audit/f",
// "audit-hash/f", "monitor", "monitor@debug").
bool is_audit_sys_path(std::string_view rel);

Result<Response> handle_audit_sys(SysContext& ctx, Operation op, std::string_view rel, const Json& body);

// The level a sys/monitor request asks for: rel "monitor" with body
// {"log_level": L} (default info), or "monitor@L". InvalidArgument for an
// unknown level.
Result<MonitorLevel> monitor_level(std::string_view rel, const Json& body);

}  // namespace engine
