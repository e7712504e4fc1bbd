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

// Adds one submitted share to an attempt: decoded (hex or base64) and not
// one already given. Same share, or another with the same x-coordinate:
// either way it adds nothing towards the threshold.
Status add_share(std::vector<SecureBytes>& pending, const SealConfig& config, std::string_view share,
                 std::string_view duplicate_message) {
  COFFER_TRY(SecureBytes part, decode_share(share, share_length(config)));
  for (const SecureBytes& seen : pending) {
    const bool same_x = config.shares > 1 && seen.back() == part.back();
    if (same_x || crypto::equal_constant_time(as_view(seen), as_view(part))) {
      return Error::invalid(std::string(duplicate_message));
    }
  }
  pending.push_back(std::move(part));
  return {};
}

// The config of an initialised store (InvalidArgument otherwise).
Result<SealConfig> require_config(Storage& physical) {
  COFFER_TRY(auto config, load_config(physical));
  if (!config) return Error::invalid("Vault is not initialized");
  return *config;
}

// Shares of a new unseal key, as init hands them out.
Result<InitOutput> split_output(ByteView unseal_key, int shares, int threshold) {
  std::vector<SecureBytes> parts;
  if (shares == 1) {
    parts.emplace_back(unseal_key.begin(), unseal_key.end());
  } else {
    COFFER_TRY(parts, shamir::split(unseal_key, shares, threshold));
  }
  InitOutput out;
  for (const SecureBytes& part : parts) {
    out.keys_hex.push_back(crypto::to_hex_secure(part));
    out.keys_base64.push_back(to_base64_secure(part));
  }
  return out;
}

// The physical records that seal root_key under unseal_key with this share
// configuration (init writes them; a rekey writes them again).
std::vector<WriteOp> seal_records(ByteView unseal_key, ByteView root_key, int shares, int threshold) {
  const nlohmann::json config = {{"secret_shares", shares}, {"secret_threshold", threshold}};
  const std::string config_text = config.dump();
  std::vector<WriteOp> ops;
  ops.push_back({WriteOp::Kind::Put, std::string(kSealConfigPath), SecureBytes(config_text.begin(), config_text.end())});
  ops.push_back({WriteOp::Kind::Put, std::string(kRootKeyPath), crypto::aead_seal(unseal_key, root_key, kRootKeyPath)});
  ops.push_back({WriteOp::Kind::Put, std::string(kUnsealCheckPath), unseal_check(unseal_key)});
  return ops;
}

}  // namespace

struct SealManager::Recovered {
  SecureBytes unseal_key;
  SecureBytes root_key;
  bool has_check = false;  // core/unseal-check is stored
};

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
  COFFER_TRY(InitOutput out, split_output(unseal_key, shares, threshold));
  // Config, sealed root key and keyring land in one batch: a crash leaves
  // either no store or a whole one.
  const std::vector<WriteOp> ops = seal_records(unseal_key, root_key, shares, threshold);
  COFFER_TRY_STATUS(barrier_.initialize(root_key, ops));
  pending_.clear();
  nonce_.clear();
  return out;
}

Result<SealManager::Recovered> SealManager::recover_locked(int shares, std::vector<SecureBytes> parts,
                                                           std::string_view invalid) {
  Recovered out;
  if (shares == 1) {
    out.unseal_key = std::move(parts.front());
  } else {
    COFFER_TRY(out.unseal_key, shamir::combine(parts));
  }
  COFFER_TRY(auto sealed_root, physical_.get(kRootKeyPath));
  if (!sealed_root) return Error::corrupt("core/root-key is missing from storage");
  COFFER_TRY(auto check, physical_.get(kUnsealCheckPath));
  out.has_check = check.has_value();
  const bool key_checks = check && crypto::aead_open(out.unseal_key, *check, kUnsealCheckPath).ok();
  auto root_key = crypto::aead_open(out.unseal_key, *sealed_root, kRootKeyPath);
  if (!root_key.ok()) {
    // Wrong or too few distinct shares combine to a wrong key, which the
    // AEAD tags detect. A key the check value accepts is the right one, so
    // then it is the sealed root key that is damaged.
    if (key_checks) {
      return Error::corrupt(
          "core/root-key is corrupt: the unseal key is right (it opens core/unseal-check) but "
          "the sealed root key does not authenticate; restore the store from a backup");
    }
    return Error::invalid(std::string(invalid));
  }
  out.root_key = std::move(root_key).value();
  return out;
}

