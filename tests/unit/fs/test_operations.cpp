// SPDX-License-Identifier: MPL-2.0
// The compute halves of the fs operations (fs/operations.hpp), driven with a
// dev core and a FileView and no FUSE mount: given a request's inputs, the
// entry, attributes, listing, bytes or errno they answer. Also the session
// file (fs/session_file.hpp) through them, and the login lines
// (fs/login_lines.hpp).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "fs/login_lines.hpp"
#include "fs/operations.hpp"
#include "fs/session_file.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using fsd::Filesystem;
using fsd::Ino;
using fsd::TokenSource;
using fsd::Who;

namespace {

fsd::FsSettings owned_settings() {
  fsd::FsSettings s;
  s.uid = 1234;
  s.gid = 5678;
  return s;
}

Who root_who(const DevCore& d, uid_t uid = 1000) { return Who{d.root, uid, TokenSource::Env}; }

struct Listed {
  std::string name;
  fuse_entry_param e;
  off_t next;
};

// The entries do_readdir hands over, accepting at most limit of them.
std::vector<Listed> readdir_all(Filesystem& fs, const engine::Caller& caller, Ino ino, fsd::DirHandle& dir, off_t off,
                                bool plus, std::size_t limit = 1000) {
  std::vector<Listed> out;
  const Filesystem::DirSink add = [&](const char* name, const fuse_entry_param& e, off_t next) {
    if (out.size() >= limit) return false;
    out.push_back(Listed{name, e, next});
    return true;
  };
  REQUIRE(fs.do_readdir(caller, ino, dir, off, plus, add) == 0);
  return out;
}

std::vector<std::string> names(const std::vector<Listed>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

// Opens path with flags as who; REQUIREs success.
std::unique_ptr<fsd::Handle> open_as(Filesystem& fs, const Who& who, const std::string& path, int flags,
                                     fuse_file_info& fi) {
  fi = fuse_file_info{};
  fi.flags = flags;
  std::unique_ptr<fsd::Handle> h;
  REQUIRE(fs.do_open(who, fs.inodes().lookup(path), fi, h) == 0);
  REQUIRE(h);
  return h;
}

// Everything a read of h returns from offset 0 on, in chunks of 4 bytes.
std::string read_all(Filesystem& fs, fsd::Handle& h) {
  auto lock = h.lock();
  std::string all;
  for (off_t off = 0;; off += 4) {
    std::string_view out;
    REQUIRE(fs.do_read(h, 4, off, out) == 0);
    if (out.empty()) break;
    all.append(out);
  }
  return all;
}

}  // namespace

TEST_CASE("operations: lookup answers an entry with the mount's owner and no caching", "[operations]") {
  DevCore d;
  d.put("secret/app", "v=1");
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Ino secret = fs.inodes().lookup("secret");

  fuse_entry_param e{};
  REQUIRE(fs.do_lookup(d.root, secret, "app", e) == 0);
  CHECK(e.ino == fs.inodes().peek("secret/app"));
  CHECK(fs.inodes().lookup_count(e.ino) == 1);  // the reference the reply hands the kernel
  CHECK(e.attr.st_ino == e.ino);
  CHECK(S_ISREG(e.attr.st_mode));
  CHECK((e.attr.st_mode & 07777) == 0640);
  CHECK(e.attr.st_uid == 1234);
  CHECK(e.attr.st_gid == 5678);
  CHECK(e.attr.st_size == static_cast<off_t>(d.cat("secret/app").size()));
  CHECK(e.entry_timeout == 0.0);
  CHECK(e.attr_timeout == 0.0);

  fuse_entry_param dir{};
  REQUIRE(fs.do_lookup(d.root, fsd::kRootIno, "secret", dir) == 0);
  CHECK(S_ISDIR(dir.attr.st_mode));
  CHECK((dir.attr.st_mode & 07777) == 0750);
  CHECK(dir.attr.st_nlink == 2);

  fuse_entry_param none{};
  CHECK(fs.do_lookup(d.root, secret, "absent", none) == ENOENT);
  CHECK(fs.do_lookup(d.root, secret, ".", none) == EINVAL);
  CHECK(fs.do_lookup(d.root, secret, "..", none) == EINVAL);
  CHECK(fs.do_lookup(d.root, secret, "a/b", none) == EINVAL);
  CHECK(fs.do_lookup(d.root, secret, std::string(256, 'x').c_str(), none) == ENAMETOOLONG);
  CHECK(fs.do_lookup(d.root, 0xdead, "app", none) == ESTALE);
  // Without a token the engine tells nothing.
  CHECK(fs.do_lookup(engine::Caller{}, secret, "app", none) == EACCES);
}

TEST_CASE("operations: on an inotify mount a file's recorded size goes with its last reference", "[operations]") {
  DevCore d;
  d.put("secret/app", "v=1");
  d.put("secret/other", "v=22");
  fsd::FsSettings settings = owned_settings();
  settings.inotify = true;
  Filesystem fs(*d.files, settings, engine::SecureString{});
  const Ino secret = fs.inodes().lookup("secret");
  fuse_entry_param e{};
  REQUIRE(fs.do_lookup(d.root, secret, "app", e) == 0);
  CHECK(fs.told_sizes() == 1);
  fuse_entry_param again{};
  REQUIRE(fs.do_lookup(d.root, secret, "app", again) == 0);  // two references now
  REQUIRE(again.ino == e.ino);
  fs.forget(e.ino, 1);
  CHECK(fs.told_sizes() == 1);  // one is still held
  fs.forget(e.ino, 1);
  CHECK(fs.told_sizes() == 0);
  CHECK(fs.inodes().lookup_count(e.ino) == 0);
  // Looked up again: told again.
  REQUIRE(fs.do_lookup(d.root, secret, "app", e) == 0);
  CHECK(fs.told_sizes() == 1);
  // A getattr of an inode nobody holds records nothing.
  struct stat st {};
  (void)fs.do_getattr(d.root, fs.inodes().peek("secret/other"), st, nullptr);
  CHECK(fs.told_sizes() == 1);
  // A FORGET of more than is held, or of an unknown inode, is harmless.
  fs.forget(e.ino, 5);
  fs.forget(0xdead, 1);
  CHECK(fs.told_sizes() == 0);
  // A READDIRPLUS entry the kernel holds no reference to (a caller who may
  // list the folder but not read the secrets: ino 0) records nothing.
  d.put("sys/policies/acl/lister", "path \"secret/metadata/*\" { capabilities = [\"list\"] }");
  const engine::Caller lister{engine::to_secure(make_token(d, R"({"policies":["lister"]})"))};
  std::unique_ptr<fsd::DirHandle> dir;
  REQUIRE(fs.do_opendir(lister, secret, dir) == 0);
  const auto plus = readdir_all(fs, lister, secret, *dir, 0, /*plus=*/true);
  REQUIRE(names(plus) == std::vector<std::string>{".", "..", "app", "other"});
  CHECK(plus[2].e.ino == 0);
  CHECK(fs.told_sizes() == 0);
}

TEST_CASE("operations: getattr of the root is a directory even to a caller with no token", "[operations]") {
  DevCore d;
  d.put("secret/app", "v=1");
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  struct stat st {};
  REQUIRE(fs.do_getattr(engine::Caller{}, fsd::kRootIno, st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(st.st_ino == fsd::kRootIno);

  const Ino app = fs.inodes().lookup("secret/app");
  REQUIRE(fs.do_getattr(d.root, app, st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(st.st_ino == app);
  CHECK(st.st_size == static_cast<off_t>(d.cat("secret/app").size()));
  CHECK(st.st_uid == 1234);
  CHECK(fs.do_getattr(engine::Caller{}, app, st) == EACCES);
  CHECK(fs.do_getattr(d.root, 0xdead, st) == ESTALE);

  // setattr: size 0 and times are accepted (answering getattr), other sizes
  // and owners are not.
  struct stat attr {};
  CHECK(fs.do_setattr(d.root, app, attr, FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME, st) == 0);
  CHECK(S_ISREG(st.st_mode));
  attr.st_size = 3;
  CHECK(fs.do_setattr(d.root, app, attr, FUSE_SET_ATTR_SIZE, st) == EINVAL);
  attr.st_size = 0;
  attr.st_uid = 1;
  CHECK(fs.do_setattr(d.root, app, attr, FUSE_SET_ATTR_UID, st) == EPERM);
}

TEST_CASE("operations: readdir pages through the listing taken at opendir", "[operations]") {
  DevCore d;
  d.put("secret/a", "v=1");
  d.put("secret/b", "v=2");
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Ino secret = fs.inodes().lookup("secret");

  std::unique_ptr<fsd::DirHandle> dir;
  CHECK(fs.do_opendir(engine::Caller{}, secret, dir) == EACCES);
  REQUIRE(fs.do_opendir(d.root, secret, dir) == 0);
  REQUIRE(dir);
  CHECK(dir->path == "secret");

  // Plain READDIR: names, attributes, offsets that resume after each entry,
  // and no lookup references.
  const auto all = readdir_all(fs, engine::Caller{}, secret, *dir, 0, /*plus=*/false);
  REQUIRE(names(all) == std::vector<std::string>{".", "..", "a", "b"});
  CHECK(all[0].e.attr.st_ino == secret);
  CHECK(all[1].e.attr.st_ino == fsd::kRootIno);
  CHECK(S_ISDIR(all[0].e.attr.st_mode));
  CHECK(S_ISREG(all[2].e.attr.st_mode));
  CHECK(all[2].e.ino == 0);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].next == static_cast<off_t>(i + 1));
  CHECK(fs.inodes().lookup_count(fs.inodes().peek("secret/a")) == 0);

  // Resumed at an entry's offset, and stopped where the sink is full.
  CHECK(names(readdir_all(fs, engine::Caller{}, secret, *dir, all[2].next, false)) == std::vector<std::string>{"b"});
  CHECK(names(readdir_all(fs, engine::Caller{}, secret, *dir, 0, false, 3)) ==
        std::vector<std::string>{".", "..", "a"});
  // The listing stays what opendir saw.
  d.put("secret/c", "v=3");
  CHECK(readdir_all(fs, engine::Caller{}, secret, *dir, 0, false).size() == 4);

  // READDIRPLUS: each entry stat'ed as the caller, with a reference; an
  // entry the sink refused takes none.
  const auto plus = readdir_all(fs, d.root, secret, *dir, 0, /*plus=*/true, 3);
  REQUIRE(names(plus) == std::vector<std::string>{".", "..", "a"});
  CHECK(plus[2].e.ino != 0);
  CHECK(plus[2].e.attr.st_size == static_cast<off_t>(d.cat("secret/a").size()));
  CHECK(fs.inodes().lookup_count(plus[2].e.ino) == 1);
  CHECK(fs.inodes().lookup_count(fs.inodes().peek("secret/b")) == 0);
  // A caller the engine tells nothing still sees the names, unreferenced.
  const auto anon = readdir_all(fs, engine::Caller{}, secret, *dir, 2, /*plus=*/true);
  REQUIRE(names(anon) == std::vector<std::string>{"a", "b"});
  CHECK(anon[1].e.ino == 0);
}

TEST_CASE("operations: open, read, write, flush and release of a secret", "[operations]") {
  DevCore d;
  d.put("secret/app", "v=1");
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Who who = root_who(d);

  SECTION("a read-only open serves one snapshot, direct I/O, with no flush") {
    fuse_file_info fi{};
    auto h = open_as(fs, who, "secret/app", O_RDONLY, fi);
    CHECK(fi.direct_io == 1);
    CHECK(fi.keep_cache == 0);
    CHECK(fi.noflush == 1);
    const std::string before = d.cat("secret/app");
    {
      auto lock = h->lock();
      std::string_view out;
      REQUIRE(fs.do_read(*h, 4, 0, out) == 0);  // the snapshot is taken here
    }
    d.put("secret/app", "v=changed");
    CHECK(read_all(fs, *h) == before);
    fs.do_release(std::move(h));
  }

  SECTION("a write is applied at flush, and reads then return its reply") {
    fuse_file_info fi{};
    auto h = open_as(fs, who, "secret/app", O_WRONLY | O_TRUNC, fi);
    CHECK(fi.direct_io == 1);
    CHECK(fi.noflush == 0);
    {
      auto lock = h->lock();
      REQUIRE(fs.do_write(*h, "v=2\n") == 0);
      REQUIRE(fs.do_flush(*h) == 0);
      CHECK_FALSE(h->has_pending());
      CHECK(h->has_written());
    }
    CHECK(d.cat("secret/app").find("\"2\"") != std::string::npos);
    CHECK(read_all(fs, *h) == std::string(h->reply_text()));
    fs.do_release(std::move(h));
  }

  SECTION("a write the engine refuses fails, and leaves the secret as it was") {
    const std::string t = make_token(d, R"({"policies":["default"]})");
    fuse_file_info fi{};
    auto h = open_as(fs, Who{as(t), 1000, TokenSource::Env}, "secret/app", O_WRONLY, fi);
    const std::string before = d.cat("secret/app");
    {
      auto lock = h->lock();
      int err = fs.do_write(*h, "v=2\n");
      if (err == 0) err = fs.do_flush(*h);
      CHECK(err == EACCES);
    }
    CHECK(d.cat("secret/app") == before);
    fs.do_release(std::move(h));
  }

  SECTION("exec opens are refused before anything else") {
    fuse_file_info fi{};
    fi.flags = O_RDONLY | 0x20;  // __FMODE_EXEC
    std::unique_ptr<fsd::Handle> h;
    CHECK(fs.do_open(who, fs.inodes().lookup("secret/app"), fi, h) == EACCES);
    CHECK_FALSE(h);
    CHECK(fs.do_open(who, 0xdead, fi, h) == ESTALE);
  }
}

TEST_CASE("operations: a created name exists for its open handles only until written", "[operations]") {
  DevCore d;
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Who who = root_who(d);
  const Ino secret = fs.inodes().lookup("secret");

  fuse_file_info fi{};
  fi.flags = O_WRONLY | O_CREAT;
  std::unique_ptr<fsd::Handle> h;
  fuse_entry_param e{};
  REQUIRE(fs.do_create(who, secret, "new", fi, h, e) == 0);
  CHECK(fi.direct_io == 1);
  CHECK(h->created_ino() == e.ino);
  CHECK(S_ISREG(e.attr.st_mode));
  CHECK(e.attr.st_size == 0);

  struct stat st {};
  CHECK(fs.do_getattr(d.root, e.ino, st) == 0);  // touch, cp's fstat
  CHECK(fs.do_access(d.root, e.ino, W_OK) == 0);
  fs.do_release(std::move(h));
  CHECK(fs.do_getattr(d.root, e.ino, st) == ENOENT);  // a lone touch leaves nothing
  CHECK(d.cat_error("secret/new") == engine::ErrorCode::NotFound);
}

TEST_CASE("operations: access checks the caller's ACL and refuses X_OK on files", "[operations]") {
  DevCore d;
  d.put("secret/app", "v=1");
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Ino app = fs.inodes().lookup("secret/app");
  CHECK(fs.do_access(d.root, app, R_OK | W_OK) == 0);
  CHECK(fs.do_access(d.root, app, X_OK) == EACCES);
  CHECK(fs.do_access(d.root, fs.inodes().lookup("secret"), X_OK) == 0);
  CHECK(fs.do_access(engine::Caller{}, fsd::kRootIno, R_OK | X_OK) == 0);  // the way to unseal
  const std::string t = make_token(d, R"({"policies":["default"]})");
  CHECK(fs.do_access(as(t), app, R_OK) == EACCES);
}

TEST_CASE("session file: a file of its own that the engine never sees", "[operations][sessions]") {
  DevCore d;
  Filesystem fs(*d.files, owned_settings(), engine::SecureString{});
  const Ino auth_token = fs.inodes().lookup("auth/token");
  CHECK(fsd::SessionFile::is("auth/token/session"));
  CHECK_FALSE(fsd::SessionFile::is("ns1/auth/token/session"));

  // lookup and getattr: an empty file, even for a caller with no token.
  fuse_entry_param e{};
  REQUIRE(fs.do_lookup(engine::Caller{}, auth_token, "session", e) == 0);
  CHECK(e.ino == fs.inodes().peek("auth/token/session"));
  CHECK(S_ISREG(e.attr.st_mode));
  CHECK(e.attr.st_size == 0);
  CHECK(e.attr.st_uid == 1234);
  struct stat st {};
  REQUIRE(fs.do_getattr(engine::Caller{}, e.ino, st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(st.st_size == 0);
  CHECK(fs.do_access(engine::Caller{}, e.ino, R_OK | W_OK) == 0);
  CHECK(fs.do_access(engine::Caller{}, e.ino, X_OK) == EACCES);

  Who anon = fs.callers().who(0, 1000, fsd::ReadsEnv::No);
  REQUIRE(anon.source == TokenSource::None);

  SECTION("read-only opens read nothing") {
    fuse_file_info fi{};
    auto h = open_as(fs, anon, "auth/token/session", O_RDONLY, fi);
    CHECK(fi.direct_io == 1);
    CHECK(fi.noflush == 1);
    CHECK(read_all(fs, *h).empty());
    fs.do_release(std::move(h));
  }

  SECTION("a line with a live token binds it at once; a blank write ends it") {
    const std::string t = make_token(d, "{}");
    fuse_file_info fi{};
    auto h = open_as(fs, anon, "auth/token/session", O_WRONLY, fi);
    CHECK(fi.noflush == 0);
    {
      auto lock = h->lock();
      REQUIRE(fs.do_write(*h, t.substr(0, 4)) == 0);  // not a line yet
      CHECK(h->has_pending());
      CHECK_FALSE(fs.callers().session_of(1000));
      REQUIRE(fs.do_write(*h, t.substr(4) + "\n") == 0);
      CHECK_FALSE(h->has_pending());
    }
    CHECK(fs.callers().session_of(1000) == engine::to_secure(t));
    CHECK(read_all(fs, *h).empty());  // the outcome of the write: no reply text
    fs.do_release(std::move(h));

    auto blank = open_as(fs, anon, "auth/token/session", O_WRONLY | O_TRUNC, fi);
    {
      auto lock = blank->lock();
      REQUIRE(fs.do_write(*blank, "\n") == 0);  // echo > session
    }
    fs.do_release(std::move(blank));
    CHECK_FALSE(fs.callers().session_of(1000));
  }

  SECTION("two words are refused, and the reply says why") {
    fuse_file_info fi{};
    auto h = open_as(fs, anon, "auth/token/session", O_WRONLY, fi);
    {
      auto lock = h->lock();
      CHECK(fs.do_write(*h, "a b\n") == EINVAL);
    }
    CHECK_FALSE(read_all(fs, *h).empty());
    CHECK_FALSE(fs.callers().session_of(1000));
    fs.do_release(std::move(h));
  }

  SECTION("create makes no created-name entry, and rm ends the session") {
    const std::string t = make_token(d, "{}");
    fs.callers().bind_session(1000, engine::to_secure(t));
    fuse_file_info fi{};
    fi.flags = O_WRONLY | O_CREAT;
    std::unique_ptr<fsd::Handle> h;
    fuse_entry_param ce{};
    REQUIRE(fs.do_create(anon, auth_token, "session", fi, h, ce) == 0);
    CHECK(ce.ino == e.ino);
    CHECK(h->created_ino() == 0);
    CHECK(fi.direct_io == 1);
    fs.do_release(std::move(h));
    CHECK(fs.do_unlink(anon, auth_token, "session") == 0);
    CHECK_FALSE(fs.callers().session_of(1000));
  }
}

TEST_CASE("login lines: one uid's logins run in order on one thread; others are not held", "[operations]") {
  fsd::LoginLines lines;
  std::vector<std::string> ran;
  // A login of uid 1 that, while it runs, sees two more of uid 1 queued and
  // one of uid 2 run at once.
  const auto admit = lines.run(1, [&](bool queued) {
    CHECK_FALSE(queued);
    ran.push_back("1a");
    CHECK(lines.run(1, [&](bool q) {
      CHECK(q);
      ran.push_back("1b");
    }) == fsd::LoginLines::Admit::Queued);
    CHECK(lines.run(1, [&](bool q) {
      CHECK(q);
      ran.push_back("1c");
    }) == fsd::LoginLines::Admit::Queued);
    CHECK(lines.waiting(1) == 2);
    CHECK(lines.run(2, [&](bool q) {
      CHECK_FALSE(q);
      ran.push_back("2a");
    }) == fsd::LoginLines::Admit::Ran);
  });
  CHECK(admit == fsd::LoginLines::Admit::Ran);
  CHECK(ran == std::vector<std::string>{"1a", "2a", "1b", "1c"});
  CHECK(lines.waiting(1) == 0);

  // Past kMaxQueued waiting logins, the next is not run.
  std::size_t queued_ran = 0;
  lines.run(3, [&](bool) {
    for (std::size_t i = 0; i < fsd::LoginLines::kMaxQueued; ++i) {
      REQUIRE(lines.run(3, [&](bool) { ++queued_ran; }) == fsd::LoginLines::Admit::Queued);
    }
    CHECK(lines.run(3, [&](bool) { FAIL("a login past the limit ran"); }) == fsd::LoginLines::Admit::Full);
  });
  CHECK(queued_ran == fsd::LoginLines::kMaxQueued);
}
