// SPDX-License-Identifier: MPL-2.0
// Audit devices (vault-semantics §12): sys/audit enable/list/disable, one
// JSON line per request and response with every string HMAC'd, blocking
// when no device can log, sys/audit-hash; the administrative namespace
// (§11) and sys/monitor's log hub.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "engine/audit/audit_trail.hpp"
#include "engine/audit/log_hub.hpp"
#include "engine/fileview/monitor.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/unit/core/authz_support.hpp"
#include "tests/unit/core/core_test_access.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

namespace {

constexpr const char* kRootToken = "dev-root-Zq7xK2";
constexpr const char* kSecret = "s3cr3t-Pa55w0rd-value";

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/coffer-audit-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// A dev core whose root token is not a word that appears elsewhere in a log
// line (so "the token is not in clear" can be checked by searching for it).
struct AuditCore : DevCore {
  explicit AuditCore(engine::CoreOptions opts = {}) {
    opts.dev = true;
    opts.dev_root_token = kRootToken;
    auto opened = engine::Core::open(std::make_unique<engine::MemoryStorage>(), std::move(opts));
    REQUIRE(opened.ok());
    files.reset();
    core = std::move(opened).value();
    files = std::make_unique<engine::FileView>(*core);
    root = engine::Caller{engine::to_secure(kRootToken)};
  }
};

std::vector<std::string> lines_of(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<nlohmann::json> entries_of(const std::string& file) {
  std::vector<nlohmann::json> out;
  for (const auto& l : lines_of(file)) out.push_back(nlohmann::json::parse(l));
  return out;
}

std::string slurp(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The entries of one type for a path below the namespace.
std::vector<nlohmann::json> find(const std::vector<nlohmann::json>& entries, const std::string& type,
                                 const std::string& path) {
  std::vector<nlohmann::json> out;
  for (const auto& e : entries) {
    if (e["type"] == type && e["request"]["path"] == path) out.push_back(e);
  }
  return out;
}

std::string audit_hash(AuditCore& d, const std::string& device, const std::string& input) {
  return reply(d.put("sys/audit-hash/" + device, "input=" + input))["hash"].get<std::string>();
}

}  // namespace

TEST_CASE("audit: a file device logs requests and responses with every string hashed", "[audit]") {
  TempDir dir;
  AuditCore d;
  const std::string log = dir.path + "/audit.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  auto info = reply(d.cat("sys/audit/file"));
  CHECK(info["type"] == "file");
  CHECK(info["path"] == "file/");
  CHECK(info["options"]["file_path"] == log);
  CHECK(d.ls("sys/audit") == std::vector<std::string>{"file"});

  d.put("secret/app/db", std::string(R"({"password":")") + kSecret + R"(","port":5432,"nested":{"list":["a","b"]}})");
  CHECK(d.cat("secret/app/db#password") == kSecret);

  // Neither the secret nor the token appears in clear anywhere.
  const std::string text = slurp(log);
  CHECK(text.find(kSecret) == std::string::npos);
  CHECK(text.find(kRootToken) == std::string::npos);

  auto entries = entries_of(log);
  auto writes = find(entries, "request", "secret/data/app/db");
  REQUIRE_FALSE(writes.empty());
  const auto& w = writes.front();
  const std::string secret_hash = audit_hash(d, "file", kSecret);
  CHECK(secret_hash.rfind("hmac-sha256:", 0) == 0);
  CHECK(secret_hash.size() == 12 + 64);
  CHECK(w["request"]["data"]["data"]["password"] == secret_hash);  // audit-hash = the logged HMAC
  CHECK(w["request"]["data"]["data"]["port"] == 5432);             // numbers stay
  CHECK(w["request"]["data"]["data"]["nested"]["list"][0] == audit_hash(d, "file", "a"));  // every string
  CHECK(w["request"]["operation"] == "create");
  CHECK(w["request"]["namespace"]["id"] == "root");
  CHECK(w["request"]["namespace"]["path"] == "");
  CHECK(w["request"]["mount_type"] == "kv");
  CHECK(w["request"]["id"].get<std::string>().size() == 36);
  CHECK(w["auth"]["client_token"] == audit_hash(d, "file", kRootToken));
  CHECK(w["auth"]["display_name"] == "root");
  CHECK(w["auth"]["policies"] == nlohmann::json::array({"root"}));
  CHECK(w["auth"]["token_policies"] == nlohmann::json::array({"root"}));
  CHECK(w["auth"]["accessor"].get<std::string>().rfind("hmac-sha256:", 0) == 0);
  CHECK_FALSE(w.contains("error"));
  CHECK(w["time"].get<std::string>().back() == 'Z');

  // The response of the read carries the data, hashed; the request id pairs them.
  auto reads = find(entries, "response", "secret/data/app/db");
  bool found_read = false;
  for (const auto& r : reads) {
    if (r["request"]["operation"] != "read") continue;
    found_read = true;
    CHECK(r["response"]["data"]["data"]["password"] == secret_hash);
    CHECK(r["response"]["data"]["data"]["port"] == 5432);
    CHECK(r["response"]["mount_type"] == "kv");
    CHECK_FALSE(find(entries, "request", "secret/data/app/db").empty());
  }
  CHECK(found_read);
  for (const auto& e : entries) {
    // (The enable's own response went to the device it enabled.)
    if (e["type"] != "response" || e["request"]["path"] == "sys/audit/file") continue;
    bool paired = false;
    for (const auto& q : entries)
      paired = paired || (q["type"] == "request" && q["request"]["id"] == e["request"]["id"]);
    CHECK(paired);
  }
}

TEST_CASE("audit: log_raw and hmac_accessor=false", "[audit]") {
  TempDir dir;
  AuditCore d;
  d.put("sys/audit/raw", R"({"type":"file","options":{"file_path":")" + dir.path + R"(/raw.log","log_raw":"true"}})");
  d.put("sys/audit/acc", "type=file file_path=" + dir.path + "/acc.log hmac_accessor=false");
  d.put("secret/x", std::string("password=") + kSecret);
  const std::string raw = slurp(dir.path + "/raw.log");
  CHECK(raw.find(kSecret) != std::string::npos);
  CHECK(raw.find(kRootToken) != std::string::npos);
  CHECK(raw.find("hmac-sha256:") == std::string::npos);

  auto acc = find(entries_of(dir.path + "/acc.log"), "request", "secret/data/x");
  REQUIRE_FALSE(acc.empty());
  const std::string accessor = acc.front()["auth"]["accessor"];
  CHECK(accessor.size() == 24);  // in clear
  CHECK(acc.front()["auth"]["client_token"].get<std::string>().rfind("hmac-sha256:", 0) == 0);
  CHECK(acc.front()["request"]["data"]["data"]["password"].get<std::string>().rfind("hmac-sha256:", 0) == 0);
  // Each device has its own salt.
  CHECK(audit_hash(d, "acc", kSecret) != audit_hash(d, "raw", kSecret));
}

TEST_CASE("audit: denials and refused tokens are logged with their error", "[audit]") {
  TempDir dir;
  AuditCore d;
  const std::string log = dir.path + "/a.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  d.put("secret/x", "password=" + std::string(kSecret));
  const std::string token = make_token(d, R"({"policies":["default"],"display_name":"weak"})");
  CHECK(code_of(api(d, token, Operation::Read, "secret/data/x")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, "hvs.not-a-token", Operation::Read, "secret/data/x")) == ErrorCode::PermissionDenied);

  auto entries = entries_of(log);
  auto denied = find(entries, "request", "secret/data/x");
  REQUIRE(denied.size() >= 3);  // the write, the denied read, the unknown token
  int with_error = 0;
  for (const auto& e : denied) {
    if (!e.contains("error")) continue;
    ++with_error;
    CHECK(e["error"] == "permission denied");
    if (e["auth"].contains("display_name")) {
      CHECK(e["auth"]["display_name"] == "token-weak");
      CHECK(e["auth"]["policies"] == nlohmann::json::array({"default"}));
      CHECK(e["auth"]["client_token"] == audit_hash(d, "file", token));
    } else {
      CHECK(e["auth"].empty());  // no valid token: no auth block
    }
  }
  CHECK(with_error == 2);
  // A denial has no response entry (Vault logs only the request).
  int denied_responses = 0;
  for (const auto& e : find(entries, "response", "secret/data/x")) denied_responses += e.contains("error") ? 1 : 0;
  CHECK(denied_responses == 0);
  CHECK(slurp(log).find(token) == std::string::npos);
}

TEST_CASE("audit: a backend error is logged in the response entry", "[audit]") {
  TempDir dir;
  AuditCore d;
  const std::string log = dir.path + "/a.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  CHECK(code_of(api(d, kRootToken, Operation::Read, "sys/namespaces/nope")) == ErrorCode::NotFound);
  auto resp = find(entries_of(log), "response", "sys/namespaces/nope");
  REQUIRE(resp.size() == 1);
  CHECK(resp.front()["error"].get<std::string>().find("not found") != std::string::npos);
}

TEST_CASE("audit: when no device can log, the request fails and nothing changes", "[audit]") {
  TempDir dir;
  AuditCore d;
  d.put("secret/x", "password=before");
  d.put("sys/audit/full", "type=file file_path=/dev/full");
  auto write = d.files->write(d.root, "secret/x", "password=after", engine::WriteMode::Replace);
  REQUIRE_FALSE(write.ok());
  CHECK(write.error().code == ErrorCode::Storage);
  CHECK(write.error().message == "no audit backend succeeded in logging the request");
  auto ns = api(d, kRootToken, Operation::Update, "sys/namespaces/made");
  CHECK(code_of(ns) == ErrorCode::Storage);
  // Reads fail too: every request needs its entry.
  CHECK(code_of(api(d, kRootToken, Operation::Read, "secret/data/x")) == ErrorCode::Storage);

  // Take the failing device away behind the API's back: nothing changed.
  REQUIRE(internals(*d.core).audit.disable("full/").ok());
  CHECK(d.cat("secret/x#password") == "before");
  CHECK(code_of(api(d, kRootToken, Operation::Read, "sys/namespaces/made")) == ErrorCode::NotFound);
  auto meta = reply(d.cat("secret/x@metadata"));
  CHECK(meta["current_version"] == 1);
}

TEST_CASE("audit: one working device is enough", "[audit]") {
  TempDir dir;
  AuditCore d;
  const std::string log = dir.path + "/ok.log";
  d.put("sys/audit/ok", "type=file file_path=" + log);
  d.put("sys/audit/full", "type=file file_path=/dev/full");
  d.put("secret/x", "password=saved");
  CHECK(d.cat("secret/x#password") == "saved");
  CHECK(find(entries_of(log), "request", "secret/data/x").size() >= 2);
}

TEST_CASE("audit: enable checks its input and changes nothing when refused", "[audit]") {
  TempDir dir;
  AuditCore d;
  CHECK(d.put_error("sys/audit/a", "type=syslog") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/audit/a", "type=file") == ErrorCode::InvalidArgument);  // file_path required
  CHECK(d.put_error("sys/audit/a", "type=file file_path=relative.log") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/audit/a", "type=file file_path=" + dir.path + "/a.log colour=red") ==
        ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/audit/a", "type=file file_path=" + dir.path + "/a.log log_raw=maybe") ==
        ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/audit/a", "type=file file_path=" + dir.path + "/no/such/dir/a.log") == ErrorCode::Storage);
  CHECK(d.put_error("sys/audit/a", "file_path=" + dir.path + "/a.log") == ErrorCode::InvalidArgument);
  CHECK(internals(*d.core).audit.list().empty());
  CHECK(::access((dir.path + "/a.log").c_str(), F_OK) != 0);

  d.put("sys/audit/a", "type=file file_path=" + dir.path + "/a.log");
  CHECK(d.put_error("sys/audit/a", "type=file file_path=" + dir.path + "/b.log") == ErrorCode::AlreadyExists);
  CHECK(d.put_error("sys/audit-hash/a", "") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/audit-hash/nope", "input=x") == ErrorCode::NotFound);
  REQUIRE(d.files->remove(d.root, "sys/audit/a").ok());
  CHECK(internals(*d.core).audit.list().empty());
  CHECK(d.cat_error("sys/audit/a") == ErrorCode::NotFound);
}

TEST_CASE("audit: sys/audit is root-namespace only and needs sudo; audit-hash does not", "[audit]") {
  TempDir dir;
  AuditCore d;
  d.put("sys/audit/file", "type=file file_path=" + dir.path + "/a.log");
  d.put("sys/policies/acl/auditor", R"(path "sys/audit/*" { capabilities = ["create","read","update","delete"] }
path "sys/audit-hash/*" { capabilities = ["update"] })");
  d.put("sys/policies/acl/auditor-sudo",
        R"(path "sys/audit/*" { capabilities = ["create","read","update","delete","sudo"] })");
  const std::string plain = make_token(d, R"({"policies":["auditor"]})");
  const std::string sudo = make_token(d, R"({"policies":["auditor-sudo"]})");
  engine::Json body{{"type", "file"}, {"file_path", dir.path + "/b.log"}};
  CHECK(code_of(api(d, plain, Operation::Update, "sys/audit/b", body)) == ErrorCode::PermissionDenied);
  CHECK(api(d, sudo, Operation::Update, "sys/audit/b", body).ok());
  auto hashed = api(d, plain, Operation::Update, "sys/audit-hash/file", engine::Json{{"input", "x"}});
  REQUIRE(hashed.ok());
  CHECK(hashed->data["hash"] == audit_hash(d, "file", "x"));

  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  CHECK(code_of(api(d, kRootToken, Operation::Read, "ns1/sys/audit")) == ErrorCode::Unsupported);
  CHECK(code_of(api(d, kRootToken, Operation::Update, "ns1/sys/audit/c", body)) == ErrorCode::Unsupported);
  CHECK(code_of(api(d, kRootToken, Operation::Update, "ns1/sys/audit-hash/file", engine::Json{{"input", "x"}})) ==
        ErrorCode::Unsupported);
}

TEST_CASE("audit: devices are stored through the barrier and reloaded at unseal", "[audit]") {
  TempDir dir;
  engine::MemoryStorage disk;
  engine::Caller nobody;
  auto core = engine::Core::open(std::make_unique<SharedStorage>(disk), {});
  REQUIRE(core.ok());
  engine::FileView files(**core);
  auto init =
      files.write(nobody, "sys/init", R"({"secret_shares":1,"secret_threshold":1})", engine::WriteMode::Replace);
  REQUIRE(init.ok());
  auto keys = reply(init.value());
  const std::string key = keys["keys"][0];
  engine::Caller root{engine::to_secure(keys["root_token"].get<std::string>())};
  REQUIRE(files.write(nobody, "sys/unseal", key + "\n", engine::WriteMode::Replace).ok());
  const std::string log = dir.path + "/a.log";
  REQUIRE(files.write(root, "sys/audit/file", "type=file file_path=" + log, engine::WriteMode::Replace).ok());
  auto h1 = files.write(root, "sys/audit-hash/file", "input=x", engine::WriteMode::Replace);
  REQUIRE(h1.ok());
  // The salt is stored encrypted: not in any physical value in clear.
  REQUIRE(files.write(root, "sys/seal", "", engine::WriteMode::Replace).ok());
  CHECK(internals(**core).audit.list().empty());
  REQUIRE(files.write(nobody, "sys/unseal", key + "\n", engine::WriteMode::Replace).ok());
  REQUIRE(internals(**core).audit.list().size() == 1);
  auto h2 = files.write(root, "sys/audit-hash/file", "input=x", engine::WriteMode::Replace);
  REQUIRE(h2.ok());
  CHECK(h1.value() == h2.value());  // same salt after unseal
  const auto before = lines_of(log).size();
  REQUIRE(files.read(root, "sys/audit/file").ok());
  CHECK(lines_of(log).size() > before);
}

TEST_CASE("admin namespace: audit-hash and monitor answer there, not in other namespaces", "[audit][admin]") {
  TempDir dir;
  engine::CoreOptions opts;
  opts.administrative_namespace_path = "admin/";
  AuditCore d(opts);
  d.put("sys/audit/file", "type=file file_path=" + dir.path + "/a.log");
  REQUIRE(d.files->make_dir(d.root, "admin").ok());
  REQUIRE(d.files->make_dir(d.root, "other").ok());
  REQUIRE(d.files->make_dir(d.root, "admin/child").ok());

  CHECK(api(d, kRootToken, Operation::Read, "admin/sys/monitor").ok());
  CHECK(code_of(api(d, kRootToken, Operation::Read, "other/sys/monitor")) == ErrorCode::Unsupported);
  CHECK(code_of(api(d, kRootToken, Operation::Read, "admin/child/sys/monitor")) == ErrorCode::Unsupported);
  CHECK(code_of(api(d, kRootToken, Operation::Read, "other/sys/monitor@debug")) == ErrorCode::Unsupported);
  auto hashed = api(d, kRootToken, Operation::Update, "admin/sys/audit-hash/file", engine::Json{{"input", "x"}});
  REQUIRE(hashed.ok());
  CHECK(hashed->data["hash"] == audit_hash(d, "file", "x"));
  // The audit devices themselves stay root-only (§11: only the listed endpoints).
  CHECK(code_of(api(d, kRootToken, Operation::Read, "admin/sys/audit")) == ErrorCode::Unsupported);
  CHECK(code_of(api(d, kRootToken, Operation::Read, "admin/sys/seal-status")) == ErrorCode::Unsupported);

  // A token of the admin namespace, through its own policy.
  d.put("admin/sys/policies/acl/ops", R"(path "sys/monitor" { capabilities = ["read"] }
path "sys/audit-hash/*" { capabilities = ["update"] })");
  const std::string ops = make_token(d, R"({"policies":["ops"]})", "admin/");
  CHECK(api(d, ops, Operation::Read, "admin/sys/monitor").ok());
  CHECK(api(d, ops, Operation::Update, "admin/sys/audit-hash/file", engine::Json{{"input", "x"}}).ok());
  const std::string weak = make_token(d, R"({"policies":["default"]})", "admin/");
  CHECK(code_of(api(d, weak, Operation::Read, "admin/sys/monitor")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, kRootToken, Operation::Read, "admin/sys/monitor@loud")) == ErrorCode::InvalidArgument);
}

TEST_CASE("admin namespace: none configured means no exception", "[audit][admin]") {
  AuditCore d;
  REQUIRE(d.files->make_dir(d.root, "admin").ok());
  CHECK(code_of(api(d, kRootToken, Operation::Read, "admin/sys/monitor")) == ErrorCode::Unsupported);
  CHECK(api(d, kRootToken, Operation::Read, "sys/monitor").ok());
}

TEST_CASE("monitor: a subscription sees the lines published at its level", "[audit][monitor]") {
  engine::CoreOptions opts;
  opts.administrative_namespace_path = "admin";
  AuditCore d(opts);
  REQUIRE(d.files->make_dir(d.root, "admin").ok());
  REQUIRE(d.files->make_dir(d.root, "other").ok());
  auto& hub = engine::LogHub::instance();
  CHECK(hub.wanted_level() == -1);

  CHECK(engine::is_monitor_path("admin/sys/monitor"));
  CHECK(engine::is_monitor_path("sys/monitor@debug"));
  CHECK_FALSE(engine::is_monitor_path("secret/monitor"));
  CHECK(code_of(api(d, kRootToken, Operation::Read, "secret/data/sys/monitor")) == ErrorCode::NotFound);
  auto not_monitor = engine::open_monitor(*d.core, d.root, "secret/sys/monitor");
  REQUIRE_FALSE(not_monitor.ok());
  CHECK(not_monitor.error().code == ErrorCode::NotFound);
  auto refused = engine::open_monitor(*d.core, d.root, "other/sys/monitor");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::Unsupported);
  auto denied = engine::open_monitor(*d.core, engine::Caller{engine::to_secure("nope")}, "admin/sys/monitor");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::PermissionDenied);

  auto info = engine::open_monitor(*d.core, d.root, "admin/sys/monitor");
  REQUIRE(info.ok());
  auto debug = engine::open_monitor(*d.core, d.root, "sys/monitor@debug");
  REQUIRE(debug.ok());
  CHECK(hub.wanted_level() == static_cast<int>(engine::MonitorLevel::Debug));
  hub.publish(static_cast<int>(engine::MonitorLevel::Info), "one info line");
  hub.publish(static_cast<int>(engine::MonitorLevel::Debug), "one debug line\n");
  CHECK((*info)->next(std::chrono::milliseconds(0)) == "one info line\n");
  CHECK((*debug)->next(std::chrono::milliseconds(0)) == "one info line\none debug line\n");
  CHECK((*info)->next(std::chrono::milliseconds(0)).empty());
  debug->reset();
  CHECK(hub.wanted_level() == static_cast<int>(engine::MonitorLevel::Info));
  info->reset();
  CHECK(hub.wanted_level() == -1);

  // A slow reader loses the oldest lines, never blocks the publisher.
  auto small = hub.subscribe(engine::MonitorLevel::Error, 2);
  for (int i = 0; i < 5; ++i) hub.publish(0, "line " + std::to_string(i));
  CHECK(small->next(std::chrono::milliseconds(0)) == "line 3\nline 4\n");
  CHECK(small->dropped() == 3);
}

TEST_CASE("audit: a login is logged with its password and new token hashed", "[audit]") {
  TempDir dir;
  engine::CoreOptions opts;
  opts.failed_login_delay = std::chrono::milliseconds(0);
  AuditCore d(opts);
  const std::string log = dir.path + "/a.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  REQUIRE(api(d, kRootToken, Operation::Update, "sys/auth/userpass", engine::Json{{"type", "userpass"}}).ok());
  REQUIRE(api(d, kRootToken, Operation::Update, "auth/userpass/users/bob",
              engine::Json{{"password", "horse-battery-77"}, {"token_policies", "default"}})
              .ok());
  auto login = api(d, "", Operation::Update, "auth/userpass/login/bob", engine::Json{{"password", "horse-battery-77"}});
  REQUIRE(login.ok());
  const std::string token(engine::as_view(login->data["auth"]["client_token"].get_ref<const engine::SecureString&>()));
  CHECK(code_of(api(d, "", Operation::Update, "auth/userpass/login/bob", engine::Json{{"password", "wrong-one"}})) ==
        ErrorCode::InvalidArgument);

  const std::string text = slurp(log);
  CHECK(text.find("horse-battery-77") == std::string::npos);
  CHECK(text.find(token) == std::string::npos);
  auto entries = entries_of(log);
  auto requests = find(entries, "request", "auth/userpass/login/bob");
  REQUIRE(requests.size() == 2);
  CHECK(requests[0]["request"]["data"]["password"] == audit_hash(d, "file", "horse-battery-77"));
  CHECK(requests[0]["auth"].empty());  // no token yet
  auto responses = find(entries, "response", "auth/userpass/login/bob");
  REQUIRE(responses.size() == 2);
  const auto& ok = responses[0];
  CHECK(ok["auth"]["client_token"] == audit_hash(d, "file", token));
  CHECK(ok["response"]["data"]["auth"]["client_token"] == audit_hash(d, "file", token));
  CHECK(ok["auth"]["accessor"].get<std::string>().rfind("hmac-sha256:", 0) == 0);
  CHECK(ok["auth"]["policies"] == nlohmann::json::array({"default"}));
  CHECK(ok["auth"]["metadata"]["username"] == "bob");
  CHECK(responses[1]["error"] == "invalid username or password");
}

TEST_CASE("audit: reopening after log rotation writes to the new file", "[audit]") {
  TempDir dir;
  AuditCore d;
  const std::string log = dir.path + "/audit.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  d.put("secret/before", "k=v");
  // logrotate moves the file away, then sends SIGHUP (Core::reopen_audit_files).
  REQUIRE(std::rename(log.c_str(), (log + ".1").c_str()) == 0);
  d.put("secret/moved", "k=v");  // still written to the moved file: the fd follows it
  CHECK(find(entries_of(log + ".1"), "request", "secret/data/moved").size() == 1);
  REQUIRE(d.core->reopen_audit_files().ok());
  d.put("secret/after", "k=v");
  auto fresh = entries_of(log);
  CHECK(find(fresh, "request", "secret/data/after").size() == 1);
  CHECK(find(fresh, "request", "secret/data/before").empty());
  CHECK(find(entries_of(log + ".1"), "request", "secret/data/after").empty());

  // A file that cannot be opened is an error and the old file keeps serving.
  REQUIRE(std::rename(log.c_str(), (log + ".2").c_str()) == 0);
  REQUIRE(::mkdir(log.c_str(), 0700) == 0);  // a directory where the file was
  CHECK_FALSE(d.core->reopen_audit_files().ok());
  d.put("secret/still", "k=v");
  CHECK(find(entries_of(log + ".2"), "request", "secret/data/still").size() == 1);
}

TEST_CASE("audit: listings and sizes skip the reply's JSON only while no device logs it", "[audit]") {
  TempDir dir;
  AuditCore d;
  d.put("sys/mounts/kv1", R"({"type":"kv"})");
  for (const char* mount : {"secret", "kv1"}) {
    d.put(std::string(mount) + "/app/a", R"({"k":"1"})");
    d.put(std::string(mount) + "/app/sub/b", R"({"k":"2"})");
  }
  // A LIST as the file view asks it: the keys land in list_keys, and the
  // reply carries none.
  const auto list = [&](const std::string& path, std::vector<std::string>& keys) {
    engine::Request req{Operation::List, path, nlohmann::json::object(), engine::to_secure(kRootToken)};
    req.parts.list_keys = &keys;
    auto r = d.core->handle(req);
    REQUIRE(r.ok());
    return r.value().data;
  };
  for (const char* path : {"secret/metadata/app/", "kv1/app/"}) {
    INFO(path);
    std::vector<std::string> keys;
    const auto data = list(path, keys);
    CHECK(keys == std::vector<std::string>{"a", "sub/"});
    CHECK_FALSE(data.contains("keys"));
  }
  const std::vector<std::string> listed = {"a", "sub/"};
  CHECK(d.ls("secret/app") == listed);
  CHECK(d.ls("kv1/app") == listed);

  // With a device on, the reply keeps its keys, as the device logs them,
  // and the file view lists the same.
  const std::string log = dir.path + "/audit.log";
  d.put("sys/audit/file", "type=file file_path=" + log);
  for (const char* path : {"secret/metadata/app/", "kv1/app/"}) {
    INFO(path);
    std::vector<std::string> keys;
    const auto data = list(path, keys);
    CHECK(keys.empty());
    CHECK(data["keys"] == nlohmann::json::array({"a", "sub/"}));
  }
  CHECK(d.ls("secret/app") == listed);
  CHECK(d.ls("kv1/app") == listed);
  // A stat's size, likewise: from the whole reply, which the device logs.
  std::optional<std::uint64_t> size;
  engine::Request read{Operation::Read, "secret/data/app/a", nlohmann::json::object(), engine::to_secure(kRootToken)};
  read.parts.rendered_size = &size;
  auto whole = d.core->handle(read);
  REQUIRE(whole.ok());
  CHECK_FALSE(size.has_value());
  CHECK(whole.value().data["data"]["k"] == "1");
  std::optional<engine::SecureString> rendered;
  read.parts = {.rendered = &rendered};
  CHECK(d.core->handle(read).value().data["data"]["k"] == "1");
  CHECK_FALSE(rendered.has_value());
  CHECK(d.files->stat(d.root, "secret/app/a")->size == d.cat("secret/app/a").size());
  bool logged = false;
  for (const auto& e : find(entries_of(log), "response", "kv1/app/")) {
    logged = true;
    CHECK(e["response"]["data"]["keys"] ==
          nlohmann::json::array({audit_hash(d, "file", "a"), audit_hash(d, "file", "sub/")}));
  }
  CHECK(logged);
}
