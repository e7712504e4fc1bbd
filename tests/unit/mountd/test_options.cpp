// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mountd/options.hpp"

using mountd::Options;
using mountd::parse_options;

namespace {

engine::Result<Options> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "cofferd");
  return parse_options(args);
}

std::string error_of(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("options: --dev with defaults", "[options]") {
  auto o = parse({"--dev", "/tmp/m"});
  REQUIRE(o.ok());
  CHECK(o->mode == Options::Mode::Dev);
  CHECK(o->dev_root_token == "root");
  CHECK(o->mountpoint == "/tmp/m");
  CHECK_FALSE(o->allow_other);
  CHECK(o->log_level == fsd::LogLevel::Info);
  CHECK(o->token_file.empty());
}

TEST_CASE("options: --dev with a root token id, both spellings", "[options]") {
  auto a = parse({"--dev", "--dev-root-token-id", "s.abc", "/m"});
  REQUIRE(a.ok());
  CHECK(a->dev_root_token == "s.abc");
  auto b = parse({"--dev-root-token-id=s.xyz", "--dev", "/m/"});
  REQUIRE(b.ok());
  CHECK(b->dev_root_token == "s.xyz");
  CHECK(b->mountpoint == "/m");  // trailing slash dropped
}

TEST_CASE("options: --storage with everything", "[options]") {
  auto o = parse({"--storage", "coffer.db", "--chroot", "/usa-hq/", "--token-file", "/run/t", "--allow-other",
                  "--log-level=debug", "-f", "/run/coffer"});
  REQUIRE(o.ok());
  CHECK(o->mode == Options::Mode::Storage);
  CHECK(o->storage_path == "coffer.db");
  CHECK(o->chroot == "usa-hq");
  CHECK(o->token_file == "/run/t");
  CHECK(o->allow_other);
  CHECK(o->log_level == fsd::LogLevel::Debug);
  CHECK(o->mountpoint == "/run/coffer");
}

TEST_CASE("options: --storage takes a PostgreSQL URL, never one with a password", "[options]") {
  auto o = parse({"--storage", "postgresql://coffer@db:5432/coffer?sslmode=verify-full", "/m"});
  REQUIRE(o.ok());
  CHECK(o->storage_path == "postgresql://coffer@db:5432/coffer?sslmode=verify-full");
  for (const char* url : {"postgres://coffer:pw@db/coffer", "postgresql://db/coffer?password=pw&sslmode=require"}) {
    const std::string e = error_of({"--storage", url, "/m"});
    CHECK(e.find("carries a password") != std::string::npos);
    CHECK(e.find("pw") == std::string::npos);
  }
}

TEST_CASE("options: redacted_url hides every password", "[options]") {
  using mountd::redacted_url;
  CHECK(redacted_url("postgres://coffer:s3cret@db:5432/x") == "postgres://coffer:***@db:5432/x");
  CHECK(redacted_url("postgres://coffer@db/x") == "postgres://coffer@db/x");
  CHECK(redacted_url("postgres://db/x?user=a&password=s3cret&sslmode=require") ==
        "postgres://db/x?user=a&password=***&sslmode=require");
  CHECK(redacted_url("postgres://u:p@ss@db/x") == "postgres://u:***@db/x");
  CHECK(redacted_url("/var/lib/coffer/coffer.db") == "/var/lib/coffer/coffer.db");
  CHECK(mountd::is_postgres_url("postgresql://x"));
  CHECK_FALSE(mountd::is_postgres_url("coffer.db"));
}

TEST_CASE("options: --disable-mlock", "[options]") {
  auto o = parse({"--dev", "/m"});
  REQUIRE(o.ok());
  CHECK_FALSE(o->disable_mlock);
  auto d = parse({"--dev", "--disable-mlock", "/m"});
  REQUIRE(d.ok());
  CHECK(d->disable_mlock);
  CHECK(error_of({"--disable-mlock=yes", "--dev", "/m"}).find("takes no value") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--disable-mlock"}).find("--config takes every setting") != std::string::npos);
  CHECK(mountd::usage().find("--disable-mlock") != std::string::npos);
}

TEST_CASE("options: help and version need nothing else", "[options]") {
  auto h = parse({"--help"});
  REQUIRE(h.ok());
  CHECK(h->show_help);
  auto v = parse({"--version"});
  REQUIRE(v.ok());
  CHECK(v->show_version);
  CHECK(mountd::usage().find("--dev") != std::string::npos);
}

TEST_CASE("options: bad command lines are errors, never exits", "[options]") {
  CHECK(error_of({}).find("--dev or --storage") != std::string::npos);
  CHECK(error_of({"/m"}).find("--dev or --storage") != std::string::npos);
  CHECK(error_of({"--dev"}).find("mountpoint") != std::string::npos);
  CHECK(error_of({"--dev", "/a", "/b"}).find("one mountpoint") != std::string::npos);
  CHECK(error_of({"--dev", "--storage", "x.db", "/m"}).find("exclude") != std::string::npos);
  CHECK(error_of({"--storage"}).find("needs a value") != std::string::npos);
  CHECK(error_of({"--storage="}).find("needs a value") != std::string::npos);
  CHECK(error_of({"--dev", "--bogus", "/m"}).find("unknown option") != std::string::npos);
  CHECK(error_of({"--dev", "--log-level", "loud", "/m"}).find("--log-level") != std::string::npos);
  CHECK(error_of({"--storage", "x.db", "--dev-root-token-id", "r", "/m"}).find("needs --dev") != std::string::npos);
  CHECK(error_of({"--dev", "--allow-other=yes", "/m"}).find("takes no value") != std::string::npos);
  CHECK(error_of({"--storage", "x.db", "--chroot", "/", "/m"}).find("--chroot") != std::string::npos);
}

TEST_CASE("options: --config takes everything from the file", "[options]") {
  auto o = parse({"--config", "coffer.hcl"});
  REQUIRE(o.ok());
  CHECK(o->mode == Options::Mode::Config);
  CHECK(o->config_path == "coffer.hcl");
  auto f = parse({"-f", "--config=/etc/coffer/coffer.hcl"});
  REQUIRE(f.ok());
  CHECK(f->config_path == "/etc/coffer/coffer.hcl");

  CHECK(error_of({"--config", "c.hcl", "/m"}).find("no mountpoint") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--dev"}).find("--config") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--storage", "x.db"}).find("--config") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--allow-other"}).find("--config") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--log-level", "debug"}).find("--config") != std::string::npos);
  CHECK(error_of({"--config"}).find("needs a value") != std::string::npos);
}

