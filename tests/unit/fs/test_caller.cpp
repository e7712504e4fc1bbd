// SPDX-License-Identifier: MPL-2.0
// Who is asking (fs/caller.hpp): environ and stat parsing, the order of token
// sources, the (tid, start time, uid, image) cache and the owner check. Processes
// are faked with a directory laid out like /proc (proc_root), so pid reuse
// and other users' processes are deterministic.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fs/caller.hpp"
#include "tests/unit/base/temp_dir.hpp"

using engine::SecureString;
using engine::to_secure;
using fsd::CallerResolver;
using fsd::CallerSettings;
using fsd::ReadsEnv;
using fsd::TokenSource;

namespace {

bool image_field(int field) { return (field >= 26 && field <= 28) || (field >= 45 && field <= 51); }

std::string stat_line(std::string_view comm, std::uint64_t start, std::uint64_t image = 0) {
  // Fields 1..52 of /proc/PID/stat with starttime (22) set, and the image
  // fields (26-28, 45-51) moved by image (another exec).
  std::string s = "4242 (" + std::string(comm) + ") S";
  for (int field = 4; field <= 52; ++field) {
    s += ' ';
    s += field == 22 ? std::to_string(start)
                     : std::to_string(static_cast<std::uint64_t>(field) + (image_field(field) ? image : 0));
  }
  return s + "\n";
}

// A fake /proc/TID with the given start time and environ, owned by uid;
// image stands for the program image (a new value: an exec).
void fake_process(const testing::TempDir& proc, pid_t tid, std::uint64_t start, std::string_view environ,
                  uid_t uid = ::getuid(), std::uint64_t image = 0) {
  const std::string dir = proc.file(std::to_string(tid));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/stat") << stat_line("cat", start, image);
  std::ofstream(dir + "/environ", std::ios::binary) << environ;
  REQUIRE(::chown(dir.c_str(), uid, ::getgid()) == 0);
}

std::string env(std::initializer_list<std::string_view> entries) {
  std::string out;
  for (auto e : entries) {
    out += e;
    out += '\0';
  }
  return out;
}

CallerSettings settings_for(const testing::TempDir& proc) {
  CallerSettings s;
  s.proc_root = proc.file("");
  while (!s.proc_root.empty() && s.proc_root.back() == '/') s.proc_root.pop_back();
  return s;
}

}  // namespace

TEST_CASE("environ: VAULT_TOKEN is found as getenv would", "[caller]") {
  using fsd::environ_value;
  CHECK(environ_value(env({"PATH=/bin", "VAULT_TOKEN=hvs.abc", "HOME=/"}), "VAULT_TOKEN") == to_secure("hvs.abc"));
  // The first of two wins (getenv's order).
  CHECK(environ_value(env({"VAULT_TOKEN=one", "VAULT_TOKEN=two"}), "VAULT_TOKEN") == to_secure("one"));
  // A longer or shorter name is another variable.
  CHECK_FALSE(environ_value(env({"VAULT_TOKEN_X=no", "XVAULT_TOKEN=no", "VAULT_TOKE=no"}), "VAULT_TOKEN"));
  CHECK_FALSE(environ_value(env({"VAULT_TOKEN"}), "VAULT_TOKEN"));  // no '='
  CHECK(environ_value(env({"VAULT_TOKEN="}), "VAULT_TOKEN") == to_secure(""));
  // A value may hold '='; a block cut short still yields its last entry.
  CHECK(environ_value(env({"VAULT_TOKEN=a=b"}), "VAULT_TOKEN") == to_secure("a=b"));
  const std::string cut("A=1\0VAULT_TOKEN=cut", 19);
  CHECK(environ_value(cut, "VAULT_TOKEN") == to_secure("cut"));
  CHECK_FALSE(environ_value("", "VAULT_TOKEN"));
}

TEST_CASE("stat: the start time is field 22, counted after the last ')'", "[caller]") {
  using fsd::stat_start_time;
  CHECK(stat_start_time(stat_line("cat", 123456)) == 123456u);
  // comm may hold spaces and parentheses.
  CHECK(stat_start_time(stat_line("a) b (c", 77)) == 77u);
  CHECK(stat_start_time(stat_line(") ) )", 9)) == 9u);
  CHECK_FALSE(stat_start_time("4242 (cat) S 1 2 3"));
  CHECK_FALSE(stat_start_time("no parenthesis at all"));
  CHECK_FALSE(stat_start_time(""));
  std::string bad = stat_line("cat", 999999);
  bad.replace(bad.find(" 999999 "), 8, " 99x999 ");
  CHECK_FALSE(stat_start_time(bad));
}

