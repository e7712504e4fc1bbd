// SPDX-License-Identifier: MPL-2.0
// consul-template's language: parse errors, the functions, the limits, and
// never a partial render.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/ctmpl/ctmpl.hpp"

using engine::ErrorCode;
using engine::ctmpl::Limits;
using engine::ctmpl::Source;
using engine::ctmpl::Template;
using nlohmann::json;

namespace {

// A KV v2 store as Vault Agent sees it: secret "kv/data/app" gives the envelope.
struct Fake {
  std::map<std::string, json> data;
  std::vector<std::string> reads;
  Source source() {
    Source s;
    s.secret = [this](const std::string& path) -> engine::Result<json> {
      reads.push_back(path);
      if (path == "kv/data/denied") return engine::Error::denied();
      auto it = data.find(path);
      if (it == data.end()) return engine::Error::not_found("no secret");
      return json{{"Data", {{"data", it->second}, {"metadata", {{"version", 3}}}}}, {"LeaseID", ""}};
    };
    s.secrets = [this](const std::string& path) -> engine::Result<json> {
      reads.push_back(path);
      json names = json::array();
      for (const auto& [k, v] : data)
        if (k.rfind("kv/data/", 0) == 0) names.push_back(k.substr(8));
      (void)path;
      return names;
    };
    return s;
  }
};

Fake fake() {
  Fake f;
  f.data["kv/data/app"] = {
      {"user", "app"},   {"password", "s3cr3t"}, {"port", 5432},   {"list", "a,b,c"},
      {"dash-key", "d"}, {"empty", ""},          {"nul", nullptr}, {"js", R"({"x":[1,2],"y":"z"})"}};
  f.data["kv/data/other"] = {{"k", "v"}};
  return f;
}

std::string render(const std::string& text, const json& dot = nullptr) {
  auto t = Template::parse("t", text);
  if (!t.ok()) FAIL(t.error().message);
  Fake f = fake();
  auto r = t->render(f.source(), dot);
  if (!r.ok()) FAIL(r.error().message);
  return r.value();
}

engine::Error parse_error(const std::string& text, const Limits& limits = {}) {
  auto t = Template::parse("app.env", text, limits);
  REQUIRE_FALSE(t.ok());
  return t.error();
}

engine::Error render_error(const std::string& text, const Limits& limits = {}) {
  auto t = Template::parse("app.env", text, limits);
  if (!t.ok()) FAIL(t.error().message);
  Fake f = fake();
  auto r = t->render(f.source());
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("text, actions, trim markers, comments") {
  CHECK(render("plain text\n") == "plain text\n");
  CHECK(render("a {{ \"b\" }} c") == "a b c");
  CHECK(render("a  \n {{- \"b\" -}} \n  c") == "abc");
  CHECK(render("a {{/* a comment\n over lines */}} b") == "a  b");
  CHECK(render("a \n{{- /* trimmed */ -}}\n b") == "ab");
  CHECK(render("{{ 3 }} {{ -2 }} {{ 1.5 }} {{ true }} {{ 0x10 }}") == "3 -2 1.5 true 16");
  CHECK(render("{{ `raw \\n` }}") == "raw \\n");
  CHECK(render("{{ \"q\\t\\\"\\u00e9\" }}") == "q\t\"\xc3\xa9");
  CHECK(render("{{ .a.b }}", json{{"a", {{"b", "x"}}}}) == "x");
  CHECK(render("{{\n  \"multi-line action\"\n}}") == "multi-line action");
}

TEST_CASE("secret gives Vault Agent's KV v2 envelope") {
  CHECK(render("{{ with secret \"kv/data/app\" }}DB_USER={{ .Data.data.user }}\nDB_PASSWORD={{ .Data.data.password }}"
               "{{ end }}") == "DB_USER=app\nDB_PASSWORD=s3cr3t");
  CHECK(render("{{ (secret \"kv/data/app\").Data.metadata.version }}") == "3");
  CHECK(render("{{ $s := secret \"kv/data/app\" }}{{ $s.Data.data.port }}:{{ index $s.Data.data \"dash-key\" }}") ==
        "5432:d");
  CHECK(render("{{ range secrets \"kv/metadata/\" }}[{{ . }}]{{ end }}") == "[app][other]");
  auto t =
      Template::parse("t", "{{ secret \"kv/data/app\" }}{{ secrets \"kv/metadata/\" }}{{ secret (printf \"x\") }}");
  REQUIRE(t.ok());
  CHECK(t->literal_paths() == std::vector<std::string>{"kv/data/app", "kv/metadata/"});
}

TEST_CASE("if, else if, else, with, range, variables") {
  CHECK(render("{{ if true }}y{{ else }}n{{ end }}") == "y");
  CHECK(render("{{ if \"\" }}y{{ else if 0 }}z{{ else }}n{{ end }}") == "n");
  CHECK(render("{{ if eq 1 2 }}a{{ else if eq 2 2 }}b{{ end }}") == "b");
  CHECK(render("{{ with \"\" }}x{{ else }}empty{{ end }}") == "empty");
  CHECK(render("{{ range $i, $e := split \",\" \"a,b\" }}{{ $i }}={{ $e }};{{ end }}") == "0=a;1=b;");
  CHECK(render("{{ range $k, $v := .m }}{{ $k }}={{ $v }} {{ end }}", json{{"m", {{"b", 2}, {"a", 1}}}}) == "a=1 b=2 ");
  CHECK(render("{{ range .l }}x{{ else }}none{{ end }}", json{{"l", json::array()}}) == "none");
  CHECK(render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}") == "2");
  CHECK(render("{{ range $e := split \",\" \"a,b\" }}{{ $e }}{{ $.top }}{{ end }}", json{{"top", "!"}}) == "a!b!");
}

TEST_CASE("builtins and helpers") {
  CHECK(render("{{ len \"abc\" }} {{ len (split \",\" \"a,b\") }}") == "3 2");
  CHECK(render("{{ index (split \",\" \"a,b\") 1 }}") == "b");
  CHECK(render("{{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ lt 1 2 }} {{ gt 1.5 2 }} {{ le 2 2 }} {{ ge \"a\" \"b\" }}") ==
        "true true true false true false");
  CHECK(render("{{ and 1 0 }} {{ or 0 \"\" \"def\" }} {{ not 0 }}") == "0 def true");
  CHECK(render("{{ or (index .m \"x\") \"unused\" }}", json{{"m", {{"x", "set"}}}}) == "set");
  CHECK(render("{{ printf \"%s:%d:%v:%q %%\" \"a\" 5 true \"b\\n\" }}") == "a:5:true:\"b\\n\" %");
  CHECK(render("{{ \"a\" | printf \"[%s]\" }}") == "[a]");
  CHECK(render("{{ with secret \"kv/data/other\" }}{{ .Data.data | toJSON }}{{ end }}") == "{\"k\":\"v\"}");
  CHECK(render("{{ with secret \"kv/data/other\" }}{{ .Data.data | toJSONPretty }}{{ end }}") ==
        "{\n  \"k\": \"v\"\n}");
  CHECK(render("{{ \"hello\" | base64Encode }} {{ \"aGVsbG8=\" | base64Decode }}") == "aGVsbG8= hello");
  CHECK(render("[{{ \"  x \\n\" | trimSpace }}]") == "[x]");
  CHECK(render("{{ split \",\" \"a,b\" | join \";\" }}") == "a;b");
  CHECK(render("{{ \"a.b.c\" | replaceAll \".\" \"/\" }}") == "a/b/c");
  CHECK(render("{{ \"MiXed\" | toLower }} {{ \"MiXed\" | toUpper }}") == "mixed MIXED");
  CHECK(render("{{ with secret \"kv/data/app\" }}{{ (.Data.data.js | parseJSON).y }} {{ index (.Data.data.js | "
               "parseJSON).x 1 }}{{ end }}") == "z 2");
  CHECK(render("{{ split \",\" \"\" | len }}") == "0");
}

TEST_CASE("parse errors name the file and line") {
  CHECK(parse_error("line 1\n{{ service \"db\" }}").message == "app.env:2: function \"service\" not defined");
  CHECK(parse_error("{{ env \"HOME\" }}").message == "app.env:1: function \"env\" not defined");
  CHECK(parse_error("{{ file \"/etc/passwd\" }}").message == "app.env:1: function \"file\" not defined");
  CHECK(parse_error("{{ define \"x\" }}{{ end }}").message == "app.env:1: function \"define\" not defined");
  CHECK(parse_error("{{ 1 | nope }}").message == "app.env:1: function \"nope\" not defined");
  auto w = parse_error("{{ secret \"pki/issue/web\" \"common_name=x\" }}");
  CHECK(w.code == ErrorCode::InvalidArgument);
  CHECK(w.message.find("template writes are not supported") != std::string::npos);
  CHECK(parse_error("{{ if true }}x").message.find("without {{end}}") != std::string::npos);
  CHECK(parse_error("{{ end }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ $nope }}").message == "app.env:1: undefined variable \"$nope\"");
  CHECK(parse_error("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}").message.find("undefined variable") !=
        std::string::npos);
  CHECK(parse_error("{{ \"unterminated }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ /* unclosed }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ .x").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ ( 1 }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ nil }}").code == ErrorCode::InvalidArgument);
  CHECK(parse_error("{{ 1.2.3 }}").code == ErrorCode::InvalidArgument);
}

TEST_CASE("render errors give no bytes, and the right code") {
  // A missing key is an error, never "<no value>".
  auto e = render_error("A={{ with secret \"kv/data/app\" }}{{ .Data.data.nope }}{{ end }}");
  CHECK(e.code == ErrorCode::Corrupt);
  CHECK(e.message == "app.env:1: map has no entry for key \"nope\"");
  CHECK(render_error("{{ index (secret \"kv/data/app\").Data.data \"nope\" }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ (secret \"kv/data/app\").Data.data.nul }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ secret \"kv/data/missing\" }}").code == ErrorCode::NotFound);
  CHECK(render_error("ok\n{{ secret \"kv/data/denied\" }}").code == ErrorCode::PermissionDenied);
  CHECK(render_error("{{ printf \"%d\" \"x\" }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ printf \"%x\" 1 }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ printf \"%s\" }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ eq 1 \"1\" }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ \"!!\" | base64Decode }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ \"{\" | parseJSON }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ len 3 }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ index \"abc\" 1 }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ .x }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ \"a\" | 1 }}").code == ErrorCode::Corrupt);
  CHECK(render_error("{{ not }}").code == ErrorCode::Corrupt);
  // A secret's value never appears in a message.
  auto v = render_error("{{ with secret \"kv/data/app\" }}{{ eq .Data.data.password 1 }}{{ end }}");
  CHECK(v.message.find("s3cr3t") == std::string::npos);
}

TEST_CASE("limits") {
  Limits small;
  small.max_template = 16;
  CHECK(parse_error(std::string(17, 'x'), small).code == ErrorCode::InvalidArgument);
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "{{ if true }}";
  for (int i = 0; i < 40; ++i) deep += "{{ end }}";
  CHECK(parse_error(deep).message.find("nesting deeper") != std::string::npos);
  std::string parens = "{{ " + std::string(40, '(') + "1" + std::string(40, ')') + " }}";
  CHECK(parse_error(parens).message.find("nesting deeper") != std::string::npos);
  CHECK(render(std::string("{{ ") + std::string(20, '(') + "1" + std::string(20, ')') + " }}") == "1");

  Limits out;
  out.max_output = 10;
  CHECK(render_error(std::string(11, 'x'), out).code == ErrorCode::TooLarge);
  CHECK(render_error("{{ \"aaaa\" | replaceAll \"a\" \"bbbbbbbb\" }}", out).code == ErrorCode::TooLarge);
  // Quadratic blow-up stops at the output limit, not the memory's.
  auto big = render_error(
      "{{ $s := \"xxxxxxxxxxxxxxxx\" }}{{ $s = replaceAll \"x\" $s $s }}{{ $s = replaceAll \"x\" $s $s }}"
      "{{ $s = replaceAll \"x\" $s $s }}{{ $s = replaceAll \"x\" $s $s }}{{ $s = replaceAll \"x\" $s $s }}");
  CHECK(big.code == ErrorCode::TooLarge);

  Limits iter;
  iter.max_iterations = 100;
  auto r = render_error(
      "{{ $l := split \",\" \"a,b,c,d,e,f,g,h,i,j\" }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}"
      "{{ end }}",
      iter);
  CHECK(r.code == ErrorCode::TooLarge);
  std::string deep_json = std::string(100, '[') + std::string(100, ']');
  CHECK(render_error("{{ `" + deep_json + "` | parseJSON }}").code == ErrorCode::Corrupt);
}
