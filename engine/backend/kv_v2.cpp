// SPDX-License-Identifier: MPL-2.0
#include "engine/backend/kv_v2.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <shared_mutex>
#include <random>
#include <string>
#include <vector>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>

#include "engine/backend/kv_common.hpp"
#include "engine/common/duration.hpp"
#include "engine/storage/serial.hpp"
#include "engine/common/time.hpp"
#include "engine/storage/group_commit.hpp"

// Stored records. A named namespace (not an anonymous one) because
// CEREAL_CLASS_VERSION must name the types from the global namespace.
namespace engine::kv_v2_detail {

struct VersionRecord {
  std::int64_t created_ns = 0;
  bool has_deletion = false;
  std::int64_t deletion_ns = 0;
  bool destroyed = false;
  // Bytes of the file view's whole-secret rendering (render_pretty of the
  // data), recorded at write, so that a stat needs no decrypt of the data.
  // The version's stored bytes are that rendering when their length is
  // this (write_data stores it up to kMaxStoredRendering, compact JSON
  // past it). 0: not recorded (a version written before, or by an older
  // daemon, which stored compact JSON). Stored in KeyRecord (version 2).
  std::uint64_t rendered_size = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const /*version*/) {
    ar(created_ns, has_deletion, deletion_ns, destroyed);
  }
};

struct KeyRecord {
  std::string key_id;  // names this key's version data: "ver/<key_id>/<N>"
  std::uint64_t current_version = 0;
  std::uint64_t oldest_version = 0;
  std::uint32_t max_versions = 0;  // 0: use the engine's
  bool cas_required = false;
  std::int64_t delete_version_after_s = 0;  // 0: unset
  std::int64_t created_ns = 0;
  std::int64_t updated_ns = 0;
  std::map<std::string, std::string> custom_metadata;
  std::map<std::uint64_t, VersionRecord> versions;
  // The byte size of each top-level field's text (field_text: what
  // NAME#KEY shows) of version fields_version, recorded at its write, so
  // that a stat of NAME#KEY needs no decrypt of the data. Only for the
  // version written last, and only for a secret of at most
  // kMaxRecordedFields fields whose names fit in kMaxRecordedFieldNames
  // bytes. fields_version 0: none recorded. Stored in KeyRecord (version 3).
  //
  // Every read of the secret decodes this record, and cereal decodes a
  // container element by element (a few hundred instructions each), so the
  // sizes are one string that decodes in one piece and is searched only by
  // a stat of a field: for each field in name order, LEB128 varint of the
  // name's length, the name, varint of the size (append_field_size).
  std::uint64_t fields_version = 0;
  std::string field_sizes;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(key_id, current_version, oldest_version, max_versions, cas_required, delete_version_after_s, created_ns,
       updated_ns, custom_metadata, versions);
    // Version 2 adds the versions' rendered sizes, after every field of
    // version 1: a daemon of version 1 decodes the fields it knows and stops
    // there, so a fleet host not yet upgraded still reads these records (and
    // drops the sizes when it rewrites one; readers then decrypt, as before).
    if (version < 2) return;
    std::map<std::uint64_t, std::uint64_t> sizes;
    if constexpr (Archive::is_saving::value) {
      for (const auto& [n, v] : versions) {
        if (v.rendered_size != 0) sizes.emplace(n, v.rendered_size);
      }
      ar(sizes);
    } else {
      ar(sizes);
      for (const auto& [n, size] : sizes) {
        if (auto it = versions.find(n); it != versions.end()) it->second.rendered_size = size;
      }
    }
    // Version 3 adds the field sizes, after version 2's fields, the same way.
    if (version < 3) return;
    ar(fields_version, field_sizes);
  }

  void append_field_size(std::string_view name, std::uint64_t size) {
    put_varint(field_sizes, name.size());
    field_sizes.append(name);
    put_varint(field_sizes, size);
  }

  // The recorded size of version n's field `name`, if recorded (nullopt
  // too for bytes that do not decode: they are then read, as unrecorded).
  std::optional<std::uint64_t> field_size(std::uint64_t n, std::string_view name) const {
    if (fields_version == 0 || n != fields_version) return std::nullopt;
    std::string_view rest = field_sizes;
    while (!rest.empty()) {
      auto length = take_varint(rest);
      if (!length || *length > rest.size()) return std::nullopt;
      const std::string_view key = rest.substr(0, *length);
      rest.remove_prefix(*length);
      auto size = take_varint(rest);
      if (!size) return std::nullopt;
      if (key == name) return size;
    }
    return std::nullopt;
  }

 private:
  static void put_varint(std::string& out, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    out.push_back(static_cast<char>(v));
  }
  static std::optional<std::uint64_t> take_varint(std::string_view& in) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return std::nullopt;
  }
};

struct ConfigRecord {
  std::uint32_t max_versions = 0;  // 0: the default (10)
  bool cas_required = false;
  // 0: unset; > 0: seconds; < 0: disabled for every key (Vault stores -1s).
  std::int64_t delete_version_after_s = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const /*version*/) {
    ar(max_versions, cas_required, delete_version_after_s);
  }
};

}  // namespace engine::kv_v2_detail

CEREAL_CLASS_VERSION(engine::kv_v2_detail::VersionRecord, 1)
CEREAL_CLASS_VERSION(engine::kv_v2_detail::KeyRecord, 3)
CEREAL_CLASS_VERSION(engine::kv_v2_detail::ConfigRecord, 1)

