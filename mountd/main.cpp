// SPDX-License-Identifier: MPL-2.0
// cofferd: reads its options (command line, or a config file with any number
// of mounts), opens the store and the engine once, serves every mount from
// its own FUSE session and thread loop, and waits for signals:
// SIGINT/SIGTERM unmount everything and exit, SIGHUP reloads the log level
// from the config file. A mount that cannot start is logged and skipped;
// the others serve.
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/memory_storage.hpp"
#include "engine/storage/postgres_mirror.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "fs/log.hpp"
#include "fs/mount.hpp"
#include "fs/token_file.hpp"
#include "mountd/config.hpp"
#include "mountd/follower.hpp"
#include "mountd/migrate.hpp"
#include "mountd/options.hpp"
#include "mountd/seal_file.hpp"

namespace {

constexpr const char* kVersion = "cofferd 0.1.0";

// What to serve, from the command line or the config file.
struct MountSpec {
  std::string mountpoint;
  std::string chroot;
  std::string token_file;
  bool allow_other = false;
  bool cache = false;
  std::string peer_login;                 // "" = no peer login on first access
  std::optional<std::uint32_t> uid, gid;  // owner of every node; unset: the daemon's
  mode_t file_mode = mountd::kDefaultFileMode;
  mode_t dir_mode = mountd::kDefaultDirMode;
  bool inotify = false;                      // replay changes made elsewhere (fs/replay.hpp)
  std::vector<fsd::TemplateFile> templates;  // MOUNT/NAME files (fs/template_files.hpp)
  bool read_only = false;                    // mounted ro; with cache, the kernel serves reads alone
};

struct Plan {
  bool dev = false;
  std::string dev_root_token;
  std::string storage_path;   // a SQLite file or a PostgreSQL URL (is_postgres_url)
  std::string storage_table;  // PostgreSQL's table prefix ("" = "coffer")
  bool init = false;          // create the store if missing (--init, storage { init = true })
  std::string seal_file;      // seal "file" { path }: unseal at start with its shares ("" = none)
  std::string config_path;    // "" = command line (SIGHUP has nothing to reload)
  fsd::LogLevel log_level = fsd::LogLevel::Info;
  bool mlock = true;
  bool from_config = false;     // for the hint on how to turn mlock off
  std::string admin_namespace;  // administrative_namespace_path ("admin/"), config only
  std::map<std::string, engine::UserLockoutConfig> user_lockout;  // config only
  bool env_token = true;                                          // read callers' VAULT_TOKEN (off: --no-env-token)
  std::vector<MountSpec> mounts;
};

Plan plan_of(const mountd::Options& o) {
  Plan p;
  p.dev = o.mode == mountd::Options::Mode::Dev;
  p.dev_root_token = o.dev_root_token;
  p.storage_path = o.storage_path;
  p.init = o.init;
  p.log_level = o.log_level;
  p.env_token = !o.no_env_token;
  p.mlock = !o.disable_mlock;  // every mode locks its memory unless told not to
  p.mounts.push_back({o.mountpoint, o.chroot, o.token_file, o.allow_other, o.cache, o.peer_login, o.uid, o.gid,
                      o.file_mode, o.dir_mode, o.inotify, std::vector<fsd::TemplateFile>{}, o.read_only});
  return p;
}

Plan plan_of(const mountd::Config& c, bool init) {
  Plan p;
  p.storage_path = c.storage_path;
  p.storage_table = c.storage_table;
  p.init = init || c.storage_init;
  p.seal_file = c.seal_file;
  p.config_path = c.file;
  p.from_config = true;
  p.log_level = c.log_level;
  p.mlock = !c.disable_mlock;
  p.admin_namespace = c.administrative_namespace_path;
  for (const auto& [type, l] : c.user_lockout) {
    p.user_lockout[type] = engine::UserLockoutConfig{l.threshold, l.duration, l.counter_reset, l.disable};
  }
  for (const auto& m : c.mounts) {
    std::vector<fsd::TemplateFile> templates;
    for (const auto& t : m.templates) templates.push_back(fsd::TemplateFile{t.name, t.perms, t.parsed});
    p.mounts.push_back({m.mountpoint, m.chroot_namespace, m.token_file, m.allow_other, m.cache, m.peer_login, m.uid,
                        m.gid, m.file_mode, m.dir_mode, m.inotify, std::move(templates), m.read_only});
  }
  return p;
}

// What messages may show of the store: a URL without its password.
std::string store_name(const Plan& p) { return mountd::redacted_url(p.storage_path); }

engine::Result<std::unique_ptr<engine::Storage>> open_storage(const Plan& p, engine::PostgresMirror** mirror) {
  *mirror = nullptr;
  if (p.dev) return std::unique_ptr<engine::Storage>(std::make_unique<engine::MemoryStorage>());
  if (mountd::is_postgres_url(p.storage_path)) {
    engine::PostgresMirror::Options o;
    o.store.connection_url = p.storage_path;
    if (!p.storage_table.empty()) o.store.table = p.storage_table;
    o.store.create = p.init;
    auto pg = engine::PostgresMirror::open(std::move(o));
    if (!pg.ok()) {
      engine::Error e = std::move(pg).error();
      if (e.code == engine::ErrorCode::NotFound) {
        e.message += p.config_path.empty()
                         ? "; pass --init to create a new one"
                         : "; pass --init (or set init = true in the storage block) to create a new one";
      }
      return e;
    }
    *mirror = pg->get();
    return std::unique_ptr<engine::Storage>(std::move(pg).value());
  }
  // A missing store is an error unless asked for: a store deleted or moved
  // away must not come back as a new, uninitialised one that the first
  // local user could sys/init.
  struct stat before {};
  const bool existed = ::stat(p.storage_path.c_str(), &before) == 0 && before.st_size > 0;
  auto sqlite = engine::SqliteStorage::open(
      p.storage_path, p.init ? engine::SqliteStorage::IfMissing::Create : engine::SqliteStorage::IfMissing::Fail);
  if (!sqlite.ok()) {
    engine::Error e = std::move(sqlite).error();
    if (e.code == engine::ErrorCode::NotFound) {
      e.message += p.config_path.empty()
                       ? "; pass --init to create a new one"
                       : "; pass --init (or set init = true in the storage block) to create a new one";
    }
    return e;
  }
  if (!existed) std::cout << "cofferd: created a new store at " << p.storage_path << std::endl;
  return std::unique_ptr<engine::Storage>(std::move(sqlite).value());
}

// What can only be checked on an unsealed store: the chroot namespace
// exists and the mount's token is alive. Ok while sealed (checked again
// after the unseal).
engine::Status check_target(engine::Core& core, const MountSpec& spec, const engine::SecureString& token,
                            bool* checked) {
  *checked = false;
  const auto tree = core.namespaces();
  if (tree->sealed) return engine::ok_status();
  *checked = true;
  if (!spec.chroot.empty() && tree->find(spec.chroot + "/") == nullptr) {
    return engine::Error::not_found("chroot namespace " + spec.chroot + " does not exist");
  }
  if (!spec.token_file.empty()) {
    auto standing = core.check_token(token);
    if (!standing.ok() && standing.error().code == engine::ErrorCode::Sealed) {
      *checked = false;  // sealed meanwhile: checked again after the unseal
      return engine::ok_status();
    }
    if (!standing.ok()) {
      return engine::Error::denied("the token in " + spec.token_file + " is not valid (unknown, revoked or expired)");
    }
  }
  return engine::ok_status();
}

// One mount being served, on its own thread.
struct Served {
  MountSpec spec;
  std::unique_ptr<fsd::TokenFile> token_file;
  std::unique_ptr<fsd::Mount> mount;
  std::thread thread;
  std::atomic<bool> done{false};
  engine::Status result = engine::ok_status();
  std::atomic<bool> target_checked{false};
  bool joined = false;
};

std::string describe(const Plan& p, const MountSpec& m) {
  std::string d = p.dev ? "dev, in memory, root token: " + p.dev_root_token : "storage " + store_name(p);
  if (!m.chroot.empty()) d += ", chroot " + m.chroot;
  if (!m.token_file.empty()) d += ", token from " + m.token_file;
  if (m.read_only) d += ", read-only";
  if (m.cache) d += m.read_only ? ", cached (reads served by the kernel)" : ", cached";
  if (m.inotify) d += ", inotify";
  if (!m.templates.empty()) d += ", " + std::to_string(m.templates.size()) + " template file(s)";
  if (!m.peer_login.empty()) d += ", peer login through " + m.peer_login;
  if (m.uid || m.gid || m.file_mode != mountd::kDefaultFileMode || m.dir_mode != mountd::kDefaultDirMode) {
    char modes[64];
    std::snprintf(modes, sizeof modes, ", files %04o, dirs %04o", static_cast<unsigned>(m.file_mode),
                  static_cast<unsigned>(m.dir_mode));
    d += modes;
    if (m.uid) d += ", uid " + std::to_string(*m.uid);
    if (m.gid) d += ", gid " + std::to_string(*m.gid);
  }
  return d;
}

// Creates and mounts spec; on failure says why on stderr and returns null.
std::unique_ptr<Served> start_mount(const Plan& p, engine::Core& core, engine::FileView& view, const MountSpec& spec) {
  auto served = std::make_unique<Served>();
  served->spec = spec;
  auto refuse = [&](const std::string& why) -> std::unique_ptr<Served> {
    std::cerr << "cofferd: cannot mount " << spec.mountpoint << ": " << why << std::endl;
    fsd::log_error("mount ", spec.mountpoint, " not started: ", why);
    return nullptr;
  };

  fsd::MountOptions mo;
  mo.mountpoint = spec.mountpoint;
  mo.allow_other = spec.allow_other;
  mo.cache = spec.cache;
  mo.fs.read_only = spec.read_only;
  mo.fs.uid = spec.uid.value_or(::getuid());
  mo.fs.gid = spec.gid.value_or(::getgid());
  mo.fs.file_mode = spec.file_mode;
  mo.fs.dir_mode = spec.dir_mode;
  mo.fs.chroot = spec.chroot;
  mo.fs.inotify = spec.inotify;
  mo.fs.templates = spec.templates;
  if (!spec.token_file.empty()) {
    auto file = fsd::TokenFile::open(spec.token_file);
    if (!file.ok()) return refuse(file.error().message);
    served->token_file = std::move(file).value();
    mo.token = served->token_file->current();
    fsd::TokenFile* source = served->token_file.get();
    mo.fs.mount_token_source = [source] { return source->current(); };
  } else if (p.dev) {
    // Not bound: like `vault server -dev` with the root token in the
    // operator's ~/.vault-token, the daemon owner's callers with no
    // VAULT_TOKEN and no session use it; other uids have no token.
    mo.fs.fallback_token = engine::to_secure(p.dev_root_token);
    mo.fs.fallback_uid = getuid();
  }
  mo.fs.env_token = p.env_token;
  mo.fs.peer_login = spec.peer_login;
  bool checked = false;
  if (auto st = check_target(core, spec, mo.token, &checked); !st.ok()) {
    return refuse(st.error().message);
  }
  served->target_checked = checked;

  auto mount = fsd::Mount::create(view, std::move(mo));
  if (!mount.ok()) return refuse(mount.error().message);
  served->mount = std::move(mount).value();
  if (served->token_file) {
    fsd::Mount* m = served->mount.get();
    served->token_file->on_change([m] { m->post_everything(); });
  }
  std::cout << "cofferd: mounted " << spec.mountpoint << " (" << describe(p, spec) << ")" << std::endl;
  fsd::log_info("serving ", spec.mountpoint);
  return served;
}

// Runs a mount's loop on its own thread; tells main (SIGUSR2) when it ends.
void serve(Served& s) {
  s.thread = std::thread([&s] {
    s.result = s.mount->run(/*handle_signals=*/false);
    s.done.store(true);
    ::kill(::getpid(), SIGUSR2);
  });
}

void finish(Served& s) {
  if (s.joined) return;
  if (s.thread.joinable()) s.thread.join();
  s.joined = true;
  s.mount->unmount();
  if (!s.result.ok()) {
    std::cerr << "cofferd: serving " << s.spec.mountpoint << ": " << s.result.error().message << std::endl;
  } else {
    std::cout << "cofferd: unmounted " << s.spec.mountpoint << std::endl;
  }
}

void reload(const Plan& p, engine::Core& core) {
  // Audit files first: a log rotation sends SIGHUP whatever the config.
  if (auto st = core.reopen_audit_files(); !st.ok()) {
    fsd::log_error("SIGHUP: ", st.error().message);
  } else {
    fsd::log_info("SIGHUP: audit files reopened");
  }
  if (p.config_path.empty()) {
    fsd::log_info("SIGHUP: no config file to reload (started without --config)");
    return;
  }
  auto config = mountd::load_config(p.config_path);
  if (!config.ok()) {
    fsd::log_error("SIGHUP: config not reloaded: ", config.error().message);
    return;
  }
  fsd::set_log_level(config->log_level);
  // Written whatever the new level: the operator asked for it.
  fsd::log_line(fsd::LogLevel::Info, std::string("SIGHUP: log level is now ") + fsd::to_string(config->log_level) +
                                         " (mounts and storage change only with a restart)");
}

// Keeps tokens and secrets out of core dumps (a crash, or gcore): no mapping
// is dumped (coredump_filter 0, the whole-process MADV_DONTDUMP), and the
// process is not dumpable at all, which also keeps other processes of the
// same uid from ptrace and from /proc/PID/mem and environ. Written before
// PR_SET_DUMPABLE, which makes /proc/self root's. Reading the callers'
// /proc/TID/environ is unaffected: it depends on their dumpability, not ours.
void keep_out_of_core_dumps() {
  if (FILE* f = std::fopen("/proc/self/coredump_filter", "w")) {
    std::fputs("0", f);
    if (std::fclose(f) != 0) std::cerr << "cofferd: cannot set coredump_filter" << std::endl;
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::cerr << "cofferd: prctl(PR_SET_DUMPABLE, 0): " << std::strerror(errno) << std::endl;
  }
}

// mlockall(), locking each page when it is first touched (MCL_ONFAULT,
// Linux 4.4) rather than making every mapping resident at once: the shared
// libraries' unused parts (ICU's 30 MB of tables), untouched stack and the
// heaps' reserve then cost nothing, and every page that holds data is still
// locked before anything is written to it. Older kernels lock everything.
bool lock_memory() {
  if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0) return true;
  return errno == EINVAL && ::mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
}

