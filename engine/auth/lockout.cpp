// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/lockout.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "engine/common/numbers.hpp"
#include "engine/storage/serial.hpp"

namespace engine::auth {
namespace {

// What is stored per user: the failures counted and when the last one was.
struct FailedLogins {
  std::int64_t count = 0;
  std::int64_t last_failure_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(count, last_failure_unix_ns);
  }
};

}  // namespace
}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::FailedLogins, 1);

namespace engine::auth {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

// Seconds → nanoseconds, saturating (a huge tune value must not wrap).
std::int64_t ns_of(std::int64_t seconds) {
  if (seconds <= 0) return 0;
  if (seconds > INT64_MAX / kNsPerSecond) return INT64_MAX;
  return seconds * kNsPerSecond;
}

// now - then >= span, without overflow.
bool at_least(std::int64_t now, std::int64_t then, std::int64_t span) {
  if (now < then) return false;
  return static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(then) >= static_cast<std::uint64_t>(span);
}

// Vault's isUserLocked: count at the threshold and the last failure less
// than the duration ago.
bool is_locked(const FailedLogins& f, const UserLockoutConfig& cfg, std::int64_t now) {
  return f.count >= cfg.threshold && !at_least(now, f.last_failure_unix_ns, ns_of(cfg.duration));
}

// Vault's failedUserLoginProcess: the count the next failure starts from
// (0 once the counter reset has passed since the last one).
std::int64_t standing_count(const FailedLogins& f, const UserLockoutConfig& cfg, std::int64_t now) {
  if (now > f.last_failure_unix_ns && now - f.last_failure_unix_ns > ns_of(cfg.counter_reset)) return 0;
  return f.count;
}

// Aliases may hold any byte (LDAP names, custom role ids): in the storage
// key, every byte outside [A-Za-z0-9._@-] is %XX.
std::string escape(std::string_view alias) {
  std::string out;
  for (unsigned char c : alias) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string unescape(std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    // A '%' not followed by two hex digits (never written by escape()) stays as it is.
    if (key[i] == '%' && i + 2 < key.size()) {
      if (auto byte = parse_count(key.substr(i + 1, 2), "escape", 0xFF, 16); byte.ok()) {
        out.push_back(static_cast<char>(*byte));
        i += 2;
        continue;
      }
    }
    out.push_back(key[i]);
  }
  return out;
}

std::string ns_prefix(std::string_view ns) { return std::string(kLockedUsersPrefix) + std::string(ns) + "/"; }
std::string mount_prefix(std::string_view ns, std::string_view accessor) {
  return ns_prefix(ns) + std::string(accessor) + "/";
}
std::string key_of(const LockoutUser& u) { return mount_prefix(u.namespace_id, u.accessor) + escape(u.alias); }

Result<std::optional<FailedLogins>> load(Storage& storage, const std::string& key) {
  COFFER_TRY(auto bytes, storage.get(key));
  if (!bytes) return std::optional<FailedLogins>{};
  COFFER_TRY(auto rec, decode_record<FailedLogins>(ByteView(bytes->data(), bytes->size()), "failed login record"));
  return std::optional<FailedLogins>{rec};
}

}  // namespace

bool lockout_supported(std::string_view type) { return type == "userpass" || type == "approle" || type == "ldap"; }

UserLockoutConfig lockout_config(const MountEntry& entry, const std::map<std::string, UserLockoutConfig>& defaults) {
  UserLockoutConfig cfg;
  if (auto it = defaults.find(entry.type); it != defaults.end()) {
    cfg = it->second;
  } else if (auto all = defaults.find("all"); all != defaults.end()) {
    cfg = all->second;
  }
  // Vault's getUserLockoutConfiguration: tuned values that are set win.
  if (entry.lockout_threshold != 0) cfg.threshold = entry.lockout_threshold;
  if (entry.lockout_duration != 0) cfg.duration = entry.lockout_duration;
  if (entry.lockout_counter_reset != 0) cfg.counter_reset = entry.lockout_counter_reset;
  if (entry.lockout_disable) cfg.disable = true;
  if (cfg.threshold <= 0) cfg.threshold = UserLockoutConfig{}.threshold;
  return cfg;
}

LockoutTable::LockoutTable(Storage& storage) : storage_(storage) {}

LockoutTable::Stripe& LockoutTable::stripe_of(const std::string& key) {
  return stripes_[std::hash<std::string>{}(key) % stripes_.size()];
}

LockoutTable::Attempt::Attempt(LockoutTable* table, LockoutUser user, UserLockoutConfig config)
    : table_(table), user_(std::move(user)), config_(config) {}

