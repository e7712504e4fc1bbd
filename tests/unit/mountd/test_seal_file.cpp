// SPDX-License-Identifier: MPL-2.0
// Auto-unseal from a key file: the seal "file" stanza, the path under
// $CREDENTIALS_DIRECTORY, the file's text, what a file must be to be read
// (owner, mode, size, kind), the shares checked against a real SQLite store,
// and `cofferd unseal-file`. No message may show a share.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/crypto/sodium.hpp"
#include "engine/seal/seal.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "mountd/config.hpp"
#include "mountd/seal_file.hpp"
#include "tests/unit/mountd/store_support.hpp"

using engine::ErrorCode;
using engine::SecureString;

namespace {

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::vector<SecureString> secure(const std::vector<std::string>& v) {
  std::vector<SecureString> out;
  for (const auto& s : v) out.push_back(engine::to_secure(s));
  return out;
}

std::string read_error(const std::string& path) {
  auto r = mountd::read_seal_file(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::InvalidArgument);
  return r.error().message;
}

engine::Status check_on(const std::string& db, const std::vector<std::string>& shares) {
  auto storage = engine::SqliteStorage::open(db);
  REQUIRE(storage.ok());
  const auto s = secure(shares);
  return engine::check_unseal_shares(**storage, s);
}

}  // namespace

TEST_CASE("seal-file: the stanza in the config file", "[seal-file]") {
  auto c = mountd::parse_config(R"(
storage "sqlite" { path = "/var/lib/coffer/coffer.db" }
seal "file" { path = "coffer-unseal" }
mount "/run/coffer" { }
)",
                                "coffer.hcl");
  REQUIRE(c.ok());
  CHECK(c->seal_file == "coffer-unseal");
  auto none = mountd::parse_config("storage \"sqlite\" { path = \"/x\" }\nmount \"/m\" { }\n", "coffer.hcl");
  REQUIRE(none.ok());
  CHECK(none->seal_file.empty());

  auto error_of = [](const std::string& seal) {
    auto r = mountd::parse_config("storage \"sqlite\" { path = \"/x\" }\nmount \"/m\" { }\n" + seal, "coffer.hcl");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK_THAT(error_of("seal \"transit\" { address = \"x\" }\n"),
             Catch::Contains("coffer.hcl:3: seal \"transit\" is not supported (only \"file\")"));
  CHECK_THAT(error_of("seal \"file\" { }\n"), Catch::Contains("coffer.hcl:3: seal \"file\" needs path"));
  CHECK_THAT(error_of("seal \"file\" { path = \"\" }\n"), Catch::Contains("is empty"));
  CHECK_THAT(error_of("seal \"file\" { path = 3 }\n"), Catch::Contains("must be a string"));
  CHECK_THAT(error_of("seal \"file\" { path = \"a\" key = \"b\" }\n"),
             Catch::Contains("unknown key \"key\" in seal \"file\" (known: path)"));
  CHECK_THAT(error_of("seal \"file\" { path = \"a\" }\nseal \"file\" { path = \"b\" }\n"),
             Catch::Contains("coffer.hcl:4: a second seal block (the first is on line 3)"));
}

TEST_CASE("seal-file: a relative path is under $CREDENTIALS_DIRECTORY", "[seal-file]") {
  CHECK(mountd::seal_file_path("/etc/coffer/unseal", nullptr).value() == "/etc/coffer/unseal");
  CHECK(mountd::seal_file_path("/etc/coffer/unseal", "/run/credentials/cofferd.service").value() ==
        "/etc/coffer/unseal");
  CHECK(mountd::seal_file_path("coffer-unseal", "/run/credentials/cofferd.service/").value() ==
        "/run/credentials/cofferd.service/coffer-unseal");
  auto unset = mountd::seal_file_path("coffer-unseal", nullptr);
  REQUIRE_FALSE(unset.ok());
  CHECK_THAT(unset.error().message, Catch::Contains("$CREDENTIALS_DIRECTORY") && Catch::Contains("not set"));
  CHECK_FALSE(mountd::seal_file_path("coffer-unseal", "").ok());
  CHECK_FALSE(mountd::seal_file_path("coffer-unseal", "relative/dir").ok());
  CHECK_THAT(mountd::seal_file_path("../etc/shadow", "/run/credentials/x").error().message, Catch::Contains(".."));
  CHECK_FALSE(mountd::seal_file_path("a/../../b", "/run/credentials/x").ok());
  CHECK_FALSE(mountd::seal_file_path("", "/run/credentials/x").ok());
}

