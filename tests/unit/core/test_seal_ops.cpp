// SPDX-License-Identifier: MPL-2.0
// The seal lifecycle after init (engine/core_seal.cpp, Barrier::rotate):
// sys/rotate and sys/key-status through the ACL; sys/rekey and
// sys/generate-root with the key shares as the credential; no share, OTP or
// new token in the audit log. (Two hosts rotating: test_fleet.cpp.)
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include <catch2/catch.hpp>

#include "engine/common/base64.hpp"
#include "engine/core.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/unit/core/support.hpp"

using engine::ErrorCode;
using engine::Json;
using engine::Operation;

namespace {

// A store initialised with 3 shares (threshold 2) and unsealed.
struct SealCore {
  engine::MemoryStorage disk;
  std::unique_ptr<engine::Core> core;
  std::string root;
  std::vector<std::string> keys;

  SealCore() {
    open();
    auto init = ok("", Operation::Update, "sys/init", Json{{"secret_shares", 3}, {"secret_threshold", 2}});
    root = init.data["root_token"].get<std::string>();
    for (const auto& k : init.data["keys"]) keys.push_back(k.get<std::string>());
    unseal({keys[0], keys[1]});
  }
  void open() {
    core.reset();
    auto c = engine::Core::open(std::make_unique<coffer_test::SharedStorage>(disk), {});
    REQUIRE(c.ok());
    core = std::move(c).value();
  }
  engine::Result<engine::Response> call(const std::string& token, Operation op, const std::string& path,
                                        Json body = Json::object()) {
    engine::Request req;
    req.op = op;
    req.path = path;
    req.data = std::move(body);
    req.token = engine::to_secure(token);
    return core->handle(req);
  }
  engine::Response ok(const std::string& token, Operation op, const std::string& path, Json body = Json::object()) {
    auto r = call(token, op, path, std::move(body));
    if (!r.ok()) FAIL(path << ": " << r.error().message);
    return std::move(r).value();
  }
  ErrorCode fails(const std::string& token, Operation op, const std::string& path, Json body = Json::object(),
                  const std::string& says = "") {
    auto r = call(token, op, path, std::move(body));
    if (r.ok()) FAIL(path << " succeeded");
    if (!says.empty()) CHECK_THAT(r.error().message, Catch::Contains(says));
    return r.error().code;
  }
  void unseal(const std::vector<std::string>& shares) {
    for (const auto& k : shares) ok("", Operation::Update, "sys/unseal", Json{{"key", k}});
    REQUIRE_FALSE(core->sealed());
  }
  std::string token_with(const std::string& policy_text) {
    ok(root, Operation::Update, "sys/policies/acl/p", Json{{"policy", policy_text}});
    auto made = ok(root, Operation::Update, "auth/token/create", Json{{"policies", Json::array({"p"})}});
    return made.data["auth"]["client_token"].get<std::string>();
  }
};

// The token an encoded_token and its OTP stand for (Vault's DecodeToken).
std::string decode_token(const std::string& encoded, const std::string& otp) {
  std::string padded = encoded;
  while (padded.size() % 4 != 0) padded.push_back('=');
  auto raw = engine::from_base64(padded);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() == otp.size());
  std::string token;
  for (std::size_t i = 0; i < otp.size(); ++i) token.push_back(static_cast<char>((*raw)[i] ^ otp[i]));
  return token;
}

}  // namespace

TEST_CASE("seal: sys/rotate adds a key term, old values stay readable, the shares still unseal", "[seal]") {
  SealCore s;
  s.ok(s.root, Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}});
  s.ok(s.root, Operation::Update, "kv/data/old", Json{{"data", {{"pw", "one"}}}});
  auto before = s.ok(s.root, Operation::Read, "sys/key-status");
  CHECK(before.data["term"] == 1);
  CHECK(before.data["install_time"].get<std::string>().ends_with("Z"));

  s.ok(s.root, Operation::Update, "sys/rotate");
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 2);
  s.ok(s.root, Operation::Update, "sys/rotate");
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 3);
  s.ok(s.root, Operation::Update, "kv/data/new", Json{{"data", {{"pw", "two"}}}});
  // New writes carry the new term in their stored header; older ones keep 1.
  bool term1 = false, term3 = false;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    auto entries = s.disk.list(dir);
    REQUIRE(entries.ok());
    for (const auto& e : *entries) {
      if (e.ends_with('/')) {
        walk(dir + e);
        continue;
      }
      auto raw = s.disk.get(dir + e);
      REQUIRE(raw.ok());
      if (!*raw || (*raw)->size() < 5) continue;
      term1 = term1 || (**raw)[3] == 1;
      term3 = term3 || (**raw)[3] == 3;
    }
  };
  walk("logical/");
  CHECK(term1);
  CHECK(term3);
  CHECK(s.ok(s.root, Operation::Read, "kv/data/old").data["data"]["pw"] == "one");
  CHECK(s.ok(s.root, Operation::Read, "kv/data/new").data["data"]["pw"] == "two");
  CHECK(s.fails(s.root, Operation::Update, "sys/rotate", Json{{"x", 1}}) == ErrorCode::InvalidArgument);

  // A new core on the same store: the same shares unseal it, every term reads.
  s.open();
  CHECK(s.core->sealed());
  s.unseal({s.keys[2], s.keys[0]});
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 3);
  CHECK(s.ok(s.root, Operation::Read, "kv/data/old").data["data"]["pw"] == "one");
  CHECK(s.ok(s.root, Operation::Read, "kv/data/new").data["data"]["pw"] == "two");
}

