// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/template_render.hpp"

#include <utility>

namespace engine {

namespace {

// The core's Json (zeroing allocator) as the template engine's value. Depth
// is bounded by the core (request and response depth).
nlohmann::json plain(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      nlohmann::json o = nlohmann::json::object();
      for (auto it = v.begin(); it != v.end(); ++it) o[std::string(it.key().data(), it.key().size())] = plain(*it);
      return o;
    }
    case Json::value_t::array: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : v) a.push_back(plain(e));
      return a;
    }
    case Json::value_t::string: {
      const auto& s = v.get_ref<const Json::string_t&>();
      return std::string(s.data(), s.size());
    }
    case Json::value_t::boolean: return v.get<bool>();
    case Json::value_t::number_integer: return v.get<std::int64_t>();
    case Json::value_t::number_unsigned: return v.get<std::uint64_t>();
    case Json::value_t::number_float: return v.get<double>();
    default: return nullptr;
  }
}

}  // namespace

std::string kv2_read_path(const NamespaceSnapshot& tree, std::string_view ns_prefix, const std::string& path) {
  if (tree.sealed) return path;
  const SnapshotRoute route = tree.resolve(std::string(ns_prefix) + path);
  if (route.mount == nullptr || route.mount->kv_version != 2) return path;
  // consul-template (dependency/vault_read.go shimKVv2Path): the mount itself
  // reads MOUNT/data; a path with data/ or metadata/ after the mount is left
  // as written; anything else gets data/ inserted after the mount.
  const std::string_view rel = route.rel;
  if (rel.starts_with("data/") || rel.starts_with("metadata/")) return path;
  if (!std::string_view(path).ends_with(rel)) return path;  // not as resolved: leave it to the core
  std::string mount = path.substr(0, path.size() - rel.size());
  if (!mount.empty() && mount.back() != '/') mount.push_back('/');
  return rel.empty() ? mount + "data" : mount + "data/" + std::string(rel);
}

Result<TemplateRender> render_template(Core& core, const Caller& caller, std::string_view ns_prefix,
                                       const ctmpl::Template& t) {
  TemplateRender out;
  UseBudget own;
  UseBudget* uses = caller.uses != nullptr ? caller.uses : &own;
  auto request = [&](Operation op, const std::string& path) -> Result<Response> {
    if (path.empty() || path.front() == '/' || path.find("..") != std::string::npos) {
      return Error::invalid("template path must be relative, with no \"..\"");
    }
    Request req;
    req.op = op;
    req.path = std::string(ns_prefix) + path;
    req.token = caller.token;
    req.uses = uses;
    req.peer = caller.peer;
    out.dependencies.push_back(path);
    return core.handle(req);
  };
  ctmpl::Source source;
  source.secret = [&](const std::string& written) -> Result<nlohmann::json> {
    const std::string path = kv2_read_path(*core.namespaces(), ns_prefix, written);
    COFFER_TRY(Response r, request(Operation::Read, path));
    if (r.modified && (!out.modified || *r.modified > *out.modified)) out.modified = r.modified;
    return nlohmann::json{{"RequestID", ""},    {"LeaseID", ""},         {"LeaseDuration", 0},
                          {"Renewable", false}, {"Data", plain(r.data)}, {"Warnings", r.warnings}};
  };
  source.secrets = [&](const std::string& path) -> Result<nlohmann::json> {
    COFFER_TRY(Response r, request(Operation::List, path));
    auto it = r.data.find("keys");
    if (it == r.data.end() || !it->is_array()) return nlohmann::json::array();
    return plain(*it);
  };
  COFFER_TRY(out.bytes, t.render(source));
  return out;
}

}  // namespace engine