Result<SealStatus> SealManager::submit_share(std::string_view share) {
  std::lock_guard lock(mu_);
  COFFER_TRY(auto config, load_config(physical_));
  if (!config) return Error::invalid("Vault is not initialized");
  if (!barrier_.sealed()) return make_status(config, false, 0, "");

  const bool first = pending_.empty();
  COFFER_TRY_STATUS(add_share(pending_, *config, share, "this key share was already submitted in this unseal attempt"));
  if (first) nonce_ = crypto::random_uuid();
  if (pending_.size() < static_cast<std::size_t>(config->threshold)) {
    return make_status(config, true, pending_.size(), nonce_);
  }

  // Threshold reached: whatever happens next, this attempt is over.
  std::vector<SecureBytes> parts = std::move(pending_);
  pending_.clear();
  nonce_.clear();
  COFFER_TRY(Recovered keys, recover_locked(config->shares, std::move(parts), "Unseal failed, invalid key"));
  // The root key authenticated under the unseal key, so it is the right one:
  // a keyring that does not open under it is damaged, not a wrong key.
  Status opened = barrier_.unseal(keys.root_key);
  if (!opened.ok()) {
    Error e = std::move(opened).error();
    if (e.code == ErrorCode::Corrupt) {
      return Error::corrupt("core/keyring is corrupt (" + e.message +
                            "), while the unseal key and the root key are right; restore the "
                            "store from a backup");
    }
    return e;
  }
  if (!keys.has_check) {
    // A store initialised before the check value existed gets it now. Best
    // effort: the store is open either way, and it is only a diagnostic.
    const WriteOp add[] = {{WriteOp::Kind::Put, std::string(kUnsealCheckPath), unseal_check(keys.unseal_key)}};
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
  // Shares of a rekey or a root generation are forgotten (zeroed) too: a
  // sealed store takes none (Vault answers ErrSealed to both).
  rekey_.reset();
  root_.reset();
}

SealStatus SealManager::status() const {
  std::lock_guard lock(mu_);
  auto config = load_config(physical_);
  // A status must always answer; a store that cannot be read reports as
  // uninitialised (the read error surfaces on the next init or unseal).
  SealStatus st = make_status(std::nullopt, barrier_.sealed(), pending_.size(), nonce_);
  if (config.ok() && config->has_value()) {
    const SealConfig& known = **config;
    st.initialized = true;
    st.shares = known.shares;
    st.threshold = known.threshold;
  }
  return st;
}

int SealManager::required_locked() const {
  auto config = load_config(physical_);
  return config.ok() && *config ? (*config)->threshold : 0;
}

// ---- rekey ------------------------------------------------------------------

RekeyStatus SealManager::rekey_status_locked(int required) const {
  RekeyStatus st;
  st.required = required;
  if (rekey_) {
    st.started = true;
    st.shares = rekey_->shares;
    st.threshold = rekey_->threshold;
    st.progress = static_cast<int>(rekey_->pending.size());
    st.nonce = rekey_->nonce;
  }
  return st;
}

RekeyStatus SealManager::rekey_status() const {
  std::lock_guard lock(mu_);
  return rekey_status_locked(required_locked());
}

Result<RekeyStatus> SealManager::rekey_init(int shares, int threshold) {
  std::lock_guard lock(mu_);
  COFFER_TRY(SealConfig config, require_config(physical_));
  if (barrier_.sealed()) return Error::sealed();
  // Vault's RekeyInit: the new configuration is validated, and one attempt
  // runs at a time.
  COFFER_TRY_STATUS(validate(shares, threshold));
  if (rekey_) return Error::invalid("rekey already in progress");
  rekey_ = RekeyAttempt{shares, threshold, crypto::random_uuid(), {}};
  return rekey_status_locked(config.threshold);
}

void SealManager::rekey_cancel() {
  std::lock_guard lock(mu_);
  rekey_.reset();
}

Result<RekeyUpdate> SealManager::rekey_update(std::string_view share, std::string_view nonce) {
  std::lock_guard lock(mu_);
  COFFER_TRY(SealConfig config, require_config(physical_));
  if (barrier_.sealed()) return Error::sealed();
  // Vault's RekeyUpdate, in its order and with its messages.
  if (!rekey_) return Error::invalid("no barrier rekey in progress");
  if (nonce != rekey_->nonce) {
    return Error::invalid("incorrect nonce supplied; nonce for this rekey operation is " + rekey_->nonce);
  }
  COFFER_TRY_STATUS(
      add_share(rekey_->pending, config, share, "given key has already been provided during this rekey operation"));
  RekeyUpdate out;
  if (rekey_->pending.size() < static_cast<std::size_t>(config.threshold)) {
    out.status = rekey_status_locked(config.threshold);
    return out;
  }
  // Threshold reached: the progress goes whatever happens (Vault forgets it
  // too); a wrong quorum leaves the attempt, with its nonce, to try again.
  std::vector<SecureBytes> parts = std::move(rekey_->pending);
  rekey_->pending.clear();
  std::vector<SecureBytes> kept = parts;  // for a Conflict, below
  COFFER_TRY(Recovered keys, recover_locked(config.shares, std::move(parts),
                                            "rekey verification failed: the key shares do not combine into the "
                                            "current unseal key"));
  const SecureBytes unseal_key = crypto::random_key();
  COFFER_TRY(out.keys, split_output(unseal_key, rekey_->shares, rekey_->threshold));
  // One batch: the store opens with the old shares or with the new ones,
  // never neither. On a fleet store the write is conditional on the seal
  // records this thread read (postgres_mirror.hpp): a rekey finished on
  // another host meanwhile makes this one a Conflict.
  const std::vector<WriteOp> ops = seal_records(unseal_key, keys.root_key, rekey_->shares, rekey_->threshold);
  Status written = physical_.apply(ops);
  if (!written.ok()) {
    // Conflict: Core::handle runs this request again on the other host's
    // records, so the shares before this one count again (this one comes
    // back with the retry). Any other failure ends the quorum.
    if (written.error().code == ErrorCode::Conflict) {
      kept.pop_back();
      rekey_->pending = std::move(kept);
    }
    return std::move(written).error();
  }
  out.complete = true;
  out.nonce = rekey_->nonce;
  out.status = rekey_status_locked(config.threshold);
  out.status.progress = config.threshold;
  rekey_.reset();
  return out;
}

// ---- root token generation --------------------------------------------------

GenerateRootStatus SealManager::generate_root_status_locked(int required) const {
  GenerateRootStatus st;
  st.required = required;
  if (root_) {
    st.started = true;
    st.progress = static_cast<int>(root_->pending.size());
    st.nonce = root_->nonce;
  }
  return st;
}

GenerateRootStatus SealManager::generate_root_status() const {
  std::lock_guard lock(mu_);
  return generate_root_status_locked(required_locked());
}

Result<std::pair<GenerateRootStatus, SecureString>> SealManager::generate_root_init(std::string_view otp) {
  std::lock_guard lock(mu_);
  COFFER_TRY(SealConfig config, require_config(physical_));
  if (barrier_.sealed()) return Error::sealed();
  if (root_) return Error::invalid("root generation already in progress");
  SecureString chosen;
  if (otp.empty()) {
    // Vault 1.10+: the server draws the OTP (base62, as long as the token).
    std::string drawn = crypto::random_base62(kRootOtpLength);
    chosen = to_secure(drawn);
    secure_zero(drawn.data(), drawn.size());
  } else {
    if (otp.size() != static_cast<std::size_t>(kRootOtpLength)) {
      return Error::invalid("OTP string is wrong length (expected " + std::to_string(kRootOtpLength) + ")");
    }
    chosen = SecureString(otp);
  }
  root_ = RootAttempt{crypto::random_uuid(), chosen, {}};
  return std::pair{generate_root_status_locked(config.threshold), std::move(chosen)};
}

void SealManager::generate_root_cancel() {
  std::lock_guard lock(mu_);
  root_.reset();
}

Result<GenerateRootUpdate> SealManager::generate_root_update(std::string_view share, std::string_view nonce) {
  std::lock_guard lock(mu_);
  COFFER_TRY(SealConfig config, require_config(physical_));
  if (barrier_.sealed()) return Error::sealed();
  if (!root_) return Error::invalid("no root generation in progress");
  if (nonce != root_->nonce) {
    return Error::invalid("incorrect nonce supplied; nonce for this root generation operation is " + root_->nonce);
  }
  COFFER_TRY_STATUS(add_share(root_->pending, config, share,
                              "given key has already been provided during this generation operation"));
  GenerateRootUpdate out;
  if (root_->pending.size() < static_cast<std::size_t>(config.threshold)) {
    out.status = generate_root_status_locked(config.threshold);
    return out;
  }
  // Threshold reached: the attempt is over, whatever the shares prove.
  RootAttempt attempt = std::move(*root_);
  root_.reset();
  COFFER_TRY(Recovered keys, recover_locked(config.shares, std::move(attempt.pending),
                                            "root generation failed: the key shares do not combine into the "
                                            "current unseal key"));
  (void)keys;
  out.complete = true;
  out.nonce = attempt.nonce;
  out.otp = std::move(attempt.otp);
  out.status = generate_root_status_locked(config.threshold);
  out.status.nonce = out.nonce;
  out.status.progress = config.threshold;
  return out;
}

}  // namespace engine
