// SPDX-License-Identifier: MPL-2.0
// The limits on outside text: JSON depth, UTF-8, names, numbers; a field read
// off a rendering.
#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>

#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/names.hpp"
#include "engine/common/secure.hpp"
#include "engine/common/utf8.hpp"

using engine::ErrorCode;
using engine::Json;

namespace {

// {"k": [[[...]]]} with `arrays` nested arrays: arrays + 1 levels in all.
std::string nested(int arrays) {
  return "{\"k\":" + std::string(static_cast<std::size_t>(arrays), '[') +
         std::string(static_cast<std::size_t>(arrays), ']') + "}";
}

}  // namespace

TEST_CASE("json_text: parse_json bounds the depth while parsing", "[json_text]") {
  auto ok = engine::parse_json(nested(engine::kMaxJsonDepth - 1));
  REQUIRE(ok.ok());
  CHECK(engine::json_depth_within(*ok));
  CHECK_FALSE(engine::json_depth_within(*ok, engine::kMaxJsonDepth - 1));

  auto deep = engine::parse_json(nested(engine::kMaxJsonDepth), "JSON body");
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.error().code == ErrorCode::InvalidArgument);
  CHECK(deep.error().message == "JSON body nested too deep (more than 64 levels)");

  // Far past any stack: the parse is iterative and builds nothing that deep.
  auto hostile = engine::parse_json(nested(1'000'000));
  REQUIRE_FALSE(hostile.ok());
  CHECK(hostile.error().message.find("nested too deep") != std::string::npos);
}

TEST_CASE("json_text: malformed JSON and trailing text are refused", "[json_text]") {
  for (const char* bad : {"", "{", "{\"a\":1}x", "[1,]", "{\"a\":\"\xff\"}", "\"\xc3\x28\""}) {
    INFO(bad);
    auto r = engine::parse_json(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "malformed JSON");
  }
  CHECK(engine::parse_json("[1, {\"a\": null}]").value() == Json::parse("[1,{\"a\":null}]"));
}

TEST_CASE("json_text: json_depth_within walks values of any depth", "[json_text]") {
  Json v = Json::array();
  Json* inner = &v;
  for (int i = 0; i < 100; ++i) {
    inner->push_back(Json::array());
    inner = &inner->back();
  }
  CHECK_FALSE(engine::json_depth_within(v));
  CHECK(engine::json_depth_within(v, 101));
  CHECK(engine::json_depth_within(Json(7), 0));
  CHECK_FALSE(engine::json_depth_within(Json::object(), 0));
}

TEST_CASE("utf8: RFC 3629 validity", "[utf8]") {
  for (const char* good : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\xf4\x8f\xbf\xbf"}) {
    INFO(good);
    CHECK(engine::utf8::valid(good));
  }
  for (const char* bad : {"\xff", "\x80", "\xc3", "\xc3\x28", "\xc0\xaf",  // lone, truncated, overlong
                          "\xe0\x80\xaf", "\xed\xa0\x80",                  // overlong, surrogate
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80"}) {   // past U+10FFFF, 5 bytes
    INFO(bad);
    CHECK_FALSE(engine::utf8::valid(bad));
  }
  std::size_t pos = 0;
  CHECK(engine::utf8::next("\xe2\x80\x8b!", pos) == char32_t{0x200B});
  CHECK(pos == 3);
}

TEST_CASE("names: what a created name may hold", "[names]") {
  CHECK(engine::check_name_text("team_1.1-caf\xc3\xa9", "policy name").ok());
  CHECK(engine::check_name_text("100%", "policy name").ok());  // a lone percent sign escapes nothing
  for (const char* bad : {"\xff", "a\x01", "a*", "a%2Fb", "%2f", "x%41"}) {
    INFO(bad);
    auto s = engine::check_name_text(bad, "policy name");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::InvalidArgument);
  }
  CHECK(engine::check_name_text("\xff", "namespace name").error().message == "namespace name is not valid UTF-8");
}

