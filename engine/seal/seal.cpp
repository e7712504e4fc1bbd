// SPDX-License-Identifier: MPL-2.0
#include "engine/seal/seal.hpp"

#include <nlohmann/json.hpp>

#include <optional>

#include "engine/common/base64.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/seal/shamir.hpp"

namespace engine {
namespace {

constexpr std::string_view kSealConfigPath = "core/seal-config";
constexpr std::string_view kRootKeyPath = "core/root-key";
constexpr std::string_view kUnsealCheckPath = "core/unseal-check";

struct SealConfig {
  int shares = 0;
  int threshold = 0;
};

// Vault's SealConfig.Validate(), with its messages.
Status validate(int shares, int threshold) {
  if (shares < 1) return Error::invalid("shares must be at least one");
  if (threshold < 1) return Error::invalid("threshold must be at least one");
  if (shares > 1 && threshold == 1) {
    return Error::invalid("threshold must be greater than one for multiple shares");
  }
  if (shares > 255) return Error::invalid("shares must be less than 256");
  if (threshold > 255) return Error::invalid("threshold must be less than 256");
  if (threshold > shares) return Error::invalid("threshold cannot be larger than shares");
  return {};
}

// The stored seal configuration, or nullopt when the store is not
// initialised.
Result<std::optional<SealConfig>> load_config(Storage& physical) {
  COFFER_TRY(auto raw, physical.get(kSealConfigPath));
  if (!raw) return std::optional<SealConfig>{};
  const auto doc = nlohmann::json::parse(raw->begin(), raw->end(), nullptr, false);
  if (!doc.is_object() || !doc.contains("secret_shares") || !doc.contains("secret_threshold") ||
      !doc["secret_shares"].is_number_integer() || !doc["secret_threshold"].is_number_integer()) {
    return Error::corrupt("core/seal-config is not a valid seal configuration");
  }
  SealConfig config{doc["secret_shares"].get<int>(), doc["secret_threshold"].get<int>()};
  if (!validate(config.shares, config.threshold).ok()) {
    return Error::corrupt("core/seal-config holds an invalid seal configuration");
  }
  return std::optional<SealConfig>{config};
}

// With one share there is nothing to split: the share is the unseal key
// itself (as Vault does), so it carries no x-coordinate byte.
std::size_t share_length(const SealConfig& config) {
  return config.shares == 1 ? crypto::kKeySize : crypto::kKeySize + 1;
}

std::string_view trim(std::string_view s) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
  while (!s.empty() && !not_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && !not_space(s.back())) s.remove_suffix(1);
  return s;
}

// Vault's order: hex first, and base64 when the text is not hex or decodes
// to the wrong length (some base64 strings are also valid hex).
Result<SecureBytes> decode_share(std::string_view text, std::size_t expected) {
  text = trim(text);
  auto hex = crypto::from_hex(text);
  if (hex.ok() && hex->size() == expected) return std::move(hex).value();
  auto b64 = from_base64(text);
  if (!b64.ok()) return Error::invalid("'key' must be a valid hex or base64 string");
  if (b64->size() < expected) {
    return Error::invalid("invalid key: key is shorter than minimum " + std::to_string(expected) + " bytes");
  }
  if (b64->size() > expected) {
    return Error::invalid("invalid key: key is longer than maximum " + std::to_string(expected) + " bytes");
  }
  return std::move(b64).value();
}

// The key check value: nothing but the AEAD tag, which only the unseal key
// produces. Like core/root-key, it lets whoever holds the file test a guess
// at a 256-bit key, and tells nothing else.
SecureBytes unseal_check(ByteView unseal_key) { return crypto::aead_seal(unseal_key, ByteView(), kUnsealCheckPath); }

SealStatus make_status(const std::optional<SealConfig>& config, bool sealed, std::size_t progress,
                       const std::string& nonce) {
  SealStatus st;
  st.initialized = config.has_value();
  st.sealed = sealed;
  if (config) {
    st.shares = config->shares;
    st.threshold = config->threshold;
  }
  st.progress = static_cast<int>(progress);
  st.nonce = nonce;
  return st;
}

}  // namespace

