// SPDX-License-Identifier: MPL-2.0
// bench_reads: small-secret read latency of cofferd against the FUSE floor and tmpfs.
//
// Starts `cofferd --dev`, writes N small secrets through its mount, copies exactly what `cat`
// returns into the floor filesystem (bench_floor_fs) and a tmpfs, and (coffer-cached,
// coffer-ro) a second cofferd from a config file with two bound caching mounts of one store,
// the second read-only (its reads are the kernel's alone), then times
// open + read-to-EOF + close of random secrets (and NAME#KEY reads and a directory listing)
// on each target with 1 and 2 threads. Prints a table a human pastes into a note (or --json).
// Always unmounts and reaps what it started, also on failure and SIGINT/SIGTERM.
// See tests/bench/README.md.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef COFFER_CFFERD_PATH
#define COFFER_CFFERD_PATH ""
#endif
#ifndef BENCH_FLOOR_FS_PATH
#define BENCH_FLOOR_FS_PATH ""
#endif

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// ---------------------------------------------------------------------------------------------
// Signals: the first SIGINT/SIGTERM asks the loops to stop (then normal cleanup runs); a second
// one SIGKILLs the daemons so that a read stuck in a hung daemon returns and cleanup can run.

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal_count{0};
constexpr int kMaxChildren = 16;
std::atomic<pid_t> g_children[kMaxChildren];

void on_signal(int) {
  g_interrupted.store(true);
  if (g_signal_count.fetch_add(1) >= 1) {
    for (auto& child : g_children) {
      const pid_t pid = child.load();
      if (pid > 0) kill(-pid, SIGKILL);  // each child leads its own process group
    }
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking waits return EINTR and notice the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

void track_child(pid_t pid) {
  for (auto& child : g_children) {
    pid_t expected = 0;
    if (child.compare_exchange_strong(expected, pid)) return;
  }
}

void untrack_child(pid_t pid) {
  for (auto& child : g_children) {
    pid_t expected = pid;
    if (child.compare_exchange_strong(expected, 0)) return;
  }
}

void check_interrupted() {
  if (g_interrupted.load()) throw Interrupted();
}

// ---------------------------------------------------------------------------------------------
// Options

enum class Target { Coffer, Floor, FloorCached, Tmpfs, CofferCached, CofferRo };
enum class Case { Read, Field, List };

constexpr Target kAllTargets[] = {Target::Coffer,       Target::Floor,    Target::FloorCached,
                                  Target::CofferCached, Target::CofferRo, Target::Tmpfs};
constexpr int kTargetCount = 6;

bool is_coffer(Target t) { return t == Target::Coffer || t == Target::CofferCached || t == Target::CofferRo; }

// The ratio blocks: each Coffer target against what it is measured by.
struct Pair {
  Target target, baseline;
};
constexpr Pair kPairs[] = {
    {Target::Coffer, Target::Floor}, {Target::CofferCached, Target::FloorCached}, {Target::CofferRo, Target::Tmpfs}};
constexpr Case kAllCases[] = {Case::Read, Case::Field, Case::List};

const char* target_name(Target t) {
  switch (t) {
    case Target::Coffer: return "coffer";
    case Target::Floor: return "floor";
    case Target::FloorCached: return "floor-cached";
    case Target::Tmpfs: return "tmpfs";
    case Target::CofferCached: return "coffer-cached";
    case Target::CofferRo: return "coffer-ro";
  }
  return "?";
}

const char* case_name(Case c) {
  switch (c) {
    case Case::Read: return "read";
    case Case::Field: return "field";
    case Case::List: return "ls";
  }
  return "?";
}

struct Options {
  std::string cofferd = COFFER_CFFERD_PATH;
  std::string floor_fs = BENCH_FLOOR_FS_PATH;
  std::vector<std::string> cofferd_args;  // extra arguments before MOUNTPOINT
  std::string token = "root";
  int secrets = 200;
  double duration_s = 2.0;
  double warmup_s = 0.3;
  int rounds = 1;
  uint64_t seed = 42;
  std::vector<int> threads = {1, 2};
  std::vector<Target> targets;  // empty: all that are available
  bool targets_explicit = false;
  std::vector<Case> cases = {Case::Read, Case::Field, Case::List};
  bool json = false;
  std::string profile_cmd;  // run during the cases of profile_target; {pid} -> its daemon's pid
  Target profile_target = Target::Coffer;
  std::string workdir_base = "/tmp";
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: bench_reads [options]\n"
               "  --cofferd PATH        cofferd binary (default: %s)\n"
               "  --floor PATH          bench_floor_fs binary (default: %s)\n"
               "  --cofferd-arg ARG     extra cofferd argument before MOUNTPOINT (repeatable)\n"
               "  --token TOKEN         dev root token id (default root); passed as VAULT_TOKEN\n"
               "  --secrets N           number of secrets secret/app/sNNN (default 200)\n"
               "  --duration S          timed seconds per case (default 2)\n"
               "  --warmup S            untimed seconds before each timed slice (default 0.3)\n"
               "  --rounds R            split each case into R slices, targets interleaved (default 1)\n"
               "  --seed N              random seed for the secret choice (default 42)\n"
               "  --threads LIST        reader thread counts, e.g. 1,2 (default 1,2)\n"
               "  --targets LIST        of coffer,floor,floor-cached,coffer-cached,coffer-ro,tmpfs\n"
               "                        (default: all available)\n"
               "  --cases LIST          of read,field,ls (default all)\n"
               "  --profile CMD         shell command run during each coffer case, {pid} = cofferd's pid,\n"
               "                        {case} = e.g. read-1-r1; stopped with SIGINT. Example:\n"
               "                        'perf record -g -o /tmp/coffer-{case}.data -p {pid}'\n"
               "  --profile-target T    whose daemon --profile watches: coffer (default), floor,\n"
               "                        floor-cached, coffer-cached, coffer-ro\n"
               "  --workdir DIR         where the temp dir goes (default /tmp)\n"
               "  --json                print JSON instead of the table\n",
               *COFFER_CFFERD_PATH ? COFFER_CFFERD_PATH : "none, cofferd target absent at configure time",
               BENCH_FLOOR_FS_PATH);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

double parse_double(const std::string& text, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v >= 0)) throw BenchError(std::string("bad ") + what);
  return v;
}