TEST_CASE("fields: numbers from paths and bodies are range-checked", "[fields]") {
  CHECK(engine::fields::parse_count("0", "version").value() == 0);
  CHECK(engine::fields::parse_count("9223372036854775807", "version").value() == INT64_MAX);
  for (const char* bad : {"", "-1", "+1", "1e3", " 1", "0x10", "99999999999999999999", "9223372036854775808"}) {
    INFO(bad);
    auto r = engine::fields::parse_count(bad, "version");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }
  CHECK(engine::fields::parse_count("11", "version", 10).error().message == "version out of range");

  for (const char* body :
       {R"({"n": 18446744073709551615})", R"({"n": 1e300})", R"({"n": -1e300})", R"({"n": "99999999999999999999"})"}) {
    INFO(body);
    auto r = engine::fields::get_int(Json::parse(body), "n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }
  CHECK(engine::fields::get_int(Json::parse(R"({"n": 9223372036854775807})"), "n").value() == INT64_MAX);
  CHECK(engine::fields::get_int(Json::parse(R"({"n": -5})"), "n").value() == -5);
}

TEST_CASE("utf8: valid_prefix allows only a last character cut short", "[utf8]") {
  CHECK(engine::utf8::valid_prefix("caf\xc3"));       // é cut after its lead byte
  CHECK(engine::utf8::valid_prefix("\xf0\x9f\x94"));  // a key emoji cut short
  CHECK(engine::utf8::valid_prefix("plain"));
  CHECK_FALSE(engine::utf8::valid_prefix("\xc3x"));     // the character was not continued
  CHECK_FALSE(engine::utf8::valid_prefix("\xe0\x80"));  // overlong already at the second byte
  CHECK_FALSE(engine::utf8::valid_prefix("\xed\xa0"));  // a surrogate already at the second byte
  CHECK_FALSE(engine::utf8::valid_prefix("\xff"));
}

TEST_CASE("field_in_rendering: a string or scalar member read off the rendering is field_text's", "[json_text]") {
  using engine::field_in_rendering;
  const auto read_off = [](const Json& object, std::string_view name) -> std::optional<std::string> {
    const engine::SecureString shown = engine::render_pretty(object);
    auto text = field_in_rendering(engine::as_view(shown), name);
    if (!text) return std::nullopt;
    return std::string(*text);
  };
  const Json plain = Json::parse(R"({"a":"2","ab":"x,","b":-0.0,"big":18446744073709551615,"f":1.5e300,)"
                                 R"("n":null,"t":true,"u":"\u00fcn\u00efc\u00f6d\u00e9 \u2028","":"empty name",)"
                                 R"("z":-9223372036854775808})");
  // Each of these is read off, and is what a parse gives.
  for (const auto& [key, value] : plain.items()) {
    const std::string name(key.begin(), key.end());
    INFO(name);
    const auto text = read_off(plain, name);
    REQUIRE(text.has_value());
    CHECK(*text == engine::to_plain(engine::field_text(value)));
  }
  CHECK(read_off(plain, "a") == "2");
  CHECK(read_off(plain, "ab") == "x,");
  CHECK(read_off(plain, "f") == "1.5e+300");
  // Not told: the caller parses (and finds the field, or says it is absent).
  const Json tricky = Json::parse(R"({"q":"say \"hi\"","s":"back\\slash","c":"tab\there","o":{"inner":"x"},)"
                                  R"("l":[1,2],"e":{},"k\"ey":"1","m":"\n  \"fake\": 1"})");
  for (const char* name : {"q", "s", "c", "o", "l", "e", "k\"ey", "inner", "fake", "absent", "\n", "q\": "}) {
    INFO(name);
    CHECK_FALSE(read_off(tricky, name).has_value());
  }
  CHECK(read_off(tricky, "m") == std::nullopt);  // its string has escapes
  CHECK_FALSE(read_off(Json::object(), "a").has_value());
  // Random objects: whatever is read off equals field_text, and a member
  // without escapes or nesting is always read off.
  std::mt19937 rng(11);
  const std::string alphabet = "ab\"\\\n\t,: {}[]\x7f\xc3\xa9";
  const auto random_text = [&] {
    std::string out;
    const int n = static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      char c = alphabet[rng() % alphabet.size()];
      if (c == '\xc3') {
        out += "\xc3\xa9";
        continue;
      }
      if (c == '\xa9') c = 'e';
      out += c;
    }
    return out;
  };
  for (int round = 0; round < 500; ++round) {
    Json object = Json::object();
    const int members = static_cast<int>(rng() % 5);
    for (int i = 0; i < members; ++i) {
      const std::string key = random_text();
      Json value;
      switch (rng() % 5) {
        case 0: value = engine::to_secure(random_text()); break;
        case 1: value = static_cast<std::int64_t>(rng()) - 2147483648LL; break;
        case 2: value = static_cast<double>(rng()) / 7.0; break;
        case 3: value = Json::object({{engine::to_secure(random_text()), engine::to_secure(random_text())}}); break;
        default: value = nullptr; break;
      }
      object[engine::to_secure(key)] = std::move(value);
    }
    for (const auto& [key, value] : object.items()) {
      const std::string name(key.begin(), key.end());
      const auto text = read_off(object, name);
      const std::string expected = engine::to_plain(engine::field_text(value));
      INFO(engine::to_plain(engine::render_pretty(object)) << " name " << name);
      if (text) CHECK(*text == expected);
      const bool simple = name.find_first_of("\"\\\n\t") == std::string::npos && !value.is_object() &&
                          !(value.is_string() && expected.find_first_of("\"\\\n\t") != std::string::npos);
      CHECK(text.has_value() == simple);
    }
    CHECK_FALSE(read_off(object, "absent").has_value());
  }
}
