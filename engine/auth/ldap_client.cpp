// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/ldap_client.hpp"

#include <ldap.h>
#include <malloc.h>
#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

#include "engine/common/fields.hpp"
#include "engine/common/utf8.hpp"

namespace engine::auth {
namespace {

// ---- Configuration -----------------------------------------------------------------

constexpr std::string_view kConfigKeys[] = {"url",
                                            "starttls",
                                            "insecure_tls",
                                            "certificate",
                                            "tls_min_version",
                                            "tls_max_version",
                                            "binddn",
                                            "bindpass",
                                            "userdn",
                                            "userattr",
                                            "userfilter",
                                            "upndomain",
                                            "discoverdn",
                                            "groupdn",
                                            "groupfilter",
                                            "groupattr",
                                            "deny_null_bind",
                                            "case_sensitive_names",
                                            "username_as_alias",
                                            "anonymous_group_search",
                                            "dereference_aliases",
                                            "request_timeout",
                                            "connection_timeout"};

// Accepted for Vault compatibility only at their default (off): what they
// turn on has no meaning against the directories Coffer supports.
constexpr std::string_view kOffOnlyKeys[] = {"use_token_groups", "use_pre111_group_cn_behavior"};

bool is_config_key(std::string_view key) {
  return std::find(std::begin(kConfigKeys), std::end(kConfigKeys), key) != std::end(kConfigKeys) ||
         std::find(std::begin(kOffOnlyKeys), std::end(kOffOnlyKeys), key) != std::end(kOffOnlyKeys) ||
         is_token_param_key(key);
}

int tls_version(std::string_view v) {
  if (v == "tls10") return LDAP_OPT_X_TLS_PROTOCOL_TLS1_0;
  if (v == "tls11") return LDAP_OPT_X_TLS_PROTOCOL_TLS1_1;
  if (v == "tls12") return LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
  if (v == "tls13") return LDAP_OPT_X_TLS_PROTOCOL_TLS1_3;
  return 0;
}

std::vector<std::string> split_urls(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

Status check_urls(std::string_view list) {
  auto urls = split_urls(list);
  if (urls.empty()) return Error::invalid("url must not be empty");
  for (const auto& url : urls) {
    LDAPURLDesc* desc = nullptr;
    const int rc = ldap_url_parse(url.c_str(), &desc);
    std::string scheme = desc != nullptr && desc->lud_scheme != nullptr ? desc->lud_scheme : "";
    if (desc != nullptr) ldap_free_urldesc(desc);
    if (rc == LDAP_URL_ERR_BADSCHEME) return Error::invalid("invalid LDAP scheme in url \"" + url + "\"");
    if (rc != LDAP_URL_SUCCESS) return Error::invalid("error parsing url \"" + url + "\"");
    if (scheme != "ldap" && scheme != "ldaps") return Error::invalid("invalid LDAP scheme in url \"" + url + "\"");
  }
  return {};
}

Status check_template(std::string_view field, std::string_view tmpl, std::initializer_list<const char*> names) {
  std::map<std::string, std::string> probe;
  for (const char* n : names) probe[n] = "x";
  auto rendered = render_ldap_template(tmpl, probe);
  if (!rendered.ok()) return Error::invalid("invalid " + std::string(field) + ": " + rendered.error().message);
  return {};
}

Result<std::optional<std::string>> get_text(const Json& body, std::string_view key) {
  COFFER_TRY(auto v, fields::get_string(body, key));
  if (v && v->find('\0') != std::string::npos) return Error::invalid("field \"" + std::string(key) + "\" contains NUL");
  return v;
}

// ---- The libldap side ----------------------------------------------------------------

// liblber's buffers hold the encoded bind requests, passwords included:
// every block it frees is zeroed first. Installed once, before any login;
// blocks liblber took from malloc earlier are freed the same way.
void* ber_plain_malloc(ber_len_t size, void* /*ctx*/) { return std::malloc(size); }
void* ber_plain_calloc(ber_len_t n, ber_len_t size, void* /*ctx*/) { return std::calloc(n, size); }
void ber_zeroing_free(void* p, void* /*ctx*/) {
  if (p == nullptr) return;
  sodium_memzero(p, malloc_usable_size(p));
  std::free(p);
}
void* ber_zeroing_realloc(void* p, ber_len_t size, void* ctx) {
  if (p == nullptr) return std::malloc(size);
  void* moved = std::malloc(size == 0 ? 1 : size);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, p, std::min<std::size_t>(malloc_usable_size(p), size));
  ber_zeroing_free(p, ctx);
  return moved;
}
const bool kBerZeroing = [] {
  static BerMemoryFunctions fns{ber_plain_malloc, ber_plain_calloc, ber_zeroing_realloc, ber_zeroing_free};
  return ber_set_option(nullptr, LBER_OPT_MEMORY_FNS, &fns) == LBER_OPT_SUCCESS;
}();

struct LdapCloser {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using LdapPtr = std::unique_ptr<LDAP, LdapCloser>;

struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
using MessagePtr = std::unique_ptr<LDAPMessage, MessageFree>;

// libldap's words for rc, with the server's diagnostic when it sent one.
std::string describe(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  char* diag = nullptr;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS && diag != nullptr) {
    // libldap leaves "(unknown error code)" behind after some TLS failures.
    if (*diag != '\0' && std::strstr(diag, "unknown error code") == nullptr) out += std::string(" (") + diag + ")";
    ldap_memfree(diag);
  }
  return out;
}

bool lost_server(int rc) { return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR; }

// An operation's failure: the server going quiet or away is not the user's
// fault, and says so; anything else is `what` with the server's words.
Error operation_error(LDAP* ld, int rc, const LdapConfig& cfg, const std::string& what) {
  if (rc == LDAP_TIMEOUT) {
    return Error::timed_out("LDAP server did not answer within " + std::to_string(cfg.request_timeout) +
                            "s (request_timeout)");
  }
  if (lost_server(rc)) return Error::unavailable("LDAP server connection lost: " + describe(ld, rc));
  return Error::invalid(what + describe(ld, rc));
}

// The CA certificate as a file libldap can read: an anonymous memory file,
// named through /proc/self/fd, closed once the TLS context has loaded it.
class MemoryFile {
 public:
  explicit MemoryFile(std::string_view text) : fd_(memfd_create("coffer-ldap-ca", MFD_CLOEXEC)) {
    std::size_t done = 0;
    while (fd_ >= 0 && done < text.size()) {
      ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
  }
  ~MemoryFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

Status set_tls_options(LDAP* ld, const LdapConfig& cfg) {
  int require = cfg.insecure_tls ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_DEMAND;
  if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS) {
    return Error::internal("cannot set LDAP TLS verification");
  }
  int min = tls_version(cfg.tls_min_version);
  int max = tls_version(cfg.tls_max_version);
  if (min != 0) ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
  if (max != 0) ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MAX, &max);
  std::optional<MemoryFile> ca;
  if (!cfg.certificate.empty()) {
    ca.emplace(cfg.certificate);
    if (!ca->ok()) return Error::internal("cannot hold the LDAP CA certificate in memory");
    const std::string path = ca->path();
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, path.c_str()) != LDAP_OPT_SUCCESS) {
      return Error::internal("cannot set the LDAP CA certificate");
    }
  }
  // A TLS context of this handle's own, made from the options above (the
  // CA file is read now, so the memory file may close after).
  int is_server = 0;
  const int rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
  if (rc != LDAP_OPT_SUCCESS) return Error::invalid("LDAP TLS setup failed: " + describe(ld, rc));
  return {};
}

