// SPDX-License-Identifier: MPL-2.0
// cofferd's config file: what it accepts, and that every rejection names the
// file and the line.
#include <catch2/catch.hpp>

#include <string>

#include "mountd/config.hpp"

using mountd::Config;
using mountd::parse_config;

namespace {

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "coffer.hcl");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
  return r.error().message;
}

bool starts(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("config: a full file", "[config]") {
  auto c = parse_config(R"(
# Coffer server
storage "sqlite" {
  path = "/var/lib/coffer/coffer.db"
}

mount "/run/coffer" {
  allow_other = true
}

mount "/run/coffer-hq/" {
  chroot_namespace = "/usa-hq/"
}

mount "/run/app/secrets" {
  chroot_namespace = "usa-hq/team_1"
  token_file       = "/etc/app/token"
  cache            = true
  read_only        = true
}

administrative_namespace_path = "admin"
log_level = "debug"
disable_mlock = true
)",
                        "coffer.hcl");
  REQUIRE(c.ok());
  CHECK(c->file == "coffer.hcl");
  CHECK(c->storage_path == "/var/lib/coffer/coffer.db");
  REQUIRE(c->mounts.size() == 3);
  CHECK(c->mounts[0].mountpoint == "/run/coffer");
  CHECK(c->mounts[0].allow_other);
  CHECK(c->mounts[0].chroot_namespace.empty());
  CHECK(c->mounts[0].token_file.empty());
  CHECK_FALSE(c->mounts[0].cache);
  CHECK(c->mounts[0].line == 7);
  CHECK(c->mounts[1].mountpoint == "/run/coffer-hq");
  CHECK(c->mounts[1].chroot_namespace == "usa-hq");
  CHECK_FALSE(c->mounts[1].allow_other);
  CHECK(c->mounts[2].chroot_namespace == "usa-hq/team_1");
  CHECK(c->mounts[2].token_file == "/etc/app/token");
  CHECK(c->mounts[2].cache);
  CHECK(c->mounts[2].read_only);
  CHECK_FALSE(c->mounts[1].read_only);
  CHECK(c->administrative_namespace_path == "admin/");
  CHECK(c->log_level == fsd::LogLevel::Debug);
  CHECK(c->disable_mlock);
}

TEST_CASE("config: defaults", "[config]") {
  auto c = parse_config("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE(c.ok());
  CHECK(c->log_level == fsd::LogLevel::Info);
  CHECK_FALSE(c->disable_mlock);
  CHECK(c->administrative_namespace_path.empty());
  REQUIRE(c->mounts.size() == 1);
  CHECK_FALSE(c->mounts[0].allow_other);
  CHECK_FALSE(c->mounts[0].cache);
}

TEST_CASE("config: storage \"postgresql\" with Vault's connection_url and an optional table", "[config]") {
  auto c = parse_config(
      "storage \"postgresql\" {\n  connection_url = "
      "\"postgres://coffer@db1,db2/coffer?target_session_attrs=read-write\"\n"
      "  table = \"fleet\"\n}\nmount \"/m\" {}\n",
      "c.hcl");
  REQUIRE(c.ok());
  CHECK(c->storage_path == "postgres://coffer@db1,db2/coffer?target_session_attrs=read-write");
  CHECK(c->storage_table == "fleet");
  CHECK(starts(error_of("storage \"postgresql\" { path = \"x\" }\nmount \"/m\" {}\n"),
               "coffer.hcl:1: unknown key \"path\" in storage \"postgresql\" (known: connection_url, table, init)"));
  CHECK(starts(error_of("storage \"postgresql\" {}\nmount \"/m\" {}\n"),
               "coffer.hcl:1: storage \"postgresql\" needs connection_url"));
  CHECK(starts(error_of("storage \"postgresql\" { connection_url = \"host=db\" }\nmount \"/m\" {}\n"),
               "coffer.hcl:1: connection_url in storage \"postgresql\" must start with postgres://"));
  CHECK(starts(error_of("storage \"sqlite\" { path = \"postgres://db/x\" }\nmount \"/m\" {}\n"),
               "coffer.hcl:1: storage \"sqlite\" was given a PostgreSQL URL"));
}

TEST_CASE("config: the JSON form", "[config]") {
  auto c = parse_config(R"({
  "storage": {"sqlite": {"path": "c.db"}},
  "mount": {"/a": {"allow_other": true}, "/b": {"chroot_namespace": "usa-hq"}},
  "log_level": "warn"
})",
                        "c.json");
  REQUIRE(c.ok());
  CHECK(c->storage_path == "c.db");
  REQUIRE(c->mounts.size() == 2);
  CHECK(c->mounts[0].allow_other);
  CHECK(c->mounts[1].chroot_namespace == "usa-hq");
  CHECK(c->log_level == fsd::LogLevel::Warn);
}

