// SPDX-License-Identifier: MPL-2.0
#include "engine/barrier/barrier.hpp"

#include <array>
#include <chrono>
#include <limits>
#include <mutex>

#include <cereal/types/vector.hpp>

#include "engine/storage/serial.hpp"
#include "engine/crypto/sodium.hpp"

namespace engine {
namespace barrier_detail {

// One term of the keyring as stored.
struct TermKey {
  std::uint32_t term = 0;
  SecureBytes key;
  std::int64_t installed_unix = 0;  // when rotate() (or init) made it

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(term, key, installed_unix);
  }
};

// The keyring as stored at core/keyring (inside the root-key envelope).
struct KeyringRecord {
  std::uint32_t active_term = 0;
  std::vector<TermKey> keys;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(active_term, keys);
  }
};

// An opened keyring. Barrier::Keyring is this; the free functions below
// work on the base because the nested name is private.
struct OpenKeyring {
  SecureBytes root_key;  // kept to re-seal the keyring on rotate()
  KeyringRecord record;

  const SecureBytes* key_for(std::uint32_t term) const {
    // Terms are few (one per rotation); a scan is all it takes.
    for (const TermKey& k : record.keys) {
      if (k.term == term) return &k.key;
    }
    return nullptr;
  }
};

}  // namespace barrier_detail
}  // namespace engine

CEREAL_CLASS_VERSION(engine::barrier_detail::TermKey, 1)
CEREAL_CLASS_VERSION(engine::barrier_detail::KeyringRecord, 1)