namespace engine {

namespace {

using kv_v2_detail::ConfigRecord;
using kv_v2_detail::KeyRecord;
using kv_v2_detail::VersionRecord;

constexpr std::uint32_t kDefaultMaxVersions = 10;
constexpr std::size_t kMaxCustomMetadataKeys = 64;
constexpr std::size_t kMaxCustomMetadataKeyLength = 128;
constexpr std::size_t kMaxCustomMetadataValueLength = 512;
constexpr int kMaxSubkeysDepth = 100;  // Vault's cap, also bounds our recursion
constexpr std::string_view kConfigKey = "config";
// The largest rendering stored as such (write_data). Indentation grows with
// depth: a body of leaves 60 levels deep renders to about 60 times its size;
// past this it is stored compact instead (and rendered at each cat, as
// before), up to kv::kMaxRenderedSecret.
constexpr std::size_t kMaxStoredRendering = 2u << 20;
// KeyRecord::field_sizes is recorded for secrets this small (fields, and
// bytes of their names).
constexpr std::size_t kMaxRecordedFields = 32;
constexpr std::size_t kMaxRecordedFieldNames = 1024;
constexpr std::string_view kCustomMetadataPrefix = "custom_metadata validation failed";

const Json kNull = nullptr;

// ---- routing ---------------------------------------------------------------

enum class Endpoint { Config, Data, Delete, Undelete, Destroy, Metadata, MetadataList, Subkeys };

struct Target {
  Endpoint endpoint;
  std::string name;  // secret name, or folder for MetadataList
};

Result<Target> route(const BackendRequest& req) {
  std::string_view p = req.path;
  if (p == "config") return Target{Endpoint::Config, {}};
  if (req.op == Operation::List && (p == "metadata" || p.starts_with("metadata/"))) {
    std::string folder(p == "metadata" ? std::string_view() : p.substr(9));
    if (!folder.empty() && folder.back() != '/') folder.push_back('/');
    COFFER_TRY_STATUS(kv::check_folder(folder));
    return Target{Endpoint::MetadataList, std::move(folder)};
  }
  // Only metadata/ lists; say so before judging the path as a secret name.
  if (req.op == Operation::List) return Error::unsupported("unsupported operation");
  static constexpr std::pair<std::string_view, Endpoint> kPrefixes[] = {
      {"data/", Endpoint::Data},       {"delete/", Endpoint::Delete},     {"undelete/", Endpoint::Undelete},
      {"destroy/", Endpoint::Destroy}, {"metadata/", Endpoint::Metadata}, {"subkeys/", Endpoint::Subkeys},
  };
  for (const auto& [prefix, endpoint] : kPrefixes) {
    if (!p.starts_with(prefix)) continue;
    std::string name(p.substr(prefix.size()));
    COFFER_TRY_STATUS(kv::check_secret_name(name));
    return Target{endpoint, std::move(name)};
  }
  return Error::unsupported_path();
}

// ---- storage ---------------------------------------------------------------

std::string meta_key(std::string_view name) { return "meta/" + std::string(name); }
// The file view's listing (ls) shows a key only while its current version
// can be read: live/<name> mirrors meta/<name> for those keys, written in
// the same batch as every meta/ change, so a listing decrypts nothing per
// key. kLiveIndexKey marks the index complete: a mount from before it gets
// it built at its first live listing.
std::string live_key(std::string_view name) { return "live/" + std::string(name); }
constexpr std::string_view kLiveIndexKey = "live-index";
std::string version_prefix(const KeyRecord& m) { return "ver/" + m.key_id + "/"; }
std::string version_key(const KeyRecord& m, std::uint64_t n) { return version_prefix(m) + std::to_string(n); }

WriteOp put_op(std::string key, SecureBytes value) {
  return WriteOp{WriteOp::Kind::Put, std::move(key), std::move(value)};
}
WriteOp delete_op(std::string key) { return WriteOp{WriteOp::Kind::Delete, std::move(key), {}}; }

// Not a secret, only unique per key: std::random_device reads the kernel's
// CSPRNG on Linux, which is plenty for a name.
std::string new_key_id() {
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    id += buf;
  }
  return id;
}

Result<std::optional<KeyRecord>> load_meta(Storage& s, std::string_view name) {
  COFFER_TRY(auto raw, s.get(meta_key(name)));
  if (!raw) return std::optional<KeyRecord>();
  COFFER_TRY(KeyRecord rec, decode_record<KeyRecord>(ByteView(raw->data(), raw->size()), "kv key metadata"));
  return std::optional<KeyRecord>(std::move(rec));
}

Result<ConfigRecord> decode_config(const std::optional<SecureBytes>& raw) {
  if (!raw) return ConfigRecord{};
  return decode_record<ConfigRecord>(ByteView(raw->data(), raw->size()), "kv config");
}

Result<ConfigRecord> load_config(Storage& s) {
  COFFER_TRY(auto raw, s.get(kConfigKey));
  return decode_config(raw);
}

struct ConfigAndMeta {
  ConfigRecord config;
  std::optional<KeyRecord> meta;
};

// The engine config and name's metadata, as a change needs both: one
// get_many, which a SQLite store answers in one read transaction.
Result<ConfigAndMeta> load_config_and_meta(Storage& s, std::string_view name) {
  const std::string meta_at = meta_key(name);
  const std::string_view keys[] = {kConfigKey, meta_at};
  COFFER_TRY(auto raw, s.get_many(keys));
  ConfigAndMeta out;
  COFFER_TRY(out.config, decode_config(raw[0]));
  if (raw[1]) {
    COFFER_TRY(out.meta, decode_record<KeyRecord>(ByteView(raw[1]->data(), raw[1]->size()), "kv key metadata"));
  }
  return out;
}

// ---- rendering -------------------------------------------------------------

std::string time_or_empty(bool set, std::int64_t ns) { return set ? format_time(ns) : ""; }

// Vault prints a nil map as null; an emptied map is nil after its storage
// round trip, so both render as null.
Json custom_metadata_json(const KeyRecord& m) {
  if (m.custom_metadata.empty()) return nullptr;
  Json out = Json::object();
  for (const auto& [k, v] : m.custom_metadata) out[to_secure(k)] = to_secure(v);
  return out;
}

// The metadata block of data reads and the body of data writes.
Json version_json(const KeyRecord& m, std::uint64_t n, const VersionRecord& v) {
  Json out = Json::object();
  out["created_time"] = format_time(v.created_ns);
  out["custom_metadata"] = custom_metadata_json(m);
  out["deletion_time"] = time_or_empty(v.has_deletion, v.deletion_ns);
  out["destroyed"] = v.destroyed;
  out["version"] = n;
  return out;
}

Response make_response(Json data, std::optional<std::int64_t> modified_ns = std::nullopt) {
  Response r;
  r.data = std::move(data);
  if (modified_ns) r.modified = kv::from_unix_nanos(*modified_ns);
  return r;
}

// ---- rules -----------------------------------------------------------------

bool is_deleted(const VersionRecord& v, std::int64_t now_ns) { return v.has_deletion && v.deletion_ns <= now_ns; }

// Whether a read of the key's current version succeeds now. A deletion
// time still to come (delete_version_after) counts as live: the index
// learns of it at the key's next change.
bool is_live(const KeyRecord& m, std::int64_t now_ns) {
  auto cur = m.versions.find(m.current_version);
  return m.current_version != 0 && cur != m.versions.end() && !cur->second.destroyed &&
         !is_deleted(cur->second, now_ns);
}

// Whether the live/ entry of a key whose stored metadata is m is certainly
// there: its current version is readable and has no deletion time, so it was
// live when m was written, whatever the clock said, and put_meta wrote the
// entry then. (A mount from before the index has none, but builds it from
// meta/ at its first live listing.)
bool live_entry_stored(const KeyRecord& m) {
  auto cur = m.versions.find(m.current_version);
  return m.current_version != 0 && cur != m.versions.end() && !cur->second.destroyed && !cur->second.has_deletion;
}

// The meta/ record of name and its live/ entry, for one batch. live_stored:
// the entry is there already (live_entry_stored of the record replaced), so
// a key that stays live does not write it again.
void put_meta(std::vector<WriteOp>& batch, std::string_view name, const KeyRecord& m, std::int64_t now_ns,
              bool live_stored = false) {
  batch.push_back(WriteOp{WriteOp::Kind::Put, meta_key(name), encode_record(m)});
  if (is_live(m, now_ns)) {
    if (!live_stored) batch.push_back(WriteOp{WriteOp::Kind::Put, live_key(name), SecureBytes{}});
  } else {
    batch.push_back(WriteOp{WriteOp::Kind::Delete, live_key(name), {}});
  }
}

// Vault's deletion time for a version made (or undeleted) at base_ns: the
// smaller non-zero delete_version_after of engine and key, unless the engine
// disables it.
std::optional<std::int64_t> auto_deletion(const ConfigRecord& c, const KeyRecord& m, std::int64_t base_ns) {
  if (c.delete_version_after_s < 0) return std::nullopt;
  std::int64_t mount = c.delete_version_after_s, key = m.delete_version_after_s;
  if (mount == 0 && key == 0) return std::nullopt;
  std::int64_t chosen = key != 0 ? key : mount;
  if (mount != 0 && mount < chosen) chosen = mount;
  return ns_after(base_ns, chosen);  // saturating: a huge delay never wraps into the past
}

// Appends version `cur+1` to m and purges what no longer fits, as Vault's
// AddVersion: the effective maximum is max(key, engine), or 10 when both are
// 0. Purged versions' data deletes are appended to batch.
std::uint64_t add_version(KeyRecord& m, const ConfigRecord& c, VersionRecord v, std::vector<WriteOp>& batch) {
  std::uint64_t n = ++m.current_version;
  m.versions[n] = v;
  m.updated_ns = v.created_ns;
  if (m.created_ns == 0) m.created_ns = v.created_ns;
  std::uint32_t max_versions = std::max(m.max_versions, c.max_versions);
  if (max_versions == 0) max_versions = kDefaultMaxVersions;
  if (m.current_version - m.oldest_version >= max_versions) {
    std::uint64_t last_purged = m.current_version - max_versions;
    auto first = m.versions.lower_bound(m.oldest_version);
    auto last = m.versions.upper_bound(last_purged);
    for (auto it = first; it != last; ++it) batch.push_back(delete_op(version_key(m, it->first)));
    m.versions.erase(first, last);
    m.oldest_version = last_purged + 1;
  }
  return n;
}

// options.cas against the key's current version (vault-semantics §7.3).
Status check_cas(const Json& body, const ConfigRecord& c, const KeyRecord& m) {
  auto options = body.find(std::string_view("options"));
  const Json* cas = nullptr;
  if (options != body.end() && !options->is_null()) {
    auto it = options->find(std::string_view("cas"));
    if (it != options->end()) cas = &*it;
  }
  if (cas != nullptr) {
    auto parsed = kv::parse_int(*cas, "cas");
    if (!parsed.ok()) return Error::invalid("error parsing check-and-set parameter");
    if (*parsed < 0 || static_cast<std::uint64_t>(*parsed) != m.current_version) {
      return Error::cas("check-and-set parameter did not match the current version");
    }
    return ok_status();
  }
  if (c.cas_required || m.cas_required) {
    return Error::invalid("check-and-set parameter required for this call");
  }
  return ok_status();
}

// The body of data writes and patches: {"data": {...}, "options": {"cas": N}}.
Status check_data_body(const Json& body, std::string_view where) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(body, {"data", "options"}, where));
  auto data = body.find(std::string_view("data"));
  if (data == body.end() || data->is_null()) return Error::invalid("no data provided");
  if (!data->is_object()) return Error::invalid("invalid \"data\": expected a JSON object");
  auto options = body.find(std::string_view("options"));
  if (options != body.end() && !options->is_null()) {
    if (!options->is_object()) return Error::invalid("invalid \"options\": expected a JSON object");
    COFFER_TRY_STATUS(kv::reject_unknown_keys(*options, {"cas"}, "options"));
  }
  return ok_status();
}