// Connects to one URL: TCP, TLS for ldaps://, StartTLS when asked.
Result<LdapPtr> connect_one(const LdapConfig& cfg, const std::string& url) {
  const bool ldaps = url.starts_with("ldaps://");
  const bool tls = ldaps || cfg.starttls;
  auto refused = [&](LDAP* ld, int rc) -> Error {
    std::string msg = "error connecting to host \"" + url + "\": " + describe(ld, rc);
    if (tls && rc != LDAP_TIMEOUT) msg += " (or its TLS certificate was refused: unknown CA or name mismatch)";
    if (rc == LDAP_TIMEOUT) return Error::timed_out(std::move(msg));
    return Error::unavailable(std::move(msg));
  };
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, url.c_str());
  if (rc != LDAP_SUCCESS) return Error::unavailable("error connecting to host \"" + url + "\": " + ldap_err2string(rc));
  LdapPtr ld(raw);
  int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  ldap_set_option(ld.get(), LDAP_OPT_RESTART, LDAP_OPT_ON);
  timeval network{static_cast<time_t>(cfg.connection_timeout), 0};
  timeval request{static_cast<time_t>(cfg.request_timeout), 0};
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &network);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &request);
  int deref = cfg.dereference_aliases == "always"      ? LDAP_DEREF_ALWAYS
              : cfg.dereference_aliases == "finding"   ? LDAP_DEREF_FINDING
              : cfg.dereference_aliases == "searching" ? LDAP_DEREF_SEARCHING
                                                       : LDAP_DEREF_NEVER;
  ldap_set_option(ld.get(), LDAP_OPT_DEREF, &deref);
  if (tls) COFFER_TRY_STATUS(set_tls_options(ld.get(), cfg));
  rc = ldap_connect(ld.get());
  if (rc != LDAP_SUCCESS) return refused(ld.get(), rc);
  if (cfg.starttls && !ldaps) {
    rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS) return refused(ld.get(), rc);
  }
  return ld;
}

