// SPDX-License-Identifier: MPL-2.0
// Randomised robustness: mutated policy texts must parse or fail cleanly
// (never crash, hang or trip a sanitizer), and whatever parses must compile
// and answer decisions. Deterministic seed so a failure reproduces.
#include <catch2/catch.hpp>

#include <random>

#include "engine/policy/acl.hpp"
#include "engine/policy/hcl.hpp"

using namespace engine;
using namespace engine::policy;

namespace {

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> c = {
      std::string(kDefaultPolicyText),
      std::string(kResponseWrappingPolicyText),
      R"(path "secret/+/x*" { capabilities = ["read", "list"] allowed_parameters = { "a" = ["b*", 1, true] } })",
      R"(path "a" { policy = "write" min_wrapping_ttl = "1m" max_wrapping_ttl = 3600 required_parameters = ["x"] })",
      R"(path "k/{{identity.entity.metadata.team}}/*" { capabilities = ["deny"] denied_parameters { "*" = [] } })",
      "path \"h\" {\n  comment = <<EOF\ntext\nEOF\n  capabilities = [\"update\",]\n}\n/* c */ # d\n// e\n",
      R"({"path": {"secret/foo": {"capabilities": ["read"], "allowed_parameters": {"k": [{"x": [1, 2.5e3]}]}}}})",
      R"({"path": [{"a": {"capabilities": ["list"]}}, {"b/+": [{"capabilities": ["update"]}]}]})",
      "cGF0aCAic2VjcmV0L2ZvbyIgeyBjYXBhYmlsaXRpZXMgPSBbInJlYWQiXSB9Cg==",
  };
  return c;
}

const char* const kTokens[] = {"{",   "}",  "[",   "]",  ",",  "=",    "\"",   "path", "\\",  "<<EOF\n",
                               "EOF", "/*", "*/",  "#",  "//", "\n",   "+*",   "{{",   "}}",  "-",
                               "0x",  "1e", "\\u", "+",  "*",  "true", "null", ":",    "\t",  "\xff",
                               "\0",  "${", "<<-", "\r", "=",  "deny", "/+/",  "\"\"", "[[[", "{{{"};

std::string mutate(std::string s, std::mt19937& rng) {
  std::uniform_int_distribution<int> op_dist(0, 6);
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    const std::size_t n = s.size();
    const std::size_t pos = n == 0 ? 0 : rng() % (n + 1);
    switch (op_dist(rng)) {
      case 0:  // flip a byte
        if (n > 0) s[pos % n] = static_cast<char>(rng());
        break;
      case 1:  // delete a range
        if (n > 0) s.erase(pos % n, 1 + rng() % 8);
        break;
      case 2: {  // insert a syntax token
        const auto& t = kTokens[rng() % (sizeof(kTokens) / sizeof(kTokens[0]))];
        s.insert(pos, t);
        break;
      }
      case 3:  // truncate
        s.resize(pos);
        break;
      case 4:  // duplicate a range
        if (n > 0) {
          const std::size_t from = rng() % n;
          const std::string chunk = s.substr(from, 1 + rng() % 32);
          s.insert(pos, chunk);
        }
        break;
      case 5:  // splice with another corpus entry
        s.insert(pos, corpus()[rng() % corpus().size()].substr(0, rng() % 64));
        break;
      default:  // insert a random byte
        s.insert(pos, 1, static_cast<char>(rng()));
        break;
    }
  }
  return s;
}

void exercise(const std::string& text) {
  auto p = parse_policy("fuzz", text, (text.size() % 2) != 0 ? "ns1" : "");
  if (!p) {
    CHECK_FALSE(p.error().message.empty());
    return;
  }
  IdentityContext id;
  id.entity = EntityInfo{"e", "n", {{"team", "t"}}, {}};
  auto acl = Acl::compile(std::vector<Policy>{*p}, id);
  REQUIRE(acl.ok());
  for (const char* path : {"secret/foo", "secret/a/x", "k/t/", "a", "ns1/secret/foo", "cubbyhole/x", ""}) {
    (void)acl->allow(Operation::Update, path, Json::object(), 30);
    (void)acl->capabilities(path);
  }
}

}  // namespace

TEST_CASE("robustness: the seed corpus parses", "[robustness]") {
  for (const auto& text : corpus()) {
    INFO(text);
    auto p = parse_policy("seed", text, "");
    CHECK(p.ok());
  }
}

TEST_CASE("robustness: mutated policies parse or fail cleanly", "[robustness]") {
  std::mt19937 rng(0xC0FFEEu);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = mutate(corpus()[rng() % corpus().size()], rng);
    exercise(text);
    parsed += parse_policy("x", text, "").ok() ? 1 : 0;
  }
  // Both outcomes must actually be exercised.
  CHECK(parsed > 100);
  CHECK(parsed < 19900);
}

TEST_CASE("robustness: pathological nesting and sizes are refused, not overflowed", "[robustness]") {
  CHECK_FALSE(hcl::parse_hcl("a = " + std::string(100000, '[')).ok());
  CHECK_FALSE(hcl::parse_json(std::string(100000, '{')).ok());
  CHECK_FALSE(hcl::parse_json("{\"a\":" + std::string(100000, '[')).ok());
  std::string deep = "a = ";
  for (int i = 0; i < 60; ++i) deep += "[";
  for (int i = 0; i < 60; ++i) deep += "]";
  CHECK(hcl::parse_hcl(deep).ok());
  CHECK_FALSE(parse_policy("x", std::string(1 << 16, '{'), "").ok());
  CHECK_FALSE(parse_policy("x", "path \"" + std::string(1 << 16, 'a'), "").ok());
}
