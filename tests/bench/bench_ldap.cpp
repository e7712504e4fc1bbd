// SPDX-License-Identifier: MPL-2.0
// bench_ldap: what a Coffer LDAP login costs over the directory exchange
// it cannot avoid.
//
// Starts the test directory (tests/ldap/slapd.sh) and a dev core in memory
// with ldap and userpass enabled, then, in interleaved rounds of S seconds
// each, times one thread doing:
//   directory  engine::auth::ldap_login alone: connect, service bind, user
//              search, user bind, group search, alias search (the floor);
//   ldap       a whole login through Core::handle: the same exchange plus
//              local mappings, entity, external groups and the token;
//   userpass   a userpass login through Core::handle (Argon2id), for scale.
// Prints ops/s and microseconds per login, and ldap/directory as a ratio.
//
//   bench_ldap [--seconds S] [--rounds R]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "engine/auth/ldap_client.hpp"
#include "engine/core.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/ldap/test_directory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Failures throw, so the test directory is stopped on the way out.
template <class T>
T must(engine::Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}

engine::Result<engine::Response> request(engine::Core& core, const std::string& token, engine::Operation op,
                                         const std::string& path, engine::Json body) {
  engine::Request req;
  req.op = op;
  req.path = path;
  req.data = std::move(body);
  req.token = engine::to_secure(token);
  return core.handle(req);
}

// Logins per second of `one` over `seconds`.
double rate(double seconds, const std::function<void()>& one) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  long n = 0;
  const auto start = Clock::now();
  while (Clock::now() < end) {
    one();
    ++n;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

void run(double seconds, int rounds) {
  const coffer_test::TestDirectory vars;
  {
    auto core_owner = must(engine::Core::open(std::make_unique<engine::MemoryStorage>(), {"root", true}), "dev core");
    engine::Core& core = *core_owner;
    using engine::Json;
    using engine::Operation;
    Json cfg{{"url", vars["LDAP_URL"]},
             {"binddn", vars["LDAP_ADMIN_DN"]},
             {"bindpass", vars["LDAP_ADMIN_PW"]},
             {"userdn", "ou=people,dc=example,dc=org"},
             {"userattr", "uid"},
             {"groupdn", "ou=groups,dc=example,dc=org"},
             {"groupfilter", "(member={{.UserDN}})"}};
    must(request(core, "root", Operation::Update, "sys/auth/ldap", Json{{"type", "ldap"}}), "enable ldap");
    must(request(core, "root", Operation::Update, "auth/ldap/config", cfg), "ldap config");
    must(request(core, "root", Operation::Update, "auth/ldap/groups/dev", Json{{"policies", "dev"}}), "groups/dev");
    must(request(core, "root", Operation::Update, "sys/auth/userpass", Json{{"type", "userpass"}}), "enable userpass");
    must(request(core, "root", Operation::Update, "auth/userpass/users/alice", Json{{"password", "alice-pw"}}),
         "userpass user");

    engine::auth::LdapConfig direct;
    if (!engine::auth::parse_ldap_config(cfg, direct).ok()) throw std::runtime_error("the config does not parse");

    auto directory = [&] { must(engine::auth::ldap_login(direct, "alice", "alice-pw"), "directory"); };
    auto ldap = [&] {
      must(request(core, "", Operation::Update, "auth/ldap/login/alice", Json{{"password", "alice-pw"}}), "ldap login");
    };
    auto userpass = [&] {
      must(request(core, "", Operation::Update, "auth/userpass/login/alice", Json{{"password", "alice-pw"}}),
           "userpass login");
    };

    std::printf("bench_ldap: %d rounds of %.1f s per case, one thread, slapd on loopback\n", rounds, seconds);
    std::printf("%-6s %14s %14s %14s %16s\n", "round", "directory/s", "ldap/s", "userpass/s", "ldap/directory");
    double sum_dir = 0, sum_ldap = 0, sum_up = 0;
    for (int r = 1; r <= rounds; ++r) {
      const double d = rate(seconds, directory);
      const double l = rate(seconds, ldap);
      const double u = rate(seconds, userpass);
      sum_dir += d;
      sum_ldap += l;
      sum_up += u;
      std::printf("%-6d %14.0f %14.0f %14.1f %16.2f\n", r, d, l, u, d / l);
    }
    const double d = sum_dir / rounds, l = sum_ldap / rounds, u = sum_up / rounds;
    std::printf("mean   %14.0f %14.0f %14.1f %16.2f\n", d, l, u, d / l);
    std::printf("per login: directory %.0f us, ldap %.0f us (Coffer's share %.0f us), userpass %.0f us\n", 1e6 / d,
                1e6 / l, 1e6 / l - 1e6 / d, 1e6 / u);
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--rounds") == 0)
      rounds = std::atoi(argv[i + 1]);
  }
  try {
    run(seconds, rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ldap: %s\n", e.what());
    return 1;
  }
  return 0;
}
