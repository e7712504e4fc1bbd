// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include "engine/core.hpp"
#include "tests/unit/core/support.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/memory_storage.hpp"

using engine::ErrorCode;
using engine::Json;

TEST_CASE("seal: init, unseal with threshold shares, data survives a new core", "[seal]") {
  engine::MemoryStorage disk;
  engine::Caller nobody;
  std::string root_token;
  std::vector<std::string> keys;
  {
    auto core = engine::Core::open(std::make_unique<coffer_test::SharedStorage>(disk), {});
    REQUIRE(core.ok());
    engine::FileView files(**core);
    CHECK(files.list(nobody, "").value().size() == 1);  // only sys/ while sealed
    CHECK(files.read(nobody, "secret/x").error().code == ErrorCode::Sealed);
    auto reply =
        files.write(nobody, "sys/init", R"({"secret_shares":3,"secret_threshold":2})", engine::WriteMode::Replace);
    REQUIRE(reply.ok());
    Json init = Json::parse(reply.value());
    REQUIRE(init["keys"].size() == 3);
    root_token = init["root_token"].get<std::string>();
    CHECK(root_token.starts_with("hvs."));
    for (const auto& k : init["keys"]) keys.push_back(k.get<std::string>());
    CHECK((*core)->sealed());  // like Vault: initialised, still sealed
    CHECK(files.write(nobody, "sys/init", "{}", engine::WriteMode::Replace).error().code == ErrorCode::AlreadyExists);

    auto one = files.write(nobody, "sys/unseal", keys[0] + "\n", engine::WriteMode::Replace);
    REQUIRE(one.ok());
    CHECK(Json::parse(one.value())["progress"] == 1);
    auto two = files.write(nobody, "sys/unseal", R"({"key":")" + keys[2] + R"("})", engine::WriteMode::Replace);
    REQUIRE(two.ok());
    CHECK(Json::parse(two.value())["sealed"] == false);

    engine::Caller root{engine::to_secure(root_token)};
    REQUIRE(files.write(root, "sys/mounts/kv", "type=kv-v2\n", engine::WriteMode::Replace).ok());
    REQUIRE(files.write(root, "kv/app", "pw=hunter2\n", engine::WriteMode::Replace).ok());
    REQUIRE(files.write(root, "sys/seal", "", engine::WriteMode::Replace).ok());
    CHECK(files.read(root, "kv/app").error().code == ErrorCode::Sealed);
  }
  auto core = engine::Core::open(std::make_unique<coffer_test::SharedStorage>(disk), {});
  REQUIRE(core.ok());
  CHECK((*core)->sealed());
  engine::FileView files(**core);
  // A wrong share at the threshold resets progress and leaves the store sealed.
  REQUIRE(files.write(nobody, "sys/unseal", keys[1] + "\n", engine::WriteMode::Replace).ok());
  // keys[0] with its first byte changed: its x-coordinate (the last byte) is
  // keys[0]'s own, so it cannot collide with keys[1]'s and be refused as a
  // repeat; an all-'a' share did, once in 255 runs.
  std::string bogus = keys[0];
  bogus[0] = bogus[0] == 'a' ? 'b' : 'a';
  CHECK_FALSE(files.write(nobody, "sys/unseal", bogus + "\n", engine::WriteMode::Replace).ok());
  CHECK(Json::parse(files.read(nobody, "sys/seal-status").value())["progress"] == 0);
  CHECK((*core)->sealed());
  REQUIRE(files.write(nobody, "sys/unseal", keys[1] + "\n", engine::WriteMode::Replace).ok());
  REQUIRE(files.write(nobody, "sys/unseal", keys[0] + "\n", engine::WriteMode::Replace).ok());
  engine::Caller root{engine::to_secure(root_token)};
  CHECK(engine::to_plain(files.read(root, "kv/app#pw").value()) == "hunter2");
}

TEST_CASE("core: a request body nested too deep is refused before anything walks it", "[core][limits]") {
  coffer_test::DevCore d;
  engine::Json body = engine::Json::object();
  engine::Json* inner = &body;
  for (int i = 0; i < 129; ++i) inner = &((*inner)["k"] = engine::Json::object());
  for (const char* path : {"sys/unseal", "sys/init", "secret/data/x"}) {
    engine::Request req;
    req.op = engine::Operation::Update;
    req.path = path;
    req.data = body;
    req.token = engine::to_secure("root");
    auto r = d.core->handle(req);
    INFO(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
    CHECK(r.error().message.find("nested too deep") != std::string::npos);
  }
  // The value is freed without recursion by nlohmann (its destructor is iterative).
}
