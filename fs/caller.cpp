// SPDX-License-Identifier: MPL-2.0
#include "fs/caller.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <condition_variable>
#include <memory>
#include <string>
#include <thread>

#include "engine/common/unique_fd.hpp"
#include "fs/log.hpp"

namespace fsd {

namespace {

constexpr std::size_t kMaxEnviron = 1 << 20;  // a bigger environ is read only this far
constexpr std::string_view kTokenVar = "VAULT_TOKEN";

using Fd = engine::UniqueFd;

// Reads up to max bytes of a file opened relative to dirfd.
template <class String>
bool read_at(int dirfd, const char* name, std::size_t max, String& out) {
  Fd f(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return false;
  out.clear();
  std::size_t chunk = 4096;
  while (out.size() < max) {
    const std::size_t old = out.size();
    out.resize(std::min(max, old + chunk));
    const ssize_t n = ::read(f.fd, out.data() + old, out.size() - old);
    if (n < 0) {
      if (errno == EINTR) {
        out.resize(old);
        continue;
      }
      out.resize(old);
      return false;
    }
    out.resize(old + static_cast<std::size_t>(n));
    if (n == 0) break;
    chunk *= 2;
  }
  return true;
}

// What the helper thread found.
struct EnvRead {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool ok = false;  // the process was readable and owned by the uid
  std::uint64_t start_time = 0;
  ProcessImage image{};
  std::optional<engine::SecureString> token;
};

// One read of /proc/TID: the directory fd pins the process, so stat, owner
// and environ all belong to it even if the tid is reused meanwhile (openat on
// a dead process's directory fails).
void read_process(const std::string& proc_root, pid_t tid, uid_t uid, EnvRead& out) {
  const std::string dir = proc_root + "/" + std::to_string(tid);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) return;
  std::string stat_text;
  if (!read_at(d.fd, "stat", 4096, stat_text)) return;
  auto parsed = parse_proc_stat(stat_text);
  if (!parsed) return;
  out.start_time = parsed->start_time;
  out.image = parsed->image;
  struct stat st {};
  if (::fstat(d.fd, &st) != 0) return;
  out.ok = true;  // from here on the answer is cached for this process
  if (st.st_uid != uid) {
    log_info("caller: process ", tid, " is not owned by the asking uid ", uid, "; its VAULT_TOKEN is not used");
    return;
  }
  engine::SecureString environ;
  if (!read_at(d.fd, "environ", kMaxEnviron, environ)) return;
  // The owner again: a setuid exec between the two reads changes it.
  if (::fstat(d.fd, &st) != 0 || st.st_uid != uid) return;
  out.token = environ_value(engine::as_view(environ), kTokenVar);
  if (out.token && out.token->empty()) out.token.reset();
}

}  // namespace

const char* to_string(TokenSource source) noexcept {
  switch (source) {
    case TokenSource::Mount: return "mount token";
    case TokenSource::Env: return "VAULT_TOKEN";
    case TokenSource::Session: return "session";
    case TokenSource::PeerLogin: return "peer login";
    case TokenSource::Fallback: return "dev root token";
    case TokenSource::None: return "no token";
  }
  return "?";
}

std::optional<engine::SecureString> environ_value(std::string_view environ, std::string_view name) {
  std::size_t pos = 0;
  while (pos < environ.size()) {
    std::size_t end = environ.find('\0', pos);
    if (end == std::string_view::npos) end = environ.size();
    std::string_view entry = environ.substr(pos, end - pos);
    if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
      return engine::to_secure(entry.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<ProcessStat> parse_proc_stat(std::string_view stat) {
  const auto paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  // After ") " come fields 3 (state), 4, ... : starttime is field 22, the
  // image fields 26-28 and 45-51.
  std::string_view rest = stat.substr(paren + 1);
  ProcessStat out;
  bool have_start = false;
  int field = 2;
  std::size_t pos = 0;
  while (pos < rest.size() && field < 51) {
    while (pos < rest.size() && (rest[pos] == ' ' || rest[pos] == '\n')) ++pos;
    if (pos >= rest.size()) break;
    // By hand: find_first_of tests each byte against the set by a call, and
    // this runs for some 50 fields on every request.
    std::size_t end = pos;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\n') ++end;
    ++field;
    const std::string_view v = rest.substr(pos, end - pos);
    pos = end;
    int slot = -1;
    if (field >= 26 && field <= 28) slot = field - 26;
    if (field >= 45 && field <= 51) slot = field - 45 + 3;
    if (field != 22 && slot < 0) continue;
    std::optional<std::uint64_t> n;
    if (!v.empty() && v.size() <= 20) {
      n = 0;
      for (char c : v) {
        if (c < '0' || c > '9') {
          n.reset();
          break;
        }
        *n = *n * 10 + static_cast<std::uint64_t>(c - '0');
      }
    }
    if (field == 22) {
      if (!n) return std::nullopt;
      out.start_time = *n;
      have_start = true;
    } else {
      out.image[static_cast<std::size_t>(slot)] = n.value_or(0);  // an odd field only weakens the key
    }
  }
  if (!have_start) return std::nullopt;
  return out;
}

std::optional<pid_t> status_tgid(std::string_view status) {
  constexpr std::string_view kKey = "Tgid:";
  std::size_t at = 0;
  while (at < status.size()) {
    std::size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    if (line.starts_with(kKey)) {
      line.remove_prefix(kKey.size());
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      if (line.empty() || line.size() > 10) return std::nullopt;
      std::int64_t n = 0;
      for (char c : line) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
      }
      if (n <= 0 || n > std::numeric_limits<pid_t>::max()) return std::nullopt;
      return static_cast<pid_t>(n);
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> stat_start_time(std::string_view stat) {
  auto parsed = parse_proc_stat(stat);
  if (!parsed) return std::nullopt;
  return parsed->start_time;
}

CallerResolver::CallerResolver(CallerSettings settings) : settings_(std::move(settings)) {
  // Only a mount that asks each process for its token needs to know every
  // request's process (a bound mount reads /proc for logins alone).
  if (settings_.mount_token.empty() && settings_.process_events && settings_.proc_root == "/proc") {
    std::string why;
    events_ = ProcessEvents::open(&why, {.socket_only = settings_.process_events_socket_only});
    if (events_) {
      log_info("caller: execs and exits come from the kernel's process events (",
               events_->uses_ring() ? std::string("through an eBPF ring")
                                    : "through the socket" + (why.empty() ? "" : ": no eBPF ring, " + why),
               "); /proc/TID/stat is read once per thread");
    } else {
      log_info("caller: no process events (", why, "); /proc/TID/stat is read at each request");
    }
  }
}

Who CallerResolver::who(fuse_req_t req, ReadsEnv reads_env, bool may_log_in) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return resolve(ctx->pid, ctx->uid, ctx->gid, reads_env, may_log_in);
}

Who CallerResolver::who(pid_t tid, uid_t uid, ReadsEnv reads_env) { return resolve(tid, uid, std::nullopt, reads_env); }

Who CallerResolver::who(pid_t tid, uid_t uid, gid_t gid, ReadsEnv reads_env) {
  return resolve(tid, uid, gid, reads_env);
}

Who CallerResolver::resolve(pid_t tid, uid_t uid, std::optional<gid_t> gid, ReadsEnv reads_env, bool may_log_in) {
  Who w;
  w.uid = uid;
  // Read once: the start time pins the process for the peer method, and
  // keys the VAULT_TOKEN cache (a bound mount has none, and needs the start
  // time only for a request that may log in).
  ProcessStat st{};
  bool have_stat = false;
  if (tid > 0 && (!mount_bound() || may_log_in)) {
    if (auto read = stat_of(tid)) {
      st = *read;
      have_stat = true;
    }
  }
  if (gid) w.caller.peer = engine::PeerCredentials{uid, *gid, tid, have_stat ? st.start_time : 0};
  if (!settings_.mount_token.empty()) {
    w.caller.token = mount_token();
    w.source = TokenSource::Mount;
    return w;
  }
  if (settings_.env_token && tid > 0) {
    std::optional<engine::SecureString> token;
    bool known = false;
    if (have_stat) {
      const ProcessKey key{tid, st.start_time, uid, st.image, st.sighting};
      std::lock_guard lock(env_mu_);
      if (auto it = env_cache_.find(key); it != env_cache_.end()) {
        known = true;
        token = it->second;
      }
    }
    if (!known && reads_env == ReadsEnv::Yes) token = env_token(tid, uid, have_stat ? st.sighting : 0);
    if (token) {
      w.caller.token = std::move(*token);
      w.source = TokenSource::Env;
      return w;
    }
  }
  if (auto session = session_of(uid)) {
    w.caller.token = std::move(*session);
    w.source = TokenSource::Session;
    return w;
  }
  if (settings_.peer_login && w.caller.peer && reads_env == ReadsEnv::Yes && w.caller.peer->start_time != 0 &&
      try_peer_login(*w.caller.peer, w)) {
    return w;
  }
  if (!settings_.fallback_token.empty() && uid == settings_.fallback_uid) {
    w.caller.token = settings_.fallback_token;
    w.source = TokenSource::Fallback;
  }
  return w;
}

bool CallerResolver::try_peer_login(const engine::PeerCredentials& creds, Who& w) {
  const auto key = std::make_tuple(creds.pid, creds.start_time, creds.uid);
  {
    std::lock_guard lock(peer_mu_);
    if (peer_refused_.contains(key)) return false;
  }
  std::optional<engine::SecureString> token = settings_.peer_login(creds);
  if (!token || token->empty()) {
    std::lock_guard lock(peer_mu_);
    if (peer_refused_.size() >= kMaxCached) peer_refused_.clear();
    peer_refused_[key] = true;
    return false;
  }
  log_info("caller: process ", creds.pid, " (uid ", creds.uid, ") logged in through its peer role");
  bind_session(creds.uid, *token);
  w.caller.token = std::move(*token);
  w.source = TokenSource::PeerLogin;
  return true;
}

void CallerResolver::forget_process(pid_t tgid) {
  known_.erase(tgid);
  if (auto it = threads_of_.find(tgid); it != threads_of_.end()) {
    for (pid_t tid : it->second) known_.erase(tid);
    threads_of_.erase(it);
  }
}

void CallerResolver::forget_thread(pid_t tid, pid_t tgid) {
  known_.erase(tid);
  if (tid == tgid) return;
  if (auto it = threads_of_.find(tgid); it != threads_of_.end()) {
    std::erase(it->second, tid);
    if (it->second.empty()) threads_of_.erase(it);
  }
}

void CallerResolver::catch_up() {
  const bool complete = events_->drain([this](const ProcessEvent& e) {
    if (e.kind == ProcessEvent::Kind::Exec) {
      ++execs_;
      forget_process(e.tgid);
    } else {
      forget_thread(e.tid, e.tgid);
    }
  });
  if (!complete) {
    // A busy host overflows the queue whenever the mount sits idle a while:
    // said once, as it costs only a re-read of each thread.
    if (!loss_logged_) {
      log_info(
          "caller: process events were lost (the kernel's queue or ring overflowed while idle, or it could not "
          "copy one); every thread is read afresh then (logged once)");
      loss_logged_ = true;
    }
    known_.clear();
    threads_of_.clear();
    ++execs_;
  }
}

std::size_t CallerResolver::known_threads() {
  if (!events_) return 0;
  std::lock_guard lock(known_mu_);
  catch_up();
  std::size_t n = 0;
  for (const auto& [tid, known] : known_) n += known.stat ? 1 : 0;
  return n;
}

std::optional<ProcessStat> CallerResolver::stat_of(pid_t tid) {
  if (!events_) return read_stat(tid);
  std::uint64_t ticket = 0;
  std::uint64_t execs = 0;
  {
    std::lock_guard lock(known_mu_);
    catch_up();
    auto it = known_.find(tid);
    if (it != known_.end() && it->second.stat) return it->second.stat;
    if (it == known_.end()) {
      // Bounded like the token cache.
      if (known_.size() >= kMaxCached) {
        known_.clear();
        threads_of_.clear();
      }
      it = known_.emplace(tid, KnownThread{0, std::nullopt, ++tickets_}).first;
    }
    ticket = it->second.ticket;
    execs = execs_;
  }
  // Read unlocked (a miss: once per thread and program). The stat and the
  // tgid come through one directory fd, so both are the same thread's.
  const std::string dir = settings_.proc_root + "/" + std::to_string(tid);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) return std::nullopt;
  std::string text;
  if (!read_at(d.fd, "stat", 4096, text)) return std::nullopt;
  auto stat = parse_proc_stat(text);
  if (stat) stat->sighting = ticket;
  if (!stat || !read_at(d.fd, "status", 4096, text)) return stat;
  const auto tgid = status_tgid(text);
  if (!tgid) return stat;
  std::lock_guard lock(known_mu_);
  catch_up();
  // Kept only if no event overtook the read: the thread's own exit or exec
  // erased the placeholder; an exec elsewhere in its process (which
  // would end it without naming it) bumped execs_.
  auto it = known_.find(tid);
  if (it != known_.end() && it->second.ticket == ticket && !it->second.stat && execs_ == execs) {
    it->second.stat = stat;
    it->second.tgid = *tgid;
    if (tid != *tgid) threads_of_[*tgid].push_back(tid);
  }
  return stat;
}

std::optional<ProcessStat> CallerResolver::read_stat(pid_t tid) {
  char buf[1024];
  std::shared_ptr<const Fd> kept;
  {
    std::lock_guard lock(stat_fds_mu_);
    if (auto it = stat_fds_.find(tid); it != stat_fds_.end()) kept = it->second;
  }
  if (kept) {
    const ssize_t n = ::pread(kept->fd, buf, sizeof buf, 0);
    if (n > 0) return parse_proc_stat(std::string_view(buf, static_cast<std::size_t>(n)));
    // The thread it was opened for is gone (ESRCH): the tid may be another
    // process's by now, opened afresh below.
    std::lock_guard lock(stat_fds_mu_);
    if (auto it = stat_fds_.find(tid); it != stat_fds_.end() && it->second == kept) stat_fds_.erase(it);
  }
  const std::string path = settings_.proc_root + "/" + std::to_string(tid) + "/stat";
  auto opened = std::make_shared<const Fd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (opened->fd < 0) return std::nullopt;
  const ssize_t n = ::pread(opened->fd, buf, sizeof buf, 0);
  if (n <= 0) return std::nullopt;
  {
    std::lock_guard lock(stat_fds_mu_);
    // Bounded like the token cache: when full, all are closed (as the last
    // request using each lets go of it) and reopened as threads come back.
    if (stat_fds_.size() >= kMaxStatFds) stat_fds_.clear();
    stat_fds_[tid] = opened;
  }
  return parse_proc_stat(std::string_view(buf, static_cast<std::size_t>(n)));
}

std::optional<engine::SecureString> CallerResolver::env_token(pid_t tid, uid_t uid, std::uint64_t sighting) {
  ProcessKey key{tid, 0, uid, {}, sighting};
  auto token = read_env(tid, uid, key);
  if (key.start_time == 0) return std::nullopt;  // unreadable or timed out: not cached
  std::lock_guard lock(env_mu_);
  // Bounded: when full, forget everything (dead processes' entries included)
  // and re-read as processes come back.
  if (env_cache_.size() >= kMaxCached) env_cache_.clear();
  env_cache_[key] = token;
  return token;
}

std::optional<engine::SecureString> CallerResolver::read_env(pid_t tid, uid_t uid, ProcessKey& key) const {
  // The read runs on its own thread so a process whose memory is locked
  // (exec'ing, or faulting on this very mount) cannot hold this request:
  // after env_timeout the request goes on without the environ, and the
  // helper finishes (and is forgotten) whenever the kernel lets it.
  auto state = std::make_shared<EnvRead>();
  try {
    std::thread([state, root = settings_.proc_root, tid, uid] {
      EnvRead local;
      read_process(root, tid, uid, local);
      std::lock_guard lock(state->mu);
      state->ok = local.ok;
      state->start_time = local.start_time;
      state->image = local.image;
      state->token = std::move(local.token);
      state->done = true;
      state->cv.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    log_warn("caller: cannot start a thread to read /proc/", tid, "/environ");
    return std::nullopt;
  }
  std::unique_lock lock(state->mu);
  if (!state->cv.wait_for(lock, settings_.env_timeout, [&] { return state->done; })) {
    log_warn("caller: reading /proc/", tid, "/environ timed out; using the uid's session");
    return std::nullopt;
  }
  if (!state->ok) {
    log_debug("caller: /proc/", tid, " not readable as uid ", uid, "; no VAULT_TOKEN");
    return std::nullopt;
  }
  key.start_time = state->start_time;
  key.image = state->image;
  return std::move(state->token);
}

std::size_t CallerResolver::cached_processes() const {
  std::lock_guard lock(env_mu_);
  return env_cache_.size();
}

void CallerResolver::bind_session(uid_t uid, engine::SecureString token) {
  std::lock_guard lock(session_mu_);
  sessions_[uid] = std::move(token);
}

void CallerResolver::end_session(uid_t uid, const engine::SecureString* token) {
  std::lock_guard lock(session_mu_);
  auto it = sessions_.find(uid);
  if (it == sessions_.end()) return;
  if (token != nullptr && it->second != *token) return;
  sessions_.erase(it);
}

std::optional<engine::SecureString> CallerResolver::session_of(uid_t uid) const {
  std::lock_guard lock(session_mu_);
  auto it = sessions_.find(uid);
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

}  // namespace fsd