std::string version_label(std::uint64_t n, std::string_view name) {
  return "version " + std::to_string(n) + " of secret " + std::string(name);
}

// The version a read asks for, checked to be readable now.
struct ReadableVersion {
  KeyRecord meta;
  std::uint64_t n = 0;
  VersionRecord v;
};

Result<ReadableVersion> find_readable(const BackendRequest& req, std::string_view name, const Json* version_param) {
  COFFER_TRY(auto meta, load_meta(req.storage, name));
  if (!meta) return Error::not_found("secret " + std::string(name) + " not found");
  std::uint64_t n = meta->current_version;
  if (version_param != nullptr && !version_param->is_null()) {
    COFFER_TRY(std::int64_t asked, kv::parse_int(*version_param, "version"));
    if (asked > 0) n = static_cast<std::uint64_t>(asked);  // 0 (or less) = latest, as Vault
  }
  if (n == 0) return Error::not_found("secret " + std::string(name) + " has no versions");
  auto it = meta->versions.find(n);
  if (it == meta->versions.end()) {
    if (n < meta->oldest_version) {
      return Error::not_found(version_label(n, name) + " was purged (over max_versions)");
    }
    return Error::not_found(version_label(n, name) + " not found");
  }
  if (it->second.destroyed) return Error::not_found(version_label(n, name) + " is destroyed");
  if (is_deleted(it->second, kv::to_unix_nanos(req.now))) {
    return Error::not_found(version_label(n, name) + " is deleted");
  }
  return ReadableVersion{std::move(*meta), n, it->second};
}