TEST_CASE("seal-file: the shares in the file's text", "[seal-file]") {
  const std::string a(66, 'a'), b(66, 'b');
  auto lines = mountd::parse_seal_shares("# coffer unseal shares\n" + a + "\r\n\n  " + b + "  \n");
  REQUIRE(lines.ok());
  REQUIRE(lines->size() == 2);
  CHECK(engine::as_view((*lines)[0]) == a);
  CHECK(engine::as_view((*lines)[1]) == b);

  auto json = mountd::parse_seal_shares(R"({"keys":[")" + a + R"(",")" + b +
                                        R"("],"keys_base64":["x"],"root_token":"hvs.x"})");
  REQUIRE(json.ok());
  CHECK(json->size() == 2);
  auto b64 = mountd::parse_seal_shares(R"({"keys_base64":["qqqq","u7u7"]})");
  REQUIRE(b64.ok());
  CHECK(engine::as_view((*b64)[1]) == "u7u7");

  auto error_of = [](const std::string& text) {
    auto r = mountd::parse_seal_shares(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().message;
  };
  CHECK_THAT(error_of(""), Catch::Contains("holds no share"));
  CHECK_THAT(error_of("# only a comment\n\n"), Catch::Contains("holds no share"));
  const std::string bad = "not-a-share!" + a;
  const std::string invalid = error_of(a + "\n" + bad + "\n");
  CHECK_THAT(invalid, Catch::Contains("line 2 is not a hex or base64 unseal key share"));
  CHECK_THAT(invalid, !Catch::Contains(bad) && !Catch::Contains(a));
  const std::string repeated = error_of(a + "\n" + b + "\n" + a + "\n");
  CHECK_THAT(repeated, Catch::Contains("line 3 repeats an earlier share (share 1)"));
  CHECK_THAT(repeated, !Catch::Contains(a));
  CHECK_THAT(error_of(R"({"keys":"x"})"), Catch::Contains("no \"keys\""));
  CHECK_THAT(error_of(R"({"keys":[1]})"), Catch::Contains("keys[0] is not a string"));
  CHECK_THAT(error_of(R"({"keys":[)"), Catch::Contains("not a JSON object"));
  std::string many;
  for (int i = 0; i < 256; ++i) many += engine::crypto::to_hex(engine::bytes_of(std::to_string(1000 + i))) + "\n";
  CHECK_THAT(error_of(many), Catch::Contains("more than 255 shares"));
}

TEST_CASE("seal-file: what a key file must be to be read", "[seal-file]") {
  coffer_test::TempDir dir;
  const std::string share(66, 'c');
  const std::string file = dir / "unseal";
  write_file(file, share + "\n", 0600);
  auto ok = mountd::read_seal_file(file);
  REQUIRE(ok.ok());
  CHECK(ok->size() == 1);
  write_file(file, share + "\n", 0400);
  CHECK(mountd::read_seal_file(file).ok());

  for (mode_t mode : {0640, 0604, 0620, 0644, 0660}) {
    write_file(file, share + "\n", mode);
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
    const std::string e = read_error(file);
    CHECK_THAT(e, Catch::Contains("has mode " + std::string(text)) && Catch::Contains("chmod 0600"));
    CHECK_THAT(e, !Catch::Contains(share));
  }
  write_file(file, std::string(64 * 1024 + 1, '#'), 0600);
  CHECK_THAT(read_error(file), Catch::Contains("over 64 KiB"));
  write_file(file, std::string(64 * 1024, '#'), 0600);  // at the limit: read, and holds no share
  CHECK_THAT(read_error(file), Catch::Contains("holds no share"));

  write_file(file, share + "\n", 0600);
  const std::string link = dir / "link";
  REQUIRE(::symlink(file.c_str(), link.c_str()) == 0);
  CHECK_THAT(read_error(link), Catch::Contains("symbolic link"));
  CHECK_THAT(read_error(dir.path), Catch::Contains("not a regular file"));
  CHECK_THAT(read_error(dir / "missing"), Catch::Contains("cannot open") && Catch::Contains("No such file"));
  if (::geteuid() == 0) {
    REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
    CHECK_THAT(read_error(file), Catch::Contains("owned by uid 65534, not by cofferd's (0)"));
  }
}

