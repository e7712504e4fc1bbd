// SPDX-License-Identifier: MPL-2.0
// Policy parsing: HCL/JSON/base64 forms, Vault's validation messages with
// line numbers, normalisation (§2), built-in policies (§9.6).
#include <catch2/catch.hpp>

#include "engine/common/duration.hpp"
#include "engine/policy/hcl.hpp"
#include "engine/policy/policy.hpp"
#include "engine/policy/template.hpp"

using namespace engine;
using namespace engine::policy;

namespace {

Policy parse_ok(std::string_view text, std::string_view ns = "") {
  auto p = parse_policy("p", text, ns);
  INFO(text);
  if (!p) FAIL(p.error().message);
  return std::move(p).value();
}

std::string parse_err(std::string_view text, std::string_view ns = "") {
  auto p = parse_policy("p", text, ns);
  INFO(text);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().code == ErrorCode::InvalidArgument);
  return p.error().message;
}

const PathRule& only_rule(const Policy& p) {
  REQUIRE(p.paths.size() == 1);
  return p.paths.front();
}

std::string b64(std::string_view in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += a[n >> 18 & 63];
    out += a[n >> 12 & 63];
    out += a[n >> 6 & 63];
    out += a[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = (unsigned char)in[i] << 16;
    out += a[n >> 18 & 63];
    out += a[n >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += a[n >> 18 & 63];
    out += a[n >> 12 & 63];
    out += a[n >> 6 & 63];
    out += '=';
  }
  return out;
}

}  // namespace

TEST_CASE("parse: basic HCL path block with capabilities", "[parse]") {
  const auto p = parse_ok(R"(
# comment
path "secret/foo" {
  capabilities = ["read", "list"]   // trailing comment
}
)");
  const auto& r = only_rule(p);
  CHECK(r.key == "secret/foo");
  CHECK(r.path == "secret/foo");
  CHECK(r.kind == RuleKind::Exact);
  CHECK(r.capabilities == (cap::kRead | cap::kList));
  CHECK(r.line == 3);
  CHECK_FALSE(p.templated);
}