long long parse_int(const std::string& text, const char* what, long long min, long long max) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v < min || v > max) {
    throw BenchError(std::string("bad ") + what + ": " + text);
  }
  return v;
}

// Returns false for --help.
bool parse_args(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw BenchError("missing value for " + arg);
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") return false;
    if (arg == "--cofferd") {
      o->cofferd = value();
    } else if (arg == "--floor") {
      o->floor_fs = value();
    } else if (arg == "--cofferd-arg") {
      o->cofferd_args.push_back(value());
    } else if (arg == "--token") {
      o->token = value();
    } else if (arg == "--secrets") {
      o->secrets = static_cast<int>(parse_int(value(), "--secrets", 1, 100000));
    } else if (arg == "--duration") {
      o->duration_s = parse_double(value(), "--duration");
    } else if (arg == "--warmup") {
      o->warmup_s = parse_double(value(), "--warmup");
    } else if (arg == "--rounds") {
      o->rounds = static_cast<int>(parse_int(value(), "--rounds", 1, 1000));
    } else if (arg == "--seed") {
      o->seed = static_cast<uint64_t>(parse_int(value(), "--seed", 0, INT64_MAX));
    } else if (arg == "--threads") {
      o->threads.clear();
      for (const auto& t : split_list(value())) {
        o->threads.push_back(static_cast<int>(parse_int(t, "--threads", 1, 256)));
      }
    } else if (arg == "--targets") {
      o->targets.clear();
      o->targets_explicit = true;
      for (const auto& name : split_list(value())) {
        const auto it = std::find_if(std::begin(kAllTargets), std::end(kAllTargets),
                                     [&](Target t) { return name == target_name(t); });
        if (it == std::end(kAllTargets)) throw BenchError("unknown target " + name);
        o->targets.push_back(*it);
      }
    } else if (arg == "--cases") {
      o->cases.clear();
      for (const auto& name : split_list(value())) {
        const auto it =
            std::find_if(std::begin(kAllCases), std::end(kAllCases), [&](Case c) { return name == case_name(c); });
        if (it == std::end(kAllCases)) throw BenchError("unknown case " + name);
        o->cases.push_back(*it);
      }
    } else if (arg == "--profile") {
      o->profile_cmd = value();
    } else if (arg == "--profile-target") {
      const std::string name = value();
      const auto it = std::find_if(std::begin(kAllTargets), std::end(kAllTargets),
                                   [&](Target t) { return name == target_name(t) && t != Target::Tmpfs; });
      if (it == std::end(kAllTargets)) throw BenchError("--profile-target must name a FUSE target, not " + name);
      o->profile_target = *it;
    } else if (arg == "--workdir") {
      o->workdir_base = value();
    } else if (arg == "--json") {
      o->json = true;
    } else {
      throw BenchError("unknown argument " + arg + " (see --help)");
    }
  }
  if (o->threads.empty() || o->cases.empty()) throw BenchError("empty --threads or --cases");
  return true;
}

bool wants(const Options& o, Target t) { return std::find(o.targets.begin(), o.targets.end(), t) != o.targets.end(); }

// ---------------------------------------------------------------------------------------------
// Processes and mounts

