// SPDX-License-Identifier: MPL-2.0
// libFuzzer target for the policy parser and ACL (not part of the default
// build; see build.sh). Any input must parse or fail cleanly, and whatever
// parses must compile and answer decisions without tripping a sanitizer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/policy/acl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine;
  using namespace engine::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = parse_policy("fuzz", text, size % 2 != 0 ? "ns1" : "");
  if (!policy) return 0;
  IdentityContext id;
  id.entity = EntityInfo{"e", "n", {{"team", "t"}}, {}};
  auto acl = Acl::compile(std::vector<Policy>{*policy}, id);
  if (!acl) __builtin_trap();  // a parsed policy must always compile
  Json body = Json::object();
  body["k"] = "v";
  for (const char* path : {"secret/foo", "secret/a/x", "k/t/", "a", "ns1/secret/foo", ""}) {
    (void)acl->allow(Operation::Update, path, body, 30);
    (void)acl->allow(Operation::List, path, Json::object(), std::nullopt);
    (void)acl->capabilities(path);
  }
  return 0;
}
