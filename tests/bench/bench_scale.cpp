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
//                the process's CPU time per write in each, and how many
//                writes shared a SQLite transaction (group commit) with 4,
//                and how many of those commits waited for announced writes
//                (the commit delay) and how many waits ran to the limit;
//   memory       this process's RSS after the store is built and read;
//   restart      close, reopen, unseal and first read, in ms;
//   mount        with a cofferd (--cofferd, built beside this): the same
//                store mounted (shared mount, the root token as this uid's
//                session) at K and at M secrets: start + unseal + first
//                read, p50/p99 of open + read + close of a random secret,
//                and at M cofferd's VmRSS/VmHWM after a stat of every
//                secret (as `find` or a config loader would), with the
//                number of inodes it then holds (statfs f_files).
// Each write is acknowledged only after its commit is durable, as through
// the mount. The secrets are loaded by 4 writer threads.
//
// --compare PATH mounts the store with a second cofferd too (a baseline build),
// in turn, after the first.
//
// --dir D keeps the store in D, with keys.json (its unseal key and root
// token), so it can be mounted again by hand.
//
//   bench_scale [--namespaces N] [--secrets M] [--small K] [--seconds S] [--dir D]
//               [--cofferd PATH|none] [--compare PATH]
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdint>
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
#include "mounted.hpp"

#ifndef COFFER_CFFERD_PATH
#define COFFER_CFFERD_PATH ""
#endif

namespace {

using bench::Clock;
using engine::Json;
using engine::Operation;

using bench::call;
using bench::must;
using bench::seconds_since;

// A field of /proc/PID/status in MB ("VmRSS", "VmHWM"), -1 if absent.
long status_mb(const std::string& pid, const std::string& field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1) / 1024;
  }
  return -1;
}
long rss_mb() { return status_mb("self", "VmRSS"); }

struct Store {
  std::string path;
  std::string root_token;
  std::string unseal_key;
  std::unique_ptr<engine::Core> core;
  engine::SqliteStorage* sqlite = nullptr;  // core's store, for its commit count

  void open(bool create) {
    auto storage = must(engine::SqliteStorage::open(path, create ? engine::SqliteStorage::IfMissing::Create
                                                                 : engine::SqliteStorage::IfMissing::Fail),
                        "open " + path);
    sqlite = storage.get();
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
// The same secret's file below a mountpoint.
std::string secret_file(const std::string& mp, long i, long namespaces) {
  return mp + "/" + ns_name(i % namespaces) + "/kv/app/s" + std::to_string(i);
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

// This process's CPU time (user + system) so far, in seconds.
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct WriteFigures {
  double per_second;
  double cpu_us;             // CPU of this process per write, every thread
  double writes_per_commit;  // how many writes shared each SQLite transaction
  double delayed;            // share of commits that waited for announced writes (group_commit.hpp)
  double timed_out;          // share of those waits that ran to the limit
};

// Durable writes per second with `writers` threads for `seconds`, each
// overwriting its own secret (new KV v2 versions), as a rotation would.
WriteFigures write_rate(Store& s, int writers, double seconds) {
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const std::uint64_t commits = s.sqlite->commits();
  const auto delays = s.sqlite->commit_delay()->delays();
  const double cpu = cpu_seconds();
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
  const double elapsed = seconds_since(start);
  const auto n = static_cast<double>(done);
  const auto commits_made = static_cast<double>(s.sqlite->commits() - commits);
  const auto [waits, timeouts] = s.sqlite->commit_delay()->delays();
  const auto waited = static_cast<double>(waits - delays.first);
  return {n / elapsed, (cpu_seconds() - cpu) * 1e6 / n, n / commits_made, waited / commits_made,
          waited == 0 ? 0 : static_cast<double>(timeouts - delays.second) / waited};
}

// ------------------------------------------------------------ through a mount

using bench::is_mounted;

void write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (::close(fd) != 0 || !ok) throw std::runtime_error("write " + path + ": " + std::strerror(errno));
}

// open + read to EOF + close.
void read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
  }
  ::close(fd);
  if (n < 0) throw std::runtime_error("read " + path + ": " + std::strerror(errno));
}