TEST_CASE("seal-file: the shares are checked against the store", "[seal-file]") {
  coffer_test::TempDir dir;
  const std::string db = dir / "coffer.db";
  const auto made = coffer_test::make_store(db);
  CHECK(check_on(db, {made.keys[0], made.keys[1]}).ok());
  CHECK(check_on(db, {made.keys[2], made.keys_base64[0]}).ok());
  CHECK(check_on(db, made.keys).ok());

  auto error_of = [&](const std::vector<std::string>& shares) {
    engine::Status st = check_on(db, shares);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::InvalidArgument);
    for (const auto& k : made.keys) CHECK_THAT(st.error().message, !Catch::Contains(k));
    return st.error().message;
  };
  CHECK_THAT(error_of({made.keys[0]}), Catch::Contains("1 share(s) given; this store needs 2"));
  CHECK_THAT(error_of({made.keys[0], made.keys_base64[0]}), Catch::Contains("share 2 repeats share 1"));
  CHECK_THAT(error_of({made.keys[1], made.keys[1].substr(0, 64)}),
             Catch::Contains("share 2 is not hex or base64 of 33 bytes"));
  std::string wrong = made.keys[1];
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  CHECK_THAT(error_of({made.keys[0], wrong}), Catch::Contains("the shares do not open this store"));
  CHECK_THAT(error_of({made.keys[2], made.keys[0], wrong}), Catch::Contains("do not open this store"));
  CHECK_THAT(error_of({made.keys[1], made.keys[0], wrong}), Catch::Contains("share 3 repeats share 1 (the same x-coordinate)"));

  // A store of its own: the other's shares do not open it.
  const auto other = coffer_test::make_store(dir / "other.db");
  CHECK_THAT(error_of({other.keys[0], other.keys[1]}), Catch::Contains("do not open this store"));

  // Not initialised.
  {
    auto fresh = engine::SqliteStorage::open(dir / "fresh.db", engine::SqliteStorage::IfMissing::Create);
    REQUIRE(fresh.ok());
    const auto s = secure({made.keys[0], made.keys[1]});
    auto st = engine::check_unseal_shares(**fresh, s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.error().message, Catch::Contains("not initialised"));
  }

  // load_seal_file names the file.
  write_file(dir / "unseal", made.keys[0] + "\n", 0600);
  auto storage = engine::SqliteStorage::open(db);
  REQUIRE(storage.ok());
  auto loaded = mountd::load_seal_file(dir / "unseal", **storage);
  REQUIRE_FALSE(loaded.ok());
  CHECK_THAT(loaded.error().message, Catch::StartsWith("key file " + dir / "unseal" + ": 1 share(s) given"));
  write_file(dir / "unseal", made.keys[2] + "\n" + made.keys[0] + "\n", 0600);
  CHECK(mountd::load_seal_file(dir / "unseal", **storage).ok());
}

TEST_CASE("seal-file: write_seal_file makes a 0600 file read_seal_file takes", "[seal-file]") {
  coffer_test::TempDir dir;
  const std::string a(66, 'a'), b(66, 'b');
  const auto shares = secure({a, b});
  const std::string file = dir / "unseal";
  REQUIRE(mountd::write_seal_file(file, shares).ok());
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  auto back = mountd::read_seal_file(file);
  REQUIRE(back.ok());
  CHECK(*back == shares);
  // Replaces an existing file, leaving no temporary behind.
  REQUIRE(mountd::write_seal_file(file, secure({b})).ok());
  CHECK(mountd::read_seal_file(file)->size() == 1);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);
  CHECK(mountd::write_seal_file(dir / "no/such/dir/unseal", shares).error().code == ErrorCode::Storage);
}

