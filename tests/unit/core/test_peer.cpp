// SPDX-License-Identifier: MPL-2.0
// The peer auth method (engine/auth/peer.hpp): cgroup and stat parsing,
// reading a process from a fake /proc tree (start-time checks, exe, units),
// role matching, role writes, and logins through Core::handle by this test
// process's own kernel credentials (lookup-self, role deletion revoking).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "engine/auth/peer.hpp"
#include "engine/auth/peer_process.hpp"
#include "tests/unit/base/temp_dir.hpp"
#include "tests/unit/core/support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Json;
using engine::Operation;
using engine::PeerCredentials;
using engine::auth::PeerProcess;
using engine::auth::PeerRoleEntry;

namespace {

std::string stat_line(std::string_view comm, std::uint64_t start) {
  std::string s = "4242 (" + std::string(comm) + ") S";
  for (int field = 4; field <= 52; ++field) s += " " + (field == 22 ? std::to_string(start) : std::to_string(field));
  return s + "\n";
}

// /proc/PID/status as the kernel writes it: real, effective, saved, fs ids.
std::string status_text(std::uint32_t fsuid, std::uint32_t fsgid) {
  return "Name:\tapp\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t0\t0\t0\t" + std::to_string(fsuid) +
         "\nGid:\t0\t0\t0\t" + std::to_string(fsgid) + "\nFDSize:\t64\n";
}

// A fake /proc/PID: stat with the start time, status acting as uid/gid,
// cgroup text, exe → target.
void fake_process(const testing::TempDir& proc, pid_t pid, std::uint64_t start, std::string_view cgroup,
                  const std::string& exe, std::uint32_t uid = 1000, std::uint32_t gid = 1001) {
  const std::string dir = proc.file(std::to_string(pid));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/stat") << stat_line("app", start);
  std::ofstream(dir + "/status") << status_text(uid, gid);
  std::ofstream(dir + "/cgroup") << cgroup;
  std::filesystem::create_symlink(exe, dir + "/exe");
}

std::string root_of(const testing::TempDir& proc) {
  std::string r = proc.file("");
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r;
}

std::uint64_t own_start_time() {
  std::ifstream f("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto t = engine::auth::proc_start_time(text);
  REQUIRE(t);
  return *t;
}

PeerCredentials own_credentials() {
  return PeerCredentials{static_cast<std::uint32_t>(::getuid()), static_cast<std::uint32_t>(::getgid()),
                         static_cast<std::int32_t>(::getpid()), own_start_time()};
}

std::string str(const Json& j) { return engine::to_plain(j.get_ref<const engine::SecureString&>()); }

engine::Result<engine::Response> call(DevCore& d, std::string_view token, Operation op, std::string path, Json body,
                                      std::optional<PeerCredentials> peer = std::nullopt) {
  engine::Request req;
  req.op = op;
  req.path = std::move(path);
  req.data = std::move(body);
  req.token = engine::to_secure(token);
  req.peer = peer;
  return d.core->handle(req);
}

Json ok(const engine::Result<engine::Response>& r) {
  if (!r.ok()) FAIL("request failed: " << r.error().message);
  return r.value().data;
}

}  // namespace

TEST_CASE("peer: cgroup files give the systemd path (v1 name=systemd first, else v2)", "[peer]") {
  using engine::auth::cgroup_path;
  CHECK(cgroup_path("0::/system.slice/nginx.service\n") == "/system.slice/nginx.service");
  CHECK(cgroup_path("12:memory:/system.slice/x.service\n1:name=systemd:/system.slice/nginx.service\n"
                    "0::/other\n") == "/system.slice/nginx.service");
  CHECK(cgroup_path("3:cpu,cpuacct:/a\n") == "");
  CHECK(cgroup_path("0::/weird:path\n") == "/weird:path");
  CHECK(cgroup_path("garbage\n0::relative\n") == "");
}

TEST_CASE("peer: units from cgroup paths: services, scopes, slices skipped", "[peer]") {
  using engine::auth::unit_of_cgroup;
  CHECK(unit_of_cgroup("/system.slice/nginx.service") == "nginx.service");
  CHECK(unit_of_cgroup("/system.slice/nginx.service/worker") == "nginx.service");
  CHECK(unit_of_cgroup("/system.slice/system-getty.slice/getty@tty1.service") == "getty@tty1.service");
  CHECK(unit_of_cgroup("/user.slice/user-1000.slice/session-3.scope") == "session-3.scope");
  CHECK(unit_of_cgroup("/init.scope") == "init.scope");
  CHECK(unit_of_cgroup("/system.slice") == "");
  CHECK(unit_of_cgroup("/docker/abc123") == "");
  CHECK(unit_of_cgroup("/") == "");
  CHECK(unit_of_cgroup("") == "");
}

TEST_CASE("peer: cgroup prefixes match whole segments", "[peer]") {
  using engine::auth::cgroup_under;
  CHECK(cgroup_under("/system.slice/nginx.service", "/system.slice"));
  CHECK(cgroup_under("/system.slice/nginx.service", "/system.slice/"));
  CHECK(cgroup_under("/system.slice", "/system.slice"));
  CHECK_FALSE(cgroup_under("/system.slicex/a", "/system.slice"));
  CHECK(cgroup_under("/anything", "/"));
  CHECK_FALSE(cgroup_under("", "/"));
}

TEST_CASE("peer: a process is read from /proc while its start time is the request's", "[peer]") {
  testing::TempDir proc;
  fake_process(proc, 77, 5000, "0::/system.slice/nginx.service\n", "/usr/sbin/nginx");
  const std::string root = root_of(proc);
  auto p = engine::auth::read_peer_process(root, PeerCredentials{1000, 1001, 77, 5000});
  REQUIRE(p.ok());
  CHECK(p->uid == 1000);
  CHECK(p->gid == 1001);
  CHECK(p->cgroup == "/system.slice/nginx.service");
  CHECK(p->unit == "nginx.service");
  CHECK(p->exe == "/usr/sbin/nginx");
  // Another start time: the pid is now someone else.
  auto reused = engine::auth::read_peer_process(root, PeerCredentials{1000, 1001, 77, 4999});
  REQUIRE_FALSE(reused.ok());
  CHECK(reused.error().code == ErrorCode::PermissionDenied);
  CHECK(reused.error().message.find("start time") != std::string::npos);
  // Gone, unknown pid, unknown start time.
  CHECK_FALSE(engine::auth::read_peer_process(root, PeerCredentials{1000, 1001, 78, 5000}).ok());
  CHECK_FALSE(engine::auth::read_peer_process(root, PeerCredentials{1000, 1001, 0, 5000}).ok());
  CHECK_FALSE(engine::auth::read_peer_process(root, PeerCredentials{1000, 1001, 77, 0}).ok());
  // A reused pid now acting as another uid or gid lends nothing.
  auto other_uid = engine::auth::read_peer_process(root, PeerCredentials{1002, 1001, 77, 5000});
  REQUIRE_FALSE(other_uid.ok());
  CHECK(other_uid.error().message.find("no longer acts as uid 1002") != std::string::npos);
  CHECK_FALSE(engine::auth::read_peer_process(root, PeerCredentials{1000, 7, 77, 5000}).ok());
  // A process with no cgroup file and no exe still reads (those bind nothing).
  std::filesystem::create_directories(proc.file("79"));
  std::ofstream(proc.file("79/stat")) << stat_line(") odd (name", 42);
  std::ofstream(proc.file("79/status")) << status_text(5, 6);
  auto bare = engine::auth::read_peer_process(root, PeerCredentials{5, 6, 79, 42});
  REQUIRE(bare.ok());
  CHECK(bare->cgroup.empty());
  CHECK(bare->unit.empty());
  CHECK(bare->exe.empty());
}

TEST_CASE("peer: a role matches when every binding it sets matches", "[peer]") {
  PeerProcess p;
  p.uid = 1000;
  p.gid = 100;
  p.cgroup = "/system.slice/nginx.service";
  p.unit = "nginx.service";
  p.exe = "/usr/sbin/nginx";
  PeerRoleEntry role;
  auto reason = [&] {
    auto s = engine::auth::peer_role_matches("web", role, p);
    return s.ok() ? std::string() : s.error().message;
  };
  CHECK(reason() == "role web binds nothing");
  role.bound_uids = {1000};
  CHECK(reason().empty());
  role.bound_uids = {1001, 1002};
  CHECK(reason() == "uid 1000 not in bound_uids of role web");
  role.bound_uids = {1000};
  role.bound_gids = {101};
  CHECK(reason() == "gid 100 not in bound_gids of role web");
  role.bound_gids = {100};
  role.bound_systemd_units = {"other.service"};
  CHECK(reason().find("not in bound_systemd_units") != std::string::npos);
  role.bound_systemd_units = {"nginx.service"};
  role.bound_cgroups = {"/user.slice"};
  CHECK(reason().find("not under bound_cgroups") != std::string::npos);
  role.bound_cgroups = {"/user.slice", "/system.slice"};
  role.bound_executables = {"/usr/bin/other"};
  CHECK(reason().find("not in bound_executables") != std::string::npos);
  role.bound_executables = {"/usr/sbin/nginx"};
  CHECK(reason().empty());
  // A process in no unit never matches a unit binding.
  p.unit.clear();
  CHECK(reason().find("not in bound_systemd_units") != std::string::npos);
}

TEST_CASE("peer: role writes check their bindings", "[peer]") {
  DevCore d;
  ok(call(d, "root", Operation::Update, "sys/auth/peer", Json{{"type", "peer"}}));
  auto write = [&](Json body) { return call(d, "root", Operation::Update, "auth/peer/role/web", std::move(body)); };
  auto message = [&](Json body) {
    auto r = write(std::move(body));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().message;
  };
  CHECK(message(Json::object()).find("at least one of bound_uids") != std::string::npos);
  CHECK(message(Json{{"bound_uids", "abc"}}).find("is not a uid") != std::string::npos);
  CHECK(message(Json{{"bound_uids", "-1"}}).find("is not a uid") != std::string::npos);
  CHECK(message(Json{{"bound_uids", "4294967295"}}).find("is not a uid") != std::string::npos);
  CHECK(message(Json{{"bound_uids", "1000"}, {"bogus", "x"}}).find("bogus") != std::string::npos);
  CHECK(message(Json{{"bound_cgroups", "system.slice"}}).find("absolute") != std::string::npos);
  CHECK(message(Json{{"bound_cgroups", "/a/../b"}}).find("canonical") != std::string::npos);
  CHECK(message(Json{{"bound_executables", "bin/sh"}}).find("absolute") != std::string::npos);
  CHECK(message(Json{{"bound_systemd_units", "nginx"}}).find("service or scope") != std::string::npos);
  // Under a world-writable directory an executable path proves nothing.
  testing::TempDir tmp;
  const std::string open_dir = tmp.file("open");
  std::filesystem::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 01777);
  std::ofstream(open_dir + "/app") << "#!/bin/sh\n";
  CHECK(message(Json{{"bound_executables", open_dir + "/app"}}).find("writable") != std::string::npos);

