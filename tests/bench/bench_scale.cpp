// SPDX-License-Identifier: MPL-2.0
// bench_scale: how the engine holds up as a SQLite store grows to many
// namespaces and secrets.
//
// Builds, in a temp dir, a real (initialised, sealed, unsealed) store
// through Core::handle — the API the mount serves, without the kernel —
// and prints, in one run:
//   namespaces   create rate (each a namespace plus a kv-v2 mount) over the
//                first and the last tenth, and last/first;
//   reads        p50/p99 of a random secret read at the first checkpoint
//                (--small secrets) and again at the full size, and full/small;
//   writes       durable writes/s with 1 and with 4 writer threads, and 4/1;
//   memory       this process's RSS after the store is built and read;
//   restart      close, reopen, unseal and first read, in ms.
// Each write is acknowledged only after its commit is durable, as through
// the mount. The secrets are loaded by 4 writer threads.
//
//   bench_scale [--namespaces N] [--secrets M] [--small K] [--seconds S] [--dir D]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/core_calls.hpp"
#include "engine/core.hpp"
#include "engine/storage/sqlite_storage.hpp"

namespace {

using bench::Clock;
using engine::Json;
using engine::Operation;

using bench::call;
using bench::must;
using bench::seconds_since;

long rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) / 1024;
  }
  return -1;
}

struct Store {
  std::string path;
  std::string root_token;
  std::string unseal_key;
  std::unique_ptr<engine::Core> core;

