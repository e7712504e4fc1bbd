// SPDX-License-Identifier: MPL-2.0
// Drives a KV backend on MemoryStorage the way the router does.
#pragma once

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "engine/backend/backend.hpp"
#include "engine/storage/memory_storage.hpp"

namespace kvtest {

inline engine::Json J(const char* text) { return engine::Json::parse(text); }

template <class BackendT>
struct Harness {
  engine::MemoryStorage store;
  BackendT kv;
  // 2018-03-22T02:24:06.945319214Z; every call advances by 1ms.
  engine::TimePoint now{std::chrono::nanoseconds(1521685446945319214LL)};

  engine::Result<engine::Response> call(engine::Operation op, const std::string& path,
                                        const engine::Json& body = engine::Json::object()) {
    now += std::chrono::milliseconds(1);
    engine::BackendRequest req{op, path, body, store, now};
    return kv.handle(req);
  }
  engine::Result<bool> exists(const std::string& path) {
    engine::Json body = engine::Json::object();
    engine::BackendRequest req{engine::Operation::Update, path, body, store, now};
    return kv.exists(req);
  }
  engine::Response ok(engine::Operation op, const std::string& path,
                      const engine::Json& body = engine::Json::object()) {
    auto r = call(op, path, body);
    if (!r.ok()) FAIL_CHECK(path << ": " << r.error().message);
    REQUIRE(r.ok());
    return std::move(r).value();
  }
  engine::Error err(engine::Operation op, const std::string& path, const engine::Json& body = engine::Json::object()) {
    auto r = call(op, path, body);
    REQUIRE_FALSE(r.ok());
    return std::move(r).error();
  }
};

// Number of keys stored under prefix (all depths).
inline std::size_t count_under(engine::Storage& s, const std::string& prefix) {
  auto children = s.list(prefix);
  REQUIRE(children.ok());
  std::size_t n = 0;
  for (const std::string& c : *children) {
    n += c.back() == '/' ? count_under(s, prefix + c) : 1;
  }
  return n;
}

inline std::string str(const engine::Json& j) { return engine::to_plain(j.dump()); }

// {"a": [[...[1, 1, ...]...]]}: leaves ones 59 levels down (60 with the
// object). Indented, each leaf takes a line of about twice its depth.
inline engine::Json deep_secret(int leaves) {
  engine::Json deep = engine::Json::array();
  for (int i = 0; i < leaves; ++i) deep.push_back(1);
  for (int d = 0; d < 58; ++d) deep = engine::Json::array({std::move(deep)});
  engine::Json data = engine::Json::object();
  data["a"] = std::move(deep);
  return data;
}

}  // namespace kvtest