std::string errno_text(int err) { return std::strerror(err); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string tail_of(const std::string& path, size_t max_bytes = 2000) {
  std::string text = read_file(path);
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// Starts argv[0] with stdin from /dev/null and stdout+stderr to log_path, in its own process
// group (a terminal ^C reaches only us; we decide the shutdown order), dying with us.
pid_t spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log_fd = log_path.empty() ? -1 : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (!log_path.empty() && log_fd < 0) {
    throw BenchError("cannot open " + log_path + ": " + errno_text(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw BenchError("fork: " + errno_text(errno));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // parent died before prctl
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so it holds before we signal the group
  if (log_fd >= 0) close(log_fd);
  track_child(pid);
  return pid;
}

// Runs a command to completion; returns its exit status (or -1). Output goes to our stderr.
int run_quiet(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) dup2(null_fd, STDOUT_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Waits for pid up to timeout; returns true and fills status if it exited.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child any more
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// True if path is a mount point in /proc/self/mountinfo (stat() would hang or fail with
// ENOTCONN on a dead FUSE daemon).
bool is_mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == path) return true;
  }
  return false;
}

// One thing we mounted (and maybe a daemon serving it). Unmounted in reverse order.
struct Mount {
  std::string name;
  std::string path;
  std::vector<std::string> also;  // further mountpoints of the same daemon (unmounted first)
  std::string log;
  pid_t pid = -1;  // -1: a kernel mount (tmpfs), nothing to reap
};

class Fixture {
 public:
  explicit Fixture(const std::string& base) {
    std::string templ = base + "/coffer-bench.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      throw BenchError("mkdtemp in " + base + ": " + errno_text(errno));
    }
    dir_ = templ;
    chmod(dir_.c_str(), 0755);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() { cleanup(); }

  const std::string& dir() const { return dir_; }

  std::string make_dir(const std::string& name) {
    const std::string path = dir_ + "/" + name;
    if (mkdir(path.c_str(), 0755) != 0) throw BenchError("mkdir " + path + ": " + errno_text(errno));
    return path;
  }

  // Starts a FUSE daemon (args must end with the mountpoint) and waits until it is mounted.
  Mount& start_daemon(const std::string& name, const std::vector<std::string>& args, const std::string& mountpoint) {
    return start_daemon(name, args, std::vector<std::string>{mountpoint});
  }

  // The same for a daemon serving several mountpoints (cofferd --config).
  Mount& start_daemon(const std::string& name, const std::vector<std::string>& args,
                      const std::vector<std::string>& mountpoints) {
    Mount m;
    m.name = name;
    m.path = mountpoints.back();
    m.also.assign(mountpoints.begin(), mountpoints.end() - 1);
    m.log = dir_ + "/" + name + ".log";
    m.pid = spawn(args, m.log);
    mounts_.push_back(m);
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (const auto& mountpoint : mountpoints) wait_mounted(name, mountpoint, deadline);
    return mounts_.back();
  }

  void wait_mounted(const std::string& name, const std::string& mountpoint, Clock::time_point deadline) {
    const Mount m = mounts_.back();  // a copy: popped on failure
    while (!is_mounted(mountpoint)) {
      int status = 0;
      if (waitpid(m.pid, &status, WNOHANG) == m.pid) {
        untrack_child(m.pid);
        mounts_.pop_back();  // nothing mounted, nothing to reap
        throw BenchError(name + " exited (" + describe_status(status) + ") before mounting " + mountpoint +
                         "; its log:\n" + tail_of(m.log));
      }
      if (Clock::now() > deadline) {
        throw BenchError(name + " did not mount " + mountpoint + " within 20 s; its log:\n" + tail_of(m.log));
      }
      check_interrupted();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void mount_tmpfs(const std::string& mountpoint) {
    if (mount("tmpfs", mountpoint.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=0755") != 0) {
      throw BenchError("mount -t tmpfs " + mountpoint + ": " + errno_text(errno) +
                       (errno == EPERM ? " (needs root)" : ""));
    }
    Mount m;
    m.name = "tmpfs";
    m.path = mountpoint;
    mounts_.push_back(m);
  }

  void cleanup() noexcept {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) unmount(*it);
    mounts_.clear();
    if (dir_.empty()) return;
    // Never recurse into something still mounted: that would delete through the mount.
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + dir_ + "/") != std::string::npos) {
        std::fprintf(stderr, "bench_reads: something is still mounted under %s; leaving it\n", dir_.c_str());
        return;
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) std::fprintf(stderr, "bench_reads: cannot remove %s: %s\n", dir_.c_str(), ec.message().c_str());
    dir_.clear();
  }

 private:
  static void unmount(const Mount& m) noexcept {
    if (m.pid < 0) {
      if (umount2(m.path.c_str(), 0) != 0 && umount2(m.path.c_str(), MNT_DETACH) != 0) {
        std::fprintf(stderr, "bench_reads: umount %s: %s\n", m.path.c_str(), std::strerror(errno));
      }
      return;
    }
    // FUSE: unmounting ends the daemon's loop; then reap it, harder each step.
    for (const auto& other : m.also) {
      if (is_mounted(other)) run_quiet({"fusermount3", "-u", other});
    }
    if (is_mounted(m.path) && run_quiet({"fusermount3", "-u", m.path}) != 0) {
      std::fprintf(stderr, "bench_reads: fusermount3 -u %s failed; will retry after stopping %s\n", m.path.c_str(),
                   m.name.c_str());
    }
    int status = 0;
    bool gone = wait_exit(m.pid, std::chrono::seconds(5), &status);
    if (!gone) {
      kill(-m.pid, SIGTERM);
      gone = wait_exit(m.pid, std::chrono::seconds(3), &status);
    }
    if (!gone) {
      std::fprintf(stderr, "bench_reads: %s (pid %d) ignores SIGTERM; killing it\n", m.name.c_str(), m.pid);
      kill(-m.pid, SIGKILL);
      gone = wait_exit(m.pid, std::chrono::seconds(3), &status);
    }
    untrack_child(m.pid);
    if (gone && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
        !(WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL))) {
      std::fprintf(stderr, "bench_reads: %s ended with %s; log tail:\n%s\n", m.name.c_str(),
                   describe_status(status).c_str(), tail_of(m.log).c_str());
    }
    for (const auto& path : m.also) {
      if (is_mounted(path) && run_quiet({"fusermount3", "-u", "-z", path}) != 0) umount2(path.c_str(), MNT_DETACH);
    }
    if (is_mounted(m.path) && run_quiet({"fusermount3", "-u", "-z", m.path}) != 0 &&
        umount2(m.path.c_str(), MNT_DETACH) != 0) {
      std::fprintf(stderr, "bench_reads: cannot unmount %s: %s\n", m.path.c_str(), std::strerror(errno));
    }
  }

  std::string dir_;
  std::vector<Mount> mounts_;
};

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// A profiler attached to cofferd for the duration of the coffer cases.
class Profiler {
 public:
  Profiler(const std::string& cmd, pid_t target, const std::string& label, const std::string& log) {
    std::string expanded = cmd;
    replace_all(expanded, "{pid}", std::to_string(target));
    replace_all(expanded, "{case}", label);
    std::fprintf(stderr, "bench_reads: profiling: %s\n", expanded.c_str());
    pid_ = spawn({"/bin/sh", "-c", "exec " + expanded}, log);
    log_ = log;
    // perf needs a moment to attach; the warm-up covers the rest.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;
  ~Profiler() {
    kill(-pid_, SIGINT);
    int status = 0;
    if (!wait_exit(pid_, std::chrono::seconds(60), &status)) {
      kill(-pid_, SIGKILL);
      wait_exit(pid_, std::chrono::seconds(3), &status);
    }
    untrack_child(pid_);
    std::fprintf(stderr, "bench_reads: profiler ended (%s); its output:\n%s\n", describe_status(status).c_str(),
                 tail_of(log_, 600).c_str());
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// ---------------------------------------------------------------------------------------------
// Files

void write_file_at(const std::string& path, const std::string& bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw BenchError("open " + path + " for writing: " + errno_text(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      throw BenchError("write " + path + ": " + errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  // Coffer applies a write at FLUSH at the latest, so close() carries its error.
  if (close(fd) != 0) throw BenchError("close " + path + ": " + errno_text(errno));
}

std::string read_whole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw BenchError("open " + path + ": " + errno_text(errno));
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      throw BenchError("read " + path + ": " + errno_text(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw BenchError("mkdir -p " + path + ": " + ec.message());
}

// The secrets: name sNNN and a ~60-byte JSON body, from the seed.
struct Secret {
  std::string name;
  std::string body;     // what we write
  std::string content;  // what `cat` returns (Coffer's pretty JSON)
  std::string field;    // what `cat NAME#password` returns
};

std::vector<Secret> make_secrets(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::vector<Secret> secrets;
  for (int i = 0; i < count; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    std::string password;
    for (int k = 0; k < 20; ++k) password += kAlphabet[rng() % (sizeof kAlphabet - 1)];
    nlohmann::ordered_json doc = {{"password", password}, {"user", std::string("svc-") + name}};
    Secret s;
    s.name = name;
    s.body = doc.dump();
    // Until cofferd answers, the floor and tmpfs get the spec'd rendering (pretty, newline).
    s.content = doc.dump(2) + "\n";
    s.field = password;
    secrets.push_back(std::move(s));
  }
  return secrets;
}

// ---------------------------------------------------------------------------------------------
// Measurement

struct OpPaths {
  std::vector<std::string> files;  // chosen at random each op
  std::vector<size_t> sizes;       // expected bytes (or entries for ls)
  bool list = false;
};

struct Result {
  Case kind;
  Target target;
  int threads = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double ops_per_s = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
  std::string first_error;
  double daemon_cpu_s = 0;        // the serving daemon's CPU in the timed windows
  double daemon_us_per_op = -1;   // -1: no daemon (tmpfs)
  std::vector<uint32_t> samples;  // ns, accumulated over rounds until finalize()
};

// One op: open + read until EOF + close; returns bytes read, or -errno.
long read_op(const char* path, char* buf, size_t buf_size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  long total = 0;
  while (true) {
    const ssize_t n = read(fd, buf, buf_size);
    if (n < 0) {
      const int err = errno;
      close(fd);
      return -err;
    }
    if (n == 0) break;
    total += n;
  }
  if (close(fd) != 0) return -errno;
  return total;
}

// One op: opendir + readdir to the end + closedir, as `ls` does; returns entries, or -errno.
long list_op(const char* path) {
  DIR* dir = opendir(path);
  if (dir == nullptr) return -errno;
  long entries = 0;
  errno = 0;
  while (readdir(dir) != nullptr) ++entries;
  const int err = errno;
  closedir(dir);
  return err != 0 ? -err : entries;
}

struct ThreadStats {
  std::vector<uint32_t> latencies_ns;
  uint64_t errors = 0;
  long first_error = 0;
  std::string first_error_path;
  Clock::time_point end;
};

void reader_thread(const OpPaths& paths, uint64_t seed, Clock::time_point warm_end, Clock::time_point deadline,
                   ThreadStats* stats) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, paths.files.size() - 1);
  std::vector<char> buf(4096);
  stats->latencies_ns.reserve(1 << 16);
  while (!g_interrupted.load(std::memory_order_relaxed)) {
    const size_t i = pick(rng);
    const char* path = paths.files[i].c_str();
    const auto t0 = Clock::now();
    const long got = paths.list ? list_op(path) : read_op(path, buf.data(), buf.size());
    const auto t1 = Clock::now();
    if (t1 >= deadline) {
      stats->end = t1;
      break;
    }
    if (t0 < warm_end) continue;
    if (got < 0 || static_cast<size_t>(got) != paths.sizes[i]) {
      if (stats->errors++ == 0) {
        stats->first_error = got;
        stats->first_error_path = path;
      }
      continue;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    stats->latencies_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(ns, UINT32_MAX)));
  }
  if (stats->end == Clock::time_point{}) stats->end = Clock::now();
}

double percentile_us(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

// Runs one slice (warm-up, then slice_s timed) and adds its samples to acc.
// CPU seconds (user + system, all threads) used so far by pid, or -1 (e.g. no daemon).
double process_cpu_s(pid_t pid) {
  if (pid <= 0) return -1;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');  // the command name may contain spaces
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Runs one slice (warm-up, then slice_s timed) and adds its samples to acc. daemon: the pid
// whose CPU time is charged to these ops (-1 for none).
void measure_slice(const OpPaths& paths, const Options& o, double slice_s, int round, pid_t daemon, Result* acc) {
  const auto start = Clock::now();
  const auto warm_end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  const auto deadline = warm_end + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(slice_s));
  std::vector<ThreadStats> stats(static_cast<size_t>(acc->threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < acc->threads; ++t) {
    // Seeds depend on round and thread index only: every target sees the same sequence.
    const uint64_t seed = o.seed * 1000 + static_cast<uint64_t>(round) * 64 + static_cast<uint64_t>(t);
    pool.emplace_back(reader_thread, std::cref(paths), seed, warm_end, deadline, &stats[static_cast<size_t>(t)]);
  }
  // The daemon's CPU over the timed window only (10 ms ticks: fine over a ~second window).
  std::this_thread::sleep_until(warm_end);
  const double cpu_before = process_cpu_s(daemon);
  std::this_thread::sleep_until(deadline);
  const double cpu_after = process_cpu_s(daemon);
  for (auto& th : pool) th.join();
  check_interrupted();
  if (cpu_before >= 0 && cpu_after >= 0) acc->daemon_cpu_s += cpu_after - cpu_before;

  Clock::time_point end = warm_end;
  for (auto& st : stats) {
    acc->samples.insert(acc->samples.end(), st.latencies_ns.begin(), st.latencies_ns.end());
    acc->errors += st.errors;
    if (st.errors > 0 && acc->first_error.empty()) {
      acc->first_error =
          st.first_error_path + ": " +
          (st.first_error < 0 ? errno_text(static_cast<int>(-st.first_error))
                              : "got " + std::to_string(st.first_error) + (paths.list ? " entries" : " bytes"));
    }
    end = std::max(end, st.end);
  }
  acc->seconds += std::chrono::duration<double>(end - warm_end).count();
}

void finalize(Result* r) {
  r->ops = r->samples.size();
  r->ops_per_s = r->seconds > 0 ? static_cast<double>(r->ops) / r->seconds : 0;
  if (r->target != Target::Tmpfs && r->ops > 0) {
    r->daemon_us_per_op = r->daemon_cpu_s * 1e6 / static_cast<double>(r->ops);
  }
  r->p50_us = percentile_us(r->samples, 0.50);
  r->p90_us = percentile_us(r->samples, 0.90);
  r->p99_us = percentile_us(r->samples, 0.99);
  r->max_us = r->samples.empty() ? 0 : *std::max_element(r->samples.begin(), r->samples.end()) / 1000.0;
  r->samples = {};
}

// ---------------------------------------------------------------------------------------------
// Setup of the targets

struct TargetRoot {
  Target target;
  std::string root;        // the directory that holds secret/app/...
  long list_entries = -1;  // what ls of secret/app returns here (-1: N secrets + . and ..)
};

OpPaths paths_for(Case kind, const TargetRoot& t, const std::vector<Secret>& secrets) {
  OpPaths p;
  const std::string app = t.root + "/secret/app";
  switch (kind) {
    case Case::Read:
      for (const auto& s : secrets) {
        p.files.push_back(app + "/" + s.name);
        p.sizes.push_back(s.content.size());
      }
      break;
    case Case::Field:
      for (const auto& s : secrets) {
        // tmpfs cannot hide NAME#KEY from `ls`, so its field files live in a sibling directory
        // at the same depth.
        p.files.push_back((t.target == Target::Tmpfs ? app + ".fields" : app) + "/" + s.name + "#password");
        p.sizes.push_back(s.field.size());
      }
      break;
    case Case::List:
      p.list = true;
      p.files.push_back(app);
      p.sizes.push_back(t.list_entries >= 0 ? static_cast<size_t>(t.list_entries)
                                            : secrets.size() + 2);  // plus . and ..
      break;
  }
  return p;
}

// Writes every secret through the Coffer mount and records what reading it back returns.
void seed_coffer(const std::string& root, std::vector<Secret>& secrets) {
  const std::string app = root + "/secret/app";
  // The kernel needs the parent directory to exist before O_CREAT below it.
  std::string mkdir_error;
  if (mkdir(app.c_str(), 0750) != 0 && errno != EEXIST) {
    mkdir_error = " (after mkdir " + app + " failed: " + errno_text(errno) + ")";
  }
  for (auto& s : secrets) {
    check_interrupted();
    try {
      write_file_at(app + "/" + s.name, s.body);
    } catch (const BenchError& e) {
      throw BenchError(e.what() + mkdir_error);
    }
  }
  for (auto& s : secrets) {
    s.content = read_whole(app + "/" + s.name);
    s.field = read_whole(app + "/" + s.name + "#password");
  }
}

// Writes request to path and reads the reply on the same fd (sys/init answers that way).
std::string exchange(const std::string& path, const std::string& request) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw BenchError("open " + path + ": " + errno_text(errno));
  std::string out;
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    const int err = errno;
    close(fd);
    throw BenchError("write " + path + ": " + errno_text(err));
  }
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const int err = n < 0 ? errno : 0;
  close(fd);
  if (err != 0) throw BenchError("read " + path + ": " + errno_text(err));
  return out;
}

// coffer-cached and coffer-ro: one `cofferd --config` over a new SQLite store, with a setup
// mount (unbound: init and unseal go through it) and two mounts bound through one token file
// to the store's root token, both `cache = true`, the second also `read_only = true`. The
// secrets are written through the first; both serve the same bytes as the shared mount.
struct BoundCoffer {
  pid_t pid = -1;
  std::string cached, ro;
};

BoundCoffer start_bound_coffer(Fixture& fx, const Options& o, const std::vector<Secret>& expected,
                               std::vector<std::string>* notes) {
  BoundCoffer b;
  const std::string setup = fx.make_dir("coffer-setup");
  b.cached = fx.make_dir("coffer-cached");
  b.ro = fx.make_dir("coffer-ro");
  const std::string token_file = fx.dir() + "/bound.token";
  write_file_at(token_file, "not-yet\n");  // the root token comes with the store's init
  chmod(token_file.c_str(), 0600);
  const std::string config = fx.dir() + "/bound.hcl";
  write_file_at(config, "storage \"sqlite\" {\n  path = \"" + fx.dir() + "/bound.db\"\n  init = true\n}\n" +
                            "mount \"" + setup + "\" {}\n" + "mount \"" + b.cached + "\" {\n  token_file = \"" +
                            token_file + "\"\n  cache = true\n}\n" + "mount \"" + b.ro + "\" {\n  token_file = \"" +
                            token_file + "\"\n  cache = true\n  read_only = true\n}\n");
  const Mount& m = fx.start_daemon("cofferd-bound", {o.cofferd, "-f", "--config", config}, {setup, b.cached, b.ro});
  b.pid = m.pid;
  std::fprintf(stderr, "bench_reads: bound cofferd pid %d (log %s)\n", m.pid, m.log.c_str());
  try {
    const auto init =
        nlohmann::json::parse(exchange(setup + "/sys/init", R"({"secret_shares":1,"secret_threshold":1})"));
    write_file_at(setup + "/sys/unseal", init.at("keys").at(0).get<std::string>() + "\n");
    const std::string fresh = token_file + ".new";
    write_file_at(fresh, init.at("root_token").get<std::string>() + "\n");
    chmod(fresh.c_str(), 0600);
    if (rename(fresh.c_str(), token_file.c_str()) != 0) throw BenchError("rename " + fresh + ": " + errno_text(errno));
    write_file_at(b.cached + "/sys/mounts/secret", "type=kv-v2\n");
    std::vector<Secret> copy = expected;
    seed_coffer(b.cached, copy);
    for (size_t i = 0; i < copy.size(); ++i) {
      if (copy[i].content != expected[i].content || copy[i].field != expected[i].field) {
        notes->push_back("coffer-cached: " + copy[i].name + " reads other bytes than on the shared mount");
        break;
      }
    }
  } catch (const std::exception& e) {
    throw BenchError(std::string(e.what()) + "\nbound cofferd log tail:\n" + tail_of(m.log));
  }
  return b;
}

void write_tree(const std::string& root, const std::vector<Secret>& secrets, bool field_dir) {
  make_dirs(root + "/secret/app");
  for (const auto& s : secrets) write_file_at(root + "/secret/app/" + s.name, s.content);
  if (field_dir) {
    make_dirs(root + "/secret/app.fields");
    for (const auto& s : secrets) {
      write_file_at(root + "/secret/app.fields/" + s.name + "#password", s.field);
    }
  }
}

// Every target must serve the same bytes, or the comparison means nothing.
// A different listing size is reported but measured anyway (an ls is still an ls); different
// bytes are fatal.
void verify(TargetRoot& t, const std::vector<Secret>& secrets, const std::vector<Case>& cases,
            std::vector<std::string>* notes) {
  for (const Case kind : cases) {
    const OpPaths p = paths_for(kind, t, secrets);
    for (size_t i = 0; i < p.files.size(); i += std::max<size_t>(1, p.files.size() / 7)) {
      const std::string& path = p.files[i];
      if (p.list) {
        const long n = list_op(path.c_str());
        if (n < 0) throw BenchError(std::string("ls ") + path + ": " + errno_text(static_cast<int>(-n)));
        if (n != static_cast<long>(p.sizes[i])) {
          notes->push_back(std::string(target_name(t.target)) + ": ls secret/app gives " + std::to_string(n) +
                           " entries, not " + std::to_string(p.sizes[i]));
          t.list_entries = n;
        }
        continue;
      }
      const std::string got = read_whole(path);
      const std::string& want = kind == Case::Read ? secrets[i].content : secrets[i].field;
      if (got != want) {
        throw BenchError(std::string(target_name(t.target)) + ": " + path + " differs from Coffer's bytes (" +
                         std::to_string(got.size()) + " vs " + std::to_string(want.size()) + " bytes)");
      }
    }
  }
}

bool executable(const std::string& path) { return !path.empty() && access(path.c_str(), X_OK) == 0; }

// ---------------------------------------------------------------------------------------------
// Output

// The 1/5/15-minute load: other work on a 2-CPU box shows up directly in the figures.
std::string load_average() {
  std::string text = read_file("/proc/loadavg");
  const size_t cut = text.find(' ', text.find(' ', text.find(' ') + 1) + 1);
  return cut == std::string::npos ? text : text.substr(0, cut);
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "?";
}

const Result* find_result(const std::vector<Result>& results, Case kind, Target target, int threads) {
  for (const auto& r : results) {
    if (r.kind == kind && r.target == target && r.threads == threads) return &r;
  }
  return nullptr;
}

void print_table(const Options& o, const std::vector<Secret>& secrets, const std::vector<Result>& results,
                 const std::vector<std::string>& notes) {
  size_t min_size = SIZE_MAX, max_size = 0;
  for (const auto& s : secrets) {
    min_size = std::min(min_size, s.content.size());
    max_size = std::max(max_size, s.content.size());
  }
  std::printf(
      "# bench_reads: %d secrets secret/app/sNNN (%zu-%zu B), %.1f s per case in %d "
      "slice(s) each after %.1f s warm-up, seed %" PRIu64 ", %u CPUs, Linux %s\n",
      o.secrets, min_size, max_size, o.duration_s, o.rounds, o.warmup_s, o.seed, std::thread::hardware_concurrency(),
      kernel_release().c_str());
  std::printf(
      "# read = open+read to EOF+close of a random secret; field = same on NAME#password;"
      " ls = opendir+readdir+closedir of secret/app\n");
  for (const auto& note : notes) std::printf("# %s\n", note.c_str());
  std::printf("%-6s %-13s %3s %10s %9s %9s %9s %10s %7s\n", "case", "target", "thr", "ops/s", "p50 us", "p90 us",
              "p99 us", "srv us/op", "errors");
  for (const auto& r : results) {
    char srv[32] = "-";
    if (r.daemon_us_per_op >= 0) std::snprintf(srv, sizeof srv, "%.1f", r.daemon_us_per_op);
    std::printf("%-6s %-13s %3d %10.0f %9.1f %9.1f %9.1f %10s %7" PRIu64 "\n", case_name(r.kind), target_name(r.target),
                r.threads, r.ops_per_s, r.p50_us, r.p90_us, r.p99_us, srv, r.errors);
    if (!r.first_error.empty()) std::printf("#   first error: %s\n", r.first_error.c_str());
  }
  for (const Pair& pair : kPairs) {
    bool header = false;
    for (const Case kind : o.cases) {
      for (const int threads : o.threads) {
        const Result* c = find_result(results, kind, pair.target, threads);
        const Result* f = find_result(results, kind, pair.baseline, threads);
        if (c == nullptr || f == nullptr || f->ops_per_s <= 0 || f->p50_us <= 0) continue;
        if (!header) {
          std::printf(
              "\n# %s/%s: ops/s ratio (<1 = slower than %s), p50 ratio (>1 = "
              "slower), daemon CPU per op ratio\n%-6s %3s %12s %10s %14s\n",
              target_name(pair.target), target_name(pair.baseline), target_name(pair.baseline), "case", "thr",
              "ops/s ratio", "p50 ratio", "srv cpu ratio");
          header = true;
        }
        char cpu[32] = "-";  // tmpfs has no daemon
        if (f->daemon_us_per_op > 0) std::snprintf(cpu, sizeof cpu, "%.2f", c->daemon_us_per_op / f->daemon_us_per_op);
        std::printf("%-6s %3d %12.2f %10.2f %14s\n", case_name(kind), threads, c->ops_per_s / f->ops_per_s,
                    c->p50_us / f->p50_us, cpu);
      }
    }
    if (!header && pair.target == Target::Coffer) std::printf("\n# coffer/floor ratios: pending (no coffer figures)\n");
  }
}

void print_json(const Options& o, const std::vector<Secret>& secrets, const std::vector<Result>& results,
                const std::vector<std::string>& notes) {
  nlohmann::ordered_json out;
  out["config"] = {{"secrets", o.secrets},
                   {"duration_s", o.duration_s},
                   {"warmup_s", o.warmup_s},
                   {"rounds", o.rounds},
                   {"seed", o.seed},
                   {"cpus", std::thread::hardware_concurrency()},
                   {"kernel", kernel_release()},
                   {"content_bytes", secrets.empty() ? 0 : secrets.front().content.size()}};
  out["notes"] = notes;
  out["results"] = nlohmann::ordered_json::array();
  for (const auto& r : results) {
    nlohmann::ordered_json j = {{"case", case_name(r.kind)},
                                {"target", target_name(r.target)},
                                {"threads", r.threads},
                                {"ops", r.ops},
                                {"seconds", r.seconds},
                                {"ops_per_s", r.ops_per_s},
                                {"p50_us", r.p50_us},
                                {"p90_us", r.p90_us},
                                {"p99_us", r.p99_us},
                                {"max_us", r.max_us},
                                {"daemon_cpu_us_per_op", r.daemon_us_per_op},
                                {"errors", r.errors}};
    if (!r.first_error.empty()) j["first_error"] = r.first_error;
    out["results"].push_back(std::move(j));
  }
  out["ratios"] = nlohmann::ordered_json::array();
  for (const Pair& pair : kPairs) {
    for (const Case kind : o.cases) {
      for (const int threads : o.threads) {
        const Result* c = find_result(results, kind, pair.target, threads);
        const Result* f = find_result(results, kind, pair.baseline, threads);
        if (c == nullptr || f == nullptr || f->ops_per_s <= 0 || f->p50_us <= 0) continue;
        out["ratios"].push_back(
            {{"target", target_name(pair.target)},
             {"baseline", target_name(pair.baseline)},
             {"case", case_name(kind)},
             {"threads", threads},
             {"ops_per_s", c->ops_per_s / f->ops_per_s},
             {"p50", c->p50_us / f->p50_us},
             {"daemon_cpu_per_op", f->daemon_us_per_op > 0 ? c->daemon_us_per_op / f->daemon_us_per_op : 0.0}});
      }
    }
  }
  std::printf("%s\n", out.dump(2).c_str());
}

// ---------------------------------------------------------------------------------------------

int run(int argc, char** argv, Options& o) {
  // Decide which targets run. cofferd missing is not fatal unless asked for by name, so the
  // floor and tmpfs figures exist before the daemon does.
  std::vector<std::string> notes;
  if (!o.targets_explicit) o.targets.assign(std::begin(kAllTargets), std::end(kAllTargets));
  const bool any_coffer = std::any_of(o.targets.begin(), o.targets.end(), is_coffer);
  if (any_coffer && !executable(o.cofferd)) {
    const std::string why =
        o.cofferd.empty() ? std::string(
                                "no cofferd path (the cofferd target did not exist when CMake "
                                "configured: re-run cmake, or pass --cofferd PATH)")
                          : "cofferd not found at '" + o.cofferd + "' (build target cofferd or pass --cofferd PATH)";
    if (o.targets_explicit) throw BenchError(why);
    std::fprintf(stderr, "bench_reads: %s; coffer line pending\n", why.c_str());
    notes.push_back("coffer: pending, " + why);
    o.targets.erase(std::remove_if(o.targets.begin(), o.targets.end(), is_coffer), o.targets.end());
  }
  const bool need_floor = wants(o, Target::Floor) || wants(o, Target::FloorCached);
  if (need_floor && !executable(o.floor_fs)) {
    throw BenchError("bench_floor_fs not found at '" + o.floor_fs + "' (pass --floor PATH)");
  }

  // cofferd reads the caller's token from /proc/PID/environ, which setenv() does not change:
  // re-exec ourselves once with VAULT_TOKEN in the initial environment.
  if (any_coffer) {
    const char* current = std::getenv("VAULT_TOKEN");
    if (current == nullptr || o.token != current) {
      setenv("VAULT_TOKEN", o.token.c_str(), 1);
      execv("/proc/self/exe", argv);
      throw BenchError(std::string("re-exec with VAULT_TOKEN: ") + errno_text(errno));
    }
  }
  (void)argc;

  install_signal_handlers();
  const std::string load_before = load_average();
  Fixture fx(o.workdir_base);
  std::fprintf(stderr, "bench_reads: work dir %s\n", fx.dir().c_str());
  std::vector<Secret> secrets = make_secrets(o.secrets, o.seed);
  std::vector<TargetRoot> roots;
  pid_t daemon_pids[kTargetCount] = {-1, -1, -1, -1, -1, -1};  // by Target

  if (wants(o, Target::Coffer)) {
    const std::string mnt = fx.make_dir("coffer");
    std::vector<std::string> args = {o.cofferd, "--dev", "--dev-root-token-id", o.token};
    args.insert(args.end(), o.cofferd_args.begin(), o.cofferd_args.end());
    args.push_back(mnt);
    const Mount& m = fx.start_daemon("cofferd", args, mnt);
    daemon_pids[static_cast<int>(Target::Coffer)] = m.pid;
    std::fprintf(stderr, "bench_reads: cofferd pid %d on %s (log %s)\n", m.pid, mnt.c_str(), m.log.c_str());
    std::fprintf(stderr, "bench_reads: writing %d secrets through cofferd\n", o.secrets);
    try {
      seed_coffer(mnt, secrets);
    } catch (const BenchError& e) {
      throw BenchError(std::string(e.what()) + "\ncofferd log tail:\n" + tail_of(m.log));
    }
    roots.push_back({Target::Coffer, mnt});
  } else if (wants(o, Target::CofferCached) || wants(o, Target::CofferRo)) {
    // The bytes a cofferd shows, for the other targets: from a throwaway dev daemon.
    const std::string mnt = fx.make_dir("coffer-seed");
    const Mount& m = fx.start_daemon("cofferd-seed", {o.cofferd, "--dev", "--dev-root-token-id", o.token, mnt}, mnt);
    seed_coffer(mnt, secrets);
    (void)m;
  }
  if (wants(o, Target::CofferCached) || wants(o, Target::CofferRo)) {
    const BoundCoffer b = start_bound_coffer(fx, o, secrets, &notes);
    for (const Target t : {Target::CofferCached, Target::CofferRo}) {
      if (!wants(o, t)) continue;
      daemon_pids[static_cast<int>(t)] = b.pid;
      roots.push_back({t, t == Target::CofferCached ? b.cached : b.ro});
    }
  }

  // The floor serves a copy of exactly what Coffer returned.
  const std::string seed_dir = fx.dir() + "/seed";
  write_tree(seed_dir, secrets, false);
  if (wants(o, Target::Floor)) {
    const std::string mnt = fx.make_dir("floor");
    daemon_pids[static_cast<int>(Target::Floor)] =
        fx.start_daemon("floor", {o.floor_fs, "--source", seed_dir, mnt}, mnt).pid;
    roots.push_back({Target::Floor, mnt});
  }
  if (wants(o, Target::FloorCached)) {
    const std::string mnt = fx.make_dir("floor-cached");
    daemon_pids[static_cast<int>(Target::FloorCached)] =
        fx.start_daemon("floor-cached", {o.floor_fs, "--cache", "--source", seed_dir, mnt}, mnt).pid;
    roots.push_back({Target::FloorCached, mnt});
  }
  if (wants(o, Target::Tmpfs)) {
    const std::string mnt = fx.make_dir("tmpfs");
    fx.mount_tmpfs(mnt);
    write_tree(mnt, secrets, true);
    roots.push_back({Target::Tmpfs, mnt});
  }
  // Keep the order of --targets (default: coffer, floor, floor-cached, tmpfs).
  std::stable_sort(roots.begin(), roots.end(), [&](const TargetRoot& a, const TargetRoot& b) {
    return std::find(o.targets.begin(), o.targets.end(), a.target) <
           std::find(o.targets.begin(), o.targets.end(), b.target);
  });
  for (auto& t : roots) verify(t, secrets, o.cases, &notes);

  // Rounds interleave the targets in short slices, so background load on this small box falls
  // on every target alike instead of on whichever ran during a burst.
  std::vector<Result> results;
  const double slice_s = o.duration_s / o.rounds;
  for (const Case kind : o.cases) {
    for (const int threads : o.threads) {
      const size_t first = results.size();
      for (const auto& t : roots) {
        Result r;
        r.kind = kind;
        r.target = t.target;
        r.threads = threads;
        results.push_back(std::move(r));
      }
      for (int round = 0; round < o.rounds; ++round) {
        for (size_t k = 0; k < roots.size(); ++k) {
          const TargetRoot& t = roots[k];
          const OpPaths paths = paths_for(kind, t, secrets);
          const pid_t pid = daemon_pids[static_cast<int>(t.target)];
          std::fprintf(stderr, "bench_reads: %s %s x%d round %d/%d\n", case_name(kind), target_name(t.target), threads,
                       round + 1, o.rounds);
          if (t.target == o.profile_target && !o.profile_cmd.empty()) {
            const std::string label =
                std::string(case_name(kind)) + "-" + std::to_string(threads) + "-r" + std::to_string(round + 1);
            Profiler profiler(o.profile_cmd, daemon_pids[static_cast<int>(t.target)], label,
                              fx.dir() + "/profile-" + label + ".log");
            measure_slice(paths, o, slice_s, round, pid, &results[first + k]);
          } else {
            measure_slice(paths, o, slice_s, round, pid, &results[first + k]);
          }
        }
      }
      for (size_t k = first; k < results.size(); ++k) finalize(&results[k]);
    }
  }

  notes.push_back("load average (1/5/15 min) at start: " + load_before + "; at end: " + load_average());
  if (o.json) {
    print_json(o, secrets, results, notes);
  } else {
    print_table(o, secrets, results, notes);
  }
  std::fflush(stdout);
  return 0;  // fx unmounts and removes the work dir
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!parse_args(argc, argv, &o)) {
      usage(stdout);
      return 0;
    }
  } catch (const BenchError& e) {
    std::fprintf(stderr, "bench_reads: %s\n", e.what());
    usage(stderr);
    return 2;
  }
  try {
    return run(argc, argv, o);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "bench_reads: interrupted; cleaned up\n");
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_reads: error: %s\n", e.what());
    return 1;
  }
}
