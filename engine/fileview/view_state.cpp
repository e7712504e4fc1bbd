// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/view_state.hpp"

#include <algorithm>

#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/policy/policy.hpp"

namespace engine::fileview {

ViewState::ViewState(Core& core) : core_(core), epoch_(Clock::now()) {}

Result<Response> ViewState::call(const Caller& caller, Operation op, std::string path, Json data,
                                 ReplyParts parts) const {
  Request req;
  req.op = op;
  req.path = std::move(path);
  req.data = std::move(data);
  req.token = caller.token;
  req.uses = caller.uses;
  req.peer = caller.peer;
  req.parts = parts;
  return core_.handle(req);
}

Status ViewState::may_touch(const Caller& caller, const std::string& abs_path) const {
  COFFER_TRY(auto bits, core_.capabilities(caller.token, abs_path));
  if (!grants_something(bits)) return Error::denied();
  return {};
}

bool ViewState::has_folder(const std::string& absolute) const {
  std::lock_guard lock(folders_mu_);
  return folders_.contains(absolute);
}

void ViewState::add_folder(std::string absolute) {
  std::lock_guard lock(folders_mu_);
  folders_.insert(std::move(absolute));
  folders_gen_.fetch_add(1, std::memory_order_acq_rel);
}

bool ViewState::erase_folder(const std::string& absolute) {
  std::lock_guard lock(folders_mu_);
  folders_gen_.fetch_add(1, std::memory_order_acq_rel);
  return folders_.erase(absolute) != 0;
}

bool ViewState::folders_below(const std::string& prefix, std::vector<DirEntry>& out) const {
  bool any = false;
  std::lock_guard lock(folders_mu_);
  for (auto it = folders_.lower_bound(prefix); it != folders_.end() && it->starts_with(prefix); ++it) {
    std::string_view below = std::string_view(*it).substr(prefix.size());
    any = true;
    if (below.empty()) continue;
    out.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
  }
  return any;
}

void ViewState::forget_folders_above(std::string_view secret_path) {
  std::lock_guard lock(folders_mu_);
  for (auto slash = secret_path.find('/'); slash != std::string_view::npos; slash = secret_path.find('/', slash + 1)) {
    if (auto it = folders_.find(secret_path.substr(0, slash + 1)); it != folders_.end()) folders_.erase(it);
  }
}

bool ViewState::MemoStamp::serves(const SecureString& asking, std::uint64_t gen, std::uint64_t folders_gen,
                                  std::chrono::steady_clock::time_point now) const {
  constexpr auto kMemoFor = std::chrono::milliseconds(500);
  return generation == gen && folders_generation == folders_gen && now - at < kMemoFor && token == asking;
}

std::optional<NodeInfo> ViewState::remembered(const std::string& key, const SecureString& token, std::uint64_t gen,
                                              std::uint64_t folders_gen, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(memo_mu_);
  auto it = stat_memo_.find(key);
  if (it == stat_memo_.end()) return std::nullopt;
  if (!it->second.stamp.serves(token, gen, folders_gen, now)) return std::nullopt;
  return it->second.info;
}

void ViewState::remember(std::string key, StatMemo memo) {
  std::lock_guard lock(memo_mu_);
  if (stat_memo_.size() >= kStatMemoMax) stat_memo_.clear();
  stat_memo_[std::move(key)] = std::move(memo);
}

ViewState::Names ViewState::listed(const std::string& abs_dir, const SecureString& token, std::uint64_t gen,
                                   std::uint64_t folders_gen, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(memo_mu_);
  auto it = listing_memo_.find(abs_dir);
  if (it == listing_memo_.end()) return nullptr;
  if (!it->second.stamp.serves(token, gen, folders_gen, now)) return nullptr;
  return it->second.names;
}

void ViewState::remember_listing(std::string abs_dir, const SecureString& token, const std::vector<std::string>& keys,
                                 std::uint64_t gen, std::uint64_t folders_gen,
                                 std::chrono::steady_clock::time_point now) {
  if (keys.size() > kListingMax) return;  // before the copy
  std::vector<std::string> names = keys;
  std::sort(names.begin(), names.end());
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(names));
  std::lock_guard lock(memo_mu_);
  if (listing_memo_.size() >= kListingMemoMax) listing_memo_.clear();
  listing_memo_[std::move(abs_dir)] = ListingMemo{MemoStamp{token, gen, folders_gen, now}, std::move(shared)};
}

std::pair<std::size_t, std::size_t> ViewState::memo_sizes() {
  std::lock_guard lock(memo_mu_);
  return {stat_memo_.size(), listing_memo_.size()};
}

// ------------------------------------------------------------------ helpers

std::string_view strip_slashes(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return p;
}

std::pair<std::string_view, std::string_view> split_last(std::string_view rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {{}, rel};
  return {rel.substr(0, slash + 1), rel.substr(slash + 1)};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool negative_number(std::string_view s) { return s.size() > 1 && s.front() == '-' && all_digits(s.substr(1)); }

bool grants_something(std::uint32_t bits) { return bits != 0 && (bits & policy::cap::kDeny) == 0; }

Status to_status(const Result<Response>& r) {
  if (r.ok()) return {};
  return r.error();
}

Result<SecureString> field_of(const Json& object, std::string_view field) {
  if (!object.is_object()) return Error::not_found("not an object: no field \"" + std::string(field) + "\"");
  auto it = object.find(field);
  if (it == object.end()) return Error::not_found("no field \"" + std::string(field) + "\"");
  return field_text(*it);
}

SecureString reply_of(const Response& resp) {
  if (resp.warnings.empty()) {
    if (resp.data.is_object() && resp.data.empty()) return {};
    return render_pretty(resp.data);
  }
  // Vault's warnings, beside the reply's fields as its HTTP replies carry
  // them: {"auth": {...}, "warnings": ["Policy \"nope\" does not exist"]}.
  Json out = resp.data.is_object() ? resp.data : Json::object();
  Json list = Json::array();
  for (const auto& w : resp.warnings) list.push_back(to_secure(w));
  out["warnings"] = std::move(list);
  return render_pretty(out);
}

std::vector<DirEntry> tidy(std::vector<DirEntry> entries) {
  auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
  // Storage lists come sorted already; sorting them again was a fifth of `ls`.
  if (!std::is_sorted(entries.begin(), entries.end(), by_name)) std::sort(entries.begin(), entries.end(), by_name);
  entries.erase(
      std::unique(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
      entries.end());
  return entries;
}

}  // namespace engine::fileview
