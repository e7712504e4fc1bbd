// SPDX-License-Identifier: MPL-2.0
// KV v1 and v2 mounts: folders (what List answers, and mkdir's folders kept
// in memory), secrets as JSON files, and their views: NAME@N a version,
// NAME@metadata, NAME@subkeys, NAME@delete/undelete/destroy control files,
// NAME@ the list of views, NAME#KEY one field.
#include <algorithm>

#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/fileview/file_kind.hpp"

namespace engine::fileview {
namespace {

// API paths of a KV mount ("ns/secret/" + "data/" + rel for v2; no infix for v1).
std::string kv_path(const std::string& mount_abs, int version, std::string_view endpoint, std::string_view rel) {
  if (version == 1) return mount_abs + std::string(rel);
  return mount_abs + std::string(endpoint) + "/" + std::string(rel);
}

std::string mount_of(const Located& at) { return at.ns_path + at.mount_path; }

Result<SecureString> render(const Json& value, const Suffixed* suffix) {
  if (suffix != nullptr && suffix->has_field) return field_of(value, suffix->field);
  return render_pretty(value);
}

// Versions given as a JSON list, a number, or "1,2" from a key=value body.
Result<Json> versions_body(Json body) {
  auto it = body.find(std::string_view("versions"));
  if (it == body.end()) return body;
  if (it->is_string()) {
    Json list = Json::array();
    const SecureString& s = it->get_ref<const SecureString&>();
    std::size_t pos = 0;
    while (pos <= s.size()) {
      std::size_t comma = s.find(',', pos);
      std::string item(s.substr(pos, comma == SecureString::npos ? SecureString::npos : comma - pos));
      if (!all_digits(item)) return Error::invalid("versions must be a list of version numbers");
      COFFER_TRY(std::int64_t version, fields::parse_count(item, "version"));
      list.push_back(version);
      if (comma == SecureString::npos) break;
      pos = comma + 1;
    }
    *it = std::move(list);
  } else if (it->is_number_integer()) {
    *it = Json::array({*it});
  }
  return body;
}

// The suffix a name is read, written or removed with: none when it has
// none, or when the literal name wins (suffix.hpp). *literal: the literal
// Read when one was made.
std::optional<Suffixed> suffix_of(const ViewState& state, const Caller& caller, const Located& at,
                                  std::optional<Result<Response>>* literal) {
  auto suffix = parse_suffix(split_last(at.rel).second);
  if (!suffix) return std::nullopt;
  auto probe = state.call(caller, Operation::Read, kv_path(mount_of(at), at.kv_version, "data", at.rel));
  const bool wins = literal_wins(probe);
  if (literal != nullptr) *literal = std::move(probe);
  if (wins) return std::nullopt;
  return suffix;
}

// The keys of a successful List, into keys: the KV engines leave them there
// (ReplyParts::list_keys); an audited request's reply carries them as
// {"keys": [...]} instead. False when those are not all strings.
bool listed_keys(std::vector<std::string>& keys, const Json& data) {
  auto it = data.find(std::string_view("keys"));
  if (!keys.empty() || it == data.end()) return true;
  if (!it->is_array()) return false;
  keys.reserve(it->size());
  for (const Json& key : *it) {
    if (!key.is_string()) return false;
    keys.emplace_back(as_view(key.get_ref<const SecureString&>()));
  }
  return true;
}

// The body of a folder List: the file view's (live keys only, KV v2) and
// a cap on the keys (0: none).
Json listing_body(int version, std::size_t limit) {
  Json body = Json::object();
  if (limit != 0) body["limit"] = static_cast<std::int64_t>(limit);
  if (version == 2) body["live"] = true;
  return body;
}

// mtime: the time the backend says what was read last changed (a KV v2
// version's created_time, metadata's updated_time); unchanged otherwise
// (KV v1 records no time: the view's epoch).
void note_time(const Response& resp, TimePoint* modified) {
  if (modified != nullptr && resp.modified) *modified = *resp.modified;
}

}  // namespace

// A `cat` asks for the same attributes twice (LOOKUP, then GETATTR for
// fstat), and each costs a folder probe and a decrypt. The answer is kept
// for the same token and path while nothing has changed since: nothing was
// committed (Core::generation, the change bus's revision), no mkdir/rmdir folder
// came or went, and at most 500 ms have passed. The token is still checked
// each time, so a revoked or expired token gets nothing from it. Only kind,
// size and mtime are kept, never contents.
Result<NodeInfo> KvFiles::stat(const Caller& caller, std::string_view path, const Located& at) {
  const std::uint64_t gen = state_.core().generation();
  const std::uint64_t folders_gen = state_.folders_generation();
  const auto now = std::chrono::steady_clock::now();
  std::string key(strip_slashes(path));
  if (auto info = state_.remembered(key, caller.token, gen, folders_gen, now)) {
    COFFER_TRY_STATUS(view_.check_token(caller));
    return *info;
  }
  auto info = stat_fresh(caller, at);
  if (info.ok()) state_.remember(std::move(key), ViewState::StatMemo{{caller.token, gen, folders_gen, now}, *info});
  return info;
}

Result<NodeInfo> KvFiles::stat_fresh(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return state_.dir();
  const std::string mount_abs = mount_of(at);
  // A folder wins over a secret of the same name (the secret is then NAME@data).
  // A mkdir folder is shown only to callers who may reach something below it.
  if (state_.has_folder(mount_abs + at.rel + "/")) {
    bool reachable = false;
    for (const char* endpoint : {"data", "metadata"}) {
      COFFER_TRY(reachable,
                 state_.core().may_see(caller.token, kv_path(mount_abs, at.kv_version, endpoint, at.rel + "/")));
      if (reachable || at.kv_version == 1) break;
    }
    if (reachable) return state_.dir();
  }
  const std::uint64_t gen = state_.core().generation();
  const std::uint64_t folders_gen = state_.folders_generation();
  const auto now = std::chrono::steady_clock::now();
  // When the parent folder's listing names a secret and no folder of this
  // name, or names neither but this is NAME@VIEW / NAME#KEY, the folder probe
  // below would fail: read at once. Any other answer (an absent name too)
  // goes the way below, as without the listing.
  const Listed listed = listed_as(caller, at);
  if (listed == Listed::Secret || (listed == Listed::Nothing && parse_suffix(split_last(at.rel).second))) {
    TimePoint modified = state_.epoch();
    auto size = size_at(caller, at, &modified);
    if (size.ok()) return NodeInfo{NodeKind::File, *size, modified};
  }
  // The folder probe. Its keys are kept (up to kListingMax) for LOOKUPs of
  // the names inside; one key is enough to know a folder is there.
  std::vector<std::string> keys;
  auto listing = state_.call(caller, Operation::List, kv_path(mount_abs, at.kv_version, "metadata", at.rel + "/"),
                             listing_body(at.kv_version, ViewState::kListingMax + 1), {.list_keys = &keys});
  if (listing.ok()) {
    if (listed_keys(keys, listing->data)) {
      state_.remember_listing(mount_abs + at.rel + "/", caller.token, keys, gen, folders_gen, now);
    }
    return state_.dir();
  }

  TimePoint modified = state_.epoch();
  auto content = size_at(caller, at, &modified);
  if (content.ok()) return NodeInfo{NodeKind::File, *content, modified};
  // A KV v2 secret whose current version is deleted or destroyed is absent
  // here, as in `ls`: NAME@metadata, NAME@undelete and NAME@N still reach it.
  if (!listing.ok() && listing.error().code == ErrorCode::PermissionDenied &&
      (content.error().code == ErrorCode::NotFound || content.error().code == ErrorCode::PermissionDenied)) {
    // A folder the caller may not list is still a directory to a caller
    // who may reach something below it: a config file names
    // kv/db/postgres#password, and its reader holds only read on that secret.
    // But a name the caller may write is a file: a write-only "drop box"
    // (create without read or list) must take `echo ... > name`.
    if (view_.check_access(caller, mount_abs + at.rel, NodeKind::File, false, true).ok()) {
      return state_.empty_file();
    }
    std::string below = at.kv_version == 2 ? mount_abs + "data/" + at.rel + "/" : mount_abs + at.rel + "/";
    COFFER_TRY(bool reachable, state_.core().may_see(caller.token, below));
    if (reachable) return state_.dir();
    return std::move(listing).error();
  }
  return std::move(content).error();
}

KvFiles::Listed KvFiles::listed_as(const Caller& caller, const Located& at) {
  const auto [parent, leaf] = split_last(at.rel);
  if (leaf.empty()) return Listed::Unknown;
  auto names = state_.listed(mount_of(at) + std::string(parent), caller.token, state_.core().generation(),
                             state_.folders_generation(), std::chrono::steady_clock::now());
  if (!names) return Listed::Unknown;
  const std::string name(leaf);
  if (std::binary_search(names->begin(), names->end(), name + "/")) return Listed::Folder;
  if (std::binary_search(names->begin(), names->end(), name)) return Listed::Secret;
  return Listed::Nothing;
}

Result<std::vector<DirEntry>> KvFiles::list(const Caller& caller, std::string_view, const Located& at) {
  const std::string mount_abs = mount_of(at);
  std::string dir = at.rel.empty() ? std::string{} : at.rel + "/";
  std::vector<DirEntry> out;
  const std::uint64_t gen = state_.core().generation();
  const std::uint64_t folders_gen = state_.folders_generation();
  std::vector<std::string> keys;
  auto listing = state_.call(caller, Operation::List, kv_path(mount_abs, at.kv_version, "metadata", dir),
                             listing_body(at.kv_version, 0), {.list_keys = &keys});
  if (listing.ok()) {
    if (!listed_keys(keys, listing->data)) return Error::internal("a listing's keys are not all strings");
    // The memo is refreshed only when it no longer serves this token (copying
    // and sorting the names again at every opendir was a fifth of its time).
    const auto now = std::chrono::steady_clock::now();
    if (!state_.listed(mount_abs + dir, caller.token, gen, folders_gen, now)) {
      state_.remember_listing(mount_abs + dir, caller.token, keys, gen, folders_gen, now);
    }
    out.reserve(keys.size());
    for (std::string& name : keys) {
      const bool is_dir = name.ends_with('/');
      if (is_dir) name.pop_back();
      out.push_back({std::move(name), is_dir ? NodeKind::Directory : NodeKind::File});
    }
  } else if (listing.error().code != ErrorCode::NotFound) {
    return std::move(listing).error();
  }
  // Folders made by mkdir directly below this one.
  const bool mkdir_folder = state_.folders_below(mount_abs + dir, out);
  if (!(at.rel.empty() || listing.ok() || mkdir_folder)) {
    // Not a folder: a secret, or nothing.
    auto st = stat_fresh(caller, at);
    if (st.ok()) return not_directory();
    return std::move(listing).error();
  }
  // A name that is both a secret and a folder shows once, as the folder.
  auto order = [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.kind == NodeKind::Directory && b.kind != NodeKind::Directory;
  };
  if (!std::is_sorted(out.begin(), out.end(), order)) std::stable_sort(out.begin(), out.end(), order);
  out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
            out.end());
  return out;
}

