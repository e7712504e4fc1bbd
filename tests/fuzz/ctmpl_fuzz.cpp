// SPDX-License-Identifier: MPL-2.0
// consul-template templates (the config file's `template` blocks, from the
// operator) parsed and rendered against a fixed KV v2 source: parsing and
// rendering must succeed or fail cleanly, within the limits, never partial.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/ctmpl/ctmpl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine::ctmpl;
  using nlohmann::json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_output = 64 * 1024;
  limits.max_iterations = 10 * 1000;
  auto t = Template::parse("fuzz.ctmpl", text, limits);
  if (!t.ok()) {
    if (t.error().code != engine::ErrorCode::InvalidArgument) __builtin_trap();
    return 0;
  }
  Source source;
  source.secret = [](const std::string& path) -> engine::Result<json> {
    if (path == "kv/data/denied") return engine::Error::denied();
    if (path.empty() || path == "kv/data/missing") return engine::Error::not_found("no secret");
    return json{{"Data",
                 {{"data", {{"user", "app"}, {"password", "s3cr3t"}, {"n", 7}, {"l", "a,b,c"}, {"j", "[1,{\"a\":2}]"}}},
                  {"metadata", {{"version", 3}, {"created_time", "2026-01-01T00:00:00Z"}}}}}};
  };
  source.secrets = [](const std::string&) -> engine::Result<json> { return json::array({"app", "db", "web"}); };
  auto r = t->render(source, json{{"x", {1, 2, 3}}, {"s", "str"}});
  if (r.ok() && r->size() > limits.max_output) __builtin_trap();
  if (!r.ok() && r.error().code == engine::ErrorCode::InvalidArgument) __builtin_trap();
  return 0;
}
