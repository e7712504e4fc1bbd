// SPDX-License-Identifier: MPL-2.0
// Hidden timing check ([.perf], run by name): a secret read under a token
// with 1, 100 or 10,000 policies (100,000 rules in all) costs about what a
// root-token read costs, because the decision is a cache hit plus an
// O(path length) ACL lookup. Prints figures; asserts only a loose bound.
#include <chrono>
#include <cstdio>

#include <catch2/catch.hpp>

#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;

namespace {

double us_per_read(DevCore& d, const std::string& token, int reads) {
  const auto caller = as(token);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reads; ++i) {
    auto r = d.files->read(caller, "secret/app/db");
    if (!r.ok()) FAIL("read: " << r.error().message);
  }
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  return took.count() / reads;
}

}  // namespace

TEST_CASE("perf: reads cost the same with 1, 100 and 10,000 policies", "[.perf]") {
  DevCore d;
  d.put("secret/app/db", "password=x");
  constexpr int kPolicies = 10'000;
  constexpr int kRulesEach = 10;
  for (int p = 0; p < kPolicies; ++p) {
    std::string text;
    for (int r = 0; r < kRulesEach; ++r) {
      text +=
          "path \"team" + std::to_string(p) + "/data/r" + std::to_string(r) + "/*\" { capabilities = [\"read\"] }\n";
    }
    if (p == 0) text += "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n";
    auto w = d.files->write(d.root, "sys/policies/acl/p" + std::to_string(p), text, engine::WriteMode::Replace);
    REQUIRE(w.ok());
  }
  auto token_with = [&](int n) {
    nlohmann::json policies = nlohmann::json::array();
    for (int p = 0; p < n; ++p) policies.push_back("p" + std::to_string(p));
    return make_token(d, nlohmann::json{{"policies", policies}}.dump());
  };
  const int reads = 20'000;
  us_per_read(d, "root", 1000);  // warm up
  const double root = us_per_read(d, "root", reads);
  double worst = 0;
  for (int n : {1, 100, kPolicies}) {
    const std::string t = token_with(n);
    us_per_read(d, t, 10);  // first read compiles and caches the ACL
    const double per = us_per_read(d, t, reads);
    std::printf("read under %5d policies (%6d rules): %.2f us/read (root token: %.2f)\n", n, n * kRulesEach, per, root);
    worst = std::max(worst, per);
  }
  CHECK(worst < root * 3 + 5);
}