Status check_unseal_shares(Storage& physical, std::span<const SecureString> shares) {
  COFFER_TRY(auto config, load_config(physical));
  if (!config) return Error::invalid("the store is not initialised (init it first, then write the key file)");
  const std::size_t length = share_length(*config);
  std::vector<SecureBytes> parts;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    const std::string which = "share " + std::to_string(i + 1);
    auto part = decode_share(as_view(shares[i]), length);
    if (!part.ok()) {
      return Error::invalid(which + " is not hex or base64 of " + std::to_string(length) +
                            " bytes, the length of this store's shares");
    }
    for (std::size_t j = 0; j < parts.size(); ++j) {
      const bool same_x = config->shares > 1 && parts[j].back() == part->back();
      if (same_x || crypto::equal_constant_time(as_view(parts[j]), as_view(*part))) {
        return Error::invalid(which + " repeats share " + std::to_string(j + 1) +
                              (same_x ? " (the same x-coordinate)" : ""));
      }
    }
    parts.push_back(std::move(part).value());
  }
  if (parts.size() < static_cast<std::size_t>(config->threshold)) {
    return Error::invalid(std::to_string(parts.size()) + " share(s) given; this store needs " +
                          std::to_string(config->threshold) + " (its threshold, of " +
                          std::to_string(config->shares) + " shares)");
  }
  SecureBytes unseal_key;
  if (config->shares == 1) {
    unseal_key = std::move(parts.front());
  } else {
    COFFER_TRY(unseal_key, shamir::combine(parts));
  }
  COFFER_TRY(auto check, physical.get(kUnsealCheckPath));
  if (check) {
    if (crypto::aead_open(unseal_key, *check, kUnsealCheckPath).ok()) return {};
  } else {
    COFFER_TRY(auto sealed_root, physical.get(kRootKeyPath));
    if (!sealed_root) return Error::corrupt("core/root-key is missing from storage");
    if (crypto::aead_open(unseal_key, *sealed_root, kRootKeyPath).ok()) return {};
  }
  return Error::invalid("the shares do not open this store (a wrong share, or shares of another store)");
}

SealManager::SealManager(Storage& physical, Barrier& barrier) : physical_(physical), barrier_(barrier) {
  crypto::init();
}

Result<InitOutput> SealManager::init(int shares, int threshold) {
  COFFER_TRY_STATUS(validate(shares, threshold));
  std::lock_guard lock(mu_);
  COFFER_TRY(auto existing, load_config(physical_));
  if (existing) return Error::exists("Vault is already initialized");

  const SecureBytes unseal_key = crypto::random_key();
  const SecureBytes root_key = crypto::random_key();
  std::vector<SecureBytes> parts;
  if (shares == 1) {
    parts.push_back(unseal_key);
  } else {
    COFFER_TRY(parts, shamir::split(unseal_key, shares, threshold));
  }

  const nlohmann::json config = {{"secret_shares", shares}, {"secret_threshold", threshold}};
  const std::string config_text = config.dump();
  // Config, sealed root key and keyring land in one batch: a crash leaves
  // either no store or a whole one.
  const WriteOp ops[] = {
      {WriteOp::Kind::Put, std::string(kSealConfigPath), SecureBytes(config_text.begin(), config_text.end())},
      {WriteOp::Kind::Put, std::string(kRootKeyPath), crypto::aead_seal(unseal_key, root_key, kRootKeyPath)},
      {WriteOp::Kind::Put, std::string(kUnsealCheckPath), unseal_check(unseal_key)},
  };
  COFFER_TRY_STATUS(barrier_.initialize(root_key, ops));
  pending_.clear();
  nonce_.clear();

  InitOutput out;
  for (const SecureBytes& part : parts) {
    out.keys_hex.push_back(crypto::to_hex_secure(part));
    out.keys_base64.push_back(to_base64_secure(part));
  }
  return out;
}

