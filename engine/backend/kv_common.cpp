// SPDX-License-Identifier: MPL-2.0
#include "engine/backend/kv_common.hpp"

#include <cmath>
#include <limits>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "engine/common/duration.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/path.hpp"

namespace engine::kv {

namespace {

Status check_segments(std::string_view path) {
  for (const std::string_view seg : split_segments(path)) {
    if (seg.empty()) {
      return Error::invalid("invalid secret path \"" + std::string(path) + "\": empty path segment");
    }
    if (seg == "." || seg == "..") {
      return Error::invalid("invalid secret path \"" + std::string(path) + "\": segment \"" + std::string(seg) +
                            "\" is not allowed");
    }
  }
  return ok_status();
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Signed decimal integer, no overflow.
bool parse_decimal(std::string_view s, std::int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (!all_digits(s)) return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (v > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  out = negative ? -v : v;
  return true;
}

Error bad_duration(std::string_view field, const Json& value) {
  return Error::invalid("invalid value for \"" + std::string(field) +
                        "\": expected a duration (seconds or a string like \"3h\"), got " + to_plain(value.dump()));
}

}  // namespace

Status check_secret_name(std::string_view name) {
  if (name.empty()) return Error::invalid("missing path");
  if (name.back() == '/') {
    return Error::invalid("invalid secret path \"" + std::string(name) + "\": a secret name cannot end in '/'");
  }
  return check_segments(name);
}

Status check_folder(std::string_view folder) {
  if (folder.empty()) return ok_status();
  if (folder.back() != '/') {
    return Error::invalid("invalid folder \"" + std::string(folder) + "\": must end in '/'");
  }
  return check_segments(folder.substr(0, folder.size() - 1));
}

Status reject_unknown_keys(const Json& body, std::initializer_list<std::string_view> allowed, std::string_view where) {
  if (!body.is_object()) return Error::invalid(std::string(where) + ": body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    std::string_view key = as_view(it.key());
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (known) continue;
    std::string msg = "unknown field " + go_quote(key) + " in " + std::string(where);
    if (allowed.size() == 0) {
      msg += " (it takes no fields)";
    } else {
      msg += " (allowed:";
      for (std::string_view a : allowed) msg += " " + std::string(a);
      msg += ")";
    }
    return Error::invalid(std::move(msg));
  }
  return ok_status();
}

Result<std::int64_t> parse_int(const Json& value, std::string_view field) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Error::invalid("invalid value for \"" + std::string(field) + "\": out of range");
    }
    return value.get<std::int64_t>();
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<std::int64_t>(d);
    }
  }
  if (value.is_string()) {
    std::int64_t v = 0;
    if (parse_decimal(as_view(value.get_ref<const SecureString&>()), v)) return v;
  }
  return Error::invalid("invalid value for \"" + std::string(field) + "\": expected an integer, got " +
                        to_plain(value.dump()));
}

Result<bool> parse_bool(const Json& value, std::string_view field) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) {
    std::string_view s = as_view(value.get_ref<const SecureString&>());
    if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
    if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
      return false;
    }
  }
  return Error::invalid("invalid value for \"" + std::string(field) + "\": expected a boolean, got " +
                        to_plain(value.dump()));
}

Result<std::int64_t> parse_duration_seconds(const Json& value, std::string_view field) {
  if (value.is_number())
    return parse_int(value.is_number_float() ? Json(std::trunc(value.get<double>())) : value, field);
  if (!value.is_string()) return bad_duration(field, value);
  auto seconds = engine::parse_duration_seconds(as_view(value.get_ref<const SecureString&>()));
  if (!seconds.ok()) return bad_duration(field, value);
  return seconds;
}

std::int64_t to_unix_nanos(TimePoint t) { return t.time_since_epoch().count(); }

TimePoint from_unix_nanos(std::int64_t unix_nanos) { return TimePoint(std::chrono::nanoseconds(unix_nanos)); }

SecureBytes dump_secret(const Json& value) {
  SecureString s = value.dump();
  return SecureBytes(s.begin(), s.end());
}

Status check_rendered_size(std::size_t rendered_size) {
  if (rendered_size <= kMaxRenderedSecret) return ok_status();
  return Error::too_large("the secret would be " + std::to_string(rendered_size) +
                          " bytes as a file, over the limit of 8 MiB (nest it less deeply, or split it)");
}

Result<Json> parse_secret(const SecureBytes& bytes) {
  auto j = parse_json(as_view(bytes), "stored secret");
  if (!j.ok()) return Error::corrupt(j.error().message);
  if (!j->is_object()) return Error::corrupt("stored secret is not a JSON object");
  return std::move(*j);
}

bool go_is_print(std::int32_t c) {
  if (c == 0x20) return true;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL: return true;
    default: return false;
  }
}

bool go_printable(std::string_view s) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto length = static_cast<std::int32_t>(s.size());
  std::int32_t i = 0;
  while (i < length) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);  // c < 0 for an ill-formed sequence
    if (c < 0 || !go_is_print(c)) return false;
  }
  return true;
}

// strconv.Quote: printable runes as they are; \a \b \f \n \r \t \v, \" and
// \\ by name; other runes below U+10000 as \uXXXX, above as \UXXXXXXXX; the
// bytes of invalid UTF-8 as \xNN.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto length = static_cast<std::int32_t>(s.size());
  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    char buf[16];
    if (c < 0) {
      for (std::int32_t b = start; b < i; ++b) {
        std::snprintf(buf, sizeof buf, "\\x%02x", bytes[b]);
        out += buf;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (go_is_print(c)) {
      out.append(s.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else if (c < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    }
  }
  out += '"';
  return out;
}

std::size_t list_limit(const Json& data) {
  auto it = data.find(std::string_view("limit"));
  if (it == data.end() || !it->is_number_integer()) return 0;
  auto n = it->get<std::int64_t>();
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

Response list_reply(const BackendRequest& req, std::vector<std::string> keys) {
  Response resp;
  if (req.parts.list_keys != nullptr) {
    *req.parts.list_keys = std::move(keys);
    return resp;
  }
  resp.data[SecureString("keys")] = string_list(keys);
  return resp;
}

}  // namespace engine::kv