TEST_CASE("config: Vault's string booleans", "[config]") {
  auto c = parse_config(
      "storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" { allow_other = \"true\" }\n"
      "disable_mlock = \"false\"\n",
      "c.hcl");
  REQUIRE(c.ok());
  CHECK(c->mounts[0].allow_other);
  CHECK_FALSE(c->disable_mlock);
}

TEST_CASE("config: every rejection names the line", "[config]") {
  const std::string storage = "storage \"sqlite\" { path = \"c.db\" }\n";  // line 1

  SECTION("syntax error") {
    const auto e = error_of(storage + "mount \"/m\" {\n  allow_other = \n}\n");
    CHECK(starts(e, "coffer.hcl:4:"));
  }
  SECTION("unknown top-level key") {
    const auto e = error_of(storage + "mount \"/m\" {}\nlisten = \"x\"\n");
    CHECK(starts(e, "coffer.hcl:3: unknown key \"listen\""));
  }
  SECTION("unknown key in a mount") {
    const auto e = error_of(storage + "mount \"/m\" {\n  allow_other = true\n  chroot = \"x\"\n}\n");
    CHECK(starts(e, "coffer.hcl:4: unknown key \"chroot\" in mount \"/m\""));
  }
  SECTION("unknown key in storage") {
    const auto e = error_of("storage \"sqlite\" {\n  path = \"c.db\"\n  node_id = \"a\"\n}\nmount \"/m\" {}\n");
    CHECK(starts(e, "coffer.hcl:3: unknown key \"node_id\" in storage"));
  }
  SECTION("unsupported storage") {
    const auto e = error_of("storage \"raft\" { path = \"x\" }\nmount \"/m\" {}\n");
    CHECK(starts(e, "coffer.hcl:1: storage \"raft\" is not supported"));
  }
  SECTION("storage without path") {
    CHECK(starts(error_of("storage \"sqlite\" {}\nmount \"/m\" {}\n"), "coffer.hcl:1: storage \"sqlite\" needs path"));
  }
  SECTION("two storage blocks") {
    const auto e = error_of(storage + "storage \"sqlite\" { path = \"d.db\" }\nmount \"/m\" {}\n");
    CHECK(starts(e, "coffer.hcl:2: a second storage block (the first is on line 1)"));
  }
  SECTION("duplicate mount paths (trailing slash ignored)") {
    const auto e = error_of(storage + "mount \"/m\" {}\n\nmount \"/m/\" { allow_other = true }\n");
    CHECK(starts(e, "coffer.hcl:4: mount \"/m\" is declared twice (also on line 2)"));
  }
  SECTION("relative mountpoint") {
    CHECK(starts(error_of(storage + "mount \"run/m\" {}\n"),
                 "coffer.hcl:2: mount \"run/m\": the label must be an absolute path"));
  }
  SECTION("mount without a label") {
    CHECK(starts(error_of(storage + "mount {\n allow_other = true\n}\n"), "coffer.hcl:3: mount needs a label"));
  }
  SECTION("wrong types") {
    CHECK(starts(error_of(storage + "mount \"/m\" {\n  allow_other = 1\n}\n"),
                 "coffer.hcl:3: \"allow_other\" in mount \"/m\" must be true or false"));
    CHECK(starts(error_of(storage + "mount \"/m\" {\n  token_file = true\n}\n"),
                 "coffer.hcl:3: \"token_file\" in mount \"/m\" must be a string, not a bool"));
    CHECK(starts(error_of(storage + "mount \"/m\" {}\ndisable_mlock = \"yes\"\n"),
                 "coffer.hcl:3: \"disable_mlock\" must be true or false"));
  }
  SECTION("bad log level") {
    CHECK(starts(error_of(storage + "mount \"/m\" {}\nlog_level = \"loud\"\n"),
                 "coffer.hcl:3: \"log_level\" must be error, warn, info or debug, not \"loud\""));
  }
  SECTION("bad namespace paths") {
    CHECK(starts(error_of(storage + "mount \"/m\" { chroot_namespace = \"/\" }\n"),
                 "coffer.hcl:2: \"chroot_namespace\" in mount \"/m\" must name a namespace"));
    CHECK(starts(error_of(storage + "mount \"/m\" { chroot_namespace = \"a/../b\" }\n"),
                 "coffer.hcl:2: \"chroot_namespace\" in mount \"/m\": \"a/../b\" is not a namespace path"));
    CHECK(starts(error_of(storage + "mount \"/m\" {}\nadministrative_namespace_path = \"a//b\"\n"),
                 "coffer.hcl:3: \"administrative_namespace_path\": \"a//b\" is not a namespace path"));
  }
  SECTION("a key set twice") {
    CHECK(starts(error_of(storage + "mount \"/m\" {\n  allow_other = true\n  allow_other = false\n}\n"),
                 "coffer.hcl:4: \"allow_other\" in mount \"/m\" is set twice"));
    CHECK(starts(error_of(storage + "mount \"/m\" {}\nlog_level = \"info\"\nlog_level = \"debug\"\n"),
                 "coffer.hcl:4: \"log_level\" is set twice"));
  }
  SECTION("cache on a shared mount") {
    CHECK(starts(error_of(storage + "mount \"/m\" {\n  cache = true\n}\n"),
                 "coffer.hcl:2: mount \"/m\": cache = true needs token_file"));
  }
  SECTION("read_only with inotify") {
    CHECK(starts(error_of(storage + "mount \"/m\" {\n  read_only = true\n  inotify = true\n}\n"),
                 "coffer.hcl:2: mount \"/m\": read_only = true and inotify = true exclude each other"));
  }
  SECTION("empty token file") {
    CHECK(starts(error_of(storage + "mount \"/m\" { token_file = \"\" }\n"),
                 "coffer.hcl:2: \"token_file\" in mount \"/m\" is empty"));
  }
}

TEST_CASE("config: missing parts", "[config]") {
  CHECK(error_of("mount \"/m\" {}\n") == "coffer.hcl: no storage block (storage \"sqlite\" { path = \"...\" })");
  CHECK(error_of("storage \"sqlite\" { path = \"c.db\" }\n") ==
        "coffer.hcl: no mount block (mount \"/run/coffer\" { })");
  CHECK(starts(error_of(""), "coffer.hcl: no storage block"));
}

TEST_CASE("config: load_config reads a file or says it cannot", "[config]") {
  auto missing = mountd::load_config("/nonexistent/coffer.hcl");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "cannot read the config file /nonexistent/coffer.hcl");
}