Result<SecureString> KvFiles::read(const Caller& caller, std::string_view, const Located& at) {
  return read_at(caller, at, nullptr);
}

Result<SecureString> KvFiles::read_at(const Caller& caller, const Located& at, TimePoint* modified) {
  if (at.rel.empty()) return is_directory();
  // NAME@VIEW or NAME#KEY that the parent's listing says is no secret of
  // that literal name: the suffix reading is the answer when it has one
  // (a failure goes the long way, so its error is what it always was).
  auto suffixed = parse_suffix(split_last(at.rel).second);
  if (suffixed && listed_as(caller, at) == Listed::Nothing) {
    auto direct = read_suffixed(caller, at, *suffixed, modified);
    if (direct.ok()) return direct;
  }
  // The literal name first: for a name without @ or # that is the answer.
  // KV v2 may hand over its stored rendering as it is (ReplyParts).
  std::optional<SecureString> rendered;
  auto literal = state_.call(caller, Operation::Read, kv_path(mount_of(at), at.kv_version, "data", at.rel),
                             Json::object(), {.rendered = at.kv_version == 2 ? &rendered : nullptr});
  if (literal.ok()) {
    note_time(*literal, modified);
    if (rendered) return std::move(*rendered);
    return render(at.kv_version == 2 ? literal->data["data"] : literal->data, nullptr);
  }
  if (!suffixed || literal_wins(literal)) return std::move(literal).error();
  return suffix_answer(literal, read_suffixed(caller, at, *suffixed, modified));
}

