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
#include <optional>
#include <utility>
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

// A rekey attempt (Vault's sys/rekey/init): the new share counts, and the
// shares of the current unseal key submitted so far.
struct RekeyStatus {
  bool started = false;
  int shares = 0;     // "n": of the new unseal key
  int threshold = 0;  // "t": of the new unseal key
  int progress = 0;   // current shares submitted
  int required = 0;   // the current threshold
  std::string nonce;
};

struct RekeyUpdate {
  RekeyStatus status;
  bool complete = false;
  std::string nonce;  // of the attempt that completed
  InitOutput keys;    // the new shares, when complete
};

// A root token generation attempt (Vault's sys/generate-root/attempt).
struct GenerateRootStatus {
  bool started = false;
  int progress = 0;
  int required = 0;  // the current threshold
  std::string nonce;
};

struct GenerateRootUpdate {
  GenerateRootStatus status;
  bool complete = false;  // quorum reached and the shares proved right
  std::string nonce;      // of the attempt that completed
  SecureString otp;       // the attempt's OTP, when complete
};

// How long the generated OTP is: as long as a root token ("hvs." + 24,
// Vault 1.10+'s otp_length 28), since the token is XORed with it.
inline constexpr int kRootOtpLength = 28;

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

  // ---- Rekey (Vault's sys/rekey): a quorum of the current shares makes a
  // new unseal key, split into new shares; the root key (and so the
  // barrier's keyring) stays, sealed under the new unseal key. Needs the
  // barrier unsealed (Sealed otherwise).

  // Starts an attempt. InvalidArgument: bad counts (Vault's messages), or
  // "rekey already in progress".
  Result<RekeyStatus> rekey_init(int shares, int threshold);
  RekeyStatus rekey_status() const;
  // Ends the attempt and forgets its shares (none running: nothing).
  void rekey_cancel();
  // One current share. InvalidArgument: no attempt, wrong nonce, a share
  // given twice, a share that does not decode, or (at the threshold) shares
  // that do not combine into the unseal key; then the progress is reset,
  // the attempt stays. At the threshold the new seal records are written in
  // one batch and the attempt ends.
  Result<RekeyUpdate> rekey_update(std::string_view share, std::string_view nonce);

  // ---- Root token generation (Vault's sys/generate-root): a quorum of the
  // current shares lets the caller (Core) make a new root token, which it
  // returns XORed with the attempt's OTP. Needs the barrier unsealed.

  // Starts an attempt with `otp` (empty: a generated one of
  // kRootOtpLength); returns the status and the OTP, which is told once.
  // InvalidArgument: "root generation already in progress", or an OTP of
  // the wrong length.
  Result<std::pair<GenerateRootStatus, SecureString>> generate_root_init(std::string_view otp);
  GenerateRootStatus generate_root_status() const;
  void generate_root_cancel();
  // One share; errors as rekey_update. At the threshold the attempt ends,
  // whether the shares were right or not.
  Result<GenerateRootUpdate> generate_root_update(std::string_view share, std::string_view nonce);

 private:
  struct Recovered;
  // The unseal key and root key that `parts` (threshold shares) combine
  // into, checked against the stored records; `invalid` is the message for
  // shares that combine into a wrong key. Caller holds mu_.
  Result<Recovered> recover_locked(int shares, std::vector<SecureBytes> parts, std::string_view invalid);
  RekeyStatus rekey_status_locked(int required) const;
  GenerateRootStatus generate_root_status_locked(int required) const;
  // The current threshold (0 if the config cannot be read). Caller holds mu_.
  int required_locked() const;

  Storage& physical_;
  Barrier& barrier_;
  mutable std::mutex mu_;
  std::vector<SecureBytes> pending_;
  std::string nonce_;

  struct RekeyAttempt {
    int shares = 0, threshold = 0;
    std::string nonce;
    std::vector<SecureBytes> pending;
  };
  std::optional<RekeyAttempt> rekey_;
  struct RootAttempt {
    std::string nonce;
    SecureString otp;
    std::vector<SecureBytes> pending;
  };
  std::optional<RootAttempt> root_;
};

}  // namespace engine
