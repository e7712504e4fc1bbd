// SPDX-License-Identifier: MPL-2.0
// What every name a caller creates (namespace, mount path segment, policy)
// must be, so that it can be shown as JSON, matched by an ACL path and
// addressed through the file view afterwards.
#pragma once

#include <string_view>

#include "engine/common/error.hpp"

namespace engine {

// InvalidArgument, naming `what`, when name is not valid UTF-8, holds a
// control character, a '*' (the ACL's glob: a name with one could not be
// granted on its own), or a percent escape such as "%2F" (Vault decodes
// those in its URLs, so such a name means something else there). Pure.
Status check_name_text(std::string_view name, std::string_view what);

// Vault's event-type and namespace globs (ryanuber/go-glob): '*' matches any
// run of characters, '/' included; nothing else is special. Linear in
// pattern and text (greedy with one backtrack point). Pure.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace engine