TEST_CASE("seal-file: cofferd unseal-file", "[seal-file]") {
  coffer_test::TempDir dir;
  const std::string db = dir / "coffer.db";
  const auto made = coffer_test::make_store(db);
  const std::string file = dir / "unseal";
  auto run = [&](std::vector<std::string> args, const std::string& input, std::string* out, std::string* err) {
    std::istringstream in(input);
    std::ostringstream o, e;
    const int rc = mountd::run_unseal_file(args, in, o, e);
    *out = o.str();
    *err = e.str();
    return rc;
  };
  std::string out, err;
  // The saved sys/init answer on stdin.
  const std::string init_json = R"({"keys":[")" + made.keys[0] + R"(",")" + made.keys[1] + R"("]})";
  REQUIRE(run({"--storage", db, file}, init_json, &out, &err) == 0);
  CHECK_THAT(out, Catch::Contains("wrote 2 share(s) to " + file + " (mode 0600)"));
  CHECK_THAT(out, !Catch::Contains(made.keys[0]));
  {
    auto storage = engine::SqliteStorage::open(db);
    REQUIRE(storage.ok());
    CHECK(mountd::load_seal_file(file, **storage).ok());
  }
  // With a config file naming the store; typed shares.
  write_file(dir / "coffer.hcl", "storage \"sqlite\" { path = \"" + db + "\" }\nmount \"/m\" { }\n", 0600);
  REQUIRE(run({"--config=" + dir / "coffer.hcl", dir / "second"}, made.keys[2] + "\n" + made.keys[1] + "\n", &out,
              &err) == 0);

  // Refusals write nothing and show no share.
  CHECK(run({"--storage", db, dir / "x"}, made.keys[0] + "\n", &out, &err) == 1);
  CHECK_THAT(err, Catch::Contains("1 share(s) given; this store needs 2") && Catch::Contains("nothing written"));
  CHECK_THAT(err, !Catch::Contains(made.keys[0]));
  CHECK(run({"--storage", db, dir / "x"}, made.keys[0] + "\nzz\n", &out, &err) == 1);
  CHECK_THAT(err, Catch::Contains("stdin: line 2 is not a hex or base64"));
  CHECK(run({"--storage", dir / "missing.db", dir / "x"}, made.keys[0] + "\n" + made.keys[1], &out, &err) == 1);
  CHECK_THAT(err, Catch::Contains("cannot open the store"));
  {
    auto held = engine::SqliteStorage::open(db);  // as a running cofferd holds it
    REQUIRE(held.ok());
    CHECK(run({"--storage", db, dir / "x"}, made.keys[0] + "\n" + made.keys[1], &out, &err) == 1);
    CHECK_THAT(err, Catch::Contains("in use") && Catch::Contains("stop that cofferd first"));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "x"));

  CHECK(run({dir / "x"}, "", &out, &err) == 2);
  CHECK_THAT(err, Catch::Contains("one of --config FILE or --storage"));
  CHECK(run({"--storage", db, "--config", dir / "coffer.hcl", dir / "x"}, "", &out, &err) == 2);
  CHECK(run({"--storage", db}, "", &out, &err) == 2);
  CHECK_THAT(err, Catch::Contains("one output file"));
  CHECK(run({"--storage", db, "--bogus", dir / "x"}, "", &out, &err) == 2);
  CHECK(run({"--storage", "postgres://u:pw@h/db", dir / "x"}, "", &out, &err) == 2);
  CHECK_THAT(err, Catch::Contains("carries a password") && !Catch::Contains("pw@"));
}

TEST_CASE("seal-file: examples/coffer.hcl (a fleet host) is a valid config", "[seal-file]") {
  auto c = mountd::load_config(std::string(COFFER_SOURCE_DIR) + "/examples/coffer.hcl");
  REQUIRE(c.ok());
  CHECK(mountd::is_postgres_url(c->storage_path));
  CHECK(c->storage_table == "coffer");
  CHECK(c->seal_file == "coffer-unseal");
  CHECK(mountd::seal_file_path(c->seal_file, "/run/credentials/cofferd.service").value() ==
        "/run/credentials/cofferd.service/coffer-unseal");
}