TEST_CASE("parse: all comment styles, trailing commas, name key ignored", "[parse]") {
  const auto p = parse_ok(R"(
name = "ignored"
/* block
   comment */
path "a" { capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo",] }
# hash
// slashes
)");
  CHECK(only_rule(p).capabilities ==
        (cap::kCreate | cap::kRead | cap::kUpdate | cap::kPatch | cap::kDelete | cap::kList | cap::kSudo));
}

TEST_CASE("parse: a leading UTF-8 BOM and CRLF line ends are accepted", "[parse]") {
  CHECK(only_rule(parse_ok("\xEF\xBB\xBFpath \"a\" {\r\n  capabilities = [\"read\"]\r\n}\r\n")).capabilities ==
        cap::kRead);
  CHECK(only_rule(parse_ok("\xEF\xBB\xBF{\"path\": {\"a\": {}}}")).path == "a");
}

TEST_CASE("parse: empty policy text and empty capabilities are legal", "[parse]") {
  CHECK(parse_ok("").paths.empty());
  CHECK(parse_ok("   \n# nothing\n").paths.empty());
  const auto p = parse_ok(R"(path "secret/foo" { capabilities = [] })");
  CHECK(only_rule(p).capabilities == 0);
  const auto q = parse_ok(R"(path "secret/foo" { })");
  CHECK(only_rule(q).capabilities == 0);
}

TEST_CASE("parse: invalid top-level key names the key and its line", "[parse]") {
  CHECK(parse_err("path \"a\" {}\n\nbad = 1\n") == "failed to parse policy: invalid key \"bad\" on line 3");
  CHECK(parse_err("\nbad \"x\" { }\n") == "failed to parse policy: invalid key \"bad\" on line 2");
}

TEST_CASE("parse: invalid key inside a path block", "[parse]") {
  CHECK(parse_err("path \"x\" {\n  capabilities = [\"read\"]\n  k = \"v\"\n}\n") ==
        "failed to parse policy: path \"x\": invalid key \"k\" on line 3");
  // OpenBao-only keys are not Vault keys.
  CHECK(parse_err("path \"x\" {\n pagination_limit = 5\n}") ==
        "failed to parse policy: path \"x\": invalid key \"pagination_limit\" on line 2");
  CHECK(parse_err("path \"x\" {\n expiration = \"2030-01-01T00:00:00Z\"\n}") ==
        "failed to parse policy: path \"x\": invalid key \"expiration\" on line 2");
}

TEST_CASE("parse: invalid capability", "[parse]") {
  CHECK(parse_err(R"(path "x" { capabilities = ["read", "banana"] })") ==
        "failed to parse policy: path \"x\": invalid capability \"banana\"");
  CHECK(parse_err(R"(path "x" { capabilities = ["root"] })") ==
        "failed to parse policy: path \"x\": invalid capability \"root\"");
  // OpenBao's scan is not a Vault capability.
  CHECK(parse_err(R"(path "x" { capabilities = ["scan"] })") ==
        "failed to parse policy: path \"x\": invalid capability \"scan\"");
  // Capability names are case-sensitive.
  CHECK(parse_err(R"(path "x" { capabilities = ["READ"] })") ==
        "failed to parse policy: path \"x\": invalid capability \"READ\"");
}

TEST_CASE("parse: Vault's subscribe and recover capabilities are accepted", "[parse]") {
  const auto p = parse_ok(R"(path "x" { capabilities = ["subscribe", "recover"] })");
  CHECK(only_rule(p).capabilities == (cap::kSubscribe | cap::kRecover));
  const auto q = parse_ok(R"(path "sys/events/subscribe/*" {
    capabilities = ["read"]
    subscribe_event_types = ["kv*"]
  })");
  CHECK(only_rule(q).subscribe_event_types == std::vector<std::string>{"kv*"});
}

TEST_CASE("parse: deny discards every other capability of the block", "[parse]") {
  CHECK(only_rule(parse_ok(R"(path "x" { capabilities = ["read", "deny", "update"] })")).capabilities == cap::kDeny);
  // Vault stops at deny: later entries are not even validated.
  CHECK(only_rule(parse_ok(R"(path "x" { capabilities = ["deny", "banana"] })")).capabilities == cap::kDeny);
}

TEST_CASE("parse: legacy policy words map to capabilities", "[parse]") {
  CHECK(only_rule(parse_ok(R"(path "x" { policy = "deny" })")).capabilities == cap::kDeny);
  CHECK(only_rule(parse_ok(R"(path "x" { policy = "read" })")).capabilities == (cap::kRead | cap::kList));
  CHECK(only_rule(parse_ok(R"(path "x" { policy = "write" })")).capabilities ==
        (cap::kCreate | cap::kRead | cap::kUpdate | cap::kDelete | cap::kList));
  CHECK(only_rule(parse_ok(R"(path "x" { policy = "sudo" })")).capabilities ==
        (cap::kCreate | cap::kRead | cap::kUpdate | cap::kDelete | cap::kList | cap::kSudo));
}

TEST_CASE("parse: legacy policy and capabilities are concatenated; deny ignores the list", "[parse]") {
  CHECK(only_rule(parse_ok(R"(path "x" {
    policy = "read"
    capabilities = ["update", "sudo"]
  })"))
            .capabilities == (cap::kRead | cap::kList | cap::kUpdate | cap::kSudo));
  CHECK(only_rule(parse_ok(R"(path "x" {
    policy = "deny"
    capabilities = ["update", "banana"]
  })"))
            .capabilities == cap::kDeny);
}

TEST_CASE("parse: unknown legacy policy word", "[parse]") {
  CHECK(parse_err(R"(path "x" { policy = "admin" })") ==
        "failed to parse policy: path \"x\": invalid policy \"admin\"");
}

TEST_CASE("parse: '+*' is forbidden", "[parse]") {
  CHECK(parse_err(R"(path "secret/+*" { capabilities = ["read"] })") ==
        "failed to parse policy: path \"secret/+*\": invalid use of wildcards ('+*' is forbidden)");
  CHECK(parse_err(R"(path "a/+*/b" { })") ==
        "failed to parse policy: path \"a/+*/b\": invalid use of wildcards ('+*' is forbidden)");
}

