// SPDX-License-Identifier: MPL-2.0
// The encryption barrier: a Storage that encrypts every value it writes to the
// physical store below and authenticates every value it reads.
//
// Value format: 4-byte big-endian key term || 1 version byte (1) ||
// XChaCha20-Poly1305 output (nonce || ciphertext || tag), with the storage key
// (the full path) as additional data, so a value cannot be moved to another
// key. The keyring (terms → 32-byte keys) is itself stored at core/keyring,
// encrypted under the root key.
//
// The physical keys the store keeps outside the barrier (core/keyring, and the
// seal's core/root-key, core/seal-config and core/unseal-check) are reserved: through the
// barrier, get/put/delete of them fail with InvalidArgument, list() hides
// them, and a DeletePrefix that would cover one is refused, so no logical
// write can clobber the keys that open the store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>

#include "engine/storage/storage.hpp"

namespace engine {

class Barrier final : public Storage {
 public:
  // physical must outlive the barrier.
  explicit Barrier(Storage& physical);
  ~Barrier() override;

  // True until initialize() or unseal() succeeds, and again after seal().
  bool sealed() const;

  // Writes a fresh keyring (term 1) encrypted under root_key and leaves the
  // barrier unsealed. AlreadyExists if a keyring is stored already.
  // extra_physical ops (written as given, unencrypted) go into the same
  // atomic batch as the keyring, so the seal's init is all-or-nothing.
  Status initialize(ByteView root_key, std::span<const WriteOp> extra_physical = {});

  // Loads the keyring with root_key. Corrupt if root_key is wrong or the
  // keyring was tampered with; the barrier then stays sealed.
  Status unseal(ByteView root_key);

  // Forgets every key (zeroed). Storage calls then fail with Sealed.
  void seal();

  // Adds a new term and makes it the one new writes use; older terms stay
  // readable. Returns the new term. The new ring is built on the keyring
  // as stored (not the copy in memory), so a term another host of a fleet
  // added is kept; on a fleet store the write is conditional on core/keyring
  // still holding what was read (postgres_mirror.hpp): two hosts rotating at
  // once give Conflict to one of them, which the core runs again.
  Result<std::uint32_t> rotate();
  std::uint32_t active_term() const;  // 0 while sealed

  // The active term and when it was installed (unix seconds), as Vault's
  // sys/key-status reports them. Sealed while sealed.
  struct KeyStatus {
    std::uint32_t term = 0;
    std::int64_t installed_unix = 0;
  };
  Result<KeyStatus> key_status() const;

  // Reads core/keyring again and opens it with the root key in memory: what
  // another host rotated becomes readable and the term new writes use here.
  // Nothing while sealed. Corrupt if the stored keyring does not open (the
  // ring in memory stays).
  Status reload();

  // True for the physical keys reserved outside the barrier (see above).
  static bool is_reserved_key(std::string_view key);

  // Called after each apply() that committed, with the batch as given
  // (plain values, keys as the caller wrote them), on the writer's thread
  // with no barrier lock held: the core turns it into change-bus events
  // (engine/core_changes.hpp). Set once, before the store is used.
  using CommitHook = std::function<void(std::span<const WriteOp> batch)>;
  void set_commit_hook(CommitHook hook) { on_commit_ = std::move(hook); }

  // Storage. Every call fails with Sealed while sealed. get(), get_many(): Corrupt when a
  // value does not authenticate (wrong key, moved, or tampered bytes).
  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::optional<SecureBytes>>> get_many(std::span<const std::string_view> keys) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;

 private:
  struct Keyring;
  // The stored keyring opened with the root key in memory. Caller holds mu_
  // exclusively, with keyring_ set.
  Result<std::unique_ptr<Keyring>> load_stored_locked();
  // get()'s second half: what the physical store gave for key, opened
  // (Sealed, or Corrupt when it does not authenticate).
  Result<std::optional<SecureBytes>> open_stored(std::string_view key, std::optional<SecureBytes> stored);

  Storage& physical_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<Keyring> keyring_;  // null while sealed
  CommitHook on_commit_;
};

}  // namespace engine