TEST_CASE("caller: the mount token wins over everything", "[caller]") {
  testing::TempDir proc;
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=from-env"}));
  CallerSettings s = settings_for(proc);
  s.mount_token = to_secure("mount");
  s.fallback_token = to_secure("fallback");
  CallerResolver r(s);
  r.bind_session(::getuid(), to_secure("session"));
  auto who = r.who(100, ::getuid(), ReadsEnv::Yes);
  CHECK(who.source == TokenSource::Mount);
  CHECK(who.caller.token == to_secure("mount"));
  CHECK(r.cached_processes() == 0);  // /proc is never read
}

TEST_CASE("caller: VAULT_TOKEN, then the uid's session, then the fallback, then none", "[caller]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 1, env({"HOME=/", "VAULT_TOKEN=from-env"}));
  fake_process(proc, 101, 1, env({"HOME=/"}));
  CallerSettings s = settings_for(proc);
  s.fallback_token = to_secure("fallback");
  s.fallback_uid = me;
  CallerResolver r(s);
  r.bind_session(me, to_secure("session"));

  auto env_who = r.who(100, me, ReadsEnv::Yes);
  CHECK(env_who.source == TokenSource::Env);
  CHECK(env_who.caller.token == to_secure("from-env"));
  auto session_who = r.who(101, me, ReadsEnv::Yes);
  CHECK(session_who.source == TokenSource::Session);
  CHECK(session_who.caller.token == to_secure("session"));
  r.end_session(me);
  CHECK(r.who(101, me, ReadsEnv::Yes).source == TokenSource::Fallback);
  CHECK(r.who(0, me, ReadsEnv::Yes).source == TokenSource::Fallback);  // unknown process
  // The fallback is the daemon owner's: another uid without a token has none.
  auto stranger = r.who(0, me + 1, ReadsEnv::Yes);
  CHECK(stranger.source == TokenSource::None);
  CHECK(stranger.caller.token.empty());

  CallerResolver bare(settings_for(proc));
  auto none = bare.who(101, me, ReadsEnv::Yes);
  CHECK(none.source == TokenSource::None);
  CHECK(none.caller.token.empty());
}

TEST_CASE("caller: the environ is read only on open-type requests, then cached", "[caller]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=first"}));
  CallerResolver r(settings_for(proc));
  // A getattr from a process never seen: no environ read.
  CHECK(r.who(100, me, ReadsEnv::No).source == TokenSource::None);
  CHECK(r.cached_processes() == 0);
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("first"));
  CHECK(r.cached_processes() == 1);
  // Cached: a later change of the file is not seen (the kernel's environ of
  // a running process does not change either), and getattr uses the cache.
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=changed"}));
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("first"));
  CHECK(r.who(100, me, ReadsEnv::No).caller.token == to_secure("first"));
}

TEST_CASE("caller: a reused pid (new start time) is a new process", "[caller]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 1000, env({"VAULT_TOKEN=old-process"}));
  CallerResolver r(settings_for(proc));
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("old-process"));
  // The process exits and pid 100 is reused by one without VAULT_TOKEN.
  fake_process(proc, 100, 2000, env({"HOME=/"}));
  CHECK(r.who(100, me, ReadsEnv::No).source == TokenSource::None);
  CHECK(r.who(100, me, ReadsEnv::Yes).source == TokenSource::None);
  // And again by one with another token.
  fake_process(proc, 100, 3000, env({"VAULT_TOKEN=new-process"}));
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("new-process"));
}

