// SPDX-License-Identifier: MPL-2.0
// The seal lifecycle after init: sys/rekey/{init,update} and
// sys/generate-root/{attempt,update} (Vault's unauthenticated operator
// endpoints: the key shares are the credential, so no token is asked for).
// Root namespace only: the paths are matched exactly, so "ns1/sys/rekey/..."
// goes to ns1's sys/ backend, whose table calls it root-only (unsupported
// path). Served only while unsealed, and written to the audit trail like a
// login: the request's key and nonce and the reply's new shares, OTP and
// encoded token are hashed there as every string is (audit_broker.hpp).
//
// sys/rotate and sys/key-status go through the ACL (sys/ backend).
#include "engine/audit/audit_trail.hpp"
#include "engine/common/base64.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/time.hpp"
#include "engine/core_impl.hpp"

namespace engine {
namespace {

bool is_write(Operation op) { return op == Operation::Update || op == Operation::Create || op == Operation::Patch; }

// Vault's GET sys/rekey/init reply.
Json rekey_json(const RekeyStatus& s) {
  return Json{{"started", s.started},
              {"nonce", s.nonce},
              {"t", s.threshold},
              {"n", s.shares},
              {"progress", s.progress},
              {"required", s.required},
              {"pgp_fingerprints", nullptr},
              {"backup", false},
              {"verification_required", false}};
}

// Vault's GET sys/generate-root/attempt reply.
Json root_json(const GenerateRootStatus& s) {
  return Json{{"started", s.started},
              {"nonce", s.nonce},
              {"progress", s.progress},
              {"required", s.required},
              {"encoded_token", ""},
              {"encoded_root_token", ""},
              {"pgp_fingerprint", ""},
              {"otp", ""},
              {"otp_length", kRootOtpLength},
              {"complete", false}};
}

// Vault's sdk/helper/roottoken EncodeToken: the token's bytes XOR the OTP's,
// base64 with no padding (RawStdEncoding).
SecureString encode_token(const SecureString& token, const SecureString& otp) {
  SecureBytes mixed(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    mixed[i] = static_cast<std::uint8_t>(token[i]) ^ static_cast<std::uint8_t>(otp[i]);
  }
  SecureString out = to_base64_secure(mixed);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// The key and nonce of an update body.
struct ShareInput {
  SecureString key;
  SecureString nonce;
};
Result<ShareInput> share_input(const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"key", "nonce"}));
  auto text = [&](std::string_view name) -> Result<SecureString> {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return SecureString{};
    if (!it->is_string()) return Error::invalid("field \"" + std::string(name) + "\" must be a string");
    return it->get_ref<const SecureString&>();
  };
  ShareInput in;
  COFFER_TRY(in.key, text("key"));
  COFFER_TRY(in.nonce, text("nonce"));
  if (in.key.empty()) return Error::invalid("missing required input \"key\"");
  if (in.nonce.empty()) return Error::invalid("missing required input \"nonce\"");
  return in;
}

// Options Vault has and Coffer does not: refused, never ignored.
Status refuse_unsupported(const Json& body, std::string_view name, std::string_view why) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return {};
  const bool set = it->is_boolean()  ? it->get<bool>()
                   : it->is_string() ? !it->get_ref<const SecureString&>().empty() &&
                                           as_view(it->get_ref<const SecureString&>()) != "false"
                   : it->is_array()  ? !it->empty()
                                     : true;
  if (!set) return {};
  return Error::invalid("\"" + std::string(name) + "\" is not supported: " + std::string(why));
}

}  // namespace