  ok(write(Json{{"bound_uids", Json::array({1000, "1001"})},
                {"bound_gids", "100, 101"},
                {"bound_systemd_units", "nginx.service"},
                {"bound_cgroups", "/system.slice/"},
                {"token_policies", "web"},
                {"token_ttl", "1h"}}));
  Json role = ok(call(d, "root", Operation::Read, "auth/peer/role/web", Json::object()));
  CHECK(role["bound_uids"] == Json::array({1000, 1001}));
  CHECK(role["bound_gids"] == Json::array({100, 101}));
  CHECK(role["bound_systemd_units"] == Json::array({"nginx.service"}));
  CHECK(role["bound_cgroups"] == Json::array({"/system.slice"}));
  CHECK(role["token_policies"] == Json::array({"web"}));
  CHECK(role["token_ttl"] == 3600);
  CHECK(ok(call(d, "root", Operation::List, "auth/peer/role/", Json::object()))["keys"] == Json::array({"web"}));
}

TEST_CASE("peer: a login by the kernel's word; lookup-self; a deleted role's tokens are revoked", "[peer]") {
  DevCore d;
  ok(call(d, "root", Operation::Update, "sys/auth/peer", Json{{"type", "peer"}}));
  const PeerCredentials me = own_credentials();
  const std::string uid = std::to_string(me.uid);
  ok(call(d, "root", Operation::Update, "auth/peer/role/other",
          Json{{"bound_uids", std::to_string(me.uid + 1)}, {"token_policies", "other"}}));
  ok(call(d, "root", Operation::Update, "auth/peer/role/web", Json{{"bound_uids", uid}, {"token_policies", "web"}}));

  // Without the kernel's word (not through FUSE) nobody logs in.
  auto none = call(d, "", Operation::Update, "auth/peer/login", Json::object());
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::PermissionDenied);
  CHECK(none.error().message.starts_with("no matching peer role"));

  // A named role that does not admit the caller: refused, with the reason.
  auto refused = call(d, "", Operation::Update, "auth/peer/login", Json{{"role", "other"}}, me);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::PermissionDenied);
  CHECK(refused.error().message == "no matching peer role: uid " + uid + " not in bound_uids of role other");
  // A stale start time: the pid is not the process that asked.
  PeerCredentials stale = me;
  stale.start_time += 1;
  CHECK_FALSE(call(d, "", Operation::Update, "auth/peer/login", Json::object(), stale).ok());

  // A bare login tries every role by name: "other" refuses, "web" admits.
  Json reply = ok(call(d, "", Operation::Update, "auth/peer/login", Json::object(), me));
  const std::string token = str(reply["auth"]["client_token"]);
  CHECK(reply["auth"]["policies"] == Json::array({"default", "web"}));
  CHECK(str(reply["auth"]["metadata"]["role"]) == "web");
  CHECK(str(reply["auth"]["metadata"]["uid"]) == uid);
  CHECK(str(reply["auth"]["metadata"]["gid"]) == std::to_string(me.gid));
  CHECK(reply["auth"]["metadata"].contains("exe"));
  CHECK(reply["auth"]["metadata"].contains("cgroup"));
  CHECK(reply["auth"]["metadata"].contains("unit"));
  Json self = ok(call(d, token, Operation::Read, "auth/token/lookup-self", Json::object()));
  CHECK(str(self["path"]) == "auth/peer/login");
  CHECK(str(self["meta"]["uid"]) == uid);
  CHECK(str(self["display_name"]) == "peer-web");

  // The entity alias: the role and the uid (the role binds no unit).
  Json alias = ok(call(d, "root", Operation::Read, "identity/entity/id/" + str(self["entity_id"]), Json::object()));
  REQUIRE(alias["aliases"].size() == 1);
  CHECK(str(alias["aliases"][0]["name"]) == "web:uid=" + uid);

  // Deleting the role revokes the tokens its logins made, and only those.
  ok(call(d, "root", Operation::Update, "auth/peer/role/keep", Json{{"bound_uids", uid}}));
  const std::string kept =
      str(ok(call(d, "", Operation::Update, "auth/peer/login", Json{{"role", "keep"}}, me))["auth"]["client_token"]);
  ok(call(d, "root", Operation::Delete, "auth/peer/role/web", Json::object()));
  CHECK_FALSE(call(d, token, Operation::Read, "auth/token/lookup-self", Json::object()).ok());
  CHECK(call(d, kept, Operation::Read, "auth/token/lookup-self", Json::object()).ok());
  // Disabling the method revokes the rest.
  ok(call(d, "root", Operation::Delete, "sys/auth/peer", Json::object()));
  CHECK_FALSE(call(d, kept, Operation::Read, "auth/token/lookup-self", Json::object()).ok());
}