TEST_CASE("seal: sys/rotate needs sudo, sys/key-status read; both root namespace only", "[seal]") {
  SealCore s;
  const std::string plain = s.token_with(R"(
    path "sys/rotate" { capabilities = ["update", "create"] }
    path "sys/key-status" { capabilities = ["deny"] })");
  CHECK(s.fails(plain, Operation::Update, "sys/rotate") == ErrorCode::PermissionDenied);
  CHECK(s.fails(plain, Operation::Read, "sys/key-status") == ErrorCode::PermissionDenied);
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 1);  // nothing rotated

  const std::string sudo = s.token_with(R"(
    path "sys/rotate" { capabilities = ["update", "sudo"] }
    path "sys/key-status" { capabilities = ["read"] })");
  s.ok(sudo, Operation::Update, "sys/rotate");
  CHECK(s.ok(sudo, Operation::Read, "sys/key-status").data["term"] == 2);

  s.ok(s.root, Operation::Update, "sys/namespaces/team");
  CHECK(s.fails(s.root, Operation::Update, "team/sys/rotate") == ErrorCode::Unsupported);
  CHECK(s.fails(s.root, Operation::Read, "team/sys/key-status") == ErrorCode::Unsupported);
  CHECK(s.fails(s.root, Operation::Update, "team/sys/rekey/init", Json{{"secret_shares", 1}}) ==
        ErrorCode::Unsupported);
  CHECK(s.fails(s.root, Operation::Read, "team/sys/generate-root/attempt") == ErrorCode::Unsupported);
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 2);
}

