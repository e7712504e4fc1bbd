// SPDX-License-Identifier: MPL-2.0
// What a config's mounts rely on at run time: token files re-read when they
// change (rotation), and which cached nodes a change makes stale.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "fs/invalidator.hpp"
#include "fs/token_file.hpp"

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/coffer-unit-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

void write_file(const std::string& path, const std::string& text) {
  ::umask(077);  // token files are private (a readable one is warned about)
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string str(const engine::SecureString& s) { return std::string(s.data(), s.size()); }

using Entries = std::vector<std::pair<fsd::Ino, std::string>>;

std::vector<std::string> paths(const Entries& e) {
  std::vector<std::string> out;
  for (const auto& [ino, p] : e) out.push_back(p);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("token file: read, trimmed, errors name the file", "[config][token_file]") {
  TempDir dir;
  const std::string f = dir.path + "/token";
  write_file(f, "hvs.abc\n\n");
  ::chmod(f.c_str(), 0600);
  auto t = fsd::read_token_file(f);
  REQUIRE(t.ok());
  CHECK(str(*t) == "hvs.abc");

  auto missing = fsd::read_token_file(dir.path + "/none");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "token file " + dir.path + "/none: No such file or directory");
  write_file(f, " \n");
  auto empty = fsd::read_token_file(f);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "token file " + f + " is empty");
  write_file(f, std::string(5000, 'a'));
  auto big = fsd::read_token_file(f);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message == "token file " + f + " is over 4 KiB");
  CHECK_FALSE(fsd::TokenFile::open(dir.path + "/none").ok());
}

TEST_CASE("token file: rotation in place and by rename; bad files keep the last token", "[config][token_file]") {
  TempDir dir;
  const std::string f = dir.path + "/token";
  write_file(f, "first\n");
  auto opened = fsd::TokenFile::open(f);
  REQUIRE(opened.ok());
  fsd::TokenFile& file = **opened;
  int changes = 0;
  file.on_change([&] { ++changes; });
  CHECK(str(file.current()) == "first");
  CHECK(changes == 0);

  write_file(f, "second-longer\n");  // rewritten in place (size differs)
  CHECK(str(file.current()) == "second-longer");
  CHECK(changes == 1);
  CHECK(str(file.current()) == "second-longer");
  CHECK(changes == 1);

  write_file(dir.path + "/token.new", "third\n");  // an agent's atomic rename
  REQUIRE(std::rename((dir.path + "/token.new").c_str(), f.c_str()) == 0);
  CHECK(str(file.current()) == "third");
  CHECK(changes == 2);

  write_file(f, "");  // emptied: refused, the last good token stays
  CHECK(str(file.current()) == "third");
  REQUIRE(std::remove(f.c_str()) == 0);  // gone: the same
  CHECK(str(file.current()) == "third");
  CHECK(changes == 2);
  write_file(f, "fourth\n");
  CHECK(str(file.current()) == "fourth");
  CHECK(changes == 3);
}

