// SPDX-License-Identifier: MPL-2.0
#include "engine/common/secure.hpp"

#include <sodium.h>

namespace engine {

void secure_zero(void* p, std::size_t n) noexcept {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

SecureString render_pretty(const Json& value) {
  SecureString out = value.dump(2);
  out.push_back('\n');
  return out;
}

SecureString field_text(const Json& value) {
  if (value.is_string()) return value.get_ref<const SecureString&>();
  return value.dump();
}

}  // namespace engine