TEST_CASE("options: --cache needs --token-file", "[options]") {
  auto o = parse({"--storage", "x.db", "--token-file", "t", "--cache", "/m"});
  REQUIRE(o.ok());
  CHECK(o->cache);
  CHECK(error_of({"--storage", "x.db", "--cache", "/m"}).find("--cache needs --token-file") != std::string::npos);
}

TEST_CASE("options: --read-only", "[options]") {
  auto o = parse({"--storage", "x.db", "--token-file", "t", "--cache", "--read-only", "/m"});
  REQUIRE(o.ok());
  CHECK(o->read_only);
  CHECK_FALSE(parse({"--dev", "/m"})->read_only);
  CHECK(error_of({"--dev", "--read-only", "--inotify", "/m"}).find("exclude each other") != std::string::npos);
}

TEST_CASE("options: -- ends options", "[options]") {
  auto o = parse({"--dev", "--", "-weird-dir"});
  REQUIRE(o.ok());
  CHECK(o->mountpoint == "-weird-dir");
}

TEST_CASE("options: --init creates a missing store, with --storage or --config only", "[options]") {
  auto plain = parse({"--storage", "c.db", "/m"});
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->init);  // a missing store is an error unless asked for
  auto s = parse({"--storage", "c.db", "--init", "/m"});
  REQUIRE(s.ok());
  CHECK(s->init);
  auto c = parse({"--init", "-f", "--config", "c.hcl"});
  REQUIRE(c.ok());
  CHECK(c->mode == Options::Mode::Config);
  CHECK(c->init);
  CHECK(error_of({"--dev", "--init", "/m"}) == "--init needs --storage or --config (--dev keeps nothing)");
  CHECK(error_of({"--init=yes", "--storage", "c.db", "/m"}) == "--init takes no value");
  CHECK(error_of({"--init", "/m"}) == "one of --dev or --storage FILE is needed");
}

