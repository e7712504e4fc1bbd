// SPDX-License-Identifier: MPL-2.0
// FileView remembers a KV file's attributes between LOOKUP and GETATTR; these
// tests pin down when that memory must not be used.
#include "support.hpp"

using coffer_test::DevCore;
using engine::ErrorCode;
using engine::Operation;

namespace {

std::uint64_t size_of(DevCore& d, const engine::Caller& who, std::string_view path) {
  auto st = d.files->stat(who, path);
  REQUIRE(st.ok());
  return st->size;
}

engine::Caller token_with(DevCore& d, const char* policy) {
  engine::Request create{Operation::Update, "auth/token/create",
                         engine::Json{{"policies", engine::Json::array({policy})}}, engine::to_secure("root")};
  auto resp = d.core->handle(create);
  REQUIRE(resp.ok());
  return engine::Caller{resp->data["auth"]["client_token"].get<engine::SecureString>()};
}

}  // namespace

TEST_CASE("stat memo: a write shows its new size at once", "[fileview][memo]") {
  DevCore d;
  d.put("secret/app/db", R"({"k":"1"})");
  const auto before = size_of(d, d.root, "secret/app/db");
  CHECK(size_of(d, d.root, "secret/app/db") == before);  // remembered
  d.put("secret/app/db", R"({"k":"a much longer value than before"})");
  CHECK(size_of(d, d.root, "secret/app/db") == d.cat("secret/app/db").size());
  CHECK(size_of(d, d.root, "secret/app/db") != before);
}

TEST_CASE("stat memo: mkdir of a folder with a secret's name turns the file into a directory", "[fileview][memo]") {
  DevCore d;
  d.put("secret/both", R"({"k":"1"})");
  REQUIRE(d.files->stat(d.root, "secret/both")->kind == engine::NodeKind::File);
  REQUIRE(d.files->make_dir(d.root, "secret/both").ok());
  CHECK(d.files->stat(d.root, "secret/both")->kind == engine::NodeKind::Directory);
  REQUIRE(d.files->remove_dir(d.root, "secret/both").ok());
  CHECK(d.files->stat(d.root, "secret/both")->kind == engine::NodeKind::File);
}

TEST_CASE("stat memo: never answers another token, a revoked token or a changed policy", "[fileview][memo]") {
  DevCore d;
  d.put("secret/app/db", R"({"k":"1"})");
  d.put("sys/policies/acl/reader", "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n");
  auto reader = token_with(d, "reader");
  auto other = token_with(d, "default");
  REQUIRE(d.files->stat(reader, "secret/app/db").ok());
  // Another token asks right after: decided afresh.
  auto denied = d.files->stat(other, "secret/app/db");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::PermissionDenied);

  REQUIRE(d.files->stat(reader, "secret/app/db").ok());
  d.put("sys/policies/acl/reader", "path \"secret/data/other/*\" { capabilities = [\"read\"] }\n");
  auto after_policy = d.files->stat(reader, "secret/app/db");
  REQUIRE_FALSE(after_policy.ok());
  CHECK(after_policy.error().code == ErrorCode::PermissionDenied);

  d.put("sys/policies/acl/reader", "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n");
  REQUIRE(d.files->stat(reader, "secret/app/db").ok());
  REQUIRE(d.files->stat(reader, "secret/app/db").ok());
  engine::Request revoke{Operation::Update, "auth/token/revoke", engine::Json{{"token", reader.token}},
                         engine::to_secure("root")};
  REQUIRE(d.core->handle(revoke).ok());
  auto after_revoke = d.files->stat(reader, "secret/app/db");
  REQUIRE_FALSE(after_revoke.ok());
  CHECK(after_revoke.error().code == ErrorCode::PermissionDenied);
}