// nullopt when the data is gone: a writer destroyed or purged the version
// between our get of the metadata and this get.
Result<std::optional<Json>> load_version_data(Storage& s, const ReadableVersion& rv) {
  COFFER_TRY(auto raw, s.get(version_key(rv.meta, rv.n)));
  if (!raw) return std::optional<Json>();
  COFFER_TRY(Json data, kv::parse_secret(*raw));
  return std::optional<Json>(std::move(data));
}

// A readable version and its stored bytes, without the write lock: if a
// writer purged or destroyed the version between the two gets, look again
// (the metadata then tells the truth, or names a newer latest version).
Result<std::pair<ReadableVersion, SecureBytes>> read_version_bytes(const BackendRequest& req, std::string_view name,
                                                                   const Json* version_param) {
  for (int attempt = 0;; ++attempt) {
    COFFER_TRY(ReadableVersion rv, find_readable(req, name, version_param));
    COFFER_TRY(auto raw, req.storage.get(version_key(rv.meta, rv.n)));
    if (raw) return std::pair<ReadableVersion, SecureBytes>(std::move(rv), std::move(*raw));
    if (attempt == 8) return Error::not_found(version_label(rv.n, name) + " not found");
  }
}

// The same with the data parsed.
Result<std::pair<ReadableVersion, Json>> read_version(const BackendRequest& req, std::string_view name,
                                                      const Json* version_param) {
  COFFER_TRY(auto found, read_version_bytes(req, name, version_param));
  COFFER_TRY(Json data, kv::parse_secret(found.second));
  return std::pair<ReadableVersion, Json>(std::move(found.first), std::move(data));
}

// ---- data/ -------------------------------------------------------------------

Result<Response> read_data(const BackendRequest& req, std::string_view name) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {"version"}, "data read"));
  // The metadata and the version's bytes from one snapshot, in one read
  // transaction.
  const ReadTogether together;
  auto vp = req.data.find(std::string_view("version"));
  const Json* version = vp == req.data.end() ? nullptr : &*vp;
  if (req.parts.rendered_size != nullptr) {
    // The size alone will do: from the metadata, when the write recorded it.
    COFFER_TRY(ReadableVersion rv, find_readable(req, name, version));
    const std::optional<std::uint64_t> size =
        req.parts.field != nullptr ? rv.meta.field_size(rv.n, *req.parts.field)
        : rv.v.rendered_size != 0  ? std::optional<std::uint64_t>(rv.v.rendered_size)
                                   : std::nullopt;
    if (size) {
      *req.parts.rendered_size = *size;
      return make_response(Json::object(), rv.v.created_ns);
    }
  }
  COFFER_TRY(auto found, read_version_bytes(req, name, version));
  auto& [rv, raw] = found;
  if (req.parts.rendered != nullptr && rv.v.rendered_size != 0 && raw.size() == rv.v.rendered_size) {
    // The stored bytes are the rendering when the write recorded its size
    // (write_data): handed over as they are, unparsed. Otherwise (written
    // compact, or by an older daemon) they are parsed, as for anyone.
    req.parts.rendered->emplace(as_view(raw));
    return make_response(Json::object(), rv.v.created_ns);
  }
  COFFER_TRY(Json data, kv::parse_secret(raw));
  Json out = Json::object();
  out["data"] = std::move(data);
  out["metadata"] = version_json(rv.meta, rv.n, rv.v);
  return make_response(std::move(out), rv.v.created_ns);
}

// Records the field sizes of version n, whose data is `value`, in meta
// (KeyRecord::field_sizes), or none when the secret is too large for them.
void record_field_sizes(KeyRecord& meta, std::uint64_t n, const Json& value) {
  meta.fields_version = 0;
  meta.field_sizes.clear();
  if (!value.is_object() || value.size() > kMaxRecordedFields) return;
  std::size_t names = 0;
  for (const auto& [key, field] : value.items()) names += key.size();
  if (names > kMaxRecordedFieldNames) return;
  for (const auto& [key, field] : value.items()) meta.append_field_size(as_view(key), field_text(field).size());
  meta.fields_version = n;
}