TEST_CASE("config: Vault's user_lockout stanzas, filled as Vault fills them", "[config]") {
  const std::string head = "storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" {}\n";  // lines 1-2
  SECTION("none: no entries (Vault's defaults apply in the engine)") {
    auto c = parse_config(head, "c.hcl");
    REQUIRE(c.ok());
    CHECK(c->user_lockout.empty());
  }
  SECTION("all, and a type over all") {
    auto c = parse_config(head + R"(
user_lockout "all" {
  lockout_threshold = "25"
  lockout_duration = "10m"
  disable_lockout = "false"
}
user_lockout "userpass" {
  lockout_counter_reset = 30
}
)",
                          "c.hcl");
    REQUIRE(c.ok());
    REQUIRE(c->user_lockout.size() == 2);
    const auto& all = c->user_lockout.at("all");
    CHECK(all.threshold == 25);
    CHECK(all.duration == 600);
    CHECK(all.counter_reset == 900);  // Vault's default
    CHECK_FALSE(all.disable);
    const auto& up = c->user_lockout.at("userpass");
    CHECK(up.threshold == 25);  // from "all"
    CHECK(up.duration == 600);
    CHECK(up.counter_reset == 30);
  }
  SECTION("a type alone takes Vault's defaults for the rest") {
    auto c = parse_config(head + "user_lockout \"ldap\" { disable_lockout = true }\n", "c.hcl");
    REQUIRE(c.ok());
    CHECK(c->user_lockout.at("ldap").disable);
    CHECK(c->user_lockout.at("ldap").threshold == 5);
    CHECK(c->user_lockout.at("all").threshold == 5);
  }
  SECTION("rejections name the line") {
    CHECK(starts(error_of(head + "user_lockout \"token\" {}\n"),
                 "coffer.hcl:3: user_lockout \"token\": the label must be all, userpass, approle or ldap"));
    CHECK(starts(error_of(head + "user_lockout \"all\" {\n  lockout_counter_reset_duration = 3\n}\n"),
                 "coffer.hcl:4: unknown key \"lockout_counter_reset_duration\" in user_lockout \"all\""));
    CHECK(starts(error_of(head + "user_lockout \"all\" { lockout_threshold = \"many\" }\n"), "coffer.hcl:3:"));
    CHECK(starts(error_of(head + "user_lockout \"all\" { lockout_duration = \"soon\" }\n"), "coffer.hcl:3:"));
    CHECK(starts(error_of(head + "user_lockout \"all\" {}\nuser_lockout \"all\" {}\n"),
                 "coffer.hcl:4: user_lockout \"all\" is declared twice (also on line 3)"));
  }
}

