// SPDX-License-Identifier: MPL-2.0
// Auto-unseal from a key file (config: seal "file" { path = "..." }): the
// unseal shares, enough to reach the threshold, in a file only the daemon's
// uid can read, typically a systemd credential (LoadCredentialEncrypted=,
// which can bind it to the host's TPM) in $CREDENTIALS_DIRECTORY. At start,
// after the store is opened, cofferd checks the shares against the store
// and unseals with them. Also `cofferd unseal-file`, which writes such a
// file from shares read on stdin after checking them against the store.
//
// No message ever shows a share: errors name a line or a share's position.
#pragma once

#include <istream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"
#include "mountd/stores.hpp"

namespace mountd {

inline constexpr std::size_t kMaxSealFileBytes = 64 * 1024;

// The key file's path: path itself when absolute; a relative one under
// credentials_dir (systemd's $CREDENTIALS_DIRECTORY, null when unset).
// InvalidArgument for an empty path, a relative one with no (or a relative)
// credentials directory, or a relative one with a ".." segment.
engine::Result<std::string> seal_file_path(std::string_view path, const char* credentials_dir);

// The shares in a key file's text: the JSON sys/init answers
// ({"keys": [...]}; "keys_base64" when there is no "keys"), or one share
// per line (hex or base64; blank lines and lines starting with '#' are
// skipped). InvalidArgument naming the line (or the JSON element), never its
// text, for: no share, more than 255, a repeated share, a line that is not
// hex or base64, JSON that is not such an object.
engine::Result<std::vector<engine::SecureString>> parse_seal_shares(std::string_view text);

// Reads and parses the key file at path. Refused (InvalidArgument naming
// the file and the reason) unless it is a regular file (a symbolic link is
// not followed), owned by the effective uid, with no permission bit for
// group or others, of at most 64 KiB. The read bytes are zeroed.
engine::Result<std::vector<engine::SecureString>> read_seal_file(const std::string& path);

// Writes shares to path, one per line, mode 0600: a temporary file in the
// same directory, synced, renamed over path. Errors: Storage naming the file.
engine::Status write_seal_file(const std::string& path, std::span<const engine::SecureString> shares);

// read_seal_file, then engine::check_unseal_shares against physical; the
// message says which file.
engine::Result<std::vector<engine::SecureString>> load_seal_file(const std::string& path, engine::Storage& physical);

// `cofferd unseal-file (--config F | --storage S) OUT` (args: what follows
// "unseal-file").
struct UnsealFileArgs {
  StoreLocation store;
  std::string out;
};
engine::Result<UnsealFileArgs> parse_unseal_file_args(const std::vector<std::string>& args);

// Reads the shares from in (as parse_seal_shares), checks them against the
// store, writes args.out. Says what it did on out, why not on err; returns
// the exit status (0, 1 on failure, 2 on bad arguments).
int run_unseal_file(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace mountd