// Write (patch=false) or merge-patch (patch=true) a new version. Caller holds
// the write lock.
Result<Response> write_data(const BackendRequest& req, std::string_view name, bool patch) {
  COFFER_TRY_STATUS(check_data_body(req.data, patch ? "data patch" : "data write"));
  const Json& input = *req.data.find(std::string_view("data"));
  const std::int64_t now = kv::to_unix_nanos(req.now);
  COFFER_TRY(ConfigAndMeta read, load_config_and_meta(req.storage, name));
  const ConfigRecord& config = read.config;
  std::optional<KeyRecord>& loaded = read.meta;
  if (patch && !loaded) return Error::not_found("secret " + std::string(name) + " not found");
  const bool live_stored = loaded && live_entry_stored(*loaded);
  KeyRecord meta;
  if (loaded) {
    meta = std::move(*loaded);
  } else {
    meta.key_id = new_key_id();
  }
  COFFER_TRY_STATUS(check_cas(req.data, config, meta));

  Json value;
  if (patch) {
    auto cur = meta.versions.find(meta.current_version);
    if (meta.current_version == 0 || cur == meta.versions.end()) {
      return Error::not_found("secret " + std::string(name) + " has no current version to patch");
    }
    if (cur->second.destroyed) {
      return Error::not_found(version_label(meta.current_version, name) + " is destroyed");
    }
    if (is_deleted(cur->second, now)) {
      return Error::not_found(version_label(meta.current_version, name) + " is deleted");
    }
    // Under the write lock nothing can remove the data; missing is damage.
    ReadableVersion rv{meta, meta.current_version, cur->second};
    COFFER_TRY(auto current, load_version_data(req.storage, rv));
    if (!current) return Error::corrupt("data of " + version_label(rv.n, name) + " is missing");
    value = std::move(*current);
    value.merge_patch(input);  // RFC 7386: null removes a key
  } else {
    value = input;
  }

  // Stored as the file view renders it, so that a cat hands the bytes over
  // as they are (read_data); any JSON reader parses them as before. Past
  // kMaxStoredRendering, compact: always shorter than the rendering, so
  // read_data's length check sends it the parsing way.
  SecureString rendered = render_pretty(value);
  COFFER_TRY_STATUS(kv::check_rendered_size(rendered.size()));
  VersionRecord v;
  v.created_ns = now;
  v.rendered_size = rendered.size();
  if (auto del = auto_deletion(config, meta, now)) {
    v.has_deletion = true;
    v.deletion_ns = *del;
  }
  std::vector<WriteOp> batch;
  std::uint64_t n = add_version(meta, config, v, batch);
  record_field_sizes(meta, n, value);
  batch.push_back(put_op(version_key(meta, n), rendered.size() <= kMaxStoredRendering
                                                   ? SecureBytes(rendered.begin(), rendered.end())
                                                   : kv::dump_secret(value)));
  put_meta(batch, name, meta, now, live_stored);
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return make_response(version_json(meta, n, v), v.created_ns);
}

// DELETE data/<p>: soft-delete the latest version. Caller holds the lock.
Result<Response> delete_latest(const BackendRequest& req, std::string_view name) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {}, "data delete"));
  const std::int64_t now = kv::to_unix_nanos(req.now);
  COFFER_TRY(auto meta, load_meta(req.storage, name));
  if (!meta) return Error::not_found("secret " + std::string(name) + " not found");
  auto it = meta->versions.find(meta->current_version);
  // Nothing live to delete: Vault answers 204, and so do we.
  if (it == meta->versions.end() || it->second.destroyed || is_deleted(it->second, now)) {
    return Response{};
  }
  it->second.has_deletion = true;
  it->second.deletion_ns = now;
  std::vector<WriteOp> batch;
  put_meta(batch, name, *meta, now);
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

// ---- delete/ undelete/ destroy/ ---------------------------------------------

Result<std::vector<std::int64_t>> parse_versions(const Json& body, std::string_view missing_msg) {
  auto it = body.find(std::string_view("versions"));
  std::vector<std::int64_t> out;
  if (it == body.end() || it->is_null()) return Error::invalid(std::string(missing_msg));
  const Json& v = *it;
  if (v.is_array()) {
    for (const Json& e : v) {
      COFFER_TRY(std::int64_t n, kv::parse_int(e, "versions"));
      out.push_back(n);
    }
  } else if (v.is_string()) {
    // Vault's comma-separated form: "1,2,3".
    std::string_view s = as_view(v.get_ref<const SecureString&>());
    while (!s.empty()) {
      std::size_t comma = s.find(',');
      std::string_view part = s.substr(0, comma);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) {
        COFFER_TRY(std::int64_t n, kv::parse_int(Json(to_secure(part)), "versions"));
        out.push_back(n);
      }
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
  } else {
    COFFER_TRY(std::int64_t n, kv::parse_int(v, "versions"));
    out.push_back(n);
  }
  if (out.empty()) return Error::invalid(std::string(missing_msg));
  return out;
}

// Caller holds the lock. Missing keys and versions are skipped, as Vault.
Result<Response> change_versions(const BackendRequest& req, Endpoint endpoint, std::string_view name) {
  const char* where = endpoint == Endpoint::Delete ? "delete" : endpoint == Endpoint::Undelete ? "undelete" : "destroy";
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {"versions"}, where));
  // Vault's own capitalisation differs between the endpoints.
  COFFER_TRY(auto versions, parse_versions(req.data, endpoint == Endpoint::Destroy ? "no version number provided"
                                                                                   : "No version number provided"));
  const std::int64_t now = kv::to_unix_nanos(req.now);
  COFFER_TRY(ConfigAndMeta read, load_config_and_meta(req.storage, name));
  const ConfigRecord& config = read.config;
  std::optional<KeyRecord>& meta = read.meta;
  if (!meta) return Response{};
  std::vector<WriteOp> batch;
  for (std::int64_t raw : versions) {
    if (raw <= 0) continue;
    auto it = meta->versions.find(static_cast<std::uint64_t>(raw));
    if (it == meta->versions.end() || it->second.destroyed) continue;
    VersionRecord& v = it->second;
    switch (endpoint) {
      case Endpoint::Delete:
        if (is_deleted(v, now)) break;
        v.has_deletion = true;
        v.deletion_ns = now;
        break;
      case Endpoint::Undelete:
        // The auto-deletion clock restarts at the undelete, as Vault.
        v.has_deletion = false;
        v.deletion_ns = 0;
        if (auto del = auto_deletion(config, *meta, now)) {
          v.has_deletion = true;
          v.deletion_ns = *del;
        }
        break;
      default:
        v.destroyed = true;
        batch.push_back(delete_op(version_key(*meta, it->first)));
        break;
    }
  }
  put_meta(batch, name, *meta, now);
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

// ---- subkeys/ ----------------------------------------------------------------

void strip_values(Json& object, int depth, int max_depth) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    Json& v = it.value();
    if (v.is_object() && !v.empty() && depth + 1 <= max_depth) {
      strip_values(v, depth + 1, max_depth);
    } else {
      v = nullptr;
    }
  }
}