TEST_CASE("config: storage init creates a missing store only when set", "[config]") {
  auto off = parse_config("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE(off.ok());
  CHECK_FALSE(off->storage_init);
  auto on = parse_config("storage \"sqlite\" {\n  path = \"c.db\"\n  init = true\n}\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE(on.ok());
  CHECK(on->storage_init);
  auto json =
      parse_config(R"({"storage": {"sqlite": {"path": "c.db", "init": "true"}}, "mount": {"/m": {}}})", "c.json");
  REQUIRE(json.ok());
  CHECK(json->storage_init);
  auto bad = parse_config("storage \"sqlite\" {\n  path = \"c.db\"\n  init = 1\n}\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "c.hcl:3: \"init\" in storage \"sqlite\" must be true or false");
  auto unknown =
      parse_config("storage \"sqlite\" {\n  path = \"c.db\"\n  create = true\n}\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "c.hcl:3: unknown key \"create\" in storage \"sqlite\" (known: path, init)");
}

TEST_CASE("config: peer_login names a peer auth method below the mount root", "[config][peer]") {
  auto c = parse_config("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" { peer_login = \"/ns/auth/peer/\" }\n",
                        "c.hcl");
  REQUIRE(c.ok());
  REQUIRE(c->mounts.size() == 1);
  CHECK(c->mounts[0].peer_login == "ns/auth/peer");
  auto plain = parse_config("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" {}\n", "c.hcl");
  REQUIRE(plain.ok());
  CHECK(plain->mounts[0].peer_login.empty());
  const std::string bad =
      error_of("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" { peer_login = \"ns/peer\" }\n");
  CHECK(starts(bad, "coffer.hcl:2"));
  CHECK(bad.find("peer_login") != std::string::npos);
  CHECK(error_of("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" { peer_login = \"auth/../x\" }\n")
            .find("peer_login") != std::string::npos);
}

TEST_CASE("config: uid, gid, file_mode and dir_mode per mount", "[config][modes]") {
  auto c = parse_config(
      "storage \"sqlite\" { path = \"c.db\" }\n"
      "mount \"/m\" {\n  uid = 1000\n  gid = \"1001\"\n  file_mode = \"0600\"\n  dir_mode = \"0700\"\n}\n"
      "mount \"/d\" {}\n",
      "c.hcl");
  REQUIRE(c.ok());
  REQUIRE(c->mounts.size() == 2);
  CHECK(*c->mounts[0].uid == 1000);
  CHECK(*c->mounts[0].gid == 1001);
  CHECK(c->mounts[0].file_mode == 0600);
  CHECK(c->mounts[0].dir_mode == 0700);
  CHECK_FALSE(c->mounts[1].uid);
  CHECK_FALSE(c->mounts[1].gid);
  CHECK(c->mounts[1].file_mode == 0640);
  CHECK(c->mounts[1].dir_mode == 0750);
  auto bad = [](const std::string& line) {
    return error_of("storage \"sqlite\" { path = \"c.db\" }\nmount \"/m\" {\n  " + line + "\n}\n");
  };
  const std::string exec = bad("file_mode = \"0755\"");
  CHECK(starts(exec, "coffer.hcl:3"));
  CHECK(exec.find("executable") != std::string::npos);
  CHECK(bad("file_mode = \"2640\"").find("setuid") != std::string::npos);
  CHECK(bad("dir_mode = \"4750\"").find("setuid") != std::string::npos);
  CHECK(bad("file_mode = 600").find("string of octal digits") != std::string::npos);
  CHECK(bad("dir_mode = \"9\"").find("octal") != std::string::npos);
  CHECK(starts(bad("uid = \"root\""), "coffer.hcl:3"));
  CHECK(bad("gid = -1").find("gid") != std::string::npos);
}