namespace engine {

using barrier_detail::KeyringRecord;
using barrier_detail::OpenKeyring;
using barrier_detail::TermKey;

struct Barrier::Keyring : OpenKeyring {};

namespace {

constexpr std::string_view kKeyringPath = "core/keyring";
// Keys the store keeps physically, outside the barrier. core/root-key,
// core/seal-config and core/unseal-check belong to SealManager (seal.hpp).
constexpr std::array<std::string_view, 4> kReservedKeys = {kKeyringPath, "core/root-key", "core/seal-config",
                                                           "core/unseal-check"};

constexpr std::uint8_t kValueVersion = 1;    // term || version || AEAD, aad = key
constexpr std::uint8_t kKeyringVersion = 1;  // version || AEAD(root key), aad = path
constexpr std::size_t kValueHeader = 5;      // 4-byte term + version byte

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool covers_reserved(std::string_view prefix) {
  for (std::string_view k : kReservedKeys) {
    if (k.starts_with(prefix)) return true;
  }
  return false;
}

// Physical list() with the reserved keys hidden, and a directory dropped when
// nothing but reserved keys lies below it. Only called for the few prefixes
// that cover a reserved key ("" and "core/").
Result<std::vector<std::string>> list_visible(Storage& physical, std::string_view prefix, std::size_t limit) {
  COFFER_TRY(auto all, physical.list(prefix, 0));
  std::vector<std::string> out;
  for (std::string& child : all) {
    const std::string full = std::string(prefix) + child;
    if (Barrier::is_reserved_key(full)) continue;
    if (child.ends_with('/') && covers_reserved(full)) {
      COFFER_TRY(auto below, list_visible(physical, full, 1));
      if (below.empty()) continue;
    }
    out.push_back(std::move(child));
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

Result<OpenKeyring> open_keyring(ByteView root_key, ByteView stored) {
  if (stored.empty() || stored[0] != kKeyringVersion) {
    return Error::corrupt("keyring has an unknown format");
  }
  auto plain = crypto::aead_open(root_key, stored.subspan(1), kKeyringPath);
  if (!plain.ok()) {
    // From here the barrier cannot tell a wrong root key from a damaged
    // keyring; the seal can (its root key authenticated), and says which.
    return Error::corrupt("keyring does not authenticate under this root key");
  }
  COFFER_TRY(KeyringRecord record, decode_record<KeyringRecord>(*plain, "keyring"));
  OpenKeyring ring;
  ring.root_key.assign(root_key.begin(), root_key.end());
  ring.record = std::move(record);
  for (const TermKey& k : ring.record.keys) {
    if (k.term == 0 || k.key.size() != crypto::kKeySize) {
      return Error::corrupt("keyring holds an invalid key term");
    }
  }
  if (ring.key_for(ring.record.active_term) == nullptr) {
    return Error::corrupt("keyring has no key for its active term");
  }
  return ring;
}

SecureBytes seal_keyring(const OpenKeyring& ring) {
  SecureBytes plain = encode_record(ring.record);
  SecureBytes sealed = crypto::aead_seal(ring.root_key, plain, kKeyringPath);
  SecureBytes out;
  out.reserve(1 + sealed.size());
  out.push_back(kKeyringVersion);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

SecureBytes encrypt_value(const OpenKeyring& ring, std::string_view key, ByteView plain) {
  const std::uint32_t term = ring.record.active_term;
  SecureBytes sealed = crypto::aead_seal(*ring.key_for(term), plain, key);
  SecureBytes out;
  out.reserve(kValueHeader + sealed.size());
  out.push_back(static_cast<std::uint8_t>(term >> 24));
  out.push_back(static_cast<std::uint8_t>(term >> 16));
  out.push_back(static_cast<std::uint8_t>(term >> 8));
  out.push_back(static_cast<std::uint8_t>(term));
  out.push_back(kValueVersion);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

// The key term a stored value names, or nullopt if it is too short to name one.
std::optional<std::uint32_t> term_of(ByteView stored) {
  if (stored.size() < kValueHeader) return std::nullopt;
  return (std::uint32_t{stored[0]} << 24) | (std::uint32_t{stored[1]} << 16) | (std::uint32_t{stored[2]} << 8) |
         std::uint32_t{stored[3]};
}

Result<SecureBytes> decrypt_value(const OpenKeyring& ring, std::string_view key, ByteView stored) {
  if (stored.size() < kValueHeader) {
    return Error::corrupt("stored value at " + std::string(key) + " is truncated");
  }
  const std::uint32_t term = *term_of(stored);
  if (stored[4] != kValueVersion) {
    return Error::corrupt("stored value at " + std::string(key) + " has unknown version " + std::to_string(stored[4]));
  }
  const SecureBytes* term_key = ring.key_for(term);
  if (term_key == nullptr) {
    return Error::corrupt("stored value at " + std::string(key) + " uses unknown key term " + std::to_string(term));
  }
  auto plain = crypto::aead_open(*term_key, stored.subspan(kValueHeader), key);
  if (!plain.ok()) {
    // The key is the additional data, so a value copied from elsewhere fails
    // here too, as do flipped bits.
    return Error::corrupt("stored value at " + std::string(key) + " failed authentication");
  }
  return std::move(plain).value();
}

Error reserved_error(std::string_view key) {
  return Error::invalid("storage key " + std::string(key) + " is reserved");
}

}  // namespace

Barrier::Barrier(Storage& physical) : physical_(physical) { crypto::init(); }

// The keyring's SecureBytes zero themselves as they are freed.
Barrier::~Barrier() = default;

bool Barrier::sealed() const {
  std::shared_lock lock(mu_);
  return keyring_ == nullptr;
}

bool Barrier::is_reserved_key(std::string_view key) {
  for (std::string_view k : kReservedKeys) {
    if (k == key) return true;
  }
  return false;
}

Status Barrier::initialize(ByteView root_key, std::span<const WriteOp> extra_physical) {
  if (root_key.size() != crypto::kKeySize) return Error::invalid("root key must be 32 bytes");
  std::unique_lock lock(mu_);
  COFFER_TRY(auto existing, physical_.get(kKeyringPath));
  if (existing) return Error::exists("barrier is already initialized");

  auto ring = std::make_unique<Keyring>();
  ring->root_key.assign(root_key.begin(), root_key.end());
  ring->record.active_term = 1;
  ring->record.keys.push_back(TermKey{1, crypto::random_key(), now_unix()});

  std::vector<WriteOp> ops(extra_physical.begin(), extra_physical.end());
  ops.push_back(WriteOp{WriteOp::Kind::Put, std::string(kKeyringPath), seal_keyring(*ring)});
  COFFER_TRY_STATUS(physical_.apply(ops));
  keyring_ = std::move(ring);
  return {};
}

Status Barrier::unseal(ByteView root_key) {
  if (root_key.size() != crypto::kKeySize) return Error::corrupt("root key must be 32 bytes");
  COFFER_TRY(auto stored, physical_.get(kKeyringPath));
  if (!stored) return Error::not_found("barrier is not initialized");
  COFFER_TRY(OpenKeyring ring, open_keyring(root_key, *stored));
  std::unique_lock lock(mu_);
  keyring_ = std::make_unique<Keyring>(Keyring{std::move(ring)});
  return {};
}

void Barrier::seal() {
  std::unique_lock lock(mu_);
  keyring_.reset();
}

Result<std::unique_ptr<Barrier::Keyring>> Barrier::load_stored_locked() {
  COFFER_TRY(auto stored, physical_.get(kKeyringPath));
  if (!stored) return Error::corrupt("core/keyring is missing from storage");
  COFFER_TRY(OpenKeyring ring, open_keyring(keyring_->root_key, *stored));
  return std::make_unique<Keyring>(Keyring{std::move(ring)});
}

Result<std::uint32_t> Barrier::rotate() {
  std::unique_lock lock(mu_);
  if (keyring_ == nullptr) return Error::sealed();
  // From the store, not from memory: another host may have added a term
  // since this one loaded the ring, and it must not be lost. The read makes
  // the write below conditional on a fleet store (the mirror expects
  // core/keyring to hold what this thread read).
  COFFER_TRY(std::unique_ptr<Keyring> ring, load_stored_locked());
  std::uint32_t max_term = 0;
  for (const TermKey& k : ring->record.keys) max_term = std::max(max_term, k.term);
  if (max_term == std::numeric_limits<std::uint32_t>::max()) {
    return Error::internal("keyring has no terms left");
  }
  // Swapped in only once it is durable, so a failed write leaves the old
  // ring in use.
  const std::uint32_t term = max_term + 1;
  ring->record.keys.push_back(TermKey{term, crypto::random_key(), now_unix()});
  ring->record.active_term = term;
  COFFER_TRY_STATUS(physical_.put(kKeyringPath, seal_keyring(*ring)));
  keyring_ = std::move(ring);
  return term;
}

Status Barrier::reload() {
  std::unique_lock lock(mu_);
  if (keyring_ == nullptr) return ok_status();
  COFFER_TRY(std::unique_ptr<Keyring> ring, load_stored_locked());
  keyring_ = std::move(ring);
  return ok_status();
}

Result<Barrier::KeyStatus> Barrier::key_status() const {
  std::shared_lock lock(mu_);
  if (keyring_ == nullptr) return Error::sealed();
  const std::uint32_t active = keyring_->record.active_term;
  for (const TermKey& k : keyring_->record.keys) {
    if (k.term == active) return KeyStatus{active, k.installed_unix};
  }
  return Error::corrupt("keyring has no key for its active term");
}

std::uint32_t Barrier::active_term() const {
  std::shared_lock lock(mu_);
  return keyring_ == nullptr ? 0 : keyring_->record.active_term;
}

Result<std::optional<SecureBytes>> Barrier::open_stored(std::string_view key, std::optional<SecureBytes> stored) {
  if (!stored) {
    std::shared_lock lock(mu_);
    if (keyring_ == nullptr) return Error::sealed();
    return std::optional<SecureBytes>{};
  }
  for (int pass = 0;; ++pass) {
    {
      std::shared_lock lock(mu_);
      if (keyring_ == nullptr) return Error::sealed();
      const auto term = term_of(*stored);
      if (pass > 0 || !term || keyring_->key_for(*term) != nullptr) {
        COFFER_TRY(SecureBytes plain, decrypt_value(*keyring_, key, *stored));
        return std::optional<SecureBytes>{std::move(plain)};
      }
    }
    // A term this ring does not know: another host of a fleet rotated and
    // the change feed has not said so yet. Read the keyring once again.
    COFFER_TRY_STATUS(reload());
  }
}

Result<std::optional<SecureBytes>> Barrier::get(std::string_view key) {
  if (is_reserved_key(key)) return reserved_error(key);
  if (sealed()) return Error::sealed();
  // Read without the lock: only decryption needs the keys.
  COFFER_TRY(auto stored, physical_.get(key));
  return open_stored(key, std::move(stored));
}

Result<std::vector<std::optional<SecureBytes>>> Barrier::get_many(std::span<const std::string_view> keys) {
  for (std::string_view key : keys) {
    if (is_reserved_key(key)) return reserved_error(key);
  }
  if (sealed()) return Error::sealed();
  COFFER_TRY(auto stored, physical_.get_many(keys));
  std::vector<std::optional<SecureBytes>> out;
  out.reserve(stored.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    COFFER_TRY(auto plain, open_stored(keys[i], std::move(stored[i])));
    out.push_back(std::move(plain));
  }
  return out;
}

Result<std::vector<std::string>> Barrier::list(std::string_view prefix, std::size_t limit) {
  if (sealed()) return Error::sealed();
  if (covers_reserved(prefix)) return list_visible(physical_, prefix, limit);
  return physical_.list(prefix, limit);
}

Status Barrier::apply(std::span<const WriteOp> batch) {
  for (const WriteOp& op : batch) {
    if (op.kind == WriteOp::Kind::DeletePrefix) {
      if (covers_reserved(op.key)) {
        return Error::invalid("cannot delete prefix \"" + op.key + "\": it covers reserved keys");
      }
    } else if (is_reserved_key(op.key)) {
      return reserved_error(op.key);
    }
  }
  // Held across the physical write so seal() and rotate() wait for writes in
  // flight: none lands after seal() returns, none under a superseded term.
  std::shared_lock lock(mu_);
  if (keyring_ == nullptr) return Error::sealed();
  std::vector<WriteOp> physical_ops;
  physical_ops.reserve(batch.size());
  for (const WriteOp& op : batch) {
    if (op.kind == WriteOp::Kind::Put) {
      physical_ops.push_back(WriteOp{WriteOp::Kind::Put, op.key, encrypt_value(*keyring_, op.key, op.value)});
    } else {
      physical_ops.push_back(WriteOp{op.kind, op.key, {}});
    }
  }
  COFFER_TRY_STATUS(physical_.apply(physical_ops));
  lock.unlock();
  if (on_commit_) on_commit_(batch);
  return ok_status();
}

}  // namespace engine