LockoutTable::Attempt::Attempt(Attempt&& other) noexcept
    : table_(std::exchange(other.table_, nullptr)), user_(std::move(other.user_)), config_(other.config_) {}

LockoutTable::Attempt::~Attempt() {
  if (table_ != nullptr) table_->release(user_);
}

void LockoutTable::release(const LockoutUser& user) {
  const std::string key = key_of(user);
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mu);
  auto it = s.in_flight.find(key);
  if (it != s.in_flight.end() && --it->second <= 0) s.in_flight.erase(it);
}

Status LockoutTable::Attempt::finish(Outcome outcome, TimePoint now) {
  LockoutTable* table = std::exchange(table_, nullptr);
  if (table == nullptr) return {};
  const std::string key = key_of(user_);
  Stripe& s = table->stripe_of(key);
  std::lock_guard lock(s.mu);
  if (auto it = s.in_flight.find(key); it != s.in_flight.end() && --it->second <= 0) s.in_flight.erase(it);
  if (outcome == Outcome::Other) return {};
  COFFER_TRY(auto rec, load(table->storage_, key));
  if (outcome == Outcome::Succeeded) {
    if (!rec) return {};
    return table->storage_.del(key);
  }
  const std::int64_t t = unix_ns(now);
  FailedLogins next;
  next.count = (rec ? standing_count(*rec, config_, t) : 0) + 1;
  next.last_failure_unix_ns = t;
  SecureBytes bytes = encode_record(next);
  return table->storage_.put(key, ByteView(bytes.data(), bytes.size()));
}

Result<LockoutTable::Attempt> LockoutTable::begin(LockoutUser user, const UserLockoutConfig& config, TimePoint now) {
  const std::string key = key_of(user);
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mu);
  COFFER_TRY(auto rec, load(storage_, key));
  const std::int64_t t = unix_ns(now);
  const int flying = s.in_flight.contains(key) ? s.in_flight[key] : 0;
  if (rec && is_locked(*rec, config, t)) return Error::denied("permission denied");
  // Attempts being tried count as failures until they are known not to be.
  const std::int64_t standing = rec ? standing_count(*rec, config, t) : 0;
  if (flying > 0 && standing + flying >= config.threshold) return Error::denied("permission denied");
  ++s.in_flight[key];
  return Attempt(this, std::move(user), config);
}

Result<bool> LockoutTable::locked(const LockoutUser& user, const UserLockoutConfig& config, TimePoint now) {
  COFFER_TRY(auto rec, load(storage_, key_of(user)));
  return rec.has_value() && is_locked(*rec, config, unix_ns(now));
}

Status LockoutTable::unlock(const LockoutUser& user) {
  const std::string key = key_of(user);
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mu);
  COFFER_TRY(auto bytes, storage_.get(key));
  if (!bytes) return {};
  return storage_.del(key);
}

Result<std::vector<LockoutTable::Locked>> LockoutTable::locked_users(
    std::string_view namespace_id, const std::function<UserLockoutConfig(std::string_view)>& config_of, TimePoint now) {
  std::vector<Locked> out;
  const std::int64_t t = unix_ns(now);
  COFFER_TRY(auto accessors, storage_.list(ns_prefix(namespace_id)));
  for (std::string accessor : accessors) {
    if (accessor.empty() || accessor.back() != '/') continue;
    accessor.pop_back();
    const UserLockoutConfig cfg = config_of(accessor);
    COFFER_TRY(auto names, storage_.list(mount_prefix(namespace_id, accessor)));
    Locked entry{accessor, {}};
    for (const auto& name : names) {
      if (name.empty() || name.back() == '/') continue;
      const std::string key = mount_prefix(namespace_id, accessor) + name;
      Stripe& s = stripe_of(key);
      std::lock_guard lock(s.mu);
      COFFER_TRY(auto rec, load(storage_, key));
      if (!rec) continue;
      if (is_locked(*rec, cfg, t)) {
        entry.aliases.push_back(unescape(name));
      } else if (standing_count(*rec, cfg, t) == 0) {
        COFFER_TRY_STATUS(storage_.del(key));  // over and forgotten: nothing left to count
      }
    }
    std::sort(entry.aliases.begin(), entry.aliases.end());
    if (!entry.aliases.empty()) out.push_back(std::move(entry));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Locked& a, const Locked& b) { return a.aliases.size() > b.aliases.size(); });
  return out;
}

Status LockoutTable::forget_mount(std::string_view namespace_id, std::string_view accessor) {
  return storage_.del_prefix(mount_prefix(namespace_id, accessor));
}

Status LockoutTable::forget_namespace(std::string_view namespace_id) {
  return storage_.del_prefix(ns_prefix(namespace_id));
}

}  // namespace engine::auth