TEST_CASE("seal: sys/rekey makes new shares for the same root key; the old shares no longer unseal", "[seal]") {
  SealCore s;
  s.ok(s.root, Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}});
  s.ok(s.root, Operation::Update, "kv/data/app", Json{{"data", {{"pw", "kept"}}}});
  s.ok(s.root, Operation::Update, "sys/rotate");

  auto idle = s.ok("", Operation::Read, "sys/rekey/init");
  CHECK(idle.data["started"] == false);
  CHECK(idle.data["required"] == 2);
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[0]}, {"nonce", "x"}},
          "no barrier rekey in progress");
  // Options Coffer does not have are refused, not ignored.
  CHECK(s.fails("", Operation::Update, "sys/rekey/init",
                Json{{"secret_shares", 5}, {"secret_threshold", 3}, {"pgp_keys", Json::array({"abc"})}},
                "not supported") == ErrorCode::InvalidArgument);
  CHECK(s.fails("", Operation::Update, "sys/rekey/init",
                Json{{"secret_shares", 5}, {"secret_threshold", 3}, {"backup", true}}) == ErrorCode::InvalidArgument);
  CHECK(s.fails("", Operation::Update, "sys/rekey/init",
                Json{{"secret_shares", 5}, {"secret_threshold", 3}, {"require_verification", true}}) ==
        ErrorCode::InvalidArgument);
  s.fails("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 2}, {"secret_threshold", 3}},
          "threshold cannot be larger than shares");
  CHECK(s.ok("", Operation::Read, "sys/rekey/init").data["started"] == false);

  auto started = s.ok("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 5}, {"secret_threshold", 3}});
  const std::string nonce = started.data["nonce"].get<std::string>();
  CHECK(started.data["started"] == true);
  CHECK(started.data["n"] == 5);
  CHECK(started.data["t"] == 3);
  CHECK(started.data["required"] == 2);
  CHECK(nonce.size() == 36);
  s.fails("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 5}, {"secret_threshold", 3}},
          "rekey already in progress");
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[0]}, {"nonce", "wrong"}},
          "incorrect nonce supplied");
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", "not-a-share"}, {"nonce", nonce}},
          "'key' must be a valid hex or base64 string");
  auto one = s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[0]}, {"nonce", nonce}});
  CHECK(one.data["progress"] == 1);
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[0]}, {"nonce", nonce}},
          "given key has already been provided during this rekey operation");

  // A quorum that does not combine into the unseal key: refused, the
  // progress goes, the attempt (and its nonce) stays.
  std::string forged = s.keys[1];
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", forged}, {"nonce", nonce}},
          "rekey verification failed");
  auto after = s.ok("", Operation::Read, "sys/rekey/init");
  CHECK(after.data["started"] == true);
  CHECK(after.data["progress"] == 0);
  CHECK(after.data["nonce"] == nonce);

  s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[2]}, {"nonce", nonce}});
  auto done = s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[1]}, {"nonce", nonce}});
  CHECK(done.data["complete"] == true);
  CHECK(done.data["nonce"] == nonce);
  REQUIRE(done.data["keys"].size() == 5);
  REQUIRE(done.data["keys_base64"].size() == 5);
  std::vector<std::string> fresh;
  for (const auto& k : done.data["keys"]) fresh.push_back(k.get<std::string>());
  CHECK(s.ok("", Operation::Read, "sys/rekey/init").data["started"] == false);
  auto status = s.ok("", Operation::Read, "sys/seal-status");
  CHECK(status.data["n"] == 5);
  CHECK(status.data["t"] == 3);

  // Sealed and opened again: the old shares combine into a key that is no
  // longer the unseal key; three new ones open the same data.
  s.open();
  s.ok("", Operation::Update, "sys/unseal", Json{{"key", s.keys[0]}});
  s.ok("", Operation::Update, "sys/unseal", Json{{"key", s.keys[1]}});
  s.fails("", Operation::Update, "sys/unseal", Json{{"key", s.keys[2]}}, "Unseal failed, invalid key");
  CHECK(s.core->sealed());
  s.unseal({fresh[4], engine::to_plain(done.data["keys_base64"][1].get<engine::SecureString>()), fresh[2]});
  CHECK(s.ok(s.root, Operation::Read, "kv/data/app").data["data"]["pw"] == "kept");
  CHECK(s.ok(s.root, Operation::Read, "sys/key-status").data["term"] == 2);

  // Cancel: the attempt and its shares are gone.
  auto again = s.ok("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}});
  s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", fresh[0]}, {"nonce", again.data["nonce"]}});
  CHECK(s.ok("", Operation::Read, "sys/rekey/init").data["progress"] == 1);
  s.ok("", Operation::Delete, "sys/rekey/init");
  CHECK(s.ok("", Operation::Read, "sys/rekey/init").data["started"] == false);
  s.fails("", Operation::Update, "sys/rekey/update", Json{{"key", fresh[1]}, {"nonce", again.data["nonce"]}},
          "no barrier rekey in progress");

  // Sealed: neither a rekey nor its status.
  s.ok(s.root, Operation::Update, "sys/seal");
  CHECK(s.fails("", Operation::Read, "sys/rekey/init") == ErrorCode::Sealed);
  CHECK(s.fails("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}}) ==
        ErrorCode::Sealed);
}

TEST_CASE("seal: sys/generate-root returns a new root token XORed with a one-time OTP", "[seal]") {
  SealCore s;
  auto idle = s.ok("", Operation::Read, "sys/generate-root/attempt");
  CHECK(idle.data["started"] == false);
  CHECK(idle.data["otp_length"] == 28);
  s.fails("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[0]}, {"nonce", "x"}},
          "no root generation in progress");
  CHECK(s.fails("", Operation::Update, "sys/generate-root/attempt", Json{{"pgp_key", "abc"}}, "not supported") ==
        ErrorCode::InvalidArgument);
  s.fails("", Operation::Update, "sys/generate-root/attempt", Json{{"otp", "short"}}, "OTP string is wrong length");

  auto started = s.ok("", Operation::Update, "sys/generate-root/attempt");
  const std::string otp = started.data["otp"].get<std::string>();
  const std::string nonce = started.data["nonce"].get<std::string>();
  CHECK(otp.size() == 28);
  CHECK(started.data["started"] == true);
  CHECK(started.data["required"] == 2);
  // Told once: the status never shows it again.
  auto shown = s.ok("", Operation::Read, "sys/generate-root/attempt");
  CHECK(shown.data["otp"] == "");
  CHECK(shown.data["nonce"] == nonce);
  s.fails("", Operation::Update, "sys/generate-root/attempt", Json::object(), "root generation already in progress");
  s.fails("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[0]}, {"nonce", "wrong"}},
          "incorrect nonce supplied");

  auto one = s.ok("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[2]}, {"nonce", nonce}});
  CHECK(one.data["progress"] == 1);
  CHECK(one.data["complete"] == false);
  CHECK(one.data["encoded_token"] == "");
  s.fails("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[2]}, {"nonce", nonce}},
          "given key has already been provided during this generation operation");
  auto done = s.ok("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[0]}, {"nonce", nonce}});
  CHECK(done.data["complete"] == true);
  const std::string encoded = done.data["encoded_token"].get<std::string>();
  CHECK(done.data["encoded_root_token"] == encoded);
  CHECK(encoded.find('=') == std::string::npos);  // base64 without padding, as Vault
  const std::string token = decode_token(encoded, otp);
  CHECK(token.starts_with("hvs."));
  CHECK(token != s.root);
  auto self = s.ok(token, Operation::Read, "auth/token/lookup-self");
  CHECK(self.data["policies"] == Json::array({"root"}));
  s.ok(token, Operation::Update, "sys/rotate");
  CHECK(s.ok("", Operation::Read, "sys/generate-root/attempt").data["started"] == false);

  // A wrong quorum ends the attempt without a token; cancel ends one too.
  auto bad = s.ok("", Operation::Update, "sys/generate-root/attempt");
  const std::string bad_nonce = bad.data["nonce"].get<std::string>();
  std::string forged = s.keys[1];
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  s.ok("", Operation::Update, "sys/generate-root/update", Json{{"key", s.keys[0]}, {"nonce", bad_nonce}});
  s.fails("", Operation::Update, "sys/generate-root/update", Json{{"key", forged}, {"nonce", bad_nonce}},
          "root generation failed");
  CHECK(s.ok("", Operation::Read, "sys/generate-root/attempt").data["started"] == false);
  s.ok("", Operation::Update, "sys/generate-root/attempt");
  s.ok("", Operation::Delete, "sys/generate-root/attempt");
  CHECK(s.ok("", Operation::Read, "sys/generate-root/attempt").data["started"] == false);
}

TEST_CASE("seal: shares, the OTP and the new token never reach the audit log", "[seal][audit]") {
  char tmpl[] = "/tmp/coffer-seal-audit.XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string log = dir + "/audit.log";
  {
    SealCore s;
    s.ok(s.root, Operation::Update, "sys/audit/f", Json{{"type", "file"}, {"options", {{"file_path", log}}}});
    std::vector<std::string> secrets = s.keys;
    auto rk = s.ok("", Operation::Update, "sys/rekey/init", Json{{"secret_shares", 2}, {"secret_threshold", 2}});
    const Json nonce = rk.data["nonce"];
    s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[0]}, {"nonce", nonce}});
    auto done = s.ok("", Operation::Update, "sys/rekey/update", Json{{"key", s.keys[1]}, {"nonce", nonce}});
    REQUIRE(done.data["complete"] == true);
    std::vector<std::string> fresh;
    for (const auto& k : done.data["keys"]) fresh.push_back(k.get<std::string>());
    for (const auto& k : done.data["keys_base64"]) secrets.push_back(k.get<std::string>());
    secrets.insert(secrets.end(), fresh.begin(), fresh.end());
    auto gr = s.ok("", Operation::Update, "sys/generate-root/attempt");
    const std::string otp = gr.data["otp"].get<std::string>();
    s.ok("", Operation::Update, "sys/generate-root/update", Json{{"key", fresh[0]}, {"nonce", gr.data["nonce"]}});
    auto root = s.ok("", Operation::Update, "sys/generate-root/update", Json{{"key", fresh[1]}, {"nonce", gr.data["nonce"]}});
    const std::string encoded = root.data["encoded_token"].get<std::string>();
    secrets.push_back(otp);
    secrets.push_back(encoded);
    secrets.push_back(decode_token(encoded, otp));

    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    // The requests are there (hashed), the secrets are not.
    CHECK(all.find("\"sys/rekey/update\"") != std::string::npos);
    CHECK(all.find("\"sys/generate-root/update\"") != std::string::npos);
    for (const auto& secret : secrets) {
      INFO(secret);
      CHECK(all.find(secret) == std::string::npos);
    }
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}
