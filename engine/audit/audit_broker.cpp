// SPDX-License-Identifier: MPL-2.0
#include "engine/audit/audit_broker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/common/numbers.hpp"
#include "engine/storage/serial.hpp"
#include "engine/common/time.hpp"
#include "engine/crypto/sodium.hpp"

namespace engine {

// A device's stored configuration.
struct AuditDeviceRecord {
  std::string path;
  std::string type;
  std::string description;
  std::map<std::string, std::string> options;
  bool local = false;
  SecureBytes salt;  // HMAC key

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(path, type, description, options, local, salt);
  }
};

struct AuditTable {
  std::vector<AuditDeviceRecord> devices;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(devices);
  }
};

}  // namespace engine

CEREAL_CLASS_VERSION(engine::AuditDeviceRecord, 1);
CEREAL_CLASS_VERSION(engine::AuditTable, 1);

namespace engine {
namespace {

constexpr std::string_view kTableKey = "core/audit";

std::string errno_text(int err) { return std::strerror(err); }

// "true"/"false" and the other spellings Go's strconv.ParseBool takes.
Result<bool> option_bool(const std::map<std::string, std::string>& options, const std::string& key, bool fallback) {
  auto it = options.find(key);
  if (it == options.end() || it->second.empty()) return fallback;
  const std::string& v = it->second;
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True") return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False") return false;
  return Error::invalid("unable to parse '" + key + "': invalid syntax");
}

}  // namespace

std::string audit_hmac(ByteView salt, std::string_view input) {
  return "hmac-sha256:" + crypto::hmac_sha256_hex(salt, input);
}

// An enabled device: its record, parsed options and open file.
struct AuditBroker::Device {
  AuditDeviceRecord record;
  bool log_raw = false;
  bool hmac_accessor = true;
  std::string prefix;
  mode_t mode = 0600;
  std::mutex file_mu;  // guards fd (reopen)
  int fd = -1;

  ~Device() {
    if (fd >= 0) ::close(fd);
  }

  Status open_file() {
    const std::string& file = record.options.at("file_path");
    int f = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
    if (f < 0)
      return Error::storage("audit device \"" + record.path + "\": cannot open " + file + ": " + errno_text(errno));
    if (fd >= 0) ::close(fd);
    fd = f;
    return ok_status();
  }

  // One write(2) of the whole line; on failure, reopen once and retry.
  Status write_line(std::string_view line) {
    std::lock_guard lock(file_mu);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd < 0 || attempt == 1) {
        Status opened = open_file();
        if (!opened.ok()) return opened;
      }
      ssize_t n;
      do {
        n = ::write(fd, line.data(), line.size());
      } while (n < 0 && errno == EINTR);
      if (n == static_cast<ssize_t>(line.size())) return ok_status();
    }
    return Error::storage("audit device \"" + record.path + "\": write failed: " + errno_text(errno));
  }

  std::string hash(std::string_view s) const { return audit_hmac(record.salt, s); }
  // Every string inside v, recursively (map keys are left alone).
  void hash_strings(Json& v) const {
    if (v.is_string()) {
      v = hash(as_view(v.get_ref<const SecureString&>()));
    } else if (v.is_object() || v.is_array()) {
      for (auto& child : v) hash_strings(child);
    }
  }
  Json auth_block(const AuditAuth& a) const {
    Json out = Json::object();
    if (!a.present) return out;
    auto list = [](const std::vector<std::string>& v) {
      Json arr = Json::array();
      for (const auto& s : v) arr.push_back(s);
      return arr;
    };
    out["client_token"] = log_raw ? Json(a.client_token) : Json(hash(as_view(a.client_token)));
    out["accessor"] = log_raw || !hmac_accessor || a.accessor.empty() ? a.accessor : hash(a.accessor);
    out["display_name"] = a.display_name;
    out["policies"] = list(a.policies);
    out["token_policies"] = list(a.token_policies);
    if (!a.identity_policies.empty()) out["identity_policies"] = list(a.identity_policies);
    Json meta = Json::object();
    for (const auto& [k, v] : a.metadata) meta[to_secure(k)] = v;
    if (!a.metadata.empty()) out["metadata"] = std::move(meta);
    out["entity_id"] = a.entity_id;
    out["token_type"] = a.token_type;
    return out;
  }

  SecureString entry(const AuditEvent& e, bool is_request, const Response* response, const Error* error) const {
    Json request = Json{{"id", e.id},
                        {"operation", to_string(e.op)},
                        {"namespace", {{"id", e.namespace_id}, {"path", e.namespace_path}}},
                        {"path", e.path}};
    if (!e.mount_type.empty()) {
      request["mount_type"] = e.mount_type;
      request["mount_point"] = e.mount_point;
      request["mount_accessor"] = e.mount_accessor;
    }
    if (e.auth.present) {
      request["client_token"] = log_raw ? Json(e.auth.client_token) : Json(hash(as_view(e.auth.client_token)));
      if (!e.auth.accessor.empty()) {
        request["client_token_accessor"] = log_raw || !hmac_accessor ? e.auth.accessor : hash(e.auth.accessor);
      }
    }
    if (e.data != nullptr && !e.data->empty()) {
      Json data = *e.data;
      if (!log_raw) hash_strings(data);
      request["data"] = std::move(data);
    }
    Json out = Json{{"time", format_time(Clock::now())},
                    {"type", is_request ? "request" : "response"},
                    {"auth", auth_block(e.auth)},
                    {"request", std::move(request)}};
    if (!is_request) {
      Json resp = Json::object();
      if (!e.mount_type.empty()) {
        resp["mount_type"] = e.mount_type;
        resp["mount_point"] = e.mount_point;
        resp["mount_accessor"] = e.mount_accessor;
      }
      if (response != nullptr) {
        if (!response->data.empty()) {
          Json data = response->data;
          if (!log_raw) hash_strings(data);
          resp["data"] = std::move(data);
        }
        if (!response->warnings.empty()) {
          Json w = Json::array();
          for (const auto& s : response->warnings) w.push_back(s);
          resp["warnings"] = std::move(w);
        }
      }
      out["response"] = std::move(resp);
    }
    if (error != nullptr) out["error"] = error->message;
    SecureString line = to_secure(prefix);
    line += out.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
    line.push_back('\n');
    return line;
  }
};