TEST_CASE("token file: changes beside it are seen at once, changes higher up within a second", "[config][token_file]") {
  // The file is stat'ed only when inotify reports something, or a second
  // after the last stat: each way an agent rotates a token must still be
  // seen by the very next call.
  TempDir dir;
  const std::string real = dir.path + "/v1";
  ::mkdir(real.c_str(), 0700);
  write_file(real + "/token", "one\n");
  // The layout Kubernetes projects: token -> data/token, data -> v1.
  REQUIRE(::symlink("v1", (dir.path + "/data").c_str()) == 0);
  const std::string f = dir.path + "/token";
  REQUIRE(::symlink("data/token", f.c_str()) == 0);
  auto opened = fsd::TokenFile::open(f);
  REQUIRE(opened.ok());
  fsd::TokenFile& file = **opened;
  CHECK(str(file.current()) == "one");

  // Written in place through another name for the same file (the watch is
  // on the file, wherever the symlinks lead).
  write_file(real + "/token", "two\n");
  CHECK(str(file.current()) == "two");
  // A new version beside it, and the data symlink swapped by a rename.
  const std::string v2 = dir.path + "/v2";
  ::mkdir(v2.c_str(), 0700);
  write_file(v2 + "/token", "three\n");
  REQUIRE(::symlink("v2", (dir.path + "/data.new").c_str()) == 0);
  REQUIRE(std::rename((dir.path + "/data.new").c_str(), (dir.path + "/data").c_str()) == 0);
  CHECK(str(file.current()) == "three");
  // The old version written again: not the file any more.
  write_file(real + "/token", "stale\n");
  CHECK(str(file.current()) == "three");
  // The new one written in place: its watch came with the swap.
  write_file(v2 + "/token", "four\n");
  CHECK(str(file.current()) == "four");

  // Higher up: the file is reached through a symlinked directory, and that
  // symlink is swapped in a directory nobody watches. Seen within a second.
  TempDir outer;
  REQUIRE(::symlink(dir.path.c_str(), (outer.path + "/link").c_str()) == 0);
  auto via = fsd::TokenFile::open(outer.path + "/link/v2/token");
  REQUIRE(via.ok());
  CHECK(str((*via)->current()) == "four");
  REQUIRE(std::remove((outer.path + "/link").c_str()) == 0);
  ::mkdir((outer.path + "/link").c_str(), 0700);
  ::mkdir((outer.path + "/link/v2").c_str(), 0700);
  write_file(outer.path + "/link/v2/token", "moved\n");
  bool seen = false;
  const auto start = std::chrono::steady_clock::now();
  while (!seen && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    seen = str((*via)->current()) == "moved";
    if (!seen) ::usleep(50'000);
  }
  CHECK(seen);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
}

TEST_CASE("invalidation: a secret's own files, within the mount's chroot", "[config][cache]") {
  const Entries live = {{1, ""},
                        {2, "secret"},
                        {3, "secret/app"},
                        {4, "secret/app/db"},
                        {5, "secret/app/db#password"},
                        {6, "secret/app/db@metadata"},
                        {7, "secret/app/db2"},
                        {8, "secret/app/dbx#password"},
                        {9, "secret/app/db@3#password"}};
  using C = engine::Change;
  const std::vector<std::string> family = {"secret/app/db", "secret/app/db#password", "secret/app/db@3#password",
                                           "secret/app/db@metadata"};
  CHECK(paths(fsd::Invalidator::affected(live, C{"secret/app/db", false}, "")) == family);
  CHECK(paths(fsd::Invalidator::affected(live, C{"secret/app/db@destroy", false}, "")) == family);
  CHECK(paths(fsd::Invalidator::affected(live, C{"secret/app/db#password", false}, "")) == family);
  CHECK(paths(fsd::Invalidator::affected(live, C{"secret/app/none", false}, "")).empty());

  // A mount chrooted to usa-hq sees usa-hq/secret/app/db as secret/app/db,
  // and nothing of other namespaces.
  CHECK(paths(fsd::Invalidator::affected(live, C{"usa-hq/secret/app/db", false}, "usa-hq")) == family);
  CHECK(paths(fsd::Invalidator::affected(live, C{"secret/app/db", false}, "usa-hq")).empty());
  CHECK(paths(fsd::Invalidator::affected(live, C{"usa-hq-2/secret/app/db", false}, "usa-hq")).empty());

  // Everything: every node but the root (which cannot go away).
  CHECK(fsd::Invalidator::affected(live, C{{}, true}, "").size() == live.size() - 1);
  CHECK(fsd::Invalidator::affected(live, C{{}, true}, "usa-hq").size() == live.size() - 1);

  // The folders above it, whose kept listings may gain or lose the name
  // (not the root, invalidated on its own; not a folder of a like name).
  const std::vector<std::string> above = {"secret", "secret/app"};
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"secret/app/db", false}, "")) == above);
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"secret/app/db#password", false}, "")) == above);
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"secret/app/new", false}, "")) == above);
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"usa-hq/secret/app/db", false}, "usa-hq")) == above);
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"secret/app/db", false}, "usa-hq")).empty());
  CHECK(paths(fsd::Invalidator::folders_above(live, C{"secret/apple/x", false}, "")) ==
        std::vector<std::string>{"secret"});
  CHECK(fsd::Invalidator::folders_above(live, C{{}, true}, "").empty());
}
