// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include "engine/fileview/body.hpp"

using engine::parse_body;

TEST_CASE("body: JSON objects and key=value pairs", "[body]") {
  CHECK(parse_body(R"( {"a": 1} )").value() == engine::Json{{"a", 1}});
  CHECK(parse_body("a=1 b=two\nc=\"x y\" d='q\"' e=x=y\n").value() ==
        engine::Json{{"a", "1"}, {"b", "two"}, {"c", "x y"}, {"d", "q\""}, {"e", "x=y"}});
  CHECK(parse_body("k=\n").value() == engine::Json{{"k", ""}});
}

TEST_CASE("body: malformed input is an error that does not echo values", "[body]") {
  for (const char* bad : {"", "  ", "{", "{\"a\":1}x", "[]", "\"s\"", "a", "=v", "a=1 a=2", "a='x", "a=\"x"}) {
    auto r = parse_body(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
  }
  auto r = parse_body("secretvalue");
  CHECK(r.error().message.find("secretvalue") == std::string::npos);
}

TEST_CASE("body: completeness decides when a write applies", "[body]") {
  CHECK(engine::body_is_complete("{\"a\":1}"));
  CHECK_FALSE(engine::body_is_complete("{\"a\":"));
  CHECK(engine::body_is_complete("a=b\n"));
  CHECK_FALSE(engine::body_is_complete("a=b"));
  CHECK(engine::body_is_complete("\n"));  // `echo > renew-self`: an empty body, applied at write(2)
  CHECK_FALSE(engine::body_is_complete("  "));
  CHECK(engine::body_is_complete("{\"a\":\n"));  // broken, but the writer is done: fail now
}

TEST_CASE("body: nesting is bounded while parsing, before anything copies the body", "[body]") {
  const std::string deep = "{\"a\":" + std::string(15000, '[') + std::string(15000, ']') + "}";
  auto r = parse_body(deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
  CHECK(r.error().message.find("nested too deep") != std::string::npos);
}

TEST_CASE("body: key=value text must be UTF-8", "[body]") {
  auto r = parse_body("a=\xff\xfe\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
  CHECK(r.error().message == "key=value body is not valid UTF-8");
  CHECK(parse_body("a=caf\xc3\xa9\n").ok());
}
