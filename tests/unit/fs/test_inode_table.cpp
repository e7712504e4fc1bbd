// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fs/inode_table.hpp"

using fsd::InodeTable;
using fsd::kRootIno;

TEST_CASE("inode table: the root is ino 1, path \"\", and never forgotten", "[inode_table]") {
  InodeTable t;
  CHECK(t.path_of(kRootIno) == std::string());
  t.forget(kRootIno, 1000);
  CHECK(t.path_of(kRootIno) == std::string());
  CHECK(t.size() == 1);
}

TEST_CASE("inode table: lookups count references, forget drops them", "[inode_table]") {
  InodeTable t;
  const auto a = t.lookup("secret/app/db");
  CHECK(a != kRootIno);
  CHECK(a != 0);
  CHECK(t.path_of(a) == std::string("secret/app/db"));
  CHECK(t.lookup("secret/app/db") == a);
  CHECK(t.lookup_count(a) == 2);

  t.forget(a, 1);
  CHECK(t.lookup_count(a) == 1);
  CHECK(t.path_of(a).has_value());

  t.forget(a, 1);
  CHECK(t.lookup_count(a) == 0);
  CHECK_FALSE(t.path_of(a).has_value());
  CHECK(t.size() == 1);
}

TEST_CASE("inode table: a forget larger than the count drops the entry", "[inode_table]") {
  InodeTable t;
  const auto a = t.lookup("x");
  t.forget(a, 5);
  CHECK_FALSE(t.path_of(a).has_value());
  t.forget(a, 1);  // unknown now: ignored
  t.forget(987654321, 1);
  CHECK(t.size() == 1);
}

TEST_CASE("inode table: numbers are stable per path across forgets", "[inode_table]") {
  InodeTable t;
  const auto a = t.lookup("education/edu-secret/app/db#password");
  t.forget(a, 1);
  CHECK(t.lookup("education/edu-secret/app/db#password") == a);
  CHECK(t.peek("education/edu-secret/app/db#password") == a);
  CHECK(InodeTable::hash_ino("p") == InodeTable::hash_ino("p"));
  CHECK(t.lookup("p") != t.lookup("q"));
}

TEST_CASE("inode table: peek takes no reference", "[inode_table]") {
  InodeTable t;
  const auto p = t.peek("a/b");
  CHECK_FALSE(t.path_of(p).has_value());
  CHECK(t.lookup("a/b") == p);
  CHECK(t.lookup_count(p) == 1);
}

TEST_CASE("inode table: distinct live paths never share a number", "[inode_table]") {
  InodeTable t;
  std::vector<fsd::Ino> inos;
  for (int i = 0; i < 2000; ++i) inos.push_back(t.lookup("dir/" + std::to_string(i)));
  std::sort(inos.begin(), inos.end());
  CHECK(std::adjacent_find(inos.begin(), inos.end()) == inos.end());
  CHECK(t.size() == 2001);
}

