// SPDX-License-Identifier: MPL-2.0
// Escaping of what a user types into LDAP filters and DNs. The property is
// the one that matters for injection: an escaped filter value leaves none of
// RFC 4515's specials bare, and an escaped DN value reads back, through
// libldap's own DN parser, as exactly one attribute with exactly that value.
#include <ldap.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "engine/auth/ldap_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine::auth;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const std::string filter_value = ldap_escape_filter(in);
  for (std::size_t i = 0; i < filter_value.size(); ++i) {
    const auto c = static_cast<unsigned char>(filter_value[i]);
    if (c == '*' || c == '(' || c == ')' || c == '\0' || c >= 0x80) __builtin_trap();
    if (c == '\\' &&
        (i + 2 >= filter_value.size() || !std::isxdigit(filter_value[i + 1]) || !std::isxdigit(filter_value[i + 2]))) {
      __builtin_trap();
    }
  }

  if (auto dn_value = ldap_escape_dn_value(in); dn_value.ok()) {
    const std::string dn = "cn=" + *dn_value + ",dc=example,dc=org";
    LDAPDN parsed = nullptr;
    if (ldap_str2dn(dn.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) __builtin_trap();
    int rdns = 0;
    while (parsed[rdns] != nullptr) ++rdns;
    const LDAPAVA* first = parsed[0][0];
    const bool one_ava = parsed[0][1] == nullptr;
    const std::string_view value(first->la_value.bv_val, first->la_value.bv_len);
    if (rdns != 3 || !one_ava || value != in) __builtin_trap();
    ldap_dnfree(parsed);
  }

  const std::map<std::string, std::string> fields{{"Username", std::string(in)}, {"UserDN", "cn=x,dc=org"}};
  (void)render_ldap_template(in, fields);
  (void)ldap_group_cn(in);
  return 0;
}
