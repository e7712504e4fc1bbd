// SPDX-License-Identifier: MPL-2.0
// For the seal-file and migrate tests: a temporary directory, and a real
// SQLite store made through a Core (init with 3 shares, threshold 2,
// unsealed, a kv-v2 mount with one secret), closed again.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/core.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/sqlite_storage.hpp"

namespace coffer_test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/coffer-mountd-test.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) FAIL("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct MadeStore {
  std::vector<std::string> keys;  // hex shares
  std::vector<std::string> keys_base64;
  std::string root_token;
};

// Reads NAME#KEY-style: the file view's text of a secret, unsealing a fresh
// core on path with shares first.
inline std::string read_secret(const std::string& path, const MadeStore& made, const std::string& secret) {
  auto storage = engine::SqliteStorage::open(path, engine::SqliteStorage::IfMissing::Fail);
  REQUIRE(storage.ok());
  auto core = engine::Core::open(std::move(storage).value(), {});
  REQUIRE(core.ok());
  engine::FileView files(**core);
  engine::Caller nobody;
  REQUIRE(files.write(nobody, "sys/unseal", made.keys[2] + "\n", engine::WriteMode::Replace).ok());
  REQUIRE(files.write(nobody, "sys/unseal", made.keys[0] + "\n", engine::WriteMode::Replace).ok());
  engine::Caller root{engine::to_secure(made.root_token)};
  auto r = files.read(root, secret);
  REQUIRE(r.ok());
  return engine::to_plain(r.value());
}

// A store at path with secrets at kv/app (pw=hunter2) and kv/db (pw=s3cret).
inline MadeStore make_store(const std::string& path) {
  auto storage = engine::SqliteStorage::open(path, engine::SqliteStorage::IfMissing::Create);
  REQUIRE(storage.ok());
  auto core = engine::Core::open(std::move(storage).value(), {});
  REQUIRE(core.ok());
  engine::FileView files(**core);
  engine::Caller nobody;
  auto reply = files.write(nobody, "sys/init", R"({"secret_shares":3,"secret_threshold":2})",
                           engine::WriteMode::Replace);
  REQUIRE(reply.ok());
  const engine::Json init = engine::Json::parse(reply.value());
  MadeStore made;
  for (const auto& k : init["keys"]) made.keys.push_back(engine::to_plain(k.get<engine::SecureString>()));
  for (const auto& k : init["keys_base64"]) made.keys_base64.push_back(engine::to_plain(k.get<engine::SecureString>()));
  made.root_token = engine::to_plain(init["root_token"].get<engine::SecureString>());
  REQUIRE(files.write(nobody, "sys/unseal", made.keys[0] + "\n", engine::WriteMode::Replace).ok());
  REQUIRE(files.write(nobody, "sys/unseal", made.keys[1] + "\n", engine::WriteMode::Replace).ok());
  REQUIRE_FALSE((*core)->sealed());
  engine::Caller root{engine::to_secure(made.root_token)};
  REQUIRE(files.write(root, "sys/mounts/kv", "type=kv-v2\n", engine::WriteMode::Replace).ok());
  REQUIRE(files.write(root, "kv/app", "pw=hunter2\n", engine::WriteMode::Replace).ok());
  REQUIRE(files.write(root, "kv/db", "pw=s3cret\n", engine::WriteMode::Replace).ok());
  return made;
}

}  // namespace coffer_test