Result<std::size_t> KvFiles::size_at(const Caller& caller, const Located& at, TimePoint* modified) {
  if (at.kv_version == 2 && !at.rel.empty()) {
    auto suffixed = parse_suffix(split_last(at.rel).second);
    // A name without @ or #: read_at's answer is the literal read's.
    if (!suffixed) return latest_size(caller, at, at.rel, nullptr, modified);
    // NAME#KEY (or NAME@data#KEY) where read_at takes the suffix reading at
    // once; any other answer goes read_at's way, which then reads it.
    if (suffixed->has_field && (!suffixed->has_view || suffixed->view == "data") &&
        listed_as(caller, at) == Listed::Nothing) {
      auto size = latest_size(caller, at, std::string(split_last(at.rel).first) + suffixed->name, &*suffixed,
                              modified);
      if (size.ok()) return size;
    }
  }
  COFFER_TRY(auto content, read_at(caller, at, modified));
  return content.size();
}

Result<std::size_t> KvFiles::latest_size(const Caller& caller, const Located& at, const std::string& rel,
                                         const Suffixed* field, TimePoint* modified) {
  std::optional<std::uint64_t> recorded;
  const std::string_view name = field != nullptr ? std::string_view(field->field) : std::string_view();
  COFFER_TRY(auto resp, state_.call(caller, Operation::Read, kv_path(mount_of(at), 2, "data", rel), Json::object(),
                                    {.rendered_size = &recorded, .field = field != nullptr ? &name : nullptr}));
  // Not recorded (an older version, a larger secret), or not handed over
  // (an audit device logs every reply): the reply carries the data.
  std::size_t size = 0;
  if (recorded) {
    size = static_cast<std::size_t>(*recorded);
  } else {
    COFFER_TRY(auto content, render(resp.data["data"], field));
    size = content.size();
  }
  note_time(resp, modified);
  return size;
}

