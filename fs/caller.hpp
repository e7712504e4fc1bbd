// SPDX-License-Identifier: MPL-2.0
// Who is asking (SPEC §3): turns a FUSE request into the token it is made
// with, in this order:
//   1. the mount's own token (--token-file): every request uses it;
//   2. VAULT_TOKEN from the calling thread's /proc/TID/environ (unless
//      --no-env-token), read only on open-type requests (see ReadsEnv),
//      cached by (tid, start time from /proc/TID/stat field 22, uid, program
//      image) so neither a reused pid nor an exec'd program is confused
//      with the process before it, and only when /proc/TID belongs to the
//      request's uid (another user's process never lends its token). When
//      the kernel sends us its process events (fs/process_events.hpp) a
//      thread's stat is read once and kept until it exits or its process
//      execs, which is exact; without them /proc/TID/stat is read at every
//      request, and an exec shows only as a moved image (ASLR: an exec of
//      the same program with the same sizes and no randomisation looks
//      like the process before it);
//   3. the uid's session on this mount: set by a login through the mount
//      (a write that issues a token) or by writing a token to the session
//      file MOUNT/auth/token/session; ended by revoke-self, by `rm` or an
//      empty write of the session file, or when its token is found dead;
//   4. a peer login (--peer-login, `peer_login` in the config): a caller
//      with no token is logged in through that peer auth method on its
//      first node-naming request, by the kernel's word on it alone
//      (engine/auth/peer.hpp); the token becomes the uid's session. A
//      process no role admits is not tried again;
//   5. the fallback token (the dev root token in --dev), else none: only the
//      login and seal endpoints answer.
// Every request's caller also carries the kernel's word on it (uid, gid,
// pid and that pid's start time) for the peer method's logins.
// Sessions live in the daemon's memory only.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/common/secure.hpp"
#include "engine/common/unique_fd.hpp"
#include "engine/fileview/file_view.hpp"
#include "fs/process_events.hpp"

namespace fsd {

// Where a caller's token came from.
enum class TokenSource { Mount, Env, Session, PeerLogin, Fallback, None };
const char* to_string(TokenSource source) noexcept;

// One request's caller: the engine's view of it (the token) plus what the
// fs needs to bind sessions.
struct Who {
  engine::Caller caller;
  uid_t uid = 0;
  TokenSource source = TokenSource::None;
};

// Does this request read the caller's environ on a cache miss? Requests that
// name a node do (lookup, getattr, access, open, opendir, create, mkdir,
// unlink, rmdir): every path a process uses starts with a lookup, and a
// process handed an open fd (`cat <&3`) first fstat()s it. The others never
// wait on /proc: reads, writes and flushes use the token the file was opened
// with, readdir and setattr use the cache (or fall through to the session).
// An exec from the mount, during which reading the exec'ing process's
// environ would block, is refused at open, and every read has a timeout.
enum class ReadsEnv { No, Yes };

// --- parsing, public for tests -----------------------------------------------

// The value of NAME in an environ block ("K=V\0K=V\0..."), as getenv finds it
// (the first match); nullopt if absent. An entry cut short by a truncated read
// (no final NUL) is still considered.
std::optional<engine::SecureString> environ_value(std::string_view environ, std::string_view name);

// The start time (field 22, clock ticks since boot) in the text of
// /proc/PID/stat; nullopt if malformed. comm (field 2) may hold spaces and
// ')', so fields are counted after the last ')'.
std::optional<std::uint64_t> stat_start_time(std::string_view stat);

// Where the process's current program image lies: fields 26-28 (start and
// end of code, stack start) and 45-51 (data, brk, and the argv and environ
// bounds) of /proc/PID/stat. execve() makes a new image, placed anew (ASLR)
// and sized by the new program, argv and environ, so these change at every
// exec, while the tid and start time do not. Fields a kernel does not show
// (older kernels, or no ptrace access) read as 0.
using ProcessImage = std::array<std::uint64_t, 10>;
struct ProcessStat {
  std::uint64_t start_time = 0;
  ProcessImage image{};
  // With process events: which sighting of the thread this is, new after
  // each exec or exit the kernel reported (0 without them). It keys the
  // token cache, so an exec that leaves the image where it was (same
  // program and sizes, no ASLR) is still a new process.
  std::uint64_t sighting = 0;
};
std::optional<ProcessStat> parse_proc_stat(std::string_view stat);

// The thread group (process) id in the text of /proc/TID/status ("Tgid:"
// line); nullopt if absent or malformed.
std::optional<pid_t> status_tgid(std::string_view status);

// The key a process's VAULT_TOKEN is cached under: the image is part of it,
// so `exec env -u VAULT_TOKEN prog` or `exec env VAULT_TOKEN=... prog` is a
// new process as far as the token goes.
struct ProcessKey {
  pid_t tid = 0;
  std::uint64_t start_time = 0;
  uid_t uid = 0;
  ProcessImage image{};
  std::uint64_t sighting = 0;
  bool operator<(const ProcessKey& o) const {
    return std::tie(tid, start_time, uid, image, sighting) < std::tie(o.tid, o.start_time, o.uid, o.image, o.sighting);
  }
};

struct CallerSettings {
  engine::SecureString mount_token;  // 1. ("" = not bound)
  // 1. for token-file mounts: asked at each request instead of mount_token
  // (which must be set too), so a rotated token file is used at once.
  std::function<engine::SecureString()> mount_token_source;
  bool env_token = true;  // 2. read VAULT_TOKEN from callers
  // 4. logs a caller with no token in through the peer method (the token it
  // returns, or nullopt when refused); unset = no peer login.
  std::function<std::optional<engine::SecureString>(const engine::PeerCredentials&)> peer_login;
  engine::SecureString fallback_token;  // 5. ("" = none), for fallback_uid only
  uid_t fallback_uid = 0;               // whose token it is (the daemon's owner)
  std::chrono::milliseconds env_timeout{200};
  std::string proc_root = "/proc";  // tests may point elsewhere (no process events then)
  // Learn execs and exits from the kernel (fs/process_events.hpp) instead of
  // reading /proc/TID/stat at every request; used when the kernel allows it.
  bool process_events = true;
  // Take them from the socket's queue even where the eBPF ring could be had
  // (benchmarks, tests).
  bool process_events_socket_only = false;
};

class CallerResolver {
 public:
  explicit CallerResolver(CallerSettings settings);