int run(const Plan& p) {
  fsd::set_log_level(p.log_level);
  engine::crypto::init();
  if (p.mlock) {
    // Locked memory includes every thread's whole stack: libfuse's workers
    // get 1 MiB (FUSE_THREAD_STACK) rather than the 8 MiB default, unless
    // the operator set it.
    ::setenv("FUSE_THREAD_STACK", "1048576", /*overwrite=*/0);
  }
  // Large blocks (libfuse's 1 MiB request buffer per worker, which come and
  // go with the workers) always get their own mapping, given back whole when
  // freed: glibc would otherwise raise its threshold after the first free
  // and carve them from the heaps, where locked memory, once freed, is never
  // returned to the system (madvise cannot drop locked pages).
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (p.mlock && !lock_memory()) {
    std::cerr << "cofferd: cannot lock memory (mlockall: " << std::strerror(errno)
              << "); give cofferd CAP_IPC_LOCK, or "
              << (p.from_config ? "set disable_mlock = true" : "run it with --disable-mlock")
              << " if swap is encrypted or off" << std::endl;
    return 1;
  }

  engine::PostgresMirror* mirror = nullptr;  // a fleet's store: followed below
  auto storage = open_storage(p, &mirror);
  if (!storage.ok()) {
    std::cerr << "cofferd: cannot open storage " << store_name(p) << ": " << storage.error().message << std::endl;
    return 1;
  }
  // Auto-unseal: the key file is checked against the store before anything
  // is served (a bad file is an exit, not a sealed daemon nobody notices).
  std::vector<engine::SecureString> shares;
  std::string seal_path;
  if (!p.seal_file.empty()) {
    auto path = mountd::seal_file_path(p.seal_file, std::getenv("CREDENTIALS_DIRECTORY"));
    auto loaded = path.ok() ? mountd::load_seal_file(*path, **storage)
                            : engine::Result<std::vector<engine::SecureString>>(std::move(path).error());
    if (!loaded.ok()) {
      std::cerr << "cofferd: seal \"file\": " << loaded.error().message << std::endl;
      return 1;
    }
    shares = std::move(loaded).value();
    seal_path = *path;
  }
  engine::CoreOptions core_options;
  core_options.dev = p.dev;
  if (p.dev) core_options.dev_root_token = p.dev_root_token;
  core_options.administrative_namespace_path = p.admin_namespace;
  core_options.user_lockout = p.user_lockout;
  if (mirror != nullptr) core_options.fleet_revision = [mirror] { return mirror->revision(); };
  auto core_result = engine::Core::open(std::move(storage).value(), core_options);
  if (!core_result.ok()) {
    std::cerr << "cofferd: cannot open the store: " << core_result.error().message << std::endl;
    return 1;
  }
  engine::Core& core = **core_result;
  if (!shares.empty()) {
    // Through sys/unseal, as an operator's shares would go (Vault's
    // unseal: one share per request until the threshold).
    bool open = false;
    for (const engine::SecureString& share : shares) {
      engine::Request req;
      req.op = engine::Operation::Update;
      req.path = "sys/unseal";
      req.data = {{"key", share}};
      auto resp = core.handle(req);
      if (!resp.ok()) {
        std::cerr << "cofferd: seal \"file\": the unseal with the key file " << seal_path
                  << " failed: " << resp.error().message << std::endl;
        return 1;
      }
      if (!core.sealed()) {
        open = true;
        break;
      }
    }
    for (auto& share : shares) engine::secure_zero(share.data(), share.size());
    shares.clear();
    if (!open) {
      std::cerr << "cofferd: seal \"file\": the shares in " << seal_path << " did not unseal the store" << std::endl;
      return 1;
    }
    std::cout << "cofferd: unsealed with the key file " << seal_path << std::endl;
    fsd::log_info("unsealed with the key file ", seal_path);
  }
  engine::FileView view(core);

  // Signals are taken by this thread with sigwait; every thread started
  // from here on (mount loops, FUSE workers, invalidators) blocks them.
  sigset_t waited;
  sigemptyset(&waited);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&waited, sig);
  pthread_sigmask(SIG_BLOCK, &waited, nullptr);
  // An ignored signal is dropped even while blocked, and a shell starts
  // `cofferd &` with SIGINT ignored (nohup: SIGHUP): take them back.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaction(sig, &dfl, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  fsd::Mount::install_wake_handler();

  // Other hosts' commits, from here on (the signal mask is set).
  std::unique_ptr<mountd::Follower> follower;
  if (mirror != nullptr) follower = std::make_unique<mountd::Follower>(*mirror, core);

  std::vector<std::unique_ptr<Served>> served;
  for (const MountSpec& spec : p.mounts) {
    if (auto s = start_mount(p, core, view, spec)) served.push_back(std::move(s));
  }
  if (served.empty()) {
    std::cerr << "cofferd: no mount could be started" << std::endl;
    return 1;
  }

  // A store unsealed through a mount: check what could not be checked
  // while sealed, once, and say which mounts cannot work. The change bus
  // only raises a flag (its handlers may not call into the core); the main
  // loop below makes the check, woken by SIGUSR2.
  std::atomic<bool> recheck{false};
  std::atomic<bool> all_checked{false};
  auto unsealed = core.subscribe([&](const engine::ChangeEvent& c) {
    using engine::ChangeKind;
    // What a mount's target depends on: the seal, its namespace, its token.
    if (c.kind != ChangeKind::Seal && c.kind != ChangeKind::Namespace && c.kind != ChangeKind::Token &&
        c.kind != ChangeKind::Other) {
      return;
    }
    if (all_checked.load(std::memory_order_acquire) || recheck.exchange(true, std::memory_order_acq_rel)) return;
    ::kill(::getpid(), SIGUSR2);
  });
  auto check_targets = [&] {
    if (core.sealed()) return;
    bool all = true;
    for (auto& s : served) {
      if (s->target_checked) continue;
      const engine::SecureString token = s->token_file ? s->token_file->current() : engine::SecureString();
      bool checked = false;
      const engine::Status st = check_target(core, s->spec, token, &checked);
      s->target_checked = checked;
      all = all && checked;
      if (!st.ok()) {
        fsd::log_error("mount ", s->spec.mountpoint, ": ", st.error().message,
                       "; its requests will fail until this is fixed");
      }
    }
    all_checked.store(all, std::memory_order_release);
  };
  // The daemon's debug log (and sys/monitor@debug) shows every change: its
  // kind, namespace and path, never a value.
  auto logged = core.subscribe([](const engine::ChangeEvent& c) {
    if (!fsd::log_enabled(fsd::LogLevel::Debug)) return;
    fsd::log_debug("change ", c.revision, ": ", engine::to_string(c.kind), " ",
                   c.namespace_path.empty() ? std::string("(root)") : c.namespace_path, " ", c.path);
  });

  for (auto& s : served) serve(*s);

  int exit_code = 0;
  while (true) {
    int sig = 0;
    if (sigwait(&waited, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload(p, core);
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      fsd::log_info("signal ", sig, " received, unmounting everything");
      for (auto& s : served) {
        if (!s->done.load()) s->mount->stop();
      }
      break;
    }
    // SIGUSR2: a loop ended (unmounted from outside, or failed), or the
    // store was unsealed.
    if (recheck.exchange(false, std::memory_order_acq_rel)) check_targets();
    bool all_done = true;
    for (auto& s : served) {
      if (s->done.load()) {
        finish(*s);
      } else {
        all_done = false;
      }
    }
    if (all_done) break;
  }
  for (auto& s : served) {
    finish(*s);
    if (!s->result.ok()) exit_code = 1;
  }
  unsealed.reset();
  logged.reset();
  served.clear();
  follower.reset();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  keep_out_of_core_dumps();  // before any token or secret is read
  try {
    const std::vector<std::string> args(argv, argv + argc);
    // Operator subcommands: no mount, no core.
    if (args.size() >= 2 && (args[1] == "migrate" || args[1] == "unseal-file")) {
      const std::vector<std::string> rest(args.begin() + 2, args.end());
      if (args[1] == "migrate") return mountd::run_migrate(rest, std::cout, std::cerr);
      // The shares pass through this process: keep them out of swap too.
      if (!lock_memory()) {
        std::cerr << "cofferd: warning: cannot lock memory (mlockall: " << std::strerror(errno) << ")\n";
      }
      engine::crypto::init();
      return mountd::run_unseal_file(rest, std::cin, std::cout, std::cerr);
    }
    auto options = mountd::parse_options(args);
    if (!options.ok()) {
      std::cerr << "cofferd: " << options.error().message << "\n"
                << "Try 'cofferd --help'.\n";
      return 2;
    }
    if (options->show_help) {
      std::cout << mountd::usage();
      return 0;
    }
    if (options->show_version) {
      std::cout << kVersion << "\n";
      return 0;
    }
    if (options->mode == mountd::Options::Mode::Config) {
      auto config = mountd::load_config(options->config_path);
      if (!config.ok()) {
        std::cerr << "cofferd: " << config.error().message << "\n";
        return 2;
      }
      return run(plan_of(*config, options->init));
    }
    return run(plan_of(*options));
  } catch (const std::exception& e) {
    std::cerr << "cofferd: fatal: " << e.what() << "\n";
    return 1;
  }
}