  void open(bool create) {
    auto storage = must(engine::SqliteStorage::open(path, create ? engine::SqliteStorage::IfMissing::Create
                                                                 : engine::SqliteStorage::IfMissing::Fail),
                        "open " + path);
    core = must(engine::Core::open(std::move(storage), engine::CoreOptions{}), "core");
  }
  void init() {
    auto init =
        must(call(*core, "", Operation::Update, "sys/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}}),
             "sys/init");
    root_token = init.data["root_token"].get<std::string>();
    unseal_key = init.data["keys"][0].get<std::string>();
  }
  void unseal() { must(call(*core, "", Operation::Update, "sys/unseal", Json{{"key", unseal_key}}), "sys/unseal"); }
};

std::string ns_name(long i) { return "ns" + std::to_string(i); }
std::string secret_path(long i, long namespaces) {
  return ns_name(i % namespaces) + "/kv/data/app/s" + std::to_string(i);
}
Json secret_body(long i) {
  return Json{{"data", {{"password", "pw-" + std::to_string(i * 7919) + "-xxxxxxxx"}, {"user", "svc"}}}};
}

// Writes secrets [from, to) with `writers` threads.
void load(Store& s, long from, long to, long namespaces, int writers) {
  std::atomic<long> next{from};
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (long i = next++; i < to && !failed; i = next++) {
        if (!call(*s.core, s.root_token, Operation::Update, secret_path(i, namespaces), secret_body(i)).ok()) {
          failed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("a secret write failed");
}

struct Percentiles {
  double p50_us, p99_us;
};

Percentiles read_latency(Store& s, long secrets, long namespaces, double seconds) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long> pick(0, secrets - 1);
  std::vector<double> us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    const std::string path = secret_path(pick(rng), namespaces);
    const auto t = Clock::now();
    must(call(*s.core, s.root_token, Operation::Read, path), "read " + path);
    us.push_back(seconds_since(t) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Durable writes per second with `writers` threads for `seconds`, each
// overwriting its own secret (new KV v2 versions), as a rotation would.
double write_rate(Store& s, int writers, double seconds) {
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      const std::string path = ns_name(0) + "/kv/data/rotate/w" + std::to_string(w);  // one mount
      for (long n = 0; Clock::now() < end && !failed; ++n) {
        if (!call(*s.core, s.root_token, Operation::Update, path, secret_body(n)).ok()) failed = true;
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("a timed write failed");
  return static_cast<double>(done) / seconds_since(start);
}

void run(long namespaces, long secrets, long small, double seconds, const std::string& dir) {
  Store s;
  s.path = dir + "/store.db";
  s.open(/*create=*/true);
  s.init();
  s.unseal();
  std::printf("bench_scale: %ld namespaces, %ld secrets (checkpoint at %ld), SQLite at %s, %u cpus\n", namespaces,
              secrets, small, s.path.c_str(), std::thread::hardware_concurrency());

  // Namespaces, timed per tenth.
  const long tenth = std::max(1L, namespaces / 10);
  double first = 0, last = 0;
  for (long i = 0; i < namespaces;) {
    const auto t = Clock::now();
    const long begin = i, end = std::min(namespaces, i + tenth);
    for (; i < end; ++i) {
      must(call(*s.core, s.root_token, Operation::Update, "sys/namespaces/" + ns_name(i)), "namespace");
      must(call(*s.core, s.root_token, Operation::Update, ns_name(i) + "/sys/mounts/kv", Json{{"type", "kv-v2"}}),
           "mount");
    }
    const double rate = static_cast<double>(end - begin) / seconds_since(t);
    if (first == 0) first = rate;
    last = rate;
  }
  std::printf("namespaces  create/s first tenth %8.0f  last tenth %8.0f  last/first %.2f\n", first, last, last / first);

  // Reads at the checkpoint, then at the full size.
  small = std::min(small, secrets);
  const auto load_start = Clock::now();
  load(s, 0, small, namespaces, 4);
  const Percentiles at_small = read_latency(s, small, namespaces, seconds);
  load(s, small, secrets, namespaces, 4);
  const double load_rate = static_cast<double>(secrets) / seconds_since(load_start);
  const Percentiles at_full = read_latency(s, secrets, namespaces, seconds);
  std::printf("load        %ld secrets by 4 writers at %.0f/s\n", secrets, load_rate);
  std::printf("reads       at %7ld: p50 %6.1f us p99 %6.1f us\n", small, at_small.p50_us, at_small.p99_us);
  std::printf("reads       at %7ld: p50 %6.1f us p99 %6.1f us  p99 full/small %.2f\n", secrets, at_full.p50_us,
              at_full.p99_us, at_full.p99_us / at_small.p99_us);

  const double w1 = write_rate(s, 1, seconds);
  const double w4 = write_rate(s, 4, seconds);
  std::printf("writes      durable/s 1 writer %7.0f  4 writers %7.0f  4/1 %.2f\n", w1, w4, w4 / w1);
  std::printf("memory      RSS %ld MB\n", rss_mb());

  // Restart: a new process would do the same; the page cache stays warm.
  s.core.reset();
  const auto t = Clock::now();
  s.open(/*create=*/false);
  s.unseal();
  must(call(*s.core, s.root_token, Operation::Read, secret_path(secrets / 2, namespaces)), "first read");
  std::printf("restart     reopen + unseal + first read %.0f ms\n", seconds_since(t) * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  long namespaces = 1000, secrets = 20000, small = 1000;
  double seconds = 2;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || i + 1 >= argc) {
      std::printf("usage: bench_scale [--namespaces N] [--secrets M] [--small K] [--seconds S] [--dir D]\n");
      return a == "--help" ? 0 : 2;
    }
    const char* v = argv[++i];
    if (a == "--namespaces")
      namespaces = std::atol(v);
    else if (a == "--secrets")
      secrets = std::atol(v);
    else if (a == "--small")
      small = std::atol(v);
    else if (a == "--seconds")
      seconds = std::atof(v);
    else if (a == "--dir")
      dir = v;
    else {
      std::fprintf(stderr, "bench_scale: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (namespaces < 1 || secrets < 1 || small < 1 || seconds <= 0) {
    std::fprintf(stderr, "bench_scale: sizes and seconds must be positive\n");
    return 2;
  }
  const bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/coffer-scale.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  int rc = 0;
  try {
    run(namespaces, secrets, small, seconds, dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scale: %s\n", e.what());
    rc = 1;
  }
  if (own_dir) std::filesystem::remove_all(dir);
  return rc;
}
