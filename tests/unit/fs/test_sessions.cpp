// SPDX-License-Identifier: MPL-2.0
// Per-uid sessions through the fs layer (SPEC §3), without a mount: a login
// written through a handle binds its token to the writer's uid; revoke-self
// ends it; the session file binds a live token and refuses others; a handle
// keeps its opener's token and stops at once when that token is revoked.
#include <catch2/catch.hpp>

#include <fcntl.h>

#include "fs/operations.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::Operation;
using fsd::Filesystem;
using fsd::TokenSource;
using fsd::Who;

namespace {

// Opens path as who, writes body (a whole request), returns the write's errno.
int write_as(Filesystem& fs, const Who& who, const std::string& path, std::string_view body) {
  fuse_file_info fi{};
  fi.flags = O_RDWR;
  std::unique_ptr<fsd::Handle> h;
  const fsd::Ino ino = fs.inodes().lookup(path);
  if (int err = fs.do_open(who, ino, fi, h)) return err;
  auto lock = h->lock();
  int err = fs.do_write(*h, body);
  if (err == 0) err = fs.do_flush(*h);
  lock.unlock();
  fs.do_release(std::move(h));
  return err;
}

Who uid_caller(Filesystem& fs, uid_t uid) { return fs.callers().who(0, uid, fsd::ReadsEnv::No); }

}  // namespace

TEST_CASE("sessions: a login through the fs binds the uid; revoke-self ends it", "[sessions]") {
  DevCore d;
  REQUIRE(api(d, "root", Operation::Update, "sys/auth/userpass", engine::Json{{"type", "userpass"}}).ok());
  REQUIRE(api(d, "root", Operation::Update, "auth/userpass/users/bob",
              engine::Json{{"password", "pw"}, {"token_policies", "default"}})
              .ok());
  fsd::FsSettings settings;  // no fallback token: callers without one are anonymous
  Filesystem fs(*d.files, settings, engine::SecureString{});

  Who anon = uid_caller(fs, 1000);
  REQUIRE(anon.source == TokenSource::None);
  // A wrong password binds nothing.
  CHECK(write_as(fs, anon, "auth/userpass/login/bob", "password=wrong\n") == EINVAL);
  CHECK_FALSE(fs.callers().session_of(1000));
  // The login binds the issued token to uid 1000 only.
  REQUIRE(write_as(fs, anon, "auth/userpass/login/bob", "password=pw\n") == 0);
  Who bob = uid_caller(fs, 1000);
  REQUIRE(bob.source == TokenSource::Session);
  CHECK(uid_caller(fs, 1001).source == TokenSource::None);
  auto self = d.files->read(bob.caller, "auth/token/lookup-self");
  REQUIRE(self.ok());
  CHECK(reply(self.value())["display_name"] == "userpass-bob");

  // revoke-self through the session ends it (and the token).
  REQUIRE(write_as(fs, bob, "auth/token/revoke-self", "\n") == 0);
  CHECK_FALSE(fs.callers().session_of(1000));
  CHECK_FALSE(d.files->check_token(bob.caller).ok());
}

TEST_CASE("sessions: the session file takes live tokens only; rm ends it", "[sessions]") {
  DevCore d;
  const std::string t = make_token(d, "{}");
  Filesystem fs(*d.files, fsd::FsSettings{}, engine::SecureString{});
  Who anon = uid_caller(fs, 1000);
  CHECK(write_as(fs, anon, "auth/token/session", "not-a-token\n") == EACCES);
  CHECK_FALSE(fs.callers().session_of(1000));
  REQUIRE(write_as(fs, anon, "auth/token/session", t + "\n") == 0);
  CHECK(fs.callers().session_of(1000) == engine::to_secure(t));
  // A bad token later leaves the good session in place.
  CHECK(write_as(fs, anon, "auth/token/session", "hvs.bogus\n") == EACCES);
  CHECK(fs.callers().session_of(1000) == engine::to_secure(t));
  // The session is used, and ends when its token dies (noticed on a denial).
  Who s = uid_caller(fs, 1000);
  REQUIRE(s.source == TokenSource::Session);
  REQUIRE(api(d, "root", Operation::Update, "auth/token/revoke", engine::Json{{"token", t}}).ok());
  fs.note_denied(s, EACCES);
  CHECK_FALSE(fs.callers().session_of(1000));
  // rm of the session file.
  const std::string t2 = make_token(d, "{}");
  REQUIRE(write_as(fs, anon, "auth/token/session", t2 + "\n") == 0);
  CHECK(fs.do_unlink(anon, fs.inodes().lookup("auth/token"), "session") == 0);
  CHECK_FALSE(fs.callers().session_of(1000));
}

TEST_CASE("handles: an open file keeps its token and re-checks it on every read", "[sessions]") {
  DevCore d;
  d.put("secret/app", "v=1");
  REQUIRE(d.files
              ->write(d.root, "sys/policies/acl/app", "path \"secret/data/app\" {\n  capabilities = [\"read\"]\n}\n",
                      engine::WriteMode::Replace)
              .ok());
  const std::string t = make_token(d, R"({"policies":["app"]})");
  Filesystem fs(*d.files, fsd::FsSettings{}, engine::SecureString{});
  Who who{as(t), 1000, TokenSource::Env};
  fuse_file_info fi{};
  fi.flags = O_RDONLY;
  std::unique_ptr<fsd::Handle> h;
  REQUIRE(fs.do_open(who, fs.inodes().lookup("secret/app"), fi, h) == 0);
  auto lock = h->lock();
  std::string_view out;
  REQUIRE(fs.do_read(*h, 2, 0, out) == 0);
  CHECK(out == "{\n");
  REQUIRE(fs.do_read(*h, 2, 2, out) == 0);  // from the snapshot, token re-checked
  REQUIRE(api(d, "root", Operation::Update, "auth/token/revoke", engine::Json{{"token", t}}).ok());
  CHECK(fs.do_read(*h, 2, 4, out) == EACCES);
  lock.unlock();
  fs.do_release(std::move(h));
}