// The suffix reading: NAME@VIEW, NAME#FIELD, NAME@VIEW#FIELD.
Result<SecureString> KvFiles::read_suffixed(const Caller& caller, const Located& at, const Suffixed& suffix,
                                            TimePoint* modified) {
  const std::string mount_abs = mount_of(at);
  const int v = at.kv_version;
  const std::string rel = std::string(split_last(at.rel).first) + suffix.name;
  const std::string& view = suffix.view;
  if (suffix.has_view && view.empty()) {
    // `cat NAME@`: the views of NAME.
    Json views = Json::array();
    if (v == 2) {
      COFFER_TRY(auto meta, state_.call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", rel)));
      for (const auto& [num, info] : meta.data["versions"].items()) views.push_back(num);
      for (const char* name : {"data", "delete", "destroy", "metadata", "subkeys", "undelete"}) views.push_back(name);
    } else {
      COFFER_TRY(auto data, state_.call(caller, Operation::Read, kv_path(mount_abs, 1, "", rel)));
      (void)data;
      views.push_back("data");
    }
    return render(Json{{"views", views}}, suffix.has_field ? &suffix : nullptr);
  }
  if (!suffix.has_view || view == "data") {
    // KV v2 may hand over its stored rendering (ReplyParts), as for a cat of
    // the whole secret: NAME@data is those bytes, and NAME#KEY is read off
    // them (a string or scalar member) or parses them here once, where the
    // backend would parse them and build a reply around the data.
    std::optional<SecureString> rendered;
    COFFER_TRY(auto resp, state_.call(caller, Operation::Read, kv_path(mount_abs, v, "data", rel), Json::object(),
                                      {.rendered = v == 2 ? &rendered : nullptr}));
    note_time(resp, modified);
    if (rendered && !suffix.has_field) return std::move(*rendered);
    if (rendered) {
      if (auto text = field_in_rendering(as_view(*rendered), suffix.field)) return to_secure(*text);
      COFFER_TRY(Json data, parse_json(as_view(*rendered), "stored secret"));
      return render(data, &suffix);
    }
    return render(v == 2 ? resp.data["data"] : resp.data, &suffix);
  }
  if (view == "list") {
    // FOLDER@list: Vault's own LIST, soft-deleted and destroyed keys included.
    COFFER_TRY(auto resp, state_.call(caller, Operation::List, kv_path(mount_abs, v, "metadata", rel + "/")));
    return render(resp.data, &suffix);
  }
  if (v == 1) return Error::not_found("kv v1 secrets have no view \"" + view + "\"");
  if (negative_number(view)) return Error::invalid("version out of range");
  if (all_digits(view)) {
    COFFER_TRY(std::int64_t version, fields::parse_count(view, "version"));
    COFFER_TRY(auto resp,
               state_.call(caller, Operation::Read, kv_path(mount_abs, 2, "data", rel), Json{{"version", version}}));
    note_time(resp, modified);
    return render(resp.data["data"], &suffix);
  }
  if (view == "metadata" || view == "subkeys") {
    COFFER_TRY(auto resp, state_.call(caller, Operation::Read, kv_path(mount_abs, 2, view, rel)));
    note_time(resp, modified);
    return render(resp.data, &suffix);
  }
  if (view == "delete" || view == "undelete" || view == "destroy") {
    // Write-only endpoints: they exist while the secret's metadata does.
    COFFER_TRY(auto meta, state_.call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", rel)));
    (void)meta;
    return SecureString{};
  }
  return Error::not_found("no view \"" + view + "\" (cat NAME@ lists them)");
}

Result<SecureString> KvFiles::write(const Caller& caller, const Located& at, std::string_view text, WriteMode mode,
                                    SecureString*) {
  COFFER_TRY(Json body, parse_body(text));
  if (at.rel.empty()) return is_directory();
  const std::string mount_abs = mount_of(at);
  const int v = at.kv_version;
  auto suffix = suffix_of(state_, caller, at, nullptr);  // a view only when no secret has the literal name
  std::string rel = suffix ? std::string(split_last(at.rel).first) + suffix->name : at.rel;
  std::string view = suffix && suffix->has_view ? suffix->view : "data";
  if (suffix && suffix->has_field) return Error::unsupported("a field is read-only: write the whole secret");

  Result<Response> resp = Error::internal("unset");
  if (v == 1) {
    if (view != "data") return Error::not_found("kv v1 secrets have no view \"" + view + "\"");
    if (mode == WriteMode::Append) return Error::unsupported("kv v1 has no patch: write the whole secret with >");
    resp = state_.call(caller, Operation::Update, kv_path(mount_abs, 1, "", rel), std::move(body));
  } else if (view == "data") {
    // The body is the secret's data, or Vault's envelope {"data":{..},"options":{..}}
    // (for check-and-set) when it has exactly those two keys with object values.
    bool envelope = body.size() == 2 && body.contains(std::string_view("data")) &&
                    body.contains(std::string_view("options")) && body["data"].is_object() &&
                    body["options"].is_object();
    Json request = envelope ? std::move(body) : Json{{"data", std::move(body)}};
    Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
    resp = state_.call(caller, op, kv_path(mount_abs, 2, "data", rel), std::move(request));
  } else if (view == "metadata") {
    Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
    resp = state_.call(caller, op, kv_path(mount_abs, 2, "metadata", rel), std::move(body));
  } else if (view == "delete" || view == "undelete" || view == "destroy") {
    COFFER_TRY(Json versions, versions_body(std::move(body)));
    resp = state_.call(caller, Operation::Update, kv_path(mount_abs, 2, view, rel), std::move(versions));
  } else if (all_digits(view) || negative_number(view)) {
    return Error::unsupported("a version is read-only: write the secret itself for a new version");
  } else {
    return Error::not_found("no view \"" + view + "\" (cat NAME@ lists them)");
  }
  if (!resp.ok()) return std::move(resp).error();
  state_.forget_folders_above(mount_abs + rel);
  return reply_of(*resp);
}

Status KvFiles::remove(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return is_directory();
  const std::string mount_abs = mount_of(at);
  const int v = at.kv_version;
  auto suffix = suffix_of(state_, caller, at, nullptr);
  if (!suffix) {
    if (v == 2) {
      // rm of a secret soft-deletes its latest version; a missing one is ENOENT.
      COFFER_TRY(auto meta, state_.call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", at.rel)));
      (void)meta;
    } else {
      COFFER_TRY(auto cur, state_.call(caller, Operation::Read, kv_path(mount_abs, 1, "", at.rel)));
      (void)cur;
    }
    COFFER_TRY_STATUS(to_status(state_.call(caller, Operation::Delete, kv_path(mount_abs, v, "data", at.rel))));
    // A KV v1 delete is permanent: its folders stay, as a directory stays
    // after rm of its last file, until rmdir (so rm -r ends well). A KV v2
    // folder stays by itself while it holds deleted secrets (unlisted).
    for (auto slash = at.rel.find('/'); v == 1 && slash != std::string::npos; slash = at.rel.find('/', slash + 1)) {
      state_.add_folder(mount_abs + at.rel.substr(0, slash + 1));
    }
    return ok_status();
  }
  std::string rel = std::string(split_last(at.rel).first) + suffix->name;
  if (suffix->has_field) return Error::unsupported("a field cannot be removed on its own");
  if (v == 2 && suffix->view == "metadata") {
    return to_status(state_.call(caller, Operation::Delete, kv_path(mount_abs, 2, "metadata", rel)));
  }
  if (v == 2 && negative_number(suffix->view)) return Error::invalid("version out of range");
  if (v == 2 && all_digits(suffix->view)) {
    COFFER_TRY(std::int64_t version, fields::parse_count(suffix->view, "version"));
    return to_status(state_.call(caller, Operation::Update, kv_path(mount_abs, 2, "delete", rel),
                                 Json{{"versions", Json::array({version})}}));
  }
  if (suffix->view == "data") {
    return to_status(state_.call(caller, Operation::Delete, kv_path(mount_abs, v, "data", rel)));
  }
  return Error::unsupported("this view cannot be removed");
}

}  // namespace engine::fileview
