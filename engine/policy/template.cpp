// SPDX-License-Identifier: MPL-2.0
#include "engine/policy/template.hpp"

#include <chrono>

#include "engine/common/duration.hpp"

namespace engine::policy {
namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

std::string_view trim(std::string_view s) {
  const auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

bool consume_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

Error not_found() { return Error::invalid("no value could be found for one of the template directives"); }

// A plain string attribute: empty means "not set" and fails, as in Vault.
Result<std::string> require_value(const std::string& v) {
  if (v.empty()) return not_found();
  return v;
}

// `metadata.<key>`: a present key resolves even to "" (Vault's map handler).
Result<std::string> map_value(const StringMap& map, std::string_view key) {
  const auto it = map.find(key);
  if (it == map.end()) return not_found();
  return it->second;
}

Result<std::string> alias_selector(std::string_view sel, const AliasInfo& alias) {
  if (sel == "id") return require_value(alias.id);
  if (sel == "name") return require_value(alias.name);
  if (consume_prefix(sel, "metadata.")) return map_value(alias.metadata, sel);
  if (consume_prefix(sel, "custom_metadata.")) return map_value(alias.custom_metadata, sel);
  return not_found();  // includes the whole-map forms, JSON mode only
}

Result<std::string> entity_selector(std::string_view sel, const EntityInfo& entity) {
  if (sel == "id") return require_value(entity.id);
  if (sel == "name") return require_value(entity.name);
  if (consume_prefix(sel, "metadata.")) return map_value(entity.metadata, sel);
  if (consume_prefix(sel, "aliases.")) {
    const auto dot = sel.find('.');
    if (dot == std::string_view::npos) return Error::invalid("invalid alias selector");
    const std::string_view accessor = sel.substr(0, dot);
    for (const auto& alias : entity.aliases) {
      if (alias.mount_accessor == accessor) return alias_selector(sel.substr(dot + 1), alias);
    }
    return Error::invalid("alias not found");
  }
  return not_found();
}

Result<std::string> groups_selector(std::string_view sel, const IdentityContext& identity) {
  bool by_id = false;
  if (consume_prefix(sel, "ids.")) {
    by_id = true;
  } else if (!consume_prefix(sel, "names.")) {
    return Error::invalid("invalid groups selector");
  }
  const auto dot = sel.find('.');
  if (dot == std::string_view::npos) return Error::invalid("invalid groups accessor");
  const std::string_view wanted = sel.substr(0, dot);
  const std::string_view attr = sel.substr(dot + 1);
  const GroupInfo* found = nullptr;
  for (const auto& group : identity.groups) {
    if (by_id) {
      if (group.id == wanted) found = &group;
    } else {
      // Group names are namespace-local: only the policy's namespace counts.
      if (!identity.namespace_id.empty() && group.namespace_id != identity.namespace_id) continue;
      if (group.name == wanted) found = &group;
    }
    if (found != nullptr) break;
  }
  if (found == nullptr) {
    return Error::invalid("entity is not a member of group \"" + std::string(wanted) + "\"");
  }
  if (attr == "id") return found->id;
  if (attr == "name") return require_value(found->name);
  std::string_view key = attr;
  if (consume_prefix(key, "metadata.")) return map_value(found->metadata, key);
  return not_found();
}

Result<std::string> time_selector(std::string_view sel, const IdentityContext& identity) {
  const TimePoint now = identity.now ? *identity.now : TimePoint(Clock::now());
  std::int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (!consume_prefix(sel, "now")) return Error::invalid("invalid time selector");
  if (sel.empty()) return std::to_string(seconds);
  if (!consume_prefix(sel, ".")) return Error::invalid("invalid time selector");
  const auto dot = sel.find('.');
  if (dot == std::string_view::npos) return Error::invalid("missing time operand");
  const std::string_view op = sel.substr(0, dot);
  COFFER_TRY(const std::int64_t ns, parse_duration_ns(sel.substr(dot + 1)));
  const std::int64_t delta = ns / 1'000'000'000;
  if (op == "plus") {
    seconds += delta;
  } else if (op == "minus") {
    seconds -= delta;
  } else {
    return Error::invalid("invalid time operator \"" + std::string(op) + "\"");
  }
  return std::to_string(seconds);
}

Result<std::string> resolve(std::string_view selector, const IdentityContext& identity) {
  std::string_view sel = selector;
  if (consume_prefix(sel, "identity.entity.")) {
    if (!identity.entity) {
      return Error::invalid("string contains entity template directives but no entity was provided");
    }
    return entity_selector(sel, *identity.entity);
  }
  if (consume_prefix(sel, "identity.groups.")) {
    if (identity.groups.empty()) {
      return Error::invalid("string contains groups template directives but no groups were provided");
    }
    return groups_selector(sel, identity);
  }
  if (consume_prefix(sel, "time.")) return time_selector(sel, identity);
  return not_found();
}

// Splits on "{{" then each later piece on "}}", exactly as Vault does, so
// the same strings are balanced or not. Calls `on_directive(selector)` and
// `on_text(text)` in order.
template <class OnText, class OnDirective>
Status walk_template(std::string_view text, OnText on_text, OnDirective on_directive) {
  std::size_t open = text.find(kOpen);
  const std::string_view head = text.substr(0, open);
  if (head.find(kClose) != std::string_view::npos) {
    return Error::invalid("unbalanced templating characters");
  }
  COFFER_TRY_STATUS(on_text(head));
  while (open != std::string_view::npos) {
    const std::size_t start = open + kOpen.size();
    const std::size_t next_open = text.find(kOpen, start);
    const std::string_view piece =
        text.substr(start, next_open == std::string_view::npos ? std::string_view::npos : next_open - start);
    const std::size_t close = piece.find(kClose);
    if (close == std::string_view::npos || piece.find(kClose, close + kClose.size()) != std::string_view::npos) {
      return Error::invalid("unbalanced templating characters");
    }
    COFFER_TRY_STATUS(on_directive(trim(piece.substr(0, close))));
    COFFER_TRY_STATUS(on_text(piece.substr(close + kClose.size())));
    open = next_open;
  }
  return ok_status();
}

}  // namespace

bool has_template(std::string_view text) noexcept { return text.find(kOpen) != std::string_view::npos; }

Status validate_template(std::string_view text) {
  return walk_template(
      text, [](std::string_view) { return ok_status(); }, [](std::string_view) { return ok_status(); });
}

Result<std::string> populate_template(std::string_view text, const IdentityContext& identity,
                                      const TemplateOptions& options) {
  std::string out;
  out.reserve(text.size() * 2);
  COFFER_TRY_STATUS(walk_template(
      text,
      [&](std::string_view literal) {
        out.append(literal);
        return ok_status();
      },
      [&](std::string_view selector) -> Status {
        COFFER_TRY(std::string value, resolve(selector, identity));
        for (const char c : value) {
          if ((c == '/' && !options.allow_slashes) || ((c == '*' || c == '+') && !options.allow_wildcards)) {
            return Error::invalid(std::string("templated value contains forbidden character '") + c + "'");
          }
        }
        out += value;
        return ok_status();
      }));
  return out;
}

}  // namespace engine::policy
