// SPDX-License-Identifier: MPL-2.0
// Init, unseal and seal (vault-semantics §13): the unseal key is split into
// Shamir shares; the combined key decrypts the root key, which opens the
// barrier's keyring.
//
// Physical keys written here (outside the barrier):
//   core/seal-config   plain JSON {"secret_shares":N,"secret_threshold":T}
//   core/root-key      root key sealed under the unseal key (aad "core/root-key")
//   core/unseal-check  an empty text sealed under the unseal key (aad
//                      "core/unseal-check"): a key check value, so that a
//                      root key that does not open with the right unseal key
//                      is told apart from a wrong key (stores from before it
//                      get it at their next unseal)
#pragma once

#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/barrier/barrier.hpp"

namespace engine {

struct SealStatus {
  bool initialized = false;
  bool sealed = true;
  int shares = 0;     // "n"
  int threshold = 0;  // "t"
  int progress = 0;   // shares submitted towards the threshold
  std::string nonce;  // identifies the current unseal attempt ("" when none)
};

struct InitOutput {
  std::vector<SecureString> keys_hex;     // one per share
  std::vector<SecureString> keys_base64;  // the same shares, base64
};

// Checks, without unsealing anything, that `shares` open the store in
// physical (what cofferd's seal "file" and unseal-file check before using a
// key file): the store is initialised; each share is hex or base64 of the
// store's share length (Vault's order, as sys/unseal decodes); no share is
// repeated (same bytes or same x-coordinate); there are at least threshold
// of them; and all of them together combine to the key that opens
// core/unseal-check (core/root-key on a store from before it). Errors:
// InvalidArgument naming a share by its position (1-based), never by its
// text; Storage/Corrupt as the store reports them.
Status check_unseal_shares(Storage& physical, std::span<const SecureString> shares);

class SealManager {
 public:
  // Both must outlive the manager.
  SealManager(Storage& physical, Barrier& barrier);

  // Creates the unseal key, its shares and the root key; initialises and
  // unseals the barrier. AlreadyExists if initialised; InvalidArgument for bad
  // share counts (Vault's messages).
  Result<InitOutput> init(int shares, int threshold);

  // Submits one share (hex or base64). When the threshold is reached the
  // barrier is unsealed; if the combined key is wrong the attempt is reset and
  // InvalidArgument("Unseal failed, invalid key") returned. With the right key
  // but a damaged core/root-key or core/keyring, Corrupt names the record
  // instead (the attempt is over too). A share given twice in one attempt is
  // refused. Unsealing an unsealed store returns its status unchanged.
  Result<SealStatus> submit_share(std::string_view share);

  // Forgets submitted shares of the current attempt.
  void reset();

  // Seals the barrier (keys zeroed).
  void seal();

  SealStatus status() const;

 private:
  Storage& physical_;
  Barrier& barrier_;
  mutable std::mutex mu_;
  std::vector<SecureBytes> pending_;
  std::string nonce_;
};

}  // namespace engine
