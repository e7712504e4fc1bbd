// SPDX-License-Identifier: MPL-2.0
// bench_caller: what naming a request's caller costs (fs/caller.hpp), with the
// kernel's process events (through the eBPF ring, and through the socket's
// queue) and without them (/proc/TID/stat read at each request), in one run.
// Each round resolves a live child process's caller
// (its VAULT_TOKEN, cached) N times per mode, the modes interleaved; the
// figures are ns per resolution, medians over the rounds, and their ratios.
// Needs root for process events (CAP_NET_ADMIN); otherwise both modes read
// /proc and it says so.
//
//   bench_caller [--calls N] [--rounds R]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fs/caller.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 200000;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--calls" && i + 1 < argc) {
      calls = std::atoi(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_caller [--calls N] [--rounds R]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (calls < 1 || rounds < 1) return 2;
  // A caller that stays put: sleep with a VAULT_TOKEN.
  char sleep_[] = "sleep", forever[] = "600";
  char* args[] = {sleep_, forever, nullptr};
  char token[] = "VAULT_TOKEN=hvs.bench", path[] = "PATH=/usr/bin:/bin";
  char* envp[] = {token, path, nullptr};
  pid_t child = 0;
  if (::posix_spawn(&child, "/bin/sleep", nullptr, nullptr, args, envp) != 0) {
    std::perror("posix_spawn");
    return 1;
  }
  ::usleep(50'000);  // until its image and environ are in place
  fsd::CallerSettings with;
  with.env_timeout = std::chrono::seconds(10);
  fsd::CallerSettings socket = with;
  socket.process_events_socket_only = true;
  fsd::CallerSettings without = with;
  without.process_events = false;
  fsd::CallerResolver events(with);
  fsd::CallerResolver queued(socket);
  fsd::CallerResolver proc(without);
  if (!events.has_process_events()) std::printf("# no process events here (not root?): all modes read /proc\n");
  if (events.has_process_events() && !events.process_events_ring()) {
    std::printf("# no eBPF ring here (see cofferd's log line): the first two modes both use the socket\n");
  }
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  auto time = [&](fsd::CallerResolver& r) {
    if (r.who(child, uid, gid, fsd::ReadsEnv::Yes).caller.token != engine::to_secure("hvs.bench")) {
      std::fprintf(stderr, "wrong token\n");
      std::exit(1);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) (void)r.who(child, uid, gid, fsd::ReadsEnv::Yes);
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / calls;
  };
  std::vector<double> with_ns;
  std::vector<double> socket_ns;
  std::vector<double> without_ns;
  for (int round = 0; round < rounds; ++round) {
    with_ns.push_back(time(events));
    socket_ns.push_back(time(queued));
    without_ns.push_back(time(proc));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  const double a = median(with_ns);
  const double q = median(socket_ns);
  const double b = median(without_ns);
  std::printf("# %d calls x %d rounds, medians\n", calls, rounds);
  std::printf("%-34s %10.0f ns/call\n", "process events, eBPF ring", a);
  std::printf("%-34s %10.0f ns/call\n", "process events, socket queue", q);
  std::printf("%-34s %10.0f ns/call\n", "/proc/TID/stat at each request", b);
  std::printf("%-34s %10.2f\n", "ring / socket", a / q);
  std::printf("%-34s %10.2f\n", "ring / stat", a / b);
  return 0;
}
