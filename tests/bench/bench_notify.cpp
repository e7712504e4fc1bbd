// SPDX-License-Identifier: MPL-2.0
// bench_notify: what word of a change costs and how soon it comes.
//
// Runs cofferd twice from a config file with two mounts over one SQLite
// store: A, where the writes are made, and B, watched (an inotify watch on
// B's folder), with `inotify = false` the first time and `inotify = true`
// the second. Each run times N writes through A (open + write + close, one
// new KV v2 version each) while a stream on B
// (sys/events/subscribe/kv-v2/data-write) is open, and prints:
// - the write's own latency p50/p99 (the baseline);
// - event delivery latency, from just before the write to the line read
//   on B, p50/p99, and its ratio to the write;
// - with inotify on: IN_MODIFY delivery latency on B, p50/p99;
// - the write's cost with inotify on vs off (ratio of p50s and of rates).
// Always unmounts and reaps what it started.
//
// Off and on runs alternate, twice each, after 30 unrecorded writes.
//
//   bench_notify [--cofferd PATH] [--writes N]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include "mounted.hpp"

#ifndef COFFER_CFFERD_PATH
#define COFFER_CFFERD_PATH ""
#endif

namespace {

using Clock = std::chrono::steady_clock;

using bench::is_mounted;

struct Daemon {
  pid_t pid = -1;
  std::vector<std::string> mountpoints;
};

Daemon start(const std::string& cofferd, const std::string& config, const std::vector<std::string>& mps,
             const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    bench::redirect_output(log);
    ::execl(cofferd.c_str(), cofferd.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (const auto& mp : mps) {
    for (int i = 0; i < 200 && !is_mounted(mp); ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error("cofferd exited; see " + log);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (!is_mounted(mp)) throw std::runtime_error("cofferd did not mount " + mp);
  }
  return {pid, mps};
}

void stop(Daemon& d) {
  if (d.pid <= 0) return;
  ::kill(d.pid, SIGTERM);
  int status = 0;
  ::waitpid(d.pid, &status, 0);
  d.pid = -1;
  for (const auto& mp : d.mountpoints) {
    if (!is_mounted(mp)) continue;
    const std::string cmd = "fusermount3 -uz '" + mp + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not unmount %s\n", mp.c_str());
  }
}

void write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (::close(fd) != 0 || !ok) throw std::runtime_error("write " + path + ": " + std::strerror(errno));
}

// Writes body to path and reads the reply on the same fd.
std::string exchange(const std::string& path, const std::string& body) {
  const int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  if (::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) {
    ::close(fd);
    throw std::runtime_error("write " + path + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct Run {
  std::vector<double> write_us, event_us, inotify_us;
  double writes_per_s = 0;
  double writing_us = 0;
  // Adds another run's samples (the rates are recomputed from the totals).
  void add(const Run& o) {
    write_us.insert(write_us.end(), o.write_us.begin(), o.write_us.end());
    event_us.insert(event_us.end(), o.event_us.begin(), o.event_us.end());
    inotify_us.insert(inotify_us.end(), o.inotify_us.begin(), o.inotify_us.end());
    writing_us += o.writing_us;
    writes_per_s = static_cast<double>(write_us.size()) / (writing_us / 1e6);
  }
};

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

// One daemon with B's inotify on or off: N writes through A, each waited
// for on B's event stream (and inotify watch).
Run run(const std::string& cofferd, const std::string& dir, bool inotify, int writes) {
  const std::string a = dir + (inotify ? "/a-on" : "/a-off");
  const std::string b = dir + (inotify ? "/b-on" : "/b-off");
  const std::string db = dir + (inotify ? "/on.db" : "/off.db");
  ::mkdir(a.c_str(), 0700);
  ::mkdir(b.c_str(), 0700);
  const std::string config = dir + (inotify ? "/on.hcl" : "/off.hcl");
  write_file(config, "storage \"sqlite\" {\n  path = \"" + db + "\"\n  init = true\n}\nmount \"" + a +
                         "\" {}\nmount \"" + b + "\" { inotify = " + (inotify ? "true" : "false") +
                         " }\ndisable_mlock = true\nlog_level = \"warn\"\n");
  Daemon d = start(cofferd, config, {a, b}, dir + "/cofferd.log");
  Run r;
  int ino = -1, stream = -1;
  try {
    auto init = nlohmann::json::parse(exchange(a + "/sys/init", R"({"secret_shares":1,"secret_threshold":1})"));
    write_file(a + "/sys/unseal", init["keys"][0].get<std::string>() + "\n");
    const std::string root = init["root_token"].get<std::string>();
    write_file(a + "/auth/token/session", root + "\n");
    write_file(b + "/auth/token/session", root + "\n");
    write_file(a + "/sys/mounts/secret", "type=kv-v2\n");
    ::mkdir((a + "/secret/bench").c_str(), 0700);
    write_file(a + "/secret/bench/s", "password=0\n");
    struct stat st {};
    ::stat((b + "/secret/bench/s").c_str(), &st);
    ino = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino < 0 || ::inotify_add_watch(ino, (b + "/secret/bench").c_str(), IN_MODIFY) < 0) {
      throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
    }
    stream = ::open((b + "/sys/events/subscribe/kv-v2/data-write").c_str(), O_RDONLY | O_NONBLOCK);
    if (stream < 0) throw std::runtime_error(std::string("event stream: ") + std::strerror(errno));
    char buf[65536];
    const auto begin = Clock::now();
    double writing_us = 0;
    const int warmup = 30;  // not recorded: first writes pay for cold caches
    for (int i = -warmup; i < writes; ++i) {
      const auto t0 = Clock::now();
      write_file(a + "/secret/bench/s", "password=" + std::to_string(i + 1) + "\n");
      const double w = us_since(t0);
      const bool recorded = i >= 0;
      if (recorded) {
        writing_us += w;
        r.write_us.push_back(w);
      }
      bool got_event = false, got_inotify = !inotify;
      while (!got_event || !got_inotify) {
        pollfd fds[2] = {{stream, POLLIN, 0}, {ino, POLLIN, 0}};
        if (::poll(fds, 2, 2000) <= 0) break;  // lost: counted as missing
        if (!got_event && (fds[0].revents & POLLIN)) {
          const ssize_t n = ::read(stream, buf, sizeof buf);
          if (n > 0) {
            if (recorded) r.event_us.push_back(us_since(t0));
            got_event = true;
          }
        }
        if (fds[1].revents & POLLIN) {
          while (::read(ino, buf, sizeof buf) > 0) {
          }
          if (!got_inotify) {
            if (recorded) r.inotify_us.push_back(us_since(t0));
            got_inotify = true;
          }
        }
      }
    }
    (void)begin;
    r.writes_per_s = writes / (writing_us / 1e6);
    r.writing_us = writing_us;
  } catch (...) {
    if (stream >= 0) ::close(stream);
    if (ino >= 0) ::close(ino);
    stop(d);
    throw;
  }
  ::close(stream);
  ::close(ino);
  stop(d);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cofferd = COFFER_CFFERD_PATH;
  int writes = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--cofferd" && i + 1 < argc) {
      cofferd = argv[++i];
    } else if (arg == "--writes" && i + 1 < argc) {
      writes = std::max(10, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_notify [--cofferd PATH] [--writes N]\n");
      return 2;
    }
  }
  if (cofferd.empty()) {
    std::fprintf(stderr, "bench_notify: no cofferd (give --cofferd PATH)\n");
    return 2;
  }
  char tmpl[] = "/tmp/coffer-bench-notify.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  int rc = 0;
  try {
    // Off and on alternate (each daemon twice, fresh stores), so a machine
    // busy with something else weighs on both alike.
    Run off, on;
    for (int rep = 0; rep < 2; ++rep) {
      const std::string sub = dir + "/" + std::to_string(rep);
      ::mkdir(sub.c_str(), 0700);
      off.add(run(cofferd, sub, false, writes));
      on.add(run(cofferd, sub, true, writes));
    }
    std::printf("bench_notify: 2 x %d writes through mount A (SQLite store), each waited for on mount B\n", writes);
    std::printf("%-44s %10s %10s %8s\n", "", "p50 us", "p99 us", "count");
    auto row = [](const char* name, const std::vector<double>& v) {
      std::printf("%-44s %10.0f %10.0f %8zu\n", name, percentile(v, 0.5), percentile(v, 0.99), v.size());
    };
    row("write, B inotify off (baseline)", off.write_us);
    row("event line read on B, inotify off", off.event_us);
    row("write, B inotify on", on.write_us);
    row("event line read on B, inotify on", on.event_us);
    row("IN_MODIFY on B (replay)", on.inotify_us);
    std::printf("event latency / write latency (p50, off): %.2fx\n",
                percentile(off.event_us, 0.5) / percentile(off.write_us, 0.5));
    std::printf("write cost, inotify on / off: p50 %.2fx, p99 %.2fx, writes/s %.0f vs %.0f (%.2fx)\n",
                percentile(on.write_us, 0.5) / percentile(off.write_us, 0.5),
                percentile(on.write_us, 0.99) / percentile(off.write_us, 0.99), on.writes_per_s, off.writes_per_s,
                on.writes_per_s / off.writes_per_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_notify: %s\n", e.what());
    rc = 1;
  }
  const std::string cleanup = "rm -rf '" + dir + "'";
  if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  return rc;
}