namespace {

// Parses and checks a record's options into a device (file not opened).
Result<std::shared_ptr<AuditBroker::Device>> make_device(AuditDeviceRecord record) {
  auto dev = std::make_shared<AuditBroker::Device>();
  if (record.type != "file") return Error::invalid("unknown backend type: \"" + record.type + "\"");
  for (const auto& [k, v] : record.options) {
    if (k != "file_path" && k != "path" && k != "log_raw" && k != "hmac_accessor" && k != "mode" && k != "format" &&
        k != "prefix") {
      return Error::invalid("unknown option \"" + k + "\" for audit device type \"file\"");
    }
  }
  // "path" is the old spelling of file_path (Vault accepts both).
  if (auto it = record.options.find("path"); it != record.options.end()) {
    if (!record.options.contains("file_path")) record.options["file_path"] = it->second;
    record.options.erase(it);
  }
  auto file = record.options.find("file_path");
  if (file == record.options.end() || file->second.empty()) return Error::invalid("file_path is required");
  if (file->second.front() != '/') return Error::invalid("file_path must be an absolute path");
  if (auto it = record.options.find("format"); it != record.options.end() && it->second != "json") {
    return Error::invalid("unknown format type \"" + it->second + "\" (only \"json\" is supported)");
  }
  COFFER_TRY(dev->log_raw, option_bool(record.options, "log_raw", false));
  COFFER_TRY(dev->hmac_accessor, option_bool(record.options, "hmac_accessor", true));
  if (auto it = record.options.find("mode"); it != record.options.end() && !it->second.empty()) {
    const auto m = parse_count(it->second, "mode", 0777, 8);
    if (!m.ok()) return Error::invalid("invalid mode \"" + it->second + "\"");
    dev->mode = static_cast<mode_t>(*m);
  }
  if (auto it = record.options.find("prefix"); it != record.options.end()) dev->prefix = it->second;
  dev->record = std::move(record);
  return dev;
}

}  // namespace

AuditBroker::AuditBroker(Storage& barrier) : barrier_(barrier) {}
AuditBroker::~AuditBroker() = default;

bool AuditBroker::enabled() const { return count_.load(std::memory_order_acquire) != 0; }

std::vector<std::shared_ptr<AuditBroker::Device>> AuditBroker::snapshot() const {
  std::shared_lock lock(mu_);
  return devices_;
}