// A cofferd serving the store at s.path on mp, shared (no --token-file),
// unsealed, with the root token as this uid's session. Stopped (SIGTERM,
// reaped, unmounted) when it goes out of scope.
struct Mount {
  pid_t pid = -1;
  std::string mp;

  Mount(const std::string& cofferd, const Store& s, const std::string& mountpoint, const std::string& log)
      : mp(mountpoint) {
    ::mkdir(mp.c_str(), 0700);
    pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      bench::redirect_output(log);
      ::execl(cofferd.c_str(), cofferd.c_str(), "--storage", s.path.c_str(), "--log-level", "warn", mp.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!is_mounted(mp) && Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        throw std::runtime_error("cofferd exited; see " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!is_mounted(mp)) {
      stop();
      throw std::runtime_error("cofferd did not mount " + mp);
    }
    write_file(mp + "/sys/unseal", s.unseal_key + "\n");
    write_file(mp + "/auth/token/session", s.root_token + "\n");
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount() { stop(); }

  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    if (is_mounted(mp)) {
      const std::string cmd = "fusermount3 -uz '" + mp + "' 2>/dev/null";
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not unmount %s\n", mp.c_str());
    }
  }
  long mb(const char* field) const { return status_mb(std::to_string(pid), field); }
};

Percentiles mount_read_latency(const Mount& m, long secrets, long namespaces, double seconds) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<long> pick(0, secrets - 1);
  std::vector<double> us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    const std::string path = secret_file(m.mp, pick(rng), namespaces);
    const auto t = Clock::now();
    read_file(path);
    us.push_back(seconds_since(t) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// The store mounted with `secrets` in it: start + unseal + first read, then
// random reads; with touch_all, a stat of every secret and cofferd's memory.
Percentiles through_mount(const char* label, const std::string& cofferd, Store& s, const std::string& dir, long secrets,
                          long namespaces, double seconds, bool touch_all) {
  const auto t = Clock::now();
  Mount m(cofferd, s, dir + "/mnt", dir + "/cofferd.log");
  read_file(secret_file(m.mp, secrets / 2, namespaces));
  const double start_ms = seconds_since(t) * 1e3;
  const Percentiles p = mount_read_latency(m, secrets, namespaces, seconds);
  std::printf("%-11s at %7ld: start + unseal + first read %.0f ms; read p50 %6.1f us p99 %6.1f us\n", label, secrets,
              start_ms, p.p50_us, p.p99_us);
  if (touch_all) {
    const long before = m.mb("VmRSS"), before_anon = m.mb("RssAnon");
    const auto ts = Clock::now();
    struct stat st {};
    for (long i = 0; i < secrets; ++i) {
      const std::string path = secret_file(m.mp, i, namespaces);
      if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat " + path + ": " + std::strerror(errno));
    }
    const double stat_s = seconds_since(ts);
    struct statvfs vfs {};
    ::statvfs(m.mp.c_str(), &vfs);
    std::printf("%-11s stat of all %ld secrets in %.1f s (%.1f us each), %lu inodes held\n", label, secrets, stat_s,
                stat_s * 1e6 / static_cast<double>(secrets), static_cast<unsigned long>(vfs.f_files));
    std::printf("%-11s cofferd VmRSS %ld MB before, %ld MB after (anonymous %ld MB, %ld MB), VmHWM %ld MB\n", label,
                before, m.mb("VmRSS"), before_anon, m.mb("RssAnon"), m.mb("VmHWM"));
  }
  return p;
}

// The cofferds to mount the store with: --cofferd, and --compare's (a
// baseline build, say) after it on the same store.
struct Daemons {
  std::string cofferd, compare;
  std::vector<std::pair<const char*, std::string>> list() const {
    std::vector<std::pair<const char*, std::string>> out;
    if (!cofferd.empty()) out.emplace_back("mount", cofferd);
    if (!compare.empty()) out.emplace_back("compare", compare);
    return out;
  }
};

void run(long namespaces, long secrets, long small, double seconds, const std::string& dir, const Daemons& daemons) {
  Store s;
  s.path = dir + "/store.db";
  s.open(/*create=*/true);
  s.init();
  s.unseal();
  {
    // So a store kept with --dir can be mounted again for a closer look
    // (a throwaway store: its key is worth nothing elsewhere). Mode 0600.
    const int fd = ::open((dir + "/keys.json").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const auto keys = Json{{"unseal_key", s.unseal_key}, {"root_token", s.root_token}}.dump() + "\n";
    if (fd < 0 || ::write(fd, keys.data(), keys.size()) != static_cast<ssize_t>(keys.size())) {
      std::fprintf(stderr, "bench_scale: cannot write %s/keys.json\n", dir.c_str());
    }
    if (fd >= 0) ::close(fd);
  }
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
  std::vector<Percentiles> mount_small;
  if (!daemons.list().empty()) {  // one process holds a SQLite store: the mount has it meanwhile
    s.core.reset();
    for (const auto& [label, cofferd] : daemons.list()) {
      mount_small.push_back(through_mount(label, cofferd, s, dir, small, namespaces, seconds, /*touch_all=*/false));
    }
    s.open(/*create=*/false);
    s.unseal();
  }
  load(s, small, secrets, namespaces, 4);
  const double load_rate = static_cast<double>(secrets) / seconds_since(load_start);
  const Percentiles at_full = read_latency(s, secrets, namespaces, seconds);
  std::printf("load        %ld secrets by 4 writers at %.0f/s\n", secrets, load_rate);
  std::printf("reads       at %7ld: p50 %6.1f us p99 %6.1f us\n", small, at_small.p50_us, at_small.p99_us);
  std::printf("reads       at %7ld: p50 %6.1f us p99 %6.1f us  p99 full/small %.2f\n", secrets, at_full.p50_us,
              at_full.p99_us, at_full.p99_us / at_small.p99_us);

  const WriteFigures w1 = write_rate(s, 1, seconds);
  const WriteFigures w4 = write_rate(s, 4, seconds);
  std::printf("writes      durable/s 1 writer %7.0f  4 writers %7.0f  4/1 %.2f\n", w1.per_second, w4.per_second,
              w4.per_second / w1.per_second);
  std::printf("writes      CPU us/write 1 writer %5.1f  4 writers %5.1f  writes/commit 4 writers %.2f\n", w1.cpu_us,
              w4.cpu_us, w4.writes_per_commit);
  std::printf("writes      commits delayed 4 writers %.0f%% (of which to the limit %.0f%%)\n", 100 * w4.delayed,
              100 * w4.timed_out);
  std::printf("memory      RSS %ld MB\n", rss_mb());

  // Restart: a new process would do the same; the page cache stays warm.
  s.core.reset();
  const auto t = Clock::now();
  s.open(/*create=*/false);
  s.unseal();
  must(call(*s.core, s.root_token, Operation::Read, secret_path(secrets / 2, namespaces)), "first read");
  std::printf("restart     reopen + unseal + first read %.0f ms\n", seconds_since(t) * 1e3);

  s.core.reset();
  std::size_t n = 0;
  for (const auto& [label, cofferd] : daemons.list()) {
    const Percentiles full = through_mount(label, cofferd, s, dir, secrets, namespaces, seconds, /*touch_all=*/true);
    std::printf("%-11s read p99 at %ld / at %ld: %.2f\n", label, secrets, small, full.p99_us / mount_small[n++].p99_us);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long namespaces = 1000, secrets = 20000, small = 1000;
  double seconds = 2;
  std::string dir;
  Daemons daemons{COFFER_CFFERD_PATH, ""};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || i + 1 >= argc) {
      std::printf(
          "usage: bench_scale [--namespaces N] [--secrets M] [--small K] [--seconds S] [--dir D] "
          "[--cofferd PATH|none] [--compare PATH]\n");
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
    else if (a == "--cofferd")
      daemons.cofferd = std::string(v) == "none" ? "" : v;
    else if (a == "--compare")
      daemons.compare = v;
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
    run(namespaces, secrets, small, seconds, dir, daemons);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scale: %s\n", e.what());
    rc = 1;
  }
  if (own_dir) std::filesystem::remove_all(dir);
  return rc;
}
