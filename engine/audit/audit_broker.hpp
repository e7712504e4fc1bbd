// SPDX-License-Identifier: MPL-2.0
// Audit devices (vault-semantics §12): `sys/audit/NAME` enables a device
// (type "file"), and every request the core serves is written to each
// enabled device as one JSON line, before the backend runs it, and its
// response (or error) after. Tokens, accessors and every string value of
// request and response data are replaced by "hmac-sha256:<hex>", keyed by
// the device's own random salt, unless the device has log_raw.
//
// Blocking (Vault's rule): while at least one device is enabled, a request
// whose entry no device could write fails and is not executed.
//
// Device configurations (with their salts) are stored through the barrier
// at core/audit, versioned with cereal, and reopened at unseal.
//
// Files are opened O_WRONLY|O_APPEND|O_CREAT (mode 0600 unless "mode" says
// otherwise); each entry is one write(2) of the whole line, so lines from
// concurrent requests never interleave. No fsync: an entry written is in the
// kernel's page cache, so a daemon crash loses nothing; a power loss may
// lose the last entries (as Vault's file device). A failed write reopens the
// file once and retries (log rotation: move the file away, the next entry
// creates a new one).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

// Who asked (Vault's "auth" block). present=false: no valid token.
struct AuditAuth {
  bool present = false;
  SecureString client_token;  // raw; hashed unless log_raw
  std::string accessor;       // hashed when hmac_accessor (default true)
  std::string display_name;
  std::vector<std::string> policies;  // token + identity policies
  std::vector<std::string> token_policies;
  std::vector<std::string> identity_policies;
  std::map<std::string, std::string> metadata;
  std::string entity_id;
  std::string token_type;
};

// One request as the audit trail sees it.
struct AuditEvent {
  std::string id;  // request id (random UUID, drawn by log_request)
  Operation op = Operation::Read;
  std::string namespace_id = "root";
  std::string namespace_path;  // "" root, "a/b/"
  std::string path;            // below the namespace: "secret/data/foo"
  std::string mount_type;
  std::string mount_accessor;
  std::string mount_point;     // below the namespace: "secret/"
  const Json* data = nullptr;  // request body; null = none
  AuditAuth auth;
  // Devices enabled when the request entry was written: a response must be
  // logged only when its request had to be (enabling the first device does
  // not fail because its own response found the new device failing).
  std::size_t devices_at_request = 0;
};

// A device as sys/audit shows it.
struct AuditDeviceInfo {
  std::string path;  // "file/" (one trailing '/')
  std::string type;
  std::string description;
  std::map<std::string, std::string> options;
  bool local = false;
};

class AuditBroker {
 public:
  // barrier must outlive the broker.
  explicit AuditBroker(Storage& barrier);
  ~AuditBroker();

  // At unseal: reads the stored devices and opens their files. A file that
  // cannot be opened leaves its device enabled (and failing) until it can:
  // the audit trail is never silently dropped. Errors: Storage, Corrupt.
  Status load();
  // At seal: closes and forgets every device (nothing stored changes).
  void clear();

  // Enables a device at path (canonical "NAME/"). Opens the file first, so
  // a bad file_path is an error and nothing is stored. Errors:
  // InvalidArgument (type, options), AlreadyExists ("path already in use"),
  // Storage. Thread-safe.
  Status enable(const std::string& path, const std::string& type, const std::string& description,
                std::map<std::string, std::string> options, bool local);
  // Reopens every device's file (after log rotation moved it away: SIGHUP,
  // as Vault's file device). A file that cannot be opened keeps its old
  // descriptor and is retried at its next write; the first such error is
  // returned. Thread-safe.
  Status reopen();
  // Disables the device at path; NotFound when none. Thread-safe.
  Status disable(const std::string& path);
  std::vector<AuditDeviceInfo> list() const;
  // The hash the device at path writes for input ("hmac-sha256:<hex>");
  // NotFound when no such device. Thread-safe.
  Result<std::string> hash(const std::string& path, std::string_view input) const;

  // True while at least one device is enabled (cheap; no lock).
  bool enabled() const;

  // Writes the request entry to every device. error: the refusal, if the
  // request was refused before its backend (denied, unknown token...).
  // Storage "no audit backend succeeded in logging the request" when
  // devices are enabled and none wrote it; ok when none is enabled.
  // Sets event.devices_at_request.
  Status log_request(AuditEvent& event, const Error* error);
  // Writes the response entry (the reply data or the error). Same result rule.
  Status log_response(const AuditEvent& event, const Response* response, const Error* error);

  struct Device;

 private:
  Status store_locked(const std::vector<std::shared_ptr<Device>>& devices);
  std::vector<std::shared_ptr<Device>> snapshot() const;
  Status write_all(const AuditEvent& event, bool is_request, const Response* response, const Error* error);

  Storage& barrier_;
  mutable std::shared_mutex mu_;  // guards devices_
  std::mutex change_mu_;          // serialises enable/disable with their storage write
  std::vector<std::shared_ptr<Device>> devices_;
  std::atomic<std::size_t> count_{0};
};

// "hmac-sha256:" + HMAC-SHA256(salt, input) in lowercase hex.
std::string audit_hmac(ByteView salt, std::string_view input);

}  // namespace engine
