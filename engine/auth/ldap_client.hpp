// SPDX-License-Identifier: MPL-2.0
// The directory side of the ldap auth method (vault-semantics §10, Vault's
// ldaputil): its configuration, and one login against an LDAP server with
// the OpenLDAP client library.
//
// Nothing from a user is ever pasted into a filter or a DN as is: values
// go into filters escaped as RFC 4515 wants (ldap_bv2escaped_filter_value)
// and into DNs as RFC 4514 wants (ldap_rdn2str), and the Go-template style
// filters know only their named fields.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/auth/token_params.hpp"
#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine::auth {

inline constexpr const char* kLdapDefaultGroupFilter =
    "(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))";
inline constexpr const char* kLdapDefaultUserFilter = "({{.UserAttr}}={{.Username}})";
// Vault's message for every failure to find or bind the user: it does not
// tell a wrong password from an unknown user.
inline constexpr const char* kLdapBindFailed = "ldap operation failed: failed to bind as user";

// auth/<mount>/config, with Vault's defaults.
struct LdapConfig {
  std::string url = "ldap://127.0.0.1";  // comma-separated; tried in order
  bool starttls = false;
  bool insecure_tls = false;
  std::string certificate;  // PEM of the CA(s) that sign the server's certificate
  std::string tls_min_version = "tls12";
  std::string tls_max_version = "tls12";
  std::string binddn;
  SecureString bindpass;
  std::string userdn;
  std::string userattr = "cn";
  std::string userfilter = kLdapDefaultUserFilter;
  std::string upndomain;
  bool discoverdn = false;
  std::string groupdn;
  std::string groupfilter = kLdapDefaultGroupFilter;
  std::string groupattr = "cn";
  bool deny_null_bind = true;
  bool case_sensitive_names = false;
  bool username_as_alias = false;
  bool anonymous_group_search = false;
  std::string dereference_aliases = "never";  // never | finding | searching | always
  std::int64_t request_timeout = 90;          // seconds, each LDAP operation
  std::int64_t connection_timeout = 30;       // seconds, each connection (TCP + TLS)
  TokenParams token;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(url, starttls, insecure_tls, certificate, tls_min_version, tls_max_version, binddn, bindpass, userdn, userattr,
       userfilter, upndomain, discoverdn, groupdn, groupfilter, groupattr, deny_null_bind, case_sensitive_names,
       username_as_alias, anonymous_group_search, dereference_aliases, request_timeout, connection_timeout, token);
  }
};

// Applies the config fields present in body to cfg (a write updates, as
// Vault's does). InvalidArgument for unknown keys, wrong types, bad URLs,
// templates naming unknown fields, a bad TLS version or timeout.
Status parse_ldap_config(const Json& body, LdapConfig& cfg);
// The config as Vault's read shows it: every field but bindpass.
Json show_ldap_config(const LdapConfig& cfg);

// What the directory says about a user who bound with their password.
struct DirectoryUser {
  std::string dn;                   // the user's DN
  std::string alias;                // the entity alias: userattr's value, or the username
  std::vector<std::string> groups;  // group names (cn) as the directory spells them, no duplicates
  std::vector<std::string> warnings;
};

// One login: connects (each URL in turn; StartTLS when asked), finds the
// user's DN (search as binddn, or upndomain, or userattr=NAME,userdn), binds
// as the user with the password, searches their groups. Errors:
//   InvalidArgument kLdapBindFailed — no such user, several, wrong password;
//   InvalidArgument "password cannot be of zero length when passwordless binds are being denied";
//   Unavailable "error connecting to host ..." — refused, unreachable, TLS;
//   TimedOut — the server did not answer within the configured timeouts;
//   InvalidArgument "LDAP search failed: ..." — the directory refused a search.
// Blocks up to the timeouts: callers hold no lock.
Result<DirectoryUser> ldap_login(const LdapConfig& cfg, std::string_view username, std::string_view password);

// ---- Pieces, exposed for tests -----------------------------------------------------

// RFC 4515 escaping of a value for a filter, as go-ldap's EscapeFilter:
// '*', '(', ')', '\', NUL and bytes >= 0x80 become \XX.
std::string ldap_escape_filter(std::string_view value);
// RFC 4514 escaping of an attribute value for a DN ("a,b" → "a\,b").
Result<std::string> ldap_escape_dn_value(std::string_view value);
// Renders a Go-template style filter: {{.Name}} (spaces allowed inside the
// braces) replaced by fields[Name]; values are inserted as given, so the
// caller escapes them. InvalidArgument for an unknown field or a template
// that is not just text and {{.Field}} actions.
Result<std::string> render_ldap_template(std::string_view tmpl, const std::map<std::string, std::string>& fields);
// The group name a groupattr value or a DN stands for (Vault's getCN): the
// value of the first CN in the DN (case-insensitive type); the text itself
// when it is not a DN or has no CN.
std::string ldap_group_cn(std::string_view dn_or_name);

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::LdapConfig, 1);