Result<Response> read_subkeys(const BackendRequest& req, std::string_view name) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {"version", "depth"}, "subkeys read"));
  int max_depth = kMaxSubkeysDepth;
  auto dp = req.data.find(std::string_view("depth"));
  if (dp != req.data.end() && !dp->is_null()) {
    COFFER_TRY(std::int64_t depth, kv::parse_int(*dp, "depth"));
    if (depth < 0) return Error::invalid("depth must be a non-negative integer");
    if (depth > 0 && depth < kMaxSubkeysDepth) max_depth = static_cast<int>(depth);
  }
  auto vp = req.data.find(std::string_view("version"));
  COFFER_TRY(auto found, read_version(req, name, vp == req.data.end() ? nullptr : &*vp));
  auto& [rv, data] = found;
  strip_values(data, 1, max_depth);
  Json out = Json::object();
  out["subkeys"] = std::move(data);
  out["metadata"] = version_json(rv.meta, rv.n, rv.v);
  return make_response(std::move(out), rv.v.created_ns);
}

// ---- metadata/ ---------------------------------------------------------------

Result<Response> read_metadata(const BackendRequest& req, std::string_view name) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {}, "metadata read"));
  COFFER_TRY(auto meta, load_meta(req.storage, name));
  if (!meta) return Error::not_found("secret " + std::string(name) + " not found");
  Json versions = Json::object();
  for (const auto& [n, v] : meta->versions) {
    Json entry = Json::object();
    entry["created_time"] = format_time(v.created_ns);
    entry["deletion_time"] = time_or_empty(v.has_deletion, v.deletion_ns);
    entry["destroyed"] = v.destroyed;
    versions[to_secure(std::to_string(n))] = std::move(entry);
  }
  Json out = Json::object();
  out["cas_required"] = meta->cas_required;
  out["created_time"] = format_time(meta->created_ns);
  out["current_version"] = meta->current_version;
  out["custom_metadata"] = custom_metadata_json(*meta);
  out["delete_version_after"] = go_duration(meta->delete_version_after_s);
  out["max_versions"] = meta->max_versions;
  out["oldest_version"] = meta->oldest_version;
  out["updated_time"] = format_time(meta->updated_ns);
  out["versions"] = std::move(versions);
  return make_response(std::move(out), meta->updated_ns);
}

std::string multi_error(const std::vector<std::string>& errs) {
  // go-multierror's list format, which Vault returns verbatim.
  if (errs.size() == 1) return "1 error occurred:\n\t* " + errs[0] + "\n\n";
  std::string out = std::to_string(errs.size()) + " errors occurred:\n\t";
  for (std::size_t i = 0; i < errs.size(); ++i) {
    if (i != 0) out += "\n\t";
    out += "* " + errs[i];
  }
  return out + "\n\n";
}

// Vault's strutil.Printable (Go's unicode.IsPrint on every rune).
bool printable(std::string_view s) { return kv::go_printable(s); }

// custom_metadata from a request. Values are converted as Vault's weak
// decoding does; with drop_nulls (patch) null entries are returned in
// `removed` instead.
Result<std::map<std::string, std::string>> parse_custom_metadata(const Json& raw, bool drop_nulls,
                                                                 std::vector<std::string>* removed) {
  std::map<std::string, std::string> out;
  if (raw.is_null()) return out;
  if (!raw.is_object()) {
    return Error::invalid(std::string(kCustomMetadataPrefix) + ": expected a JSON object");
  }
  for (auto it = raw.begin(); it != raw.end(); ++it) {
    std::string key = to_plain(it.key());
    const Json& v = it.value();
    if (v.is_null()) {
      if (drop_nulls) {
        if (removed) removed->push_back(key);
        continue;
      }
      out[key] = "";
    } else if (v.is_string()) {
      out[key] = to_plain(v.get_ref<const SecureString&>());
    } else if (v.is_boolean()) {
      out[key] = v.get<bool>() ? "1" : "0";
    } else if (v.is_number()) {
      out[key] = to_plain(v.dump());
    } else {
      return Error::invalid(std::string(kCustomMetadataPrefix) + ": value for key " + kv::go_quote(key) +
                            " must be a string");
    }
  }
  return out;
}

Status validate_custom_metadata(const std::map<std::string, std::string>& cm) {
  std::vector<std::string> errs;
  std::string prefix(kCustomMetadataPrefix);
  if (cm.size() > kMaxCustomMetadataKeys) {
    errs.push_back(prefix + ": payload must contain at most " + std::to_string(kMaxCustomMetadataKeys) +
                   " keys, provided " + std::to_string(cm.size()));
    return Error::invalid(multi_error(errs));
  }
  for (const auto& [k, v] : cm) {
    if (k.empty() || k.size() > kMaxCustomMetadataKeyLength) {
      errs.push_back(prefix + ": length of key " + kv::go_quote(k) + " is " + std::to_string(k.size()) +
                     " but must be 0 < len(key) <= " + std::to_string(kMaxCustomMetadataKeyLength));
    }
    if (v.empty() || v.size() > kMaxCustomMetadataValueLength) {
      errs.push_back(prefix + ": length of value for key " + kv::go_quote(k) + " is " + std::to_string(v.size()) +
                     " but must be 0 < len(value) <= " + std::to_string(kMaxCustomMetadataValueLength));
    }
    if (!printable(k)) {
      errs.push_back(prefix + ": key " + kv::go_quote(k) + " (" + k + ") contains unprintable characters");
    }
    if (!printable(v)) {
      errs.push_back(prefix + ": value for key " + kv::go_quote(k) + " contains unprintable characters");
    }
  }
  if (errs.empty()) return ok_status();
  return Error::invalid(multi_error(errs));
}

// The settings a metadata write or patch carries, parsed and validated.
struct MetadataChange {
  std::optional<std::uint32_t> max_versions;
  std::optional<bool> cas_required;
  std::optional<std::int64_t> delete_version_after_s;
  std::optional<std::map<std::string, std::string>> custom_metadata;  // write: replaces
  std::vector<std::string> removed_custom_keys;                       // patch: nulls
  bool any = false;
};

