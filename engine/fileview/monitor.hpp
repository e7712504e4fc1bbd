// SPDX-License-Identifier: MPL-2.0
// sys/monitor as a file (SPEC §6, vault-semantics §11): opening
// `NS/sys/monitor` (level info) or `NS/sys/monitor@LEVEL` makes one Read
// request of sys/monitor through the core (token, namespace gate, ACL,
// audit) and, when it is allowed, subscribes to the log hub; the fs then
// serves the subscription's lines as the file's contents while it is open.
#pragma once

#include <memory>
#include <string_view>

#include "engine/audit/log_hub.hpp"
#include "engine/common/error.hpp"
#include "engine/fileview/file_view.hpp"

namespace engine {

class Core;

// True when the mount-relative path's last two segments are sys/monitor or
// sys/monitor@LEVEL (cheap, syntax only).
bool is_monitor_path(std::string_view path);

// Authorises and subscribes. NotFound when path is not the monitor of a
// namespace's sys/ (a KV secret called sys/monitor stays a secret), the
// core's errors otherwise (PermissionDenied, Unsupported "unsupported path"
// outside the root and administrative namespaces, InvalidArgument for an
// unknown level). Thread-safe.
Result<std::unique_ptr<LogHub::Subscription>> open_monitor(Core& core, const Caller& caller, std::string_view path);

}  // namespace engine
