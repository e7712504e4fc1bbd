// SPDX-License-Identifier: MPL-2.0
#include "engine/token/token_store.hpp"

#include "engine/common/serial.hpp"
#include "engine/crypto/sodium.hpp"

namespace engine {
namespace {
constexpr std::string_view kSaltKey = "core/token/salt";
constexpr std::string_view kIdPrefix = "core/token/id/";
}  // namespace

TokenStore::TokenStore(Storage& storage) : storage_(storage) {}

Status TokenStore::open(bool create) {
  COFFER_TRY(auto salt, storage_.get(kSaltKey));
  if (!salt) {
    if (!create) return Error::corrupt("token hashing key is missing");
    SecureBytes fresh = crypto::random_key();
    COFFER_TRY_STATUS(storage_.put(kSaltKey, fresh));
    salt = std::move(fresh);
  }
  std::lock_guard lock(mu_);
  salt_ = std::move(*salt);
  return {};
}

void TokenStore::close() {
  std::lock_guard lock(mu_);
  salt_.clear();
  salt_.shrink_to_fit();
}

std::string TokenStore::hashed(std::string_view token) const {
  std::lock_guard lock(mu_);
  return crypto::keyed_hash_hex(salt_, token);
}

Result<SecureString> TokenStore::create_root(std::string_view custom_id, TimePoint now) {
  SecureString id = custom_id.empty() ? to_secure("hvs." + crypto::random_base62(24)) : to_secure(custom_id);
  TokenEntry entry;
  entry.accessor = crypto::random_base62(24);
  entry.policies = {"root"};
  entry.display_name = "root";
  entry.path = "auth/token/root";
  entry.creation_unix = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  COFFER_TRY_STATUS(storage_.put(std::string(kIdPrefix) + hashed(as_view(id)), encode_record(entry)));
  return id;
}

Result<std::optional<TokenEntry>> TokenStore::lookup(std::string_view token) {
  if (token.empty()) return std::optional<TokenEntry>{};
  COFFER_TRY(auto bytes, storage_.get(std::string(kIdPrefix) + hashed(token)));
  if (!bytes) return std::optional<TokenEntry>{};
  COFFER_TRY(auto entry, decode_record<TokenEntry>(*bytes, "token entry"));
  return std::optional<TokenEntry>{std::move(entry)};
}

}  // namespace engine