  // The caller of req. Thread-safe. With ReadsEnv::Yes it may read
  // /proc/TID/{stat,environ} (bounded by env_timeout; on timeout or any
  // error the process counts as having no VAULT_TOKEN for this request).
  // On a bound mount the token is the mount's, so /proc is read only for
  // requests that may log in (may_log_in: opens for writing, creates),
  // whose peer credentials need the process's start time.
  Who who(fuse_req_t req, ReadsEnv reads_env, bool may_log_in = true);
  // The same for a known (tid, uid); tid 0 = unknown process. Without a
  // gid the caller carries no peer credentials (and is never peer-logged
  // in).
  Who who(pid_t tid, uid_t uid, ReadsEnv reads_env);
  Who who(pid_t tid, uid_t uid, gid_t gid, ReadsEnv reads_env);

  bool mount_bound() const { return !settings_.mount_token.empty(); }
  // A bound mount's token as it stands (the token file is checked), "" for
  // an unbound mount. Thread-safe.
  engine::SecureString mount_token() const {
    if (!mount_bound()) return {};
    return settings_.mount_token_source ? settings_.mount_token_source() : settings_.mount_token;
  }

  // --- sessions (per uid, this mount only) ---
  void bind_session(uid_t uid, engine::SecureString token);
  // Ends uid's session; with token, only if that is still the session's token.
  void end_session(uid_t uid, const engine::SecureString* token = nullptr);
  std::optional<engine::SecureString> session_of(uid_t uid) const;

  // VAULT_TOKEN of a process by key, reading /proc if not cached (tests).
  std::optional<engine::SecureString> env_token(pid_t tid, uid_t uid, std::uint64_t sighting = 0);
  std::size_t cached_processes() const;
  // Whether execs and exits come from the kernel, and how many threads'
  // stats are kept because of it (tests).
  bool has_process_events() const { return events_ != nullptr; }
  bool process_events_ring() const { return events_ != nullptr && events_->uses_ring(); }
  std::size_t known_threads();

 private:
  // Reads /proc/TID/stat and environ through one directory fd (so both
  // belong to the same process), checking its owner. key.start_time and
  // key.image are set.
  std::optional<engine::SecureString> read_env(pid_t tid, uid_t uid, ProcessKey& key) const;
  // /proc/TID/stat, read afresh (an exec shows at once) through an fd kept
  // per tid: one pread instead of open + read + close, whose path walk
  // through /proc was a third of a LOOKUP's own time. The kernel ties the
  // fd to the thread it was opened for, never to a later one given the same
  // tid: once that thread has gone its reads fail and the tid is opened
  // anew.
  std::optional<ProcessStat> stat_of(pid_t tid);
  std::optional<ProcessStat> read_stat(pid_t tid);
  // With process events: takes in what the kernel said (known_mu_ held).
  void catch_up();
  void forget_process(pid_t tgid);
  void forget_thread(pid_t tid, pid_t tgid);
  Who resolve(pid_t tid, uid_t uid, std::optional<gid_t> gid, ReadsEnv reads_env, bool may_log_in = true);
  // Step 4: a peer login for a caller with no token; false when refused (or
  // refused before: the process is remembered).
  bool try_peer_login(const engine::PeerCredentials& creds, Who& w);

  const CallerSettings settings_;
  static constexpr std::size_t kMaxCached = 4096;
  mutable std::mutex env_mu_;
  std::map<ProcessKey, std::optional<engine::SecureString>> env_cache_;
  static constexpr std::size_t kMaxStatFds = 128;
  std::mutex stat_fds_mu_;
  std::unordered_map<pid_t, std::shared_ptr<const engine::UniqueFd>> stat_fds_;
  // With process events (null: none, /proc/TID/stat is read at each
  // request): each thread's stat as read once, kept until the kernel says
  // the thread exited or its process exec'd. An exec by any thread makes it
  // the leader (its tid becomes the tgid) and ends the others, with no event
  // naming its old tid, so each process's other threads are listed under
  // its tgid and forgotten with it.
  struct KnownThread {
    pid_t tgid = 0;
    std::optional<ProcessStat> stat;  // nullopt while being read
    std::uint64_t ticket = 0;         // which read may fill it in; the stat's sighting
  };
  std::unique_ptr<ProcessEvents> events_;
  std::mutex known_mu_;
  std::unordered_map<pid_t, KnownThread> known_;
  std::unordered_map<pid_t, std::vector<pid_t>> threads_of_;  // tgid -> its other tids in known_
  std::uint64_t tickets_ = 0;
  std::uint64_t execs_ = 0;  // execs seen, and losses: a read that one overtook is not kept
  bool loss_logged_ = false;
  mutable std::mutex session_mu_;
  std::unordered_map<uid_t, engine::SecureString> sessions_;
  // Processes (tid, start time, uid) a peer login refused: not tried again.
  mutable std::mutex peer_mu_;
  std::map<std::tuple<pid_t, std::uint64_t, uid_t>, bool> peer_refused_;
};

}  // namespace fsd
