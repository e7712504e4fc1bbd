// SPDX-License-Identifier: MPL-2.0
// bench_cache: what kernel caching buys a bound mount (SPEC §4).
//
// Starts two `cofferd --dev --token-file T` daemons, one with --cache, writes
// the same N small secrets into each, then times open + read-to-EOF + close
// of secrets (whole files and NAME#KEY fields) on each mount, and the same
// after every write on the cached mount (each write invalidates). Prints
// ops/s and microseconds per op. Always unmounts and reaps what it started.
//
//   bench_cache [--cofferd PATH] [--secrets N] [--seconds S]
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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

struct Daemon {
  pid_t pid = -1;
  std::string mountpoint;
};

using bench::is_mounted;

Daemon start(const std::string& cofferd, const std::vector<std::string>& args, const std::string& mp,
             const std::string& log) {
  ::mkdir(mp.c_str(), 0700);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    bench::redirect_output(log);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(cofferd.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(const_cast<char*>(mp.c_str()));
    argv.push_back(nullptr);
    ::execv(cofferd.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 200 && !is_mounted(mp); ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error("cofferd exited; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!is_mounted(mp)) throw std::runtime_error("cofferd did not mount " + mp);
  return {pid, mp};
}

void stop(Daemon& d) {
  if (d.pid <= 0) return;
  ::kill(d.pid, SIGTERM);
  int status = 0;
  ::waitpid(d.pid, &status, 0);
  d.pid = -1;
  if (is_mounted(d.mountpoint)) {
    const std::string cmd = "fusermount3 -uz '" + d.mountpoint + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not unmount %s\n", d.mountpoint.c_str());
  }
}

void write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (::close(fd) != 0 || !ok) throw std::runtime_error("write " + path + ": " + std::strerror(errno));
}

// open + read to EOF + close; returns the bytes read.
std::size_t read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  char buf[4096];
  std::size_t total = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) total += static_cast<std::size_t>(n);
  ::close(fd);
  if (n < 0) throw std::runtime_error("read " + path + ": " + std::strerror(errno));
  return total;
}

struct Figure {
  double ops_per_s = 0;
  double us_per_op = 0;
};

template <class Op>
Figure timed(double seconds, Op op) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const auto begin = Clock::now();
  std::size_t ops = 0;
  while (Clock::now() < end) {
    op(ops);
    ++ops;
  }
  const double took = std::chrono::duration<double>(Clock::now() - begin).count();
  return {ops / took, took * 1e6 / static_cast<double>(ops)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string cofferd = COFFER_CFFERD_PATH;
  int secrets = 100;
  double seconds = 2.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cofferd" && i + 1 < argc)
      cofferd = argv[++i];
    else if (a == "--secrets" && i + 1 < argc)
      secrets = std::max(1, std::atoi(argv[++i]));
    else if (a == "--seconds" && i + 1 < argc)
      seconds = std::max(0.1, std::atof(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_cache [--cofferd PATH] [--secrets N] [--seconds S]\n");
      return 2;
    }
  }
  if (cofferd.empty()) {
    std::fprintf(stderr, "bench_cache: no cofferd (give --cofferd PATH)\n");
    return 2;
  }
  char tmpl[] = "/tmp/coffer-bench-cache.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const std::string token = dir + "/token";
  Daemon cached, uncached;
  int rc = 0;
  try {
    write_file(token, "root\n");
    const std::string log = dir + "/cofferd.log";
    cached = start(cofferd, {"--dev", "--token-file", token, "--cache", "--log-level", "warn"}, dir + "/cached", log);
    uncached = start(cofferd, {"--dev", "--token-file", token, "--log-level", "warn"}, dir + "/uncached", log);
    std::string value(48, 'x');
    for (Daemon* d : {&cached, &uncached}) {
      ::mkdir((d->mountpoint + "/secret/bench").c_str(), 0700);
      for (int i = 0; i < secrets; ++i) {
        write_file(d->mountpoint + "/secret/bench/s" + std::to_string(i), "user=app password=" + value + "\n");
      }
      for (int i = 0; i < secrets; ++i) read_file(d->mountpoint + "/secret/bench/s" + std::to_string(i));
    }
    std::printf("bench_cache: %d secrets, %.1f s per figure, 1 thread (open + read to EOF + close)\n", secrets,
                seconds);
    std::printf("%-34s %12s %10s\n", "", "ops/s", "us/op");
    auto row = [&](const char* name, Figure f) {
      std::printf("%-34s %12.0f %10.1f\n", name, f.ops_per_s, f.us_per_op);
      return f;
    };
    auto reader = [&](const Daemon& d, const char* suffix) {
      return [&d, suffix, secrets](std::size_t n) {
        read_file(d.mountpoint + "/secret/bench/s" + std::to_string(n % secrets) + suffix);
      };
    };
    const Figure u = row("uncached bound mount: file", timed(seconds, reader(uncached, "")));
    const Figure c = row("cached bound mount: file", timed(seconds, reader(cached, "")));
    const Figure uf = row("uncached bound mount: NAME#KEY", timed(seconds, reader(uncached, "#password")));
    const Figure cf = row("cached bound mount: NAME#KEY", timed(seconds, reader(cached, "#password")));
    // Each iteration writes one secret (invalidating it) and reads it back.
    const std::string target = cached.mountpoint + "/secret/bench/s0";
    row("cached: write + read back", timed(seconds, [&](std::size_t n) {
          write_file(target, "user=app password=" + std::to_string(n) + "\n");
          read_file(target + "#password");
        }));
    row("uncached: write + read back", timed(seconds, [&](std::size_t n) {
          write_file(uncached.mountpoint + "/secret/bench/s0", "user=app password=" + std::to_string(n) + "\n");
          read_file(uncached.mountpoint + "/secret/bench/s0#password");
        }));
    std::printf("cached / uncached: file %.2fx, NAME#KEY %.2fx\n", c.ops_per_s / u.ops_per_s,
                cf.ops_per_s / uf.ops_per_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cache: %s\n", e.what());
    rc = 1;
  }
  stop(cached);
  stop(uncached);
  const std::string cleanup = "rm -rf '" + dir + "'";
  if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  return rc;
}