TEST_CASE("options: --peer-login takes an auth method's path", "[options][peer]") {
  auto o = parse({"--dev", "--peer-login", "ns/auth/peer", "/m"});
  REQUIRE(o.ok());
  CHECK(o->peer_login == "ns/auth/peer");
  auto eq = parse({"--dev", "--peer-login=/auth/peer/", "/m"});
  REQUIRE(eq.ok());
  CHECK(eq->peer_login == "auth/peer");
  CHECK(parse({"--dev", "/m"})->peer_login.empty());
  CHECK(error_of({"--dev", "--peer-login", "secret/x", "/m"}).find("--peer-login") != std::string::npos);
  CHECK(error_of({"--dev", "--peer-login", "auth", "/m"}).find("--peer-login") != std::string::npos);
  CHECK(error_of({"--dev", "--peer-login", "", "/m"}).find("--peer-login") != std::string::npos);
  CHECK(mountd::usage().find("--peer-login") != std::string::npos);
}

TEST_CASE("options: --uid, --gid, --file-mode, --dir-mode set owner and modes", "[options][modes]") {
  auto d = parse({"--dev", "/m"});
  REQUIRE(d.ok());
  CHECK_FALSE(d->uid);
  CHECK_FALSE(d->gid);
  CHECK(d->file_mode == 0640);
  CHECK(d->dir_mode == 0750);
  auto o = parse({"--dev", "--uid", "1000", "--gid=1001", "--file-mode", "0600", "--dir-mode=700", "/m"});
  REQUIRE(o.ok());
  CHECK(*o->uid == 1000);
  CHECK(*o->gid == 1001);
  CHECK(o->file_mode == 0600);
  CHECK(o->dir_mode == 0700);
  // Nothing is executable; no setuid, setgid or sticky bit; octal only.
  CHECK(error_of({"--dev", "--file-mode", "0750", "/m"}).find("executable") != std::string::npos);
  CHECK(error_of({"--dev", "--file-mode", "0100", "/m"}).find("executable") != std::string::npos);
  CHECK(error_of({"--dev", "--file-mode", "4600", "/m"}).find("setuid") != std::string::npos);
  CHECK(error_of({"--dev", "--dir-mode", "1777", "/m"}).find("setuid") != std::string::npos);
  CHECK(error_of({"--dev", "--dir-mode", "0800", "/m"}).find("octal") != std::string::npos);
  CHECK(error_of({"--dev", "--file-mode", "rw", "/m"}).find("octal") != std::string::npos);
  CHECK(error_of({"--dev", "--file-mode", "0000600", "/m"}).find("octal") != std::string::npos);
  CHECK(error_of({"--dev", "--uid", "alice", "/m"}).find("uid must be a number") != std::string::npos);
  CHECK(error_of({"--dev", "--uid", "-1", "/m"}).find("uid") != std::string::npos);
  CHECK(error_of({"--dev", "--gid", "4294967295", "/m"}).find("out of range") != std::string::npos);
  CHECK(error_of({"--config", "c.hcl", "--file-mode", "0600"}).find("--config") != std::string::npos);
  CHECK(mountd::usage().find("--file-mode") != std::string::npos);
}