Result<MetadataChange> parse_metadata_change(const Json& body, bool patch) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(body,
                                            {"max_versions", "cas_required", "delete_version_after", "custom_metadata"},
                                            patch ? "metadata patch" : "metadata write"));
  MetadataChange c;
  // In a patch, null resets a setting (JSON merge patch removes the field).
  if (auto it = body.find(std::string_view("max_versions")); it != body.end()) {
    c.any = true;
    std::int64_t n = 0;
    if (!it->is_null()) {
      COFFER_TRY(n, kv::parse_int(*it, "max_versions"));
    }
    if (n < 0 || n > std::numeric_limits<std::uint32_t>::max()) {
      return Error::invalid("max_versions must be between 0 and 4294967295");
    }
    c.max_versions = static_cast<std::uint32_t>(n);
  }
  if (auto it = body.find(std::string_view("cas_required")); it != body.end()) {
    c.any = true;
    bool b = false;
    if (!it->is_null()) {
      COFFER_TRY(b, kv::parse_bool(*it, "cas_required"));
    }
    c.cas_required = b;
  }
  if (auto it = body.find(std::string_view("delete_version_after")); it != body.end()) {
    c.any = true;
    std::int64_t s = 0;
    if (!it->is_null()) {
      COFFER_TRY(s, kv::parse_duration_seconds(*it, "delete_version_after"));
    }
    if (s < 0) {
      return Error::invalid(
          "error converting input for field \"delete_version_after\": "
          "cannot provide negative value " +
          go_duration(s));
    }
    c.delete_version_after_s = s;
  }
  if (auto it = body.find(std::string_view("custom_metadata")); it != body.end()) {
    c.any = true;
    COFFER_TRY(auto cm, parse_custom_metadata(*it, patch, &c.removed_custom_keys));
    COFFER_TRY_STATUS(validate_custom_metadata(cm));
    c.custom_metadata = std::move(cm);
  }
  return c;
}

// POST (patch=false) or PATCH metadata/<p>. Caller holds the lock.
Result<Response> write_metadata(const BackendRequest& req, std::string_view name, bool patch) {
  COFFER_TRY(MetadataChange change, parse_metadata_change(req.data, patch));
  COFFER_TRY(auto loaded, load_meta(req.storage, name));
  if (patch && !loaded) return Error::not_found("secret " + std::string(name) + " not found");
  // Vault's fast path: a write that sets nothing creates nothing.
  if (!change.any) return Response{};
  COFFER_TRY(ConfigRecord config, load_config(req.storage));
  Response resp;
  if (change.cas_required && !*change.cas_required && config.cas_required) {
    resp.warnings.emplace_back(
        "\"cas_required\" set to false, but is mandated by backend config. This value will be "
        "ignored.");
  }
  KeyRecord meta;
  if (loaded) {
    meta = std::move(*loaded);
  } else {
    const std::int64_t now = kv::to_unix_nanos(req.now);
    meta.key_id = new_key_id();
    meta.created_ns = now;
    meta.updated_ns = now;
  }
  if (change.max_versions) meta.max_versions = *change.max_versions;
  if (change.cas_required) meta.cas_required = *change.cas_required;
  if (change.delete_version_after_s) meta.delete_version_after_s = *change.delete_version_after_s;
  if (change.custom_metadata) {
    if (patch) {
      for (const std::string& k : change.removed_custom_keys) meta.custom_metadata.erase(k);
      for (auto& [k, v] : *change.custom_metadata) meta.custom_metadata[k] = std::move(v);
      // The patch's own entries passed Vault's checks; the merged map must
      // still respect the key limit.
      COFFER_TRY_STATUS(validate_custom_metadata(meta.custom_metadata));
    } else {
      meta.custom_metadata = std::move(*change.custom_metadata);
    }
  }
  std::vector<WriteOp> batch;
  put_meta(batch, name, meta, kv::to_unix_nanos(req.now));
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return resp;
}

// DELETE metadata/<p>: the key and every version, permanently.
Result<Response> delete_metadata(const BackendRequest& req, std::string_view name) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {}, "metadata delete"));
  COFFER_TRY(auto meta, load_meta(req.storage, name));
  if (!meta) return Error::not_found("secret " + std::string(name) + " not found");
  std::vector<WriteOp> batch;
  batch.push_back(delete_op(meta_key(name)));
  batch.push_back(delete_op(live_key(name)));
  batch.push_back(WriteOp{WriteOp::Kind::DeletePrefix, version_prefix(*meta), {}});
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

// LIST metadata/<folder>: Vault's, every key with metadata. With
// {"live": true} (the file view's ls), only keys whose current version
// reads, and folders holding one; a folder whose keys are all deleted
// answers no keys rather than NotFound.
Result<Response> list_metadata(const BackendRequest& req, std::string_view folder, bool live) {
  COFFER_TRY(auto keys, req.storage.list(live ? live_key(folder) : meta_key(folder), kv::list_limit(req.data)));
  if (keys.empty() && live) {
    // Nothing to show, but keys are there (every one deleted): the folder
    // lists nothing, and is still a folder, so NAME@metadata below it can
    // be reached by name.
    COFFER_TRY(auto hidden, req.storage.list(meta_key(folder), 1));
    if (!hidden.empty()) return kv::list_reply(req, {});
  }
  if (keys.empty()) {
    return Error::not_found("no secrets under " + (folder.empty() ? "/" : std::string(folder)));
  }
  return kv::list_reply(req, std::move(keys));
}

// ---- config ------------------------------------------------------------------

Result<Response> read_config(const BackendRequest& req) {
  COFFER_TRY_STATUS(kv::reject_unknown_keys(req.data, {}, "config read"));
  COFFER_TRY(ConfigRecord c, load_config(req.storage));
  Json out = Json::object();
  out["cas_required"] = c.cas_required;
  out["delete_version_after"] = go_duration(c.delete_version_after_s);
  out["max_versions"] = c.max_versions;
  return make_response(std::move(out));
}