Result<SealStatus> SealManager::submit_share(std::string_view share) {
  std::lock_guard lock(mu_);
  COFFER_TRY(auto config, load_config(physical_));
  if (!config) return Error::invalid("Vault is not initialized");
  if (!barrier_.sealed()) return make_status(config, false, 0, "");

  COFFER_TRY(SecureBytes part, decode_share(share, share_length(*config)));
  for (const SecureBytes& seen : pending_) {
    // Same share, or another share with the same x-coordinate: either way it
    // adds nothing towards the threshold.
    const bool same_x = config->shares > 1 && seen.back() == part.back();
    if (same_x || crypto::equal_constant_time(as_view(seen), as_view(part))) {
      return Error::invalid("this key share was already submitted in this unseal attempt");
    }
  }
  if (pending_.empty()) nonce_ = crypto::random_uuid();
  pending_.push_back(std::move(part));
  if (pending_.size() < static_cast<std::size_t>(config->threshold)) {
    return make_status(config, true, pending_.size(), nonce_);
  }

  // Threshold reached: whatever happens next, this attempt is over.
  std::vector<SecureBytes> parts = std::move(pending_);
  pending_.clear();
  nonce_.clear();

  SecureBytes unseal_key;
  if (config->shares == 1) {
    unseal_key = std::move(parts.front());
  } else {
    COFFER_TRY(unseal_key, shamir::combine(parts));
  }
  COFFER_TRY(auto sealed_root, physical_.get(kRootKeyPath));
  if (!sealed_root) return Error::corrupt("core/root-key is missing from storage");
  COFFER_TRY(auto check, physical_.get(kUnsealCheckPath));
  const bool key_checks = check && crypto::aead_open(unseal_key, *check, kUnsealCheckPath).ok();
  auto root_key = crypto::aead_open(unseal_key, *sealed_root, kRootKeyPath);
  if (!root_key.ok()) {
    // Wrong or too few distinct shares combine to a wrong key, which the
    // AEAD tags detect. A key the check value accepts is the right one, so
    // then it is the sealed root key that is damaged.
    if (key_checks) {
      return Error::corrupt(
          "core/root-key is corrupt: the unseal key is right (it opens core/unseal-check) but "
          "the sealed root key does not authenticate; restore the store from a backup");
    }
    return Error::invalid("Unseal failed, invalid key");
  }
  // The root key authenticated under the unseal key, so it is the right one:
  // a keyring that does not open under it is damaged, not a wrong key.
  Status opened = barrier_.unseal(*root_key);
  if (!opened.ok()) {
    Error e = std::move(opened).error();
    if (e.code == ErrorCode::Corrupt) {
      return Error::corrupt("core/keyring is corrupt (" + e.message +
                            "), while the unseal key and the root key are right; restore the "
                            "store from a backup");
    }
    return e;
  }
  if (!check) {
    // A store initialised before the check value existed gets it now. Best
    // effort: the store is open either way, and it is only a diagnostic.
    const WriteOp add[] = {{WriteOp::Kind::Put, std::string(kUnsealCheckPath), unseal_check(unseal_key)}};
    (void)physical_.apply(add);
  }
  return make_status(config, false, 0, "");
}

void SealManager::reset() {
  std::lock_guard lock(mu_);
  pending_.clear();
  nonce_.clear();
}

void SealManager::seal() {
  std::lock_guard lock(mu_);
  barrier_.seal();
  pending_.clear();
  nonce_.clear();
}

SealStatus SealManager::status() const {
  std::lock_guard lock(mu_);
  auto config = load_config(physical_);
  // A status must always answer; a store that cannot be read reports as
  // uninitialised (the read error surfaces on the next init or unseal).
  std::optional<SealConfig> known = config.ok() ? *config : std::nullopt;
  return make_status(known, barrier_.sealed(), pending_.size(), nonce_);
}

}  // namespace engine