TEST_CASE("inode table: concurrent lookups and forgets balance out", "[inode_table]") {
  InodeTable t;
  constexpr int kThreads = 8;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  std::atomic<bool> mismatch{false};
  for (int n = 0; n < kThreads; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string path = "ns/kv/k" + std::to_string((i + n) % 17);
        const auto ino = t.lookup(path);
        if (t.path_of(ino) != path) mismatch = true;
        t.forget(ino, 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(mismatch);
  CHECK(t.size() == 1);  // every reference given back: only the root is left
}

TEST_CASE("inode table: lookup_unique gives every call its own inode", "[inode_table]") {
  InodeTable t;
  const auto shared = t.lookup("auth/userpass/login/bob");
  const auto u1 = t.lookup_unique("auth/userpass/login/bob");
  const auto u2 = t.lookup_unique("auth/userpass/login/bob");
  CHECK(u1 != u2);
  CHECK(u1 != shared);
  CHECK(u2 != shared);
  CHECK(t.path_of(u1) == std::string("auth/userpass/login/bob"));
  CHECK(t.path_of(u2) == std::string("auth/userpass/login/bob"));
  // Never handed out by lookup or peek, and forgetting one leaves the others.
  CHECK(t.lookup("auth/userpass/login/bob") == shared);
  CHECK(t.peek("auth/userpass/login/bob") == shared);
  t.forget(u1, 1);
  CHECK_FALSE(t.path_of(u1).has_value());
  CHECK(t.path_of(u2).has_value());
  CHECK(t.lookup("auth/userpass/login/bob") == shared);
  t.forget(u2, 1);
  t.forget(shared, 3);
  CHECK(t.size() == 1);
}

TEST_CASE("inode table: a rename moves the source's inode to the target's name", "[inode_table]") {
  InodeTable t;
  const auto src = t.lookup("secret/app/.tmp");
  const auto old_target = t.lookup("secret/app/db");
  t.rename("secret/app/.tmp", "secret/app/db");
  CHECK(t.path_of(src) == std::string("secret/app/db"));
  CHECK(t.lookup("secret/app/db") == src);  // what the kernel's entry names now
  CHECK(t.peek("secret/app/.tmp") != src);
  // The replaced inode lives on for whoever holds it, under the same path.
  CHECK(t.path_of(old_target) == std::string("secret/app/db"));
  t.forget(old_target, 1);
  CHECK_FALSE(t.path_of(old_target));
  CHECK(t.lookup("secret/app/db") == src);
  t.forget(src, 3);
  CHECK_FALSE(t.path_of(src));
  // A source the kernel holds no entry for: nothing to move.
  t.rename("secret/none", "secret/app/db");
  CHECK_FALSE(t.path_of(t.peek("secret/none")));
}

TEST_CASE("inode table: FORGET of every reference frees every entry", "[inode_table]") {
  // What a `find` over many secrets leaves behind once the kernel evicts its
  // dentries: nothing but the root.
  InodeTable t;
  std::vector<fsd::Ino> inos;
  for (int i = 0; i < 5000; ++i) {
    const std::string path = "ns" + std::to_string(i % 50) + "/kv/app/s" + std::to_string(i);
    inos.push_back(t.lookup(path));
    if (i % 3 == 0) t.lookup(path);  // a second reference (a revalidation)
  }
  CHECK(t.size() == 5001);
  for (std::size_t i = 0; i < inos.size(); ++i) t.forget(inos[i], i % 3 == 0 ? 2 : 1);
  CHECK(t.size() == 1);
  CHECK(t.displaced() == 0);
}

TEST_CASE("inode table: entries away from their own number are found by path and freed", "[inode_table]") {
  InodeTable t;
  const auto a = t.lookup("kv/a");
  CHECK(a == InodeTable::hash_ino("kv/a"));
  CHECK(t.displaced() == 0);
  t.rename("kv/a", "kv/b");  // a's number, b's path
  CHECK(t.displaced() == 1);
  CHECK(t.lookup("kv/b") == a);
  const auto a2 = t.lookup("kv/a");  // its own number is taken: the next one
  CHECK(a2 != a);
  CHECK(t.path_of(a2) == std::string("kv/a"));
  CHECK(t.displaced() == 2);
  CHECK(t.lookup("kv/a") == a2);
  CHECK(t.peek("kv/a") == a2);
  CHECK(t.lookup_count(a2) == 2);
  // Renamed back over the live kv/a: that one is replaced, the moved one is home again.
  t.rename("kv/b", "kv/a");
  CHECK(t.lookup("kv/a") == a);
  CHECK(t.path_of(a2) == std::string("kv/a"));
  CHECK(t.displaced() == 0);
  t.forget(a2, 2);
  t.forget(a, 3);
  CHECK(t.size() == 1);
  CHECK(t.displaced() == 0);
}

TEST_CASE("inode table: peek_children gives what peek gives, child by child", "[inode_table]") {
  InodeTable t;
  const std::vector<std::string_view> names = {"a", "b", "c", "db", "x y"};
  const auto agrees = [&](std::string_view dir) {
    std::vector<fsd::Ino> got(names.size());
    t.peek_children(dir, names, got);
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string child = dir.empty() ? std::string(names[i]) : std::string(dir) + "/" + std::string(names[i]);
      INFO(child);
      CHECK(got[i] == t.peek(child));
    }
    return got;
  };
  // Nothing live: every child at its own number, the root's children too.
  const auto fresh = agrees("kv");
  CHECK(fresh[0] == InodeTable::hash_ino("kv/a"));
  CHECK(agrees("")[3] == InodeTable::hash_ino("db"));
  // Live at home; a parent that is a prefix of another's ("kv" and "kv/a").
  const auto b = t.lookup("kv/b");
  t.lookup("kv/a/c");
  CHECK(agrees("kv")[1] == b);
  agrees("kv/a");
  // kv/c's number taken by another path (a rename): kv/c is not at home.
  const auto c = t.lookup("kv/c");
  t.rename("kv/c", "kv/zz");  // kv/zz now lives at kv/c's number
  CHECK(t.path_of(c) == std::string("kv/zz"));
  CHECK(t.displaced() > 0);
  const auto moved = agrees("kv");
  CHECK(moved[2] != InodeTable::hash_ino("kv/c"));
  // A live child away from home is found where it is.
  const auto a = t.lookup("kv/a");
  t.rename("kv/a", "kv/q");
  const auto a2 = t.lookup("kv/a");
  CHECK(a2 != a);
  CHECK(agrees("kv")[0] == a2);
  // A unique entry at a child's number is not that child.
  t.forget(a2, 1);
  t.forget(a, 2);
  const auto u = t.lookup_unique("kv/db");
  CHECK(agrees("kv")[3] != u);
}