TEST_CASE("parse: wrapping TTLs as seconds or durations; max < min rejected", "[parse]") {
  const auto p = parse_ok(R"(path "x" {
    capabilities = ["read"]
    min_wrapping_ttl = 30
    max_wrapping_ttl = "1h"
  })");
  CHECK(only_rule(p).min_wrapping_ttl_ns == 30'000'000'000LL);
  CHECK(only_rule(p).max_wrapping_ttl_ns == 3600'000'000'000LL);
  const auto q = parse_ok(R"(path "x" { min_wrapping_ttl = "90" max_wrapping_ttl = "1m30s" })");
  CHECK(only_rule(q).min_wrapping_ttl_ns == 90'000'000'000LL);
  CHECK(only_rule(q).max_wrapping_ttl_ns == 90'000'000'000LL);
  CHECK(only_rule(parse_ok(R"(path "x" { max_wrapping_ttl = "2d" })")).max_wrapping_ttl_ns ==
        2 * 86400 * 1'000'000'000LL);
  CHECK(parse_err(R"(path "x" {
    min_wrapping_ttl = "2h"
    max_wrapping_ttl = "1h"
  })") == "failed to parse policy: path \"x\": max_wrapping_ttl cannot be less than min_wrapping_ttl");
  CHECK(parse_err(R"(path "x" { max_wrapping_ttl = "soon" })") ==
        "failed to parse policy: path \"x\": error parsing max_wrapping_ttl: invalid duration \"soon\"");
}

TEST_CASE("parse: unbalanced templating characters", "[parse]") {
  CHECK(parse_err(R"(path "secret/{{identity.entity.id}/x" { })") ==
        "failed to parse policy: path \"secret/{{identity.entity.id}/x\": failed to validate policy "
        "templating: unbalanced templating characters");
  CHECK_FALSE(parse_policy("p", R"(path "secret/}}x" { })", "").ok());
  CHECK_FALSE(parse_policy("p", R"(path "secret/{{a}}}}" { })", "").ok());
  const auto p = parse_ok(R"(path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] })");
  CHECK(p.templated);
  CHECK(only_rule(p).templated);
  // Unknown selectors are accepted at write time.
  CHECK(parse_ok(R"(path "secret/{{nonsense}}" { })").templated);
}