Status AuditBroker::load() {
  std::lock_guard change(change_mu_);
  COFFER_TRY(auto bytes, barrier_.get(kTableKey));
  std::vector<std::shared_ptr<Device>> devices;
  if (bytes) {
    COFFER_TRY(AuditTable table, decode_record<AuditTable>(*bytes, "audit table"));
    for (auto& rec : table.devices) {
      COFFER_TRY(auto dev, make_device(std::move(rec)));
      (void)dev->open_file();  // retried at each write while it fails
      devices.push_back(std::move(dev));
    }
  }
  std::unique_lock lock(mu_);
  devices_ = std::move(devices);
  count_.store(devices_.size(), std::memory_order_release);
  return ok_status();
}

void AuditBroker::clear() {
  std::lock_guard change(change_mu_);
  std::unique_lock lock(mu_);
  devices_.clear();
  count_.store(0, std::memory_order_release);
}

Status AuditBroker::store_locked(const std::vector<std::shared_ptr<Device>>& devices) {
  AuditTable table;
  for (const auto& d : devices) table.devices.push_back(d->record);
  return barrier_.put(kTableKey, encode_record(table));
}

Status AuditBroker::enable(const std::string& path, const std::string& type, const std::string& description,
                           std::map<std::string, std::string> options, bool local) {
  std::lock_guard change(change_mu_);
  auto devices = snapshot();
  for (const auto& d : devices) {
    if (d->record.path == path) return Error::exists("path already in use");
  }
  AuditDeviceRecord rec{path, type, description, std::move(options), local, crypto::random_key()};
  COFFER_TRY(auto dev, make_device(std::move(rec)));
  COFFER_TRY_STATUS(dev->open_file());
  devices.push_back(dev);
  COFFER_TRY_STATUS(store_locked(devices));
  std::unique_lock lock(mu_);
  devices_ = std::move(devices);
  count_.store(devices_.size(), std::memory_order_release);
  return ok_status();
}

Status AuditBroker::reopen() {
  Status first = ok_status();
  for (const auto& dev : snapshot()) {
    std::lock_guard lock(dev->file_mu);
    Status opened = dev->open_file();
    if (!opened.ok() && first.ok()) first = opened;
  }
  return first;
}

Status AuditBroker::disable(const std::string& path) {
  std::lock_guard change(change_mu_);
  auto devices = snapshot();
  auto gone = std::erase_if(devices, [&](const auto& d) { return d->record.path == path; });
  if (gone == 0) return Error::not_found("no audit device at \"" + path + "\"");
  COFFER_TRY_STATUS(store_locked(devices));
  std::unique_lock lock(mu_);
  devices_ = std::move(devices);
  count_.store(devices_.size(), std::memory_order_release);
  return ok_status();
}

std::vector<AuditDeviceInfo> AuditBroker::list() const {
  std::vector<AuditDeviceInfo> out;
  for (const auto& d : snapshot()) {
    out.push_back({d->record.path, d->record.type, d->record.description, d->record.options, d->record.local});
  }
  return out;
}

Result<std::string> AuditBroker::hash(const std::string& path, std::string_view input) const {
  for (const auto& d : snapshot()) {
    if (d->record.path == path) return d->hash(input);
  }
  return Error::not_found("unknown audit backend " + path);
}

Status AuditBroker::write_all(const AuditEvent& event, bool is_request, const Response* response, const Error* error) {
  auto devices = snapshot();
  if (devices.empty()) return ok_status();
  bool any = false;
  try {
    for (const auto& d : devices) {
      if (d->write_line(as_view(d->entry(event, is_request, response, error))).ok()) any = true;
    }
  } catch (const std::exception&) {
    // Formatting failed (out of memory): counts as not logged.
  }
  if (any) return ok_status();
  return Error::storage(is_request ? "no audit backend succeeded in logging the request"
                                   : "no audit backend succeeded in logging the response");
}

Status AuditBroker::log_request(AuditEvent& event, const Error* error) {
  event.devices_at_request = count_.load(std::memory_order_acquire);
  if (event.devices_at_request == 0) return ok_status();
  if (event.id.empty()) event.id = crypto::random_uuid();
  return write_all(event, true, nullptr, error);
}

Status AuditBroker::log_response(const AuditEvent& event, const Response* response, const Error* error) {
  return write_all(event, false, response, error);
}

}  // namespace engine