// Vault's DialLDAP: each URL in turn, the first that connects wins; when
// none does, every failure is reported (timed out if any timed out).
Result<LdapPtr> connect(const LdapConfig& cfg) {
  if (!kBerZeroing) return Error::internal("cannot make liblber zero the memory it frees");
  std::string errors;
  bool timed_out = false;
  for (const auto& url : split_urls(cfg.url)) {
    auto ld = connect_one(cfg, url);
    if (ld.ok()) return ld;
    timed_out = timed_out || ld.error().code == ErrorCode::TimedOut;
    if (!errors.empty()) errors += "; ";
    errors += ld.error().message;
  }
  if (errors.empty()) errors = "no LDAP url configured";
  return timed_out ? Error::timed_out(std::move(errors)) : Error::unavailable(std::move(errors));
}

// A simple bind; an empty password makes it an unauthenticated bind.
int simple_bind(LDAP* ld, const std::string& dn, std::string_view password) {
  berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

// Binds as the configured binddn (anonymously when it has no password).
Status bind_service(LDAP* ld, const LdapConfig& cfg) {
  const int rc = simple_bind(ld, cfg.binddn, as_view(cfg.bindpass));
  if (rc == LDAP_SUCCESS) return {};
  if (rc == LDAP_TIMEOUT || lost_server(rc)) return operation_error(ld, rc, cfg, "");
  return Error::invalid("LDAP bind (service) failed: " + describe(ld, rc));
}

struct Found {
  std::string dn;
  std::vector<std::string> values;  // of the one attribute asked for
};

Result<std::vector<Found>> search(LDAP* ld, const LdapConfig& cfg, const std::string& base, const std::string& filter,
                                  const std::string& attribute) {
  std::string attr = attribute.empty() ? std::string(LDAP_NO_ATTRS) : attribute;
  char* attrs[] = {attr.data(), nullptr};
  timeval limit{static_cast<time_t>(cfg.request_timeout), 0};
  LDAPMessage* raw = nullptr;
  const int rc = ldap_search_ext_s(ld, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0, nullptr, nullptr,
                                   &limit, LDAP_NO_LIMIT, &raw);
  MessagePtr result(raw);
  if (rc != LDAP_SUCCESS) return operation_error(ld, rc, cfg, "LDAP search failed: ");
  std::vector<Found> out;
  for (LDAPMessage* e = ldap_first_entry(ld, result.get()); e != nullptr; e = ldap_next_entry(ld, e)) {
    Found f;
    if (char* dn = ldap_get_dn(ld, e); dn != nullptr) {
      f.dn = dn;
      ldap_memfree(dn);
    }
    if (!attribute.empty()) {
      if (berval** values = ldap_get_values_len(ld, e, attribute.c_str()); values != nullptr) {
        for (berval** v = values; *v != nullptr; ++v) f.values.emplace_back((*v)->bv_val, (*v)->bv_len);
        ldap_value_free_len(values);
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

// Vault's RenderUserSearchFilter.
Result<std::string> user_filter(const LdapConfig& cfg, std::string_view username) {
  std::map<std::string, std::string> fields{{"UserAttr", ldap_escape_filter(cfg.userattr)},
                                            {"Username", ldap_escape_filter(username)}};
  if (!cfg.upndomain.empty()) {
    fields["UserAttr"] = "userPrincipalName";
    fields["Username"] = ldap_escape_filter(username) + "@" + cfg.upndomain;
  }
  return render_ldap_template(cfg.userfilter, fields);
}

// Vault's GetUserBindDN: the DN the user binds as. Any failure to find
// exactly one user is the generic bind failure.
Result<std::string> user_bind_dn(LDAP* ld, const LdapConfig& cfg, std::string_view username) {
  if (cfg.discoverdn || (!cfg.binddn.empty() && !cfg.bindpass.empty())) {
    if (auto st = bind_service(ld, cfg); !st.ok()) {
      if (st.error().code == ErrorCode::InvalidArgument) return Error::invalid(kLdapBindFailed);
      return std::move(st).error();
    }
    COFFER_TRY(std::string filter, user_filter(cfg, username));
    auto found = search(ld, cfg, cfg.userdn, filter, "");
    if (!found.ok()) {
      if (found.error().code == ErrorCode::InvalidArgument) return Error::invalid(kLdapBindFailed);
      return std::move(found).error();
    }
    if (found->size() != 1) return Error::invalid(kLdapBindFailed);
    return found->front().dn;
  }
  COFFER_TRY(std::string value, ldap_escape_dn_value(username));
  if (!cfg.upndomain.empty()) return value + "@" + cfg.upndomain;
  return cfg.userattr + "=" + value + "," + cfg.userdn;
}

// Vault's GetUserAliasAttributeValue: the user's userattr, looked up as the
// binddn (or anonymously).
Result<std::string> alias_of(LDAP* ld, const LdapConfig& cfg, std::string_view username) {
  COFFER_TRY_STATUS(bind_service(ld, cfg));
  COFFER_TRY(std::string filter, user_filter(cfg, username));
  COFFER_TRY(auto found, search(ld, cfg, cfg.userdn, filter, cfg.userattr));
  if (found.size() != 1) return Error::invalid("LDAP search for entity alias attribute 0 or not unique");
  if (found.front().values.empty()) return Error::invalid("LDAP attribute missing for entity alias mapping");
  if (found.front().values.size() != 1) {
    return Error::invalid("LDAP entity alias attribute " + cfg.userattr +
                          " empty or not unique for entity alias mapping");
  }
  if (found.front().values.front().empty()) return Error::invalid("missing entity alias attribute value");
  return found.front().values.front();
}

// Vault's GetLdapGroups with a group filter.
Result<std::vector<std::string>> groups_of(LDAP* ld, const LdapConfig& cfg, const std::string& user_dn,
                                           std::string_view username) {
  std::vector<std::string> out;
  if (cfg.groupdn.empty() || cfg.groupfilter.empty()) return out;
  COFFER_TRY(std::string filter, render_ldap_template(cfg.groupfilter, {{"UserDN", ldap_escape_filter(user_dn)},
                                                                        {"Username", ldap_escape_filter(username)}}));
  COFFER_TRY(auto found, search(ld, cfg, cfg.groupdn, filter, cfg.groupattr));
  std::set<std::string> seen;
  auto add = [&](std::string name) {
    if (!name.empty() && seen.insert(name).second) out.push_back(std::move(name));
  };
  for (const auto& entry : found) {
    if (entry.values.empty()) {
      add(ldap_group_cn(entry.dn));  // groupattr absent: the entry is the group
    } else {
      for (const auto& v : entry.values) add(ldap_group_cn(v));
    }
  }
  return out;
}

}  // namespace

// ---- Config ---------------------------------------------------------------------------

Status parse_ldap_config(const Json& body, LdapConfig& cfg) {
  if (!body.is_object()) return Error::invalid("request body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    std::string_view k(key.data(), key.size());
    if (!is_config_key(k)) return Error::invalid("unknown field \"" + std::string(k) + "\"");
  }
  for (std::string_view k : kOffOnlyKeys) {
    COFFER_TRY(auto on, fields::get_bool(body, k));
    if (on.value_or(false)) return Error::invalid(std::string(k) + " is not supported (Active Directory only)");
  }
  LdapConfig next = cfg;
  auto text = [&](std::string_view key, std::string& out) -> Status {
    COFFER_TRY(auto v, get_text(body, key));
    if (v) out = std::move(*v);
    return {};
  };
  auto flag = [&](std::string_view key, bool& out) -> Status {
    COFFER_TRY(auto v, fields::get_bool(body, key));
    if (v) out = *v;
    return {};
  };
  COFFER_TRY_STATUS(text("url", next.url));
  COFFER_TRY_STATUS(text("certificate", next.certificate));
  COFFER_TRY_STATUS(text("tls_min_version", next.tls_min_version));
  COFFER_TRY_STATUS(text("tls_max_version", next.tls_max_version));
  COFFER_TRY_STATUS(text("binddn", next.binddn));
  COFFER_TRY_STATUS(text("userdn", next.userdn));
  COFFER_TRY_STATUS(text("userattr", next.userattr));
  COFFER_TRY_STATUS(text("userfilter", next.userfilter));
  COFFER_TRY_STATUS(text("upndomain", next.upndomain));
  COFFER_TRY_STATUS(text("groupdn", next.groupdn));
  COFFER_TRY_STATUS(text("groupfilter", next.groupfilter));
  COFFER_TRY_STATUS(text("groupattr", next.groupattr));
  COFFER_TRY_STATUS(text("dereference_aliases", next.dereference_aliases));
  COFFER_TRY_STATUS(flag("starttls", next.starttls));
  COFFER_TRY_STATUS(flag("insecure_tls", next.insecure_tls));
  COFFER_TRY_STATUS(flag("discoverdn", next.discoverdn));
  COFFER_TRY_STATUS(flag("deny_null_bind", next.deny_null_bind));
  COFFER_TRY_STATUS(flag("case_sensitive_names", next.case_sensitive_names));
  COFFER_TRY_STATUS(flag("username_as_alias", next.username_as_alias));
  COFFER_TRY_STATUS(flag("anonymous_group_search", next.anonymous_group_search));
  if (auto it = body.find(std::string_view("bindpass")); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return Error::invalid("field \"bindpass\" must be a string");
    next.bindpass = it->get_ref<const SecureString&>();
  }
  COFFER_TRY(auto request_timeout, fields::get_duration(body, "request_timeout"));
  COFFER_TRY(auto connection_timeout, fields::get_duration(body, "connection_timeout"));
  if (request_timeout) next.request_timeout = *request_timeout;
  if (connection_timeout) next.connection_timeout = *connection_timeout;
  COFFER_TRY_STATUS(parse_token_params(body, next.token));

  COFFER_TRY_STATUS(check_urls(next.url));
  if (next.userattr.empty()) next.userattr = "cn";
  if (next.groupattr.empty()) next.groupattr = "cn";
  if (next.userfilter.empty()) next.userfilter = kLdapDefaultUserFilter;
  if (next.request_timeout <= 0 || next.connection_timeout <= 0) {
    return Error::invalid("request_timeout and connection_timeout must be positive");
  }
  if (tls_version(next.tls_min_version) == 0) return Error::invalid("invalid 'tls_min_version'");
  if (tls_version(next.tls_max_version) == 0) return Error::invalid("invalid 'tls_max_version'");
  if (tls_version(next.tls_max_version) < tls_version(next.tls_min_version)) {
    return Error::invalid("'tls_max_version' must be greater than or equal to 'tls_min_version'");
  }
  static const std::set<std::string> derefs{"never", "finding", "searching", "always"};
  if (!derefs.contains(next.dereference_aliases)) {
    return Error::invalid("invalid 'dereference_aliases': must be one of never, finding, searching, always");
  }
  if (!next.certificate.empty() && next.certificate.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Error::invalid("failed to parse certificate: no PEM certificate found");
  }
  COFFER_TRY_STATUS(check_template("userfilter", next.userfilter, {"UserAttr", "Username"}));
  COFFER_TRY_STATUS(check_template("groupfilter", next.groupfilter, {"UserDN", "Username"}));
  cfg = std::move(next);
  return {};
}

Json show_ldap_config(const LdapConfig& cfg) {
  Json out{{"url", cfg.url},
           {"starttls", cfg.starttls},
           {"insecure_tls", cfg.insecure_tls},
           {"certificate", cfg.certificate},
           {"tls_min_version", cfg.tls_min_version},
           {"tls_max_version", cfg.tls_max_version},
           {"binddn", cfg.binddn},
           {"userdn", cfg.userdn},
           {"userattr", cfg.userattr},
           {"userfilter", cfg.userfilter},
           {"upndomain", cfg.upndomain},
           {"discoverdn", cfg.discoverdn},
           {"groupdn", cfg.groupdn},
           {"groupfilter", cfg.groupfilter},
           {"groupattr", cfg.groupattr},
           {"deny_null_bind", cfg.deny_null_bind},
           {"case_sensitive_names", cfg.case_sensitive_names},
           {"username_as_alias", cfg.username_as_alias},
           {"anonymous_group_search", cfg.anonymous_group_search},
           {"dereference_aliases", cfg.dereference_aliases},
           {"request_timeout", cfg.request_timeout},
           {"connection_timeout", cfg.connection_timeout},
           {"use_token_groups", false},
           {"use_pre111_group_cn_behavior", false}};
  show_token_params(cfg.token, out);
  return out;
}

// ---- Login ----------------------------------------------------------------------------

Result<DirectoryUser> ldap_login(const LdapConfig& cfg, std::string_view username, std::string_view password) {
  if (cfg.deny_null_bind && password.empty()) {
    return Error::invalid("password cannot be of zero length when passwordless binds are being denied");
  }
  // No DN or C string can carry a NUL; nobody's name has one.
  if (username.empty() || username.find('\0') != std::string_view::npos) return Error::invalid(kLdapBindFailed);

  COFFER_TRY(LdapPtr ld, connect(cfg));
  COFFER_TRY(std::string bind_dn, user_bind_dn(ld.get(), cfg, username));

  // The authentication itself.
  int rc = simple_bind(ld.get(), bind_dn, password);
  if (rc == LDAP_TIMEOUT || lost_server(rc)) return operation_error(ld.get(), rc, cfg, "");
  if (rc != LDAP_SUCCESS) return Error::invalid(kLdapBindFailed);

  // Searches run as the binddn when there is one, not as the user.
  if (!cfg.binddn.empty() && !cfg.bindpass.empty()) {
    if (auto st = bind_service(ld.get(), cfg); !st.ok()) {
      if (st.error().code == ErrorCode::InvalidArgument) return Error::invalid(kLdapBindFailed);
      return std::move(st).error();
    }
  }

  DirectoryUser user;
  user.dn = bind_dn;
  if (!cfg.upndomain.empty()) {
    // Vault's GetUserDN: the DN of the entry whose userPrincipalName is the login.
    COFFER_TRY(auto found,
               search(ld.get(), cfg, cfg.userdn,
                      "(userPrincipalName=" + ldap_escape_filter(username) + "@" + cfg.upndomain + ")", ""));
    for (const auto& f : found) user.dn = f.dn;
  }

  if (cfg.anonymous_group_search) {
    COFFER_TRY(LdapPtr anonymous, connect(cfg));
    COFFER_TRY(user.groups, groups_of(anonymous.get(), cfg, user.dn, username));
  } else {
    COFFER_TRY(user.groups, groups_of(ld.get(), cfg, user.dn, username));
  }
  if (user.groups.empty() && !cfg.groupdn.empty()) {
    user.warnings.push_back("no LDAP groups found in groupDN \"" + cfg.groupdn +
                            "\"; only policies from locally-defined groups available");
  }

  if (cfg.username_as_alias) {
    user.alias = std::string(username);
  } else {
    COFFER_TRY(user.alias, alias_of(ld.get(), cfg, username));
  }
  return user;
}

// ---- Pieces ---------------------------------------------------------------------------

std::string ldap_escape_filter(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0 || c >= 0x80) {
      out += '\\';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<std::string> ldap_escape_dn_value(std::string_view value) {
  if (value.find('\0') != std::string_view::npos) return Error::invalid("DN value contains NUL");
  // libldap's UTF-8 handling trusts the lead byte: a truncated sequence at
  // the end makes it read past the value (found by tests/fuzz/ldap_escape).
  if (!utf8::valid(value)) return Error::invalid("DN value is not valid UTF-8");
  // One AVA "x=<value>" rendered by libldap in LDAPv3 string form.
  char type[] = "x";
  LDAPAVA ava{};
  ava.la_attr = berval{1, type};
  ava.la_value = berval{static_cast<ber_len_t>(value.size()), const_cast<char*>(value.data())};
  ava.la_flags = LDAP_AVA_STRING;
  LDAPAVA* rdn[] = {&ava, nullptr};
  char* out = nullptr;
  if (ldap_rdn2str(rdn, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || out == nullptr) {
    return Error::invalid("cannot escape DN value");
  }
  std::string escaped(out + 2);  // past "x="
  ldap_memfree(out);
  return escaped;
}

Result<std::string> render_ldap_template(std::string_view tmpl, const std::map<std::string, std::string>& fields) {
  std::string out;
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    auto open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    out.append(tmpl.substr(pos, open - pos));
    auto close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) return Error::invalid("template: unclosed action");
    std::string_view action = tmpl.substr(open + 2, close - open - 2);
    while (!action.empty() && action.front() == ' ') action.remove_prefix(1);
    while (!action.empty() && action.back() == ' ') action.remove_suffix(1);
    if (!action.starts_with('.')) {
      return Error::invalid("template: only {{.Field}} actions are supported, got \"{{" + std::string(action) + "}}\"");
    }
    auto it = fields.find(std::string(action.substr(1)));
    if (it == fields.end()) return Error::invalid("template: can't evaluate field " + std::string(action.substr(1)));
    out += it->second;
    pos = close + 2;
  }
  return out;
}

std::string ldap_group_cn(std::string_view dn_or_name) {
  std::string text(dn_or_name);
  LDAPDN dn = nullptr;
  if (ldap_str2dn(text.c_str(), &dn, LDAP_DN_FORMAT_LDAP) != LDAP_SUCCESS || dn == nullptr) return text;
  std::string cn;
  bool found = false;
  for (int i = 0; dn[i] != nullptr && !found; ++i) {
    for (int j = 0; dn[i][j] != nullptr; ++j) {
      const LDAPAVA* ava = dn[i][j];
      std::string_view type(ava->la_attr.bv_val, ava->la_attr.bv_len);
      if (type.size() == 2 && (type[0] == 'c' || type[0] == 'C') && (type[1] == 'n' || type[1] == 'N')) {
        cn.assign(ava->la_value.bv_val, ava->la_value.bv_len);
        found = true;
        break;
      }
    }
  }
  ldap_dnfree(dn);
  return found ? cn : text;
}

}  // namespace engine::auth
