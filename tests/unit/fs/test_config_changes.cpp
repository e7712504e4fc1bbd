// SPDX-License-Identifier: MPL-2.0
// The engine's change notification, which caching (bound) mounts of a config
// rely on: FileView tells its listeners what changed after each
// change committed (the core's change bus, in file terms), and nothing after
// a failed write or a read.
#include <catch2/catch.hpp>

#include <mutex>
#include <string>
#include <vector>

#include "tests/unit/core/support.hpp"

namespace {

struct Recorder {
  std::mutex mu;
  std::vector<engine::Change> seen;
  void operator()(const engine::Change& c) {
    std::lock_guard lock(mu);
    seen.push_back(c);
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& c : seen) out.push_back(c.everything ? "*" : c.path);
    seen.clear();
    return out;
  }
};

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("changes: KV writes and removes name the file; other writes change everything", "[config][cache]") {
  coffer_test::DevCore d;
  Recorder rec;
  const auto id = d.files->add_change_listener([&](const engine::Change& c) { rec(c); });

  d.put("secret/app/db", "password=one");
  CHECK(rec.take() == V{"secret/app/db"});
  d.put("secret/app/db", "password=two", engine::WriteMode::Append);
  CHECK(rec.take() == V{"secret/app/db"});
  d.put("secret/app/db@delete", R"({"versions":[1]})");
  CHECK(rec.take() == V{"secret/app/db"});  // the change names the secret, not the view written
  REQUIRE(d.files->remove(d.root, "secret/app/db").ok());
  CHECK(rec.take() == V{"secret/app/db"});

  // Reads and failed writes change nothing.
  d.ls("secret");
  d.cat("sys/health");
  CHECK(d.put_error("secret/app/db", "{not json") == engine::ErrorCode::InvalidArgument);
  CHECK_FALSE(d.files->remove(d.root, "secret/none").ok());
  engine::Caller nobody{engine::to_secure("not-a-token")};
  CHECK_FALSE(d.files->write(nobody, "secret/app/db", "password=x", engine::WriteMode::Replace).ok());
  CHECK(rec.take().empty());

  // Policies, mounts, namespaces: anything may look different.
  d.put("sys/policies/acl/app", "path \"secret/*\" { capabilities = [\"read\"] }");
  CHECK(rec.take() == V{"*"});
  d.put("sys/mounts/kv", "type=kv-v2");
  CHECK(rec.take() == V{"*"});
  REQUIRE(d.files->make_dir(d.root, "team").ok());
  CHECK(rec.take() == V{"*"});
  REQUIRE(d.files->remove_dir(d.root, "team").ok());
  CHECK(rec.take() == V{"*"});

  // After remove_change_listener nothing more arrives.
  d.files->remove_change_listener(id);
  d.put("secret/app/db", "password=three");
  CHECK(rec.take().empty());
}

TEST_CASE("changes: what a bound mount may cache", "[config][cache]") {
  coffer_test::DevCore d;
  d.put("secret/app/db", "password=one");
  CHECK(d.files->cacheable("secret/app/db"));
  CHECK(d.files->cacheable("secret/app/db#password"));
  CHECK(d.files->cacheable("secret/app"));
  CHECK(d.files->cacheable("secret"));
  CHECK(d.files->cacheable(""));
  CHECK_FALSE(d.files->cacheable("sys/health"));
  CHECK_FALSE(d.files->cacheable("sys/policies/acl/default"));
  CHECK_FALSE(d.files->cacheable("auth/token/lookup-self"));
  CHECK_FALSE(d.files->cacheable("identity"));
}
