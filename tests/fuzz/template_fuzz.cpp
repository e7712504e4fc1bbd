// SPDX-License-Identifier: MPL-2.0
// Templated policy paths ({{identity.entity.metadata.team}}...) rendered for
// an identity whose names and metadata come from the input too: rendering
// must succeed or fail cleanly, and a rendered path never carries a glob a
// value smuggled in.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/duration.hpp"
#include "engine/policy/template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine::policy;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // Input: TEMPLATE \0 VALUE (the value fills every identity field).
  const auto nul = in.find('\0');
  const std::string_view text = in.substr(0, nul);
  const std::string value(nul == std::string_view::npos ? std::string_view("v") : in.substr(nul + 1));

  (void)has_template(text);
  (void)validate_template(text);
  (void)engine::parse_duration_ns(text);

  IdentityContext id;
  id.entity = EntityInfo{"entity-id",
                         value,
                         {{"team", value}, {value, "x"}},
                         {AliasInfo{"auth_userpass_1", "alias-id", value, {{"k", value}}, {{"c", value}}}}};
  id.groups = {GroupInfo{"group-id", value, "root", {{"team", value}}}};
  for (const bool slashes : {false, true}) {
    TemplateOptions options;
    options.allow_slashes = slashes;
    auto out = populate_template(text, id, options);
    if (!out.ok()) continue;
    // A substituted value may never add '*' or '+' (they would widen the path).
    const bool text_has_glob = text.find_first_of("*+") != std::string_view::npos;
    if (!text_has_glob && out->find_first_of("*+") != std::string::npos) __builtin_trap();
  }
  return 0;
}