TEST_CASE("stat: the program image is fields 26-28 and 45-51", "[caller]") {
  auto parsed = fsd::parse_proc_stat(stat_line("a) b", 5, 1000));
  REQUIRE(parsed);
  CHECK(parsed->start_time == 5u);
  const fsd::ProcessImage want{1026, 1027, 1028, 1045, 1046, 1047, 1048, 1049, 1050, 1051};
  CHECK(parsed->image == want);
  // A kernel that shows fewer fields: the missing ones are 0.
  auto short_line = fsd::parse_proc_stat("1 (x) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 77 23 24 25 26");
  REQUIRE(short_line);
  CHECK(short_line->start_time == 77u);
  CHECK(short_line->image == fsd::ProcessImage{26, 0, 0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("caller: an exec (new image, same tid and start time) is a new process", "[caller]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 1000, env({"VAULT_TOKEN=broad"}), me, 1);
  CallerResolver r(settings_for(proc));
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("broad"));
  // exec env -u VAULT_TOKEN prog: the same thread, another image.
  fake_process(proc, 100, 1000, env({"HOME=/"}), me, 2);
  CHECK(r.who(100, me, ReadsEnv::No).source == TokenSource::None);
  CHECK(r.who(100, me, ReadsEnv::Yes).source == TokenSource::None);
  // exec env VAULT_TOKEN=limited prog.
  fake_process(proc, 100, 1000, env({"VAULT_TOKEN=limited"}), me, 3);
  CHECK(r.who(100, me, ReadsEnv::Yes).caller.token == to_secure("limited"));
  CHECK(r.who(100, me, ReadsEnv::No).caller.token == to_secure("limited"));
}

namespace {

// A child running script under interpreter (sh or python3) with
// VAULT_TOKEN=before, its stdin and stdout piped to us. The script prints a
// first line when it runs (posix_spawn returns while the kernel is still
// placing the new image, environ not yet), waits for a line, then execs
// into a program whose VAULT_TOKEN is "after".
struct Child {
  pid_t pid = 0;
  int to = -1;    // its stdin
  int from = -1;  // its stdout
  std::string first_line;

  Child(const char* interpreter, const char* script) {
    int in[2];
    int out[2];
    REQUIRE(::pipe(in) == 0);
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string name = interpreter, dash_c = "-c", text = script;
    char* argv[] = {name.data(), dash_c.data(), text.data(), nullptr};
    char token[] = "VAULT_TOKEN=before", path[] = "PATH=/usr/bin:/bin";
    char* envp[] = {token, path, nullptr};
    REQUIRE(::posix_spawnp(&pid, interpreter, &actions, nullptr, argv, envp) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to = in[1];
    from = out[0];
    char c = 0;
    while (::read(from, &c, 1) == 1 && c != '\n') first_line += c;
    REQUIRE_FALSE(first_line.empty());
  }
  // Lets it exec, and waits until the new image's environ shows.
  void exec_now() const {
    REQUIRE(::write(to, "\n", 1) == 1);
    const std::string environ_path = "/proc/" + std::to_string(pid) + "/environ";
    bool execed = false;
    for (int i = 0; i < 1000 && !execed; ++i) {
      std::ifstream f(environ_path, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      execed = text.find("VAULT_TOKEN=after") != std::string::npos;
      if (!execed) ::usleep(10'000);
    }
    REQUIRE(execed);
  }
  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    pid = 0;
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::close(to);
    ::close(from);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
};

CallerSettings patient(bool process_events = true) {
  CallerSettings s;
  s.env_timeout = std::chrono::seconds(10);  // a loaded box must not turn this into "no token"
  s.process_events = process_events;
  return s;
}

// Without process events /proc/TID/stat is kept open per tid: its reads must
// still show the process as it is now; with them, the kernel's exec and exit
// events must make the resolver forget what it kept.
void exec_and_exit_are_seen(bool process_events) {
  Child child("sh", "echo up; read x; exec env VAULT_TOKEN=after sleep 30");
  const pid_t pid = child.pid;
  const uid_t me = ::getuid();
  CallerResolver r(patient(process_events));
  if (process_events && ::geteuid() == 0) REQUIRE(r.has_process_events());
  CHECK(r.who(pid, me, ReadsEnv::Yes).caller.token == to_secure("before"));
  CHECK(r.who(pid, me, ReadsEnv::Yes).caller.token == to_secure("before"));  // from the kept stat
  if (r.has_process_events()) CHECK(r.known_threads() == 1);
  child.exec_now();
  if (r.has_process_events()) CHECK(r.known_threads() == 0);  // the exec was heard
  CHECK(r.who(pid, me, ReadsEnv::Yes).caller.token == to_secure("after"));
  child.kill();
  if (r.has_process_events()) CHECK(r.known_threads() == 0);  // and the exit
  CHECK(r.who(pid, me, ReadsEnv::Yes).source == TokenSource::None);
}

}  // namespace

TEST_CASE("caller: a real process's exec and exit are seen at its next request", "[caller]") {
  SECTION("from the kernel's process events (when it sends them: root)") { exec_and_exit_are_seen(true); }
  SECTION("from /proc/TID/stat read at each request") { exec_and_exit_are_seen(false); }
}

TEST_CASE("caller: an exec by another thread forgets every thread of the process", "[caller]") {
  // A thread other than the leader execs: it becomes the leader (its tid is
  // now the tgid) and the kernel's exec event names only the tgid, never the
  // tid the thread had. What was kept for that tid must go with the
  // process, or a later process given the tid would be taken for it.
  CallerResolver r(patient());
  if (!r.has_process_events()) {
    WARN("no process events here (not root?): nothing to test");
    return;
  }
  Child child("python3",
              "import os, sys, threading\n"
              "def run():\n"
              "    print(threading.get_native_id(), flush=True)\n"
              "    sys.stdin.readline()\n"
              "    os.execve('/bin/sleep', ['sleep', '30'], {'VAULT_TOKEN': 'after'})\n"
              "t = threading.Thread(target=run)\n"
              "t.start()\n"
              "t.join()\n");
  const pid_t thread = static_cast<pid_t>(std::stol(child.first_line));
  REQUIRE(thread != child.pid);
  const uid_t me = ::getuid();
  CHECK(r.who(thread, me, ReadsEnv::Yes).caller.token == to_secure("before"));
  CHECK(r.who(child.pid, me, ReadsEnv::Yes).caller.token == to_secure("before"));
  CHECK(r.known_threads() == 2);
  child.exec_now();
  CHECK(r.known_threads() == 0);  // both tids, though the event named only the tgid
  CHECK(r.who(child.pid, me, ReadsEnv::Yes).caller.token == to_secure("after"));
}

TEST_CASE("status: the tgid is the Tgid: line", "[caller]") {
  using fsd::status_tgid;
  CHECK(status_tgid("Name:\tcat\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\n") == 4242);
  CHECK(status_tgid("Tgid:\t7") == 7);
  // A comm that looks like the line is on the Name: line, not its own.
  CHECK(status_tgid("Name:\tTgid:\t1\nTgid:\t99\n") == 99);
  CHECK_FALSE(status_tgid("Name:\tcat\nPid:\t4242\n"));
  CHECK_FALSE(status_tgid("Tgid:\t\n"));
  CHECK_FALSE(status_tgid("Tgid:\t12a\n"));
  CHECK_FALSE(status_tgid("Tgid:\t0\n"));
  CHECK_FALSE(status_tgid("Tgid:\t99999999999\n"));
  CHECK_FALSE(status_tgid(""));
}

TEST_CASE("caller: another user's process never lends its token", "[caller]") {
  if (::getuid() != 0) {
    WARN("skipped: needs root to chown the fake /proc entry");
    return;
  }
  testing::TempDir proc;
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=roots-token"}), /*uid=*/0);
  CallerResolver r(settings_for(proc));
  // A request made as uid 1000 by (what claims to be) pid 100, owned by root.
  auto who = r.who(100, 1000, ReadsEnv::Yes);
  CHECK(who.source == TokenSource::None);
  CHECK(who.caller.token.empty());
  r.bind_session(1000, to_secure("thousands-session"));
  CHECK(r.who(100, 1000, ReadsEnv::Yes).caller.token == to_secure("thousands-session"));
  // The owner itself gets it.
  CHECK(r.who(100, 0, ReadsEnv::Yes).caller.token == to_secure("roots-token"));
}

TEST_CASE("caller: --no-env-token ignores VAULT_TOKEN", "[caller]") {
  testing::TempDir proc;
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=from-env"}));
  CallerSettings s = settings_for(proc);
  s.env_token = false;
  CallerResolver r(s);
  CHECK(r.who(100, ::getuid(), ReadsEnv::Yes).source == TokenSource::None);
}

TEST_CASE("caller: sessions are per uid; end_session with a token ends only that one", "[caller]") {
  testing::TempDir proc;
  CallerResolver r(settings_for(proc));
  r.bind_session(1000, to_secure("a"));
  r.bind_session(1001, to_secure("b"));
  CHECK(r.who(0, 1000, ReadsEnv::No).caller.token == to_secure("a"));
  CHECK(r.who(0, 1001, ReadsEnv::No).caller.token == to_secure("b"));
  const SecureString stale = to_secure("old");
  r.end_session(1000, &stale);  // a newer login replaced it: kept
  CHECK(r.session_of(1000) == to_secure("a"));
  const SecureString current = to_secure("a");
  r.end_session(1000, &current);
  CHECK_FALSE(r.session_of(1000));
  CHECK(r.session_of(1001) == to_secure("b"));
}

TEST_CASE("caller: the real /proc of this process is read", "[caller]") {
  CallerResolver r(CallerSettings{});
  // Our own environ has no VAULT_TOKEN unless the test runner set one.
  const char* mine = std::getenv("VAULT_TOKEN");
  auto who = r.who(::getpid(), ::getuid(), ReadsEnv::Yes);
  if (mine == nullptr || *mine == '\0') {
    CHECK(who.source == TokenSource::None);
  } else {
    CHECK(who.caller.token == to_secure(mine));
  }
  CHECK(r.cached_processes() == 1);
}

TEST_CASE("caller: the kernel's word on the caller, with the pid's start time", "[caller][peer]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 4242, env({"HOME=/"}));
  CallerResolver r(settings_for(proc));
  auto who = r.who(100, me, 55, ReadsEnv::No);
  REQUIRE(who.caller.peer);
  CHECK(who.caller.peer->uid == me);
  CHECK(who.caller.peer->gid == 55u);
  CHECK(who.caller.peer->pid == 100);
  CHECK(who.caller.peer->start_time == 4242u);
  // A process /proc does not show: the start time is unknown (0).
  auto gone = r.who(101, me, 55, ReadsEnv::No);
  REQUIRE(gone.caller.peer);
  CHECK(gone.caller.peer->start_time == 0u);
  // Without a gid (not a FUSE request) there is no kernel's word.
  CHECK_FALSE(r.who(100, me, ReadsEnv::No).caller.peer);
}

TEST_CASE("caller: a peer login comes after the session and before the fallback", "[caller][peer]") {
  testing::TempDir proc;
  const uid_t me = ::getuid();
  fake_process(proc, 100, 1, env({"VAULT_TOKEN=from-env"}));
  fake_process(proc, 101, 1, env({"HOME=/"}));
  fake_process(proc, 102, 7, env({"HOME=/"}));
  CallerSettings s = settings_for(proc);
  s.fallback_token = to_secure("fallback");
  s.fallback_uid = me;
  int logins = 0;
  s.peer_login = [&](const engine::PeerCredentials& c) -> std::optional<SecureString> {
    ++logins;
    if (c.pid == 102) return std::nullopt;  // no role admits it
    return to_secure("peer-" + std::to_string(c.pid));
  };
  CallerResolver r(s);
  // VAULT_TOKEN first: no login.
  CHECK(r.who(100, me, 0, ReadsEnv::Yes).source == TokenSource::Env);
  CHECK(logins == 0);
  // Only node-naming requests log in.
  CHECK(r.who(101, me, 0, ReadsEnv::No).source == TokenSource::Fallback);
  CHECK(logins == 0);
  // No token of its own: logged in, and the token is the uid's session.
  auto who = r.who(101, me, 0, ReadsEnv::Yes);
  CHECK(who.source == TokenSource::PeerLogin);
  CHECK(who.caller.token == to_secure("peer-101"));
  CHECK(r.session_of(me) == to_secure("peer-101"));
  CHECK(r.who(101, me, 0, ReadsEnv::Yes).source == TokenSource::Session);
  CHECK(logins == 1);
  // A refused process falls through to the fallback and is not tried again.
  r.end_session(me);
  CHECK(r.who(102, me, 0, ReadsEnv::Yes).source == TokenSource::Fallback);
  CHECK(r.who(102, me, 0, ReadsEnv::Yes).source == TokenSource::Fallback);
  CHECK(logins == 2);
  // An unknown start time is never logged in.
  CHECK(r.who(103, me, 0, ReadsEnv::Yes).source == TokenSource::Fallback);
  CHECK(logins == 2);
  // A mount token wins over it all.
  s.mount_token = to_secure("mount");
  CallerResolver bound(s);
  CHECK(bound.who(101, me, 0, ReadsEnv::Yes).source == TokenSource::Mount);
  CHECK(logins == 2);
}
