// SPDX-License-Identifier: MPL-2.0
// Templates rendered as a caller: each secret an ACL-checked read with the
// caller's token; a denied or missing dependency fails the whole render.
#include <catch2/catch.hpp>

#include "engine/fileview/template_render.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;

namespace {

engine::ctmpl::Template parse(const std::string& text) {
  auto t = engine::ctmpl::Template::parse("app.env", text);
  if (!t.ok()) FAIL(t.error().message);
  return std::move(t).value();
}

}  // namespace

TEST_CASE("template render: KV v2 through the caller's token, Vault Agent's envelope", "[template]") {
  DevCore d;
  d.put("secret/app/db", "user=app password=s3cr3t\n");
  const auto t = parse(
      "{{ with secret \"secret/data/app/db\" }}DB_USER={{ .Data.data.user }}\n"
      "DB_PASSWORD={{ .Data.data.password }}\nV={{ .Data.metadata.version }}{{ end }}\n"
      "{{ range secrets \"secret/metadata/app/\" }}{{ . }}{{ end }}");
  auto r = engine::render_template(*d.core, d.root, "", t);
  if (!r.ok()) FAIL(r.error().message);
  CHECK(r->bytes == "DB_USER=app\nDB_PASSWORD=s3cr3t\nV=1\ndb");
  CHECK(r->dependencies == std::vector<std::string>{"secret/data/app/db", "secret/metadata/app/"});
  CHECK(r->modified.has_value());

  // A new version shows on the next render.
  d.put("secret/app/db", "user=app password=rotated\n");
  auto again = engine::render_template(*d.core, d.root, "", t);
  REQUIRE(again.ok());
  CHECK(again->bytes == "DB_USER=app\nDB_PASSWORD=rotated\nV=2\ndb");
}

TEST_CASE("template render: denied, missing secret, missing key give no bytes", "[template]") {
  DevCore d;
  d.put("secret/app/db", "user=app password=s3cr3t\n");
  d.put("secret/other/x", "k=v\n");
  d.put("sys/policies/acl/app", "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n");
  const engine::Caller app = as(make_token(d, R"({"policies":["app"]})"));

  auto ok = engine::render_template(*d.core, app, "", parse("{{ (secret \"secret/data/app/db\").Data.data.user }}"));
  if (!ok.ok()) FAIL(ok.error().message);
  CHECK(ok->bytes == "app");

  auto denied = engine::render_template(
      *d.core, app, "",
      parse("{{ (secret \"secret/data/app/db\").Data.data.user }}{{ secret \"secret/data/other/x\" }}"));
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == engine::ErrorCode::PermissionDenied);

  auto missing = engine::render_template(*d.core, d.root, "", parse("{{ secret \"secret/data/app/nope\" }}"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == engine::ErrorCode::NotFound);

  auto key =
      engine::render_template(*d.core, d.root, "", parse("{{ (secret \"secret/data/app/db\").Data.data.nope }}"));
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().code == engine::ErrorCode::Corrupt);
  CHECK(key.error().message.find("s3cr3t") == std::string::npos);

  auto escape = engine::render_template(*d.core, d.root, "", parse("{{ secret \"../secret/data/app/db\" }}"));
  REQUIRE_FALSE(escape.ok());
}

TEST_CASE("template render: KV v2 paths shimmed as consul-template does", "[template]") {
  DevCore d;
  d.put("secret/app/db", "user=app password=s3cr3t\n");
  d.put("sys/mounts/kv1", R"({"type":"kv"})");
  d.put("kv1/app", "user=v1\n");
  const auto tree = d.core->namespaces();
  // consul-template's shimKVv2Path: data/ inserted after a KV v2 mount, a
  // path already naming data/ or metadata/ left alone, other mounts untouched.
  CHECK(engine::kv2_read_path(*tree, "", "secret/app/db") == "secret/data/app/db");
  CHECK(engine::kv2_read_path(*tree, "", "secret/data/app/db") == "secret/data/app/db");
  CHECK(engine::kv2_read_path(*tree, "", "secret/metadata/app/db") == "secret/metadata/app/db");
  CHECK(engine::kv2_read_path(*tree, "", "secret") == "secret/data");
  CHECK(engine::kv2_read_path(*tree, "", "secret/") == "secret/data");
  CHECK(engine::kv2_read_path(*tree, "", "secret/datax") == "secret/data/datax");
  CHECK(engine::kv2_read_path(*tree, "", "kv1/app") == "kv1/app");
  CHECK(engine::kv2_read_path(*tree, "", "sys/policies/acl/default") == "sys/policies/acl/default");
  CHECK(engine::kv2_read_path(*tree, "", "nomount/app") == "nomount/app");

  auto r = engine::render_template(
      *d.core, d.root, "",
      parse("{{ with secret \"secret/app/db\" }}{{ .Data.data.user }} v{{ .Data.metadata.version }}{{ end }} "
            "{{ (secret \"kv1/app\").Data.user }}"));
  if (!r.ok()) FAIL(r.error().message);
  CHECK(r->bytes == "app v1 v1");
  // The path read is what a change to it is matched against.
  CHECK(r->dependencies == std::vector<std::string>{"secret/data/app/db", "kv1/app"});
}

TEST_CASE("template render: the shim inside a namespace", "[template]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "team").ok());
  d.put("team/sys/mounts/kv", R"({"type":"kv-v2"})");
  d.put("team/kv/app", "k=v\n");
  CHECK(engine::kv2_read_path(*d.core->namespaces(), "team/", "kv/app") == "kv/data/app");
  CHECK(engine::kv2_read_path(*d.core->namespaces(), "", "team/kv/app") == "team/kv/data/app");
  auto r = engine::render_template(*d.core, d.root, "team/", parse("{{ (secret \"kv/app\").Data.data.k }}"));
  if (!r.ok()) FAIL(r.error().message);
  CHECK(r->bytes == "v");
}
