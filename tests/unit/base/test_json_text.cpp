// SPDX-License-Identifier: MPL-2.0
// The limits on outside text: JSON depth, UTF-8, names, numbers.
#include <catch2/catch.hpp>

#include <string>

#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/names.hpp"
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