Result<Response> Core::Impl::rekey(const Request& req, bool update) {
  Response resp;
  if (!update) {  // sys/rekey/init
    if (req.op == Operation::Read) {
      resp.data = rekey_json(seal.rekey_status());
      return resp;
    }
    if (req.op == Operation::Delete) {
      seal.rekey_cancel();
      return resp;
    }
    if (!is_write(req.op)) return Error::unsupported_path(req.path);
    COFFER_TRY_STATUS(fields::only(req.data, {"secret_shares", "secret_threshold", "pgp_keys", "backup",
                                              "require_verification"}));
    COFFER_TRY_STATUS(refuse_unsupported(req.data, "pgp_keys", "Coffer returns the new shares in clear only"));
    COFFER_TRY_STATUS(refuse_unsupported(req.data, "backup", "there are no PGP-encrypted shares to back up"));
    COFFER_TRY_STATUS(refuse_unsupported(req.data, "require_verification",
                                         "the new shares are in force as soon as the rekey completes"));
    COFFER_TRY(auto shares, fields::get_int(req.data, "secret_shares"));
    COFFER_TRY(auto threshold, fields::get_int(req.data, "secret_threshold"));
    if (shares.value_or(0) > 255 || threshold.value_or(0) > 255 || shares.value_or(0) < 0 ||
        threshold.value_or(0) < 0) {
      return Error::invalid("secret shares and threshold must be between 1 and 255");
    }
    COFFER_TRY(RekeyStatus st,
               seal.rekey_init(static_cast<int>(shares.value_or(0)), static_cast<int>(threshold.value_or(0))));
    resp.data = rekey_json(st);
    return resp;
  }
  // sys/rekey/update. A read (not in Vault) shows the attempt, as reading
  // sys/unseal shows the seal status: the file `cat` reads.
  if (req.op == Operation::Read) {
    resp.data = rekey_json(seal.rekey_status());
    return resp;
  }
  if (!is_write(req.op)) return Error::unsupported_path(req.path);
  COFFER_TRY(ShareInput in, share_input(req.data));
  COFFER_TRY(RekeyUpdate out, seal.rekey_update(as_view(in.key), as_view(in.nonce)));
  if (!out.complete) {
    // Vault answers an update short of the threshold with the attempt's status.
    resp.data = rekey_json(out.status);
    return resp;
  }
  Json keys = Json::array(), keys_b64 = Json::array();
  for (const auto& k : out.keys.keys_hex) keys.push_back(k);
  for (const auto& k : out.keys.keys_base64) keys_b64.push_back(k);
  resp.data = Json{{"complete", true},
                   {"nonce", out.nonce},
                   {"keys", std::move(keys)},
                   {"keys_base64", std::move(keys_b64)},
                   {"pgp_fingerprints", nullptr},
                   {"backup", false},
                   {"verification_required", false},
                   {"verification_nonce", ""}};
  return resp;
}

Result<Response> Core::Impl::generate_root(const Request& req, bool update) {
  Response resp;
  if (!update) {  // sys/generate-root/attempt
    if (req.op == Operation::Read) {
      resp.data = root_json(seal.generate_root_status());
      return resp;
    }
    if (req.op == Operation::Delete) {
      seal.generate_root_cancel();
      return resp;
    }
    if (!is_write(req.op)) return Error::unsupported_path(req.path);
    COFFER_TRY_STATUS(fields::only(req.data, {"otp", "pgp_key"}));
    COFFER_TRY_STATUS(refuse_unsupported(req.data, "pgp_key", "the token is returned encoded with the OTP only"));
    COFFER_TRY(auto otp, fields::get_string(req.data, "otp"));
    COFFER_TRY(auto begun, seal.generate_root_init(otp.value_or("")));
    resp.data = root_json(begun.first);
    // The OTP is told once, here (Vault 1.10+), unless the caller chose it.
    if (!otp || otp->empty()) resp.data["otp"] = std::move(begun.second);
    return resp;
  }
  if (req.op == Operation::Read) {  // not in Vault: the attempt, as above
    resp.data = root_json(seal.generate_root_status());
    return resp;
  }
  if (!is_write(req.op)) return Error::unsupported_path(req.path);
  COFFER_TRY(ShareInput in, share_input(req.data));
  COFFER_TRY(GenerateRootUpdate out, seal.generate_root_update(as_view(in.key), as_view(in.nonce)));
  resp.data = root_json(out.status);
  resp.data["started"] = true;
  resp.data["nonce"] = SecureString(as_view(in.nonce));
  if (!out.complete) return resp;
  // The quorum proved the unseal key: a new root token of the root
  // namespace, as init makes it, told only XORed with the OTP.
  COFFER_TRY(SecureString token, tokens.create_root("", Clock::now()));
  if (token.size() != out.otp.size()) {
    return Error::internal("the new root token is not as long as the OTP; it was made and is not told");
  }
  const SecureString encoded = encode_token(token, out.otp);
  resp.data["complete"] = true;
  resp.data["encoded_token"] = encoded;
  resp.data["encoded_root_token"] = encoded;
  return resp;
}

Result<Response> Core::Impl::seal_operation(const Request& req) {
  std::shared_lock lock(mu);
  if (barrier.sealed() || !router.loaded()) return Error::sealed();
  AuditEvent event = audit_event(req);
  audit_route(event, router.resolve(router.root(), req.path));
  COFFER_TRY_STATUS(audit.log_request(event, nullptr));  // none could log it: not run
  const std::string_view path = req.path;
  Result<Response> result = path.starts_with("sys/rekey/") ? rekey(req, path == "sys/rekey/update")
                                                           : generate_root(req, path == "sys/generate-root/update");
  return audit_result(audit, event, std::move(result));
}

}  // namespace engine
