// SPDX-License-Identifier: MPL-2.0
// A dev core over memory storage and a file view on it, for core tests.
#pragma once

#include <catch2/catch.hpp>

#include "engine/core.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/memory_storage.hpp"

namespace coffer_test {

// A Storage that forwards to a MemoryStorage outliving the core, so a second
// core can open "the same store" after the first (restart tests).
class SharedStorage final : public engine::Storage {
 public:
  explicit SharedStorage(engine::Storage& s) : s_(s) {}
  engine::Result<std::optional<engine::SecureBytes>> get(std::string_view k) override { return s_.get(k); }
  engine::Result<std::vector<std::string>> list(std::string_view p, std::size_t l = 0) override {
    return s_.list(p, l);
  }
  engine::Status apply(std::span<const engine::WriteOp> b) override { return s_.apply(b); }

 private:
  engine::Storage& s_;
};

struct DevCore {
  std::unique_ptr<engine::Core> core;
  std::unique_ptr<engine::FileView> files;
  engine::Caller root{engine::to_secure("root")};

  DevCore() {
    auto opened = engine::Core::open(std::make_unique<engine::MemoryStorage>(), {"root", true});
    REQUIRE(opened.ok());
    core = std::move(opened).value();
    files = std::make_unique<engine::FileView>(*core);
  }

  std::string cat(std::string_view path) {
    auto r = files->read(root, path);
    if (!r.ok()) FAIL("cat " << path << ": " << r.error().message);
    return engine::to_plain(r.value());
  }
  engine::ErrorCode cat_error(std::string_view path) {
    auto r = files->read(root, path);
    REQUIRE_FALSE(r.ok());
    return r.error().code;
  }
  std::string put(std::string_view path, std::string_view body, engine::WriteMode mode = engine::WriteMode::Replace) {
    auto r = files->write(root, path, body, mode);
    if (!r.ok()) FAIL("write " << path << ": " << r.error().message);
    return engine::to_plain(r.value());
  }
  engine::ErrorCode put_error(std::string_view path, std::string_view body,
                              engine::WriteMode mode = engine::WriteMode::Replace) {
    auto r = files->write(root, path, body, mode);
    REQUIRE_FALSE(r.ok());
    return r.error().code;
  }
  std::vector<std::string> ls(std::string_view path) {
    auto r = files->list(root, path);
    if (!r.ok()) FAIL("ls " << path << ": " << r.error().message);
    std::vector<std::string> out;
    for (const auto& e : r.value()) out.push_back(e.name + (e.kind == engine::NodeKind::Directory ? "/" : ""));
    return out;
  }
};

}  // namespace coffer_test