// Caller holds the lock.
Result<Response> write_config(const BackendRequest& req) {
  COFFER_TRY_STATUS(
      kv::reject_unknown_keys(req.data, {"max_versions", "cas_required", "delete_version_after"}, "config write"));
  COFFER_TRY(ConfigRecord c, load_config(req.storage));
  bool any = false;
  if (auto it = req.data.find(std::string_view("max_versions")); it != req.data.end()) {
    COFFER_TRY(std::int64_t n, kv::parse_int(*it, "max_versions"));
    if (n < 0 || n > std::numeric_limits<std::uint32_t>::max()) {
      return Error::invalid("max_versions must be between 0 and 4294967295");
    }
    c.max_versions = static_cast<std::uint32_t>(n);
    any = true;
  }
  if (auto it = req.data.find(std::string_view("cas_required")); it != req.data.end()) {
    COFFER_TRY(c.cas_required, kv::parse_bool(*it, "cas_required"));
    any = true;
  }
  if (auto it = req.data.find(std::string_view("delete_version_after")); it != req.data.end()) {
    COFFER_TRY(std::int64_t s, kv::parse_duration_seconds(*it, "delete_version_after"));
    // Negative disables auto-deletion for every key; 0 clears the setting.
    c.delete_version_after_s = s < 0 ? -1 : s;
    any = true;
  }
  if (!any) return Response{};
  std::vector<WriteOp> batch;
  batch.push_back(put_op(std::string(kConfigKey), encode_record(c)));
  COFFER_TRY_STATUS(req.storage.apply(batch));
  return Response{};
}

bool wants_live(const Json& data) {
  auto it = data.find(std::string_view("live"));
  return it != data.end() && it->is_boolean() && it->get<bool>();
}

Error unsupported_operation() { return Error::unsupported("unsupported operation"); }

bool is_write(Operation op) { return op == Operation::Create || op == Operation::Update; }

}  // namespace

std::mutex& KvV2Backend::key_mu(std::string_view name) const {
  static std::array<std::mutex, 256> stripes;
  const std::size_t h = std::hash<std::string_view>{}(name) ^ std::hash<const void*>{}(this) * 0x9e3779b97f4a7c15ULL;
  return stripes[h % stripes.size()];
}

Result<Response> KvV2Backend::handle(const BackendRequest& req) {
  COFFER_TRY(Target t, route(req));
  const Operation op = req.op;
  // Reads and lists never take the lock.
  if (op == Operation::Read) {
    switch (t.endpoint) {
      case Endpoint::Config: return read_config(req);
      case Endpoint::Data: return read_data(req, t.name);
      case Endpoint::Metadata: return read_metadata(req, t.name);
      case Endpoint::Subkeys: return read_subkeys(req, t.name);
      default: return unsupported_operation();
    }
  }
  if (op == Operation::List) {
    if (t.endpoint != Endpoint::MetadataList) return unsupported_operation();
    const bool live = wants_live(req.data);
    if (live) COFFER_TRY_STATUS(build_live_index(req));
    return list_metadata(req, t.name, live);
    return unsupported_operation();
  }
  if (t.endpoint == Endpoint::Config) {
    if (!is_write(op)) return unsupported_operation();
    auto config = CommitDelay::locked(config_mu_);
    return write_config(req);
  }
  // A write that waits here waits for another one's commit: not announced
  // meanwhile (group_commit.hpp).
  auto config = CommitDelay::locked_shared(config_mu_);
  auto key = CommitDelay::locked(key_mu(t.name));
  switch (t.endpoint) {
    case Endpoint::Data:
      if (is_write(op)) return write_data(req, t.name, false);
      if (op == Operation::Patch) return write_data(req, t.name, true);
      if (op == Operation::Delete) return delete_latest(req, t.name);
      break;
    case Endpoint::Delete:
    case Endpoint::Undelete:
    case Endpoint::Destroy:
      if (is_write(op)) return change_versions(req, t.endpoint, t.name);
      break;
    case Endpoint::Metadata:
      if (is_write(op)) return write_metadata(req, t.name, false);
      if (op == Operation::Patch) return write_metadata(req, t.name, true);
      if (op == Operation::Delete) return delete_metadata(req, t.name);
      break;
    default: break;
  }
  return unsupported_operation();
}

Status KvV2Backend::build_live_index(const BackendRequest& req) {
  if (live_index_ready_.load(std::memory_order_acquire)) return ok_status();
  COFFER_TRY(auto marker, req.storage.get(kLiveIndexKey));
  if (!marker) {
    // Every writer holds config_mu_ shared: exclusive, no key changes meanwhile.
    auto config = CommitDelay::locked(config_mu_);
    COFFER_TRY(auto again, req.storage.get(kLiveIndexKey));
    if (!again) {
      const std::int64_t now = kv::to_unix_nanos(req.now);
      std::vector<WriteOp> batch;
      std::vector<std::string> folders{""};
      while (!folders.empty()) {
        const std::string folder = std::move(folders.back());
        folders.pop_back();
        COFFER_TRY(auto keys, req.storage.list(meta_key(folder), 0));
        for (const std::string& k : keys) {
          if (!k.empty() && k.back() == '/') {
            folders.push_back(folder + k);
            continue;
          }
          COFFER_TRY(auto meta, load_meta(req.storage, folder + k));
          if (meta && is_live(*meta, now)) batch.push_back(put_op(live_key(folder + k), SecureBytes{}));
        }
      }
      batch.push_back(put_op(std::string(kLiveIndexKey), SecureBytes{}));
      COFFER_TRY_STATUS(req.storage.apply(batch));
    }
  }
  live_index_ready_.store(true, std::memory_order_release);
  return ok_status();
}

Result<bool> KvV2Backend::exists(const BackendRequest& req) {
  auto t = route(req);
  if (!t.ok()) return false;  // handle() reports the bad path
  if (t->endpoint != Endpoint::Data && t->endpoint != Endpoint::Metadata) return true;
  COFFER_TRY(auto raw, req.storage.get(meta_key(t->name)));
  return raw.has_value();
}

}  // namespace engine
