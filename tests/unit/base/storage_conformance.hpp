// SPDX-License-Identifier: MPL-2.0
// The Storage contract (engine/storage/storage.hpp), as one suite every
// implementation runs: call check_storage_conformance(s) from a TEST_CASE
// that creates a fresh, empty storage `s` (each SECTION reruns the test case,
// so each gets its own).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/storage/storage.hpp"

namespace conformance {

inline engine::SecureBytes bytes(std::string_view s) { return engine::SecureBytes(s.begin(), s.end()); }

inline std::string value_at(engine::Storage& s, std::string_view key) {
  auto r = s.get(key);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return std::string(engine::as_view(**r));
}

inline bool has(engine::Storage& s, std::string_view key) {
  auto r = s.get(key);
  REQUIRE(r.ok());
  return r->has_value();
}

inline std::vector<std::string> list(engine::Storage& s, std::string_view prefix, std::size_t limit = 0) {
  auto r = s.list(prefix, limit);
  REQUIRE(r.ok());
  return *r;
}

inline void put(engine::Storage& s, std::string_view key, std::string_view value) {
  REQUIRE(s.put(key, engine::bytes_of(value)).ok());
}

inline void check_storage_conformance(engine::Storage& s) {
  using engine::WriteOp;
  using Strings = std::vector<std::string>;

  SECTION("missing key reads as absent, lists as empty") {
    CHECK_FALSE(has(s, "nope"));
    CHECK(list(s, "").empty());
    CHECK(list(s, "nope/").empty());
    CHECK(s.del("nope").ok());  // deleting nothing is fine
    CHECK(s.del_prefix("nope/").ok());
  }

  SECTION("put, get, overwrite, delete") {
    put(s, "a", "1");
    CHECK(value_at(s, "a") == "1");
    put(s, "a", "two");
    CHECK(value_at(s, "a") == "two");
    REQUIRE(s.del("a").ok());
    CHECK_FALSE(has(s, "a"));
  }

  SECTION("binary and empty values round-trip exactly") {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    all += std::string(100000, '\0');
    put(s, "bin", all);
    CHECK(value_at(s, "bin") == all);
    put(s, "empty", "");
    CHECK(has(s, "empty"));
    CHECK(value_at(s, "empty").empty());
    CHECK(list(s, "") == Strings{"bin", "empty"});
  }

  SECTION("keys with odd bytes") {
    const std::vector<std::string> keys = {"sp ace", "new\nline", "pct%20",   "quote'\"",    "\xc3\xa9t\xc3\xa9",
                                           "\x01",   "\xff\xfe",  "star*?[]", "back\\slash", "dir/\xff/leaf"};
    for (const auto& k : keys) put(s, k, "v:" + k);
    for (const auto& k : keys) CHECK(value_at(s, k) == "v:" + k);
    CHECK(list(s, "dir/") == Strings{"\xff/"});
    CHECK(list(s, "dir/\xff/") == Strings{"leaf"});
  }

  SECTION("get_many reads several keys, in the order asked") {
    put(s, "a", "1");
    put(s, "dir/b", "2");
    put(s, "empty", "");
    const std::string_view keys[] = {"dir/b", "missing", "a", "empty", "a"};
    auto r = s.get_many(keys);
    REQUIRE(r.ok());
    REQUIRE(r->size() == 5);
    REQUIRE((*r)[0].has_value());
    CHECK(engine::as_view(*(*r)[0]) == "2");
    CHECK_FALSE((*r)[1].has_value());
    REQUIRE((*r)[2].has_value());
    CHECK(engine::as_view(*(*r)[2]) == "1");
    REQUIRE((*r)[3].has_value());
    CHECK((*r)[3]->empty());
    REQUIRE((*r)[4].has_value());
    CHECK(engine::as_view(*(*r)[4]) == "1");
    const std::string_view one[] = {"a"};
    auto single = s.get_many(one);
    REQUIRE(single.ok());
    REQUIRE(single->size() == 1);
    CHECK(single->front().has_value());
    auto none = s.get_many({});
    REQUIRE(none.ok());
    CHECK(none->empty());
  }

  SECTION("list gives immediate children, sorted, directories once") {
    for (const char* k : {"a/b", "a/c/d", "a/c/e/f", "a/c0", "a/c.", "a/d/", "b", "a0", "a.x"}) {
      put(s, k, "x");
    }
    CHECK(list(s, "") == Strings{"a.x", "a/", "a0", "b"});
    CHECK(list(s, "a/") == Strings{"b", "c.", "c/", "c0", "d/"});
    CHECK(list(s, "a/c/") == Strings{"d", "e/"});
    CHECK(list(s, "a/c/e/") == Strings{"f"});
    CHECK(list(s, "zzz/").empty());
    CHECK(list(s, "a/b/").empty());  // a leaf is not a directory
  }

  SECTION("list limit stops early, counting directories once") {
    for (int i = 0; i < 50; ++i) put(s, "d/sub/" + std::to_string(i), "x");
    put(s, "d/leaf", "x");
    put(s, "d/z", "x");
    CHECK(list(s, "d/", 1) == Strings{"leaf"});
    CHECK(list(s, "d/", 2) == Strings{"leaf", "sub/"});
    CHECK(list(s, "d/", 3) == Strings{"leaf", "sub/", "z"});
    CHECK(list(s, "d/", 100) == Strings{"leaf", "sub/", "z"});
    CHECK(list(s, "d/sub/", 0).size() == 50);
  }

  SECTION("a prefix is a byte prefix, not a path component") {
    put(s, "ab/x", "1");
    put(s, "a/x", "2");
    put(s, "a", "3");
    CHECK(list(s, "a/") == Strings{"x"});
    REQUIRE(s.del_prefix("a/").ok());
    CHECK_FALSE(has(s, "a/x"));
    CHECK(has(s, "a"));
    CHECK(has(s, "ab/x"));
  }

  SECTION("delete prefix removes exactly the subtree") {
    for (const char* k : {"p/1", "p/2/3", "p/2/4/5", "p", "p0", "p.", "q/1", "o/1"}) put(s, k, "x");
    REQUIRE(s.del_prefix("p/").ok());
    CHECK(list(s, "p/").empty());
    for (const char* k : {"p", "p0", "p.", "q/1", "o/1"}) CHECK(has(s, k));
  }

  SECTION("delete prefix ending in 0xFF bytes") {
    put(s, "x\xff", "1");
    put(s, "x\xff\xff/a", "2");
    put(s, "y", "3");
    put(s, "x\xfe", "4");
    REQUIRE(s.del_prefix("x\xff").ok());
    CHECK_FALSE(has(s, "x\xff"));
    CHECK_FALSE(has(s, "x\xff\xff/a"));
    CHECK(has(s, "y"));
    CHECK(has(s, "x\xfe"));
  }

  SECTION("atomic batch applies every op in order") {
    put(s, "old/1", "x");
    put(s, "old/2", "x");
    put(s, "keep", "x");
    std::vector<WriteOp> batch;
    batch.push_back({WriteOp::Kind::DeletePrefix, "old/", {}});
    batch.push_back({WriteOp::Kind::Put, "new/1", bytes("a")});
    batch.push_back({WriteOp::Kind::Put, "new/2", bytes("b")});
    batch.push_back({WriteOp::Kind::Put, "new/1", bytes("c")});  // later op wins
    batch.push_back({WriteOp::Kind::Delete, "new/2", {}});
    batch.push_back({WriteOp::Kind::Put, "old/3", bytes("d")});  // after the prefix delete
    REQUIRE(s.apply(batch).ok());
    CHECK(list(s, "old/") == Strings{"3"});
    CHECK(value_at(s, "new/1") == "c");
    CHECK_FALSE(has(s, "new/2"));
    CHECK(has(s, "keep"));
    CHECK(s.apply({}).ok());  // an empty batch is a no-op
  }

  SECTION("concurrent readers see whole values while a writer runs") {
    put(s, "c/k", std::string(1000, 'a'));
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::atomic<long> reads{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t) {
      readers.emplace_back([&] {
        while (!stop.load()) {
          // Not a spin: on a small loaded machine four spinning readers
          // starve the writer and a mirror's feed thread, and a mirror
          // that cannot read its feed for 5 s rightly stops serving.
          std::this_thread::sleep_for(std::chrono::microseconds(20));
          auto r = s.get("c/k");
          if (!r.ok() || !r->has_value()) {
            ++bad;
            continue;
          }
          const auto& v = **r;
          // Every write puts a uniform value: a mix would be a torn read.
          if (v.size() != 1000 || std::count(v.begin(), v.end(), v.front()) != 1000) ++bad;
          auto l = s.list("c/");
          if (!l.ok() || l->empty() || l->front() != "k") ++bad;
          ++reads;
        }
      });
    }
    for (int i = 0; i < 200; ++i) {
      std::vector<WriteOp> batch;
      batch.push_back({WriteOp::Kind::Put, "c/k", engine::SecureBytes(1000, 'a' + i % 26)});
      batch.push_back({WriteOp::Kind::Put, "c/n" + std::to_string(i), bytes("x")});
      REQUIRE(s.apply(batch).ok());
    }
    while (reads.load() < 100) std::this_thread::yield();
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(bad.load() == 0);
    CHECK(list(s, "c/").size() == 201);
  }
}

}  // namespace conformance