TEST_CASE("parse: path normalisation (namespace prefix, one leading slash, rule kinds)", "[parse]") {
  SECTION("exact, prefix, segment") {
    const auto p = parse_ok(R"(
path "/secret/foo" { }
path "secret/foo*" { }
path "secret/+/bar" { }
path "secret/+/bar/*" { }
path "+" { }
path "+/x" { }
path "a/+b" { }
path "secret/a*b" { }
)");
    REQUIRE(p.paths.size() == 8);
    CHECK(p.paths[0].path == "secret/foo");
    CHECK(p.paths[0].kind == RuleKind::Exact);
    CHECK(p.paths[1].path == "secret/foo");
    CHECK(p.paths[1].kind == RuleKind::Prefix);
    CHECK(p.paths[2].kind == RuleKind::SegmentWildcard);
    CHECK(p.paths[3].path == "secret/+/bar/*");  // segment rules keep their '*'
    CHECK(p.paths[3].kind == RuleKind::SegmentWildcard);
    CHECK(p.paths[4].kind == RuleKind::SegmentWildcard);
    CHECK(p.paths[5].kind == RuleKind::SegmentWildcard);
    CHECK(p.paths[6].kind == RuleKind::SegmentWildcard);  // "/+" anywhere flags it
    CHECK(p.paths[7].kind == RuleKind::Exact);            // inner '*' is literal
    CHECK(p.paths[7].path == "secret/a*b");
  }
  SECTION("namespace prefix") {
    const auto p = parse_ok(R"(path "secret/*" { })", "ns1/ns2");
    CHECK(p.namespace_path == "ns1/ns2/");
    CHECK(only_rule(p).path == "ns1/ns2/secret/");
    CHECK(only_rule(p).kind == RuleKind::Prefix);
    const auto q = parse_ok(R"(path "/secret/x" { })", "/ns1/");
    CHECK(only_rule(q).path == "ns1/secret/x");
  }
  SECTION("only one leading slash is stripped") { CHECK(only_rule(parse_ok(R"(path "//x" { })")).path == "/x"); }
  SECTION("'+' as the first segment inside a namespace stays a segment wildcard") {
    CHECK(only_rule(parse_ok(R"(path "+/x" { })", "ns1")).kind == RuleKind::SegmentWildcard);
    CHECK(only_rule(parse_ok(R"(path "+/x" { })", "ns1")).path == "ns1/+/x");
  }
}

TEST_CASE("parse: the same pattern may repeat in one policy", "[parse]") {
  const auto p = parse_ok(R"(
path "x" { capabilities = ["read"] }
path "x" { capabilities = ["update"] }
)");
  CHECK(p.paths.size() == 2);
}

TEST_CASE("parse: parameters, values of any JSON type, names lower-cased", "[parse]") {
  const auto p = parse_ok(R"(path "x" {
  capabilities = ["update"]
  allowed_parameters = {
    "Name" = ["a*", 5, true, 1.5, ["x"], { k = "v" }]
    "any"  = []
  }
  denied_parameters {
    "secret" = []
  }
  required_parameters = ["Name"]
})");
  const auto& r = only_rule(p);
  REQUIRE(r.allowed_parameters);
  REQUIRE(r.allowed_parameters->count("name") == 1);
  const auto& values = r.allowed_parameters->at("name");
  REQUIRE(values.size() == 6);
  CHECK(values[0] == Json("a*"));
  CHECK(values[1] == Json(5));
  CHECK(values[2] == Json(true));
  CHECK(values[3] == Json(1.5));
  CHECK(values[4] == Json::array({"x"}));
  Json obj = Json::object();
  obj["k"] = "v";
  CHECK(values[5] == obj);
  CHECK(r.allowed_parameters->at("any").empty());
  REQUIRE(r.denied_parameters);
  CHECK(r.denied_parameters->at("secret").empty());
  CHECK(r.required_parameters == std::vector<std::string>{"Name"});
}

TEST_CASE("parse: parameter values must be lists", "[parse]") {
  CHECK(parse_err("path \"x\" {\n allowed_parameters = {\n  \"k\" = \"v\"\n }\n}") ==
        "failed to parse policy: path \"x\": allowed_parameters: value of \"k\" must be a list on line 3");
}

TEST_CASE("parse: type errors are reported with lines", "[parse]") {
  CHECK(parse_err("path \"x\" {\n capabilities = \"read\"\n}") ==
        "failed to parse policy: path \"x\": capabilities: expected a list of strings, got string on line 2");
  CHECK(parse_err("path \"x\" {\n capabilities = [1]\n}") ==
        "failed to parse policy: path \"x\": capabilities: expected a list of strings, got a number "
        "element on line 2");
}

TEST_CASE("parse: mfa_methods and control_group are kept", "[parse]") {
  const auto p = parse_ok(R"(path "x" {
    capabilities = ["read"]
    mfa_methods = ["totp"]
    control_group = {
      ttl = "4h"
      factor "ops" {
        identity { group_names = ["managers"] approvals = 1 }
      }
    }
  })");
  CHECK(only_rule(p).mfa_methods == std::vector<std::string>{"totp"});
  CHECK(only_rule(p).has_control_group);
  CHECK_FALSE(parse_policy("p", R"(path "x" { control_group = { nope = 1 } })", "").ok());
}

TEST_CASE("parse: HCL syntax errors carry line and column", "[parse]") {
  CHECK(parse_err("path \"x\" {\n  capabilities = [\"read\"\n}\n") ==
        "failed to parse policy: At 3:1: found RBRACE, expected comma");
  CHECK(parse_err("path \"x\" {\n  capabilities = [\"read]\n}\n") ==
        "failed to parse policy: At 2:19: literal not terminated");
  CHECK(parse_err("path \"x\" {\n") == "failed to parse policy: At 2:1: object expected closing RBRACE got: EOF");
  CHECK(parse_err("path \"x\" \"y\" = 1") ==
        "failed to parse policy: At 1:14: nested object expected: LBRACE got: ASSIGN");
  CHECK(parse_err("path \n") ==
        "failed to parse policy: At 2:1: key 'path' expected start of object ('{') or assignment ('=')");
  CHECK(parse_err("/* open") == "failed to parse policy: At 1:1: comment not terminated");
  CHECK(parse_err("path \"x\" { capabilities = [read] }") ==
        "failed to parse policy: At 1:28: Unknown token: IDENT read");
}

TEST_CASE("parse: string escapes and heredocs", "[parse]") {
  auto doc = hcl::parse_hcl(R"(a = "q\"\\\n\t\u00e9\x41\101"
b = <<EOF
line1
  line2
EOF
c = <<-EOT
    x
      y
    EOT
d = "${foo("bar")}"
e = 0x1F
f = -3
g = 2.5e1
)");
  REQUIRE(doc.ok());
  const auto& items = doc->items;
  REQUIRE(items.size() == 7);
  CHECK(items[0].value.text ==
        "q\"\\\n\t\xC3\xA9"
        "AA");
  CHECK(items[1].value.text == "line1\n  line2\n");
  CHECK(items[2].value.text == "x\n  y\n");
  CHECK(items[3].value.text == "${foo(\"bar\")}");
  CHECK(items[4].value.int_value == 31);
  CHECK(items[5].value.int_value == -3);
  CHECK(items[6].value.float_value == 25.0);
  CHECK(items[1].line == 2);
  CHECK(items[2].line == 6);
  CHECK_FALSE(hcl::parse_hcl("a = \"\\q\"").ok());
  CHECK_FALSE(hcl::parse_hcl("a = <<EOF\nno end\n").ok());
  CHECK_FALSE(hcl::parse_hcl("a = \"\\uD800\"").ok());
}

TEST_CASE("parse: heredoc policy text inside a path", "[parse]") {
  const auto p = parse_ok("path \"x\" {\n  comment = <<EOT\nmulti\nline\nEOT\n  capabilities = [\"read\"]\n}\n");
  CHECK(only_rule(p).comment == "multi\nline\n");
  CHECK(only_rule(p).capabilities == cap::kRead);
}

TEST_CASE("parse: JSON form, object and list-of-objects path shapes", "[parse]") {
  SECTION("object") {
    const auto p = parse_ok(R"({"path": {"secret/foo": {"capabilities": ["read"]},
                                 "secret/bar/*": {"capabilities": ["list"], "max_wrapping_ttl": 60}}})");
    REQUIRE(p.paths.size() == 2);
    CHECK(p.paths[0].path == "secret/foo");
    CHECK(p.paths[0].capabilities == cap::kRead);
    CHECK(p.paths[1].kind == RuleKind::Prefix);
    CHECK(p.paths[1].max_wrapping_ttl_ns == 60'000'000'000LL);
  }
  SECTION("list of objects") {
    const auto p = parse_ok(R"({"path": [{"a": {"capabilities": ["read"]}}, {"b": {"capabilities": ["update"]}}]})");
    REQUIRE(p.paths.size() == 2);
    CHECK(p.paths[0].path == "a");
    CHECK(p.paths[1].path == "b");
    CHECK(p.paths[1].capabilities == cap::kUpdate);
  }
  SECTION("repeated keys are kept, as HCL's JSON parser does") {
    const auto p = parse_ok(R"({"path": {"a": {"capabilities": ["read"]}}, "path": {"b": {}}})");
    CHECK(p.paths.size() == 2);
  }
  SECTION("parameters in JSON") {
    const auto p = parse_ok(
        R"({"path": {"a": {"capabilities": ["update"], "allowed_parameters": {"K": ["v", 1, {"x": [true]}]}}}})");
    const auto& v = only_rule(p).allowed_parameters->at("k");
    REQUIRE(v.size() == 3);
    CHECK(v[2]["x"][0] == Json(true));
  }
  SECTION("errors") {
    CHECK(parse_err("{\n \"bad\": 1\n}") == "failed to parse policy: invalid key \"bad\" on line 2");
    CHECK(parse_err("{\"path\": {\"x\": {\n\"capabilities\": [\"banana\"]}}}") ==
          "failed to parse policy: path \"x\": invalid capability \"banana\"");
    CHECK(parse_err("{\"path\": {\"x\": {\"k\": 1}}") == "failed to parse policy: At 1:25: expected ',' or '}'");
    CHECK_FALSE(parse_policy("p", "{\"path\": {\"x\": {\"comment\": null}}}", "").ok());
    CHECK_FALSE(parse_policy("p", "{\"path\": 5}", "").ok());
  }
}

TEST_CASE("parse: base64-encoded policy text (HCL and JSON)", "[parse]") {
  const std::string hcl = "path \"secret/foo\" { capabilities = [\"read\"] }\n";
  const auto p = parse_ok(b64(hcl));
  CHECK(p.raw == hcl);
  CHECK(only_rule(p).capabilities == cap::kRead);
  const auto q = parse_ok(b64(R"({"path": {"x": {"capabilities": ["list"]}}})"));
  CHECK(only_rule(q).capabilities == cap::kList);
  // Line breaks inside base64 are ignored (Go's decoder does).
  const std::string encoded = b64(hcl);
  const std::string wrapped = encoded.substr(0, 8) + "\n" + encoded.substr(8);
  CHECK(only_rule(parse_ok(wrapped)).capabilities == cap::kRead);
  // Text that happens to be valid base64 is decoded, as in Vault ("path"
  // is three garbage bytes, not an HCL key).
  CHECK(parse_err("path").find("key '\xa5\xab"
                               "a'") != std::string::npos);
  // Bad base64 errors as the (garbage) HCL it is.
  CHECK_FALSE(parse_policy("p", "cGF0aCAi=", "").ok());
}

TEST_CASE("parse: policy names are trimmed and lower-cased", "[parse]") {
  CHECK(normalize_policy_name("  Admin-Team\t") == "admin-team");
  CHECK(normalize_policy_name("default") == "default");
  CHECK(normalize_namespace_path("") == "");
  CHECK(normalize_namespace_path("/") == "");
  CHECK(normalize_namespace_path("a/b") == "a/b/");
}

TEST_CASE("parse: capability names in the fixed sys/capabilities order", "[parse]") {
  CHECK(
      capability_names(cap::kCreate | cap::kRead | cap::kSudo | cap::kList | cap::kPatch | cap::kUpdate | cap::kDelete |
                       cap::kSubscribe | cap::kRecover) ==
      std::vector<std::string>{"sudo", "read", "list", "update", "delete", "create", "patch", "subscribe", "recover"});
  CHECK(capability_names(0) == std::vector<std::string>{"deny"});
  CHECK(capability_names(cap::kDeny) == std::vector<std::string>{"deny"});
}

TEST_CASE("parse: built-in default and response-wrapping policies", "[parse]") {
  const auto d = parse_ok(kDefaultPolicyText, "ns1");
  CHECK(d.templated);  // identity/entity/id/{{identity.entity.id}}
  bool has_cubbyhole = false, has_oidc = false;
  for (const auto& r : d.paths) {
    if (r.path == "ns1/cubbyhole/" && r.kind == RuleKind::Prefix) {
      has_cubbyhole = r.capabilities == (cap::kCreate | cap::kRead | cap::kUpdate | cap::kDelete | cap::kList);
    }
    if (r.path == "ns1/identity/oidc/provider/+/authorize") {
      has_oidc = r.kind == RuleKind::SegmentWildcard && r.capabilities == (cap::kRead | cap::kUpdate);
    }
  }
  CHECK(has_cubbyhole);
  CHECK(has_oidc);
  const auto w = parse_ok(kResponseWrappingPolicyText);
  REQUIRE(w.paths.size() == 2);
  CHECK(w.paths[0].path == "cubbyhole/response");
  CHECK(w.paths[0].capabilities == (cap::kCreate | cap::kRead));
  CHECK(w.paths[1].path == "sys/wrapping/unwrap");
  CHECK(w.paths[1].capabilities == cap::kUpdate);
}

TEST_CASE("parse: durations", "[parse]") {
  CHECK(*parse_duration_ns("0") == 0);
  CHECK(*parse_duration_ns("15") == 15'000'000'000LL);
  CHECK(*parse_duration_ns("1.5h") == 5400'000'000'000LL);
  CHECK(*parse_duration_ns("500ms") == 500'000'000LL);
  CHECK(*parse_duration_ns("1h2m3s") == 3723'000'000'000LL);
  CHECK_FALSE(parse_duration_ns("1x").ok());
  CHECK_FALSE(parse_duration_ns("h").ok());
  CHECK_FALSE(parse_duration_ns("99999999999999999999").ok());
}
