// SPDX-License-Identifier: MPL-2.0
// bench_fleet: a fleet store on PostgreSQL against a SQLite store, in one run.
//
// Starts a throwaway PostgreSQL (tests/pg/postgres.sh) and two "hosts" on
// it — two cores, each on its own PostgresMirror with the daemon's feed
// thread (mountd::Follower) — beside one core on a SQLite file, all
// initialised and unsealed, each with a kv-v2 mount, and prints:
//   writes       durable KV writes/s with 1 and 4 writer threads on SQLite
//                and on PostgreSQL, and PostgreSQL/SQLite;
//   reads        p50/p99 of a KV read through Core::handle (what a cat on
//                the mount asks the engine) on each, and PostgreSQL/SQLite;
//   propagation  how long after a write on host A returns host B serves the
//                new version: p50/p99 over --rounds writes.
// Each write is acknowledged only after its commit is durable (SQLite:
// WAL sync; PostgreSQL: COMMIT with synchronous_commit on).
//
//   bench_fleet [--seconds S] [--rounds N] [--secrets M]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/core_calls.hpp"
#include "engine/core.hpp"
#include "engine/storage/postgres_mirror.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "mountd/follower.hpp"
#include "tests/pg/test_postgres.hpp"

namespace {

using bench::Clock;
using engine::Json;
using engine::Operation;

using bench::call;
using bench::must;
using bench::seconds_since;

struct Percentiles {
  double p50_us = 0, p99_us = 0;
};
Percentiles percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

struct Host {
  std::unique_ptr<engine::Core> core;
  std::unique_ptr<mountd::Follower> follower;
};

Host open_host(std::unique_ptr<engine::Storage> storage, engine::PostgresMirror* mirror) {
  Host h;
  h.core = must(engine::Core::open(std::move(storage), engine::CoreOptions{}), "core");
  if (mirror != nullptr) h.follower = std::make_unique<mountd::Follower>(*mirror, *h.core);
  return h;
}

Host pg_host(const std::string& url) {
  engine::PostgresMirror::Options o;
  o.store = {url, "bench"};
  auto m = must(engine::PostgresMirror::open(o), "postgres");
  engine::PostgresMirror* raw = m.get();
  return open_host(std::move(m), raw);
}

// sys/init on the first host of a store; unseal with its key.
struct Keys {
  std::string root, key;
};
Keys init(engine::Core& core) {
  auto r = must(call(core, "", Operation::Update, "sys/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}}),
                "sys/init");
  return {r.data["root_token"].get<std::string>(), r.data["keys"][0].get<std::string>()};
}
void unseal(engine::Core& core, const Keys& k) {
  must(call(core, "", Operation::Update, "sys/unseal", Json{{"key", k.key}}), "sys/unseal");
}

Json body(long n) { return Json{{"data", {{"password", "pw-" + std::to_string(n) + "-xxxxxxxxxxxxxxxx"}}}}; }

double write_rate(engine::Core& core, const std::string& root, int writers, double seconds) {
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      const std::string path = "kv/data/rotate/w" + std::to_string(w);
      for (long n = 0; Clock::now() < end && !failed; ++n) {
        if (!call(core, root, Operation::Update, path, body(n)).ok()) failed = true;
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("a timed write failed");
  return static_cast<double>(done) / seconds_since(start);
}

Percentiles read_latency(engine::Core& core, const std::string& root, long secrets, double seconds) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<long> pick(0, secrets - 1);
  std::vector<double> us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    const std::string path = "kv/data/app/s" + std::to_string(pick(rng));
    const auto t = Clock::now();
    must(call(core, root, Operation::Read, path), "read " + path);
    us.push_back(seconds_since(t) * 1e6);
  }
  return percentiles(std::move(us));
}

void run(double seconds, int rounds, long secrets) {
  coffer_test::TestPostgres pg;
  char tmpl[] = "/tmp/coffer-bench-fleet.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl;

  Host lite = open_host(
      must(engine::SqliteStorage::open(dir + "/store.db", engine::SqliteStorage::IfMissing::Create), "sqlite"),
      nullptr);
  const Keys lk = init(*lite.core);
  unseal(*lite.core, lk);
  Host a = pg_host(pg.url());
  const Keys pk = init(*a.core);
  unseal(*a.core, pk);
  Host b = pg_host(pg.url());
  unseal(*b.core, pk);
  for (auto [core, root] : {std::pair{lite.core.get(), lk.root}, std::pair{a.core.get(), pk.root}}) {
    must(call(*core, root, Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}}), "mount");
    for (long i = 0; i < secrets; ++i) {
      must(call(*core, root, Operation::Update, "kv/data/app/s" + std::to_string(i), body(i)), "load");
    }
  }
  std::printf("bench_fleet: SQLite at %s, PostgreSQL 15 at 127.0.0.1 (two hosts), %ld secrets each, %u cpus\n",
              dir.c_str(), secrets, std::thread::hardware_concurrency());

  const double s1 = write_rate(*lite.core, lk.root, 1, seconds);
  const double s4 = write_rate(*lite.core, lk.root, 4, seconds);
  const double p1 = write_rate(*a.core, pk.root, 1, seconds);
  const double p4 = write_rate(*a.core, pk.root, 4, seconds);
  std::printf("writes       durable/s   SQLite 1 writer %6.0f  4 writers %6.0f\n", s1, s4);
  std::printf("writes       durable/s   PostgreSQL 1 writer %6.0f  4 writers %6.0f  PostgreSQL/SQLite %.2f, %.2f\n", p1,
              p4, p1 / s1, p4 / s4);

  const Percentiles rl = read_latency(*lite.core, lk.root, secrets, seconds);
  const Percentiles rp = read_latency(*b.core, pk.root, secrets, seconds);
  std::printf("reads        SQLite p50 %6.1f us p99 %6.1f us\n", rl.p50_us, rl.p99_us);
  std::printf("reads        PostgreSQL (host B) p50 %6.1f us p99 %6.1f us  PostgreSQL/SQLite p50 %.2f p99 %.2f\n",
              rp.p50_us, rp.p99_us, rp.p50_us / rl.p50_us, rp.p99_us / rl.p99_us);

  // Propagation: write a new version on A, then poll B until it serves it.
  std::vector<double> us;
  for (int i = 0; i < rounds; ++i) {
    const std::string marker = "round-" + std::to_string(i);
    must(call(*a.core, pk.root, Operation::Update, "kv/data/propagate", Json{{"data", {{"password", marker}}}}),
         "write on A");
    const auto t = Clock::now();
    while (true) {
      auto r = call(*b.core, pk.root, Operation::Read, "kv/data/propagate");
      if (r.ok() && r->data["data"]["password"] == marker) break;
      if (seconds_since(t) > 10) throw std::runtime_error("host B did not see a write within 10 s");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    us.push_back(seconds_since(t) * 1e6);
  }
  const Percentiles prop = percentiles(std::move(us));
  std::printf("propagation  A write -> B serves it: p50 %7.0f us p99 %7.0f us over %d writes\n", prop.p50_us,
              prop.p99_us, rounds);
  a.follower.reset();
  b.follower.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  int rounds = 200;
  long secrets = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || i + 1 >= argc) {
      std::fprintf(stderr, "usage: bench_fleet [--seconds S] [--rounds N] [--secrets M]\n");
      return a == "--help" ? 0 : 2;
    }
    const char* v = argv[++i];
    if (a == "--seconds") {
      seconds = std::atof(v);
    } else if (a == "--rounds") {
      rounds = std::atoi(v);
    } else if (a == "--secrets") {
      secrets = std::atol(v);
    } else {
      std::fprintf(stderr, "bench_fleet: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  try {
    run(seconds, std::max(1, rounds), std::max(1L, secrets));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_fleet: %s\n", e.what());
    return 1;
  }
  return 0;
}
