// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/monitor.hpp"

#include "engine/audit/audit_api.hpp"
#include "engine/core.hpp"

namespace engine {

bool is_monitor_path(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (last != "monitor" && !last.starts_with("monitor@")) return false;
  std::string_view before = slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
  return before == "sys" || before.ends_with("/sys");
}

Result<std::unique_ptr<LogHub::Subscription>> open_monitor(Core& core, const Caller& caller, std::string_view path) {
  if (!is_monitor_path(path)) return Error::not_found("not a monitor file");
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::string api(path);
  Json data = Json::object();
  if (auto at = api.rfind('@'); at != std::string::npos && at > api.rfind('/')) {
    data["log_level"] = api.substr(at + 1);
    api.resize(at);
  }
  {
    // Only the monitor of a namespace's system backend, not a KV secret
    // that happens to be called sys/monitor.
    const auto tree = core.namespaces();
    if (tree->sealed) return Error::sealed();
    SnapshotRoute route = tree->resolve(api);
    if (route.mount == nullptr || route.mount->type != "system") return Error::not_found("not a monitor file");
  }
  COFFER_TRY(auto level, monitor_level("monitor", data));
  Request req;
  req.op = Operation::Read;
  req.path = api;
  req.data = std::move(data);
  req.token = caller.token;
  COFFER_TRY(auto resp, core.handle(req));
  (void)resp;
  return LogHub::instance().subscribe(level);
}

}  // namespace engine
