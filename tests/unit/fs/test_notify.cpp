// SPDX-License-Identifier: MPL-2.0
// poll(2) state (fs/poll.hpp) and what a change is replayed as for inotify
// (fs/replay.hpp), without a mount: the kernel's side is tests/e2e/test_notify.sh.
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "engine/audit/log_hub.hpp"
#include "fs/inode_table.hpp"
#include "fs/monitor.hpp"
#include "fs/poll.hpp"
#include "fs/replay.hpp"
#include "tests/unit/core/authz_support.hpp"

using fsd::Replayer;

namespace {

Replayer::Job job(const engine::Change& c, std::string_view chroot = "") {
  Replayer::Job j;
  if (!Replayer::job_of(c, chroot, j)) j.path = "<none>";
  return j;
}

}  // namespace

TEST_CASE("replay: a change becomes a modify or an unlink of the secret's file", "[replay]") {
  auto w = job({"secret/app/db", false, "kv-v2/data-write"});
  CHECK(w.path == "secret/app/db");
  CHECK(w.action == Replayer::Action::Modify);
  CHECK(job({"secret/app/db", false, "kv-v2/data-delete"}).action == Replayer::Action::Unlink);
  CHECK(job({"secret/app/db", false, "kv-v2/metadata-delete"}).action == Replayer::Action::Unlink);
  CHECK(job({"kv1/x", false, "kv-v1/delete"}).action == Replayer::Action::Unlink);
  CHECK(job({"secret/app/db", false, "kv-v2/destroy"}).action == Replayer::Action::Modify);
  CHECK(job({"secret/app/db", false, ""}).action == Replayer::Action::Modify);  // a remote change
  CHECK(job({"secret/app/db@metadata", false, "kv-v2/data-write"}).path == "secret/app/db");
  // Everything, or outside a chroot: nothing to replay.
  CHECK(job({{}, true, ""}).path == "<none>");
  CHECK(job({"team1/secret/db", false, "kv-v2/data-write"}, "team1").path == "secret/db");
  CHECK(job({"team2/secret/db", false, "kv-v2/data-write"}, "team1").path == "<none>");
  CHECK(job({"team1", false, "kv-v2/data-write"}, "team1").path == "<none>");
}

TEST_CASE("replay: no thread is a replay thread until one runs", "[replay]") {
  fsd::InodeTable inodes;
  Replayer r("/nonexistent", inodes, "", &inodes);
  Replayer::Job j;
  CHECK_FALSE(r.current_job(0, j));
  CHECK_FALSE(r.current_job(::getpid(), j));
}

TEST_CASE("poll: an open file reports POLLPRI once changed, until read from the start", "[poll]") {
  fsd::InodeTable mount_a, mount_b;
  const auto* h1 = reinterpret_cast<const fsd::Handle*>(0x1000);
  const auto* h2 = reinterpret_cast<const fsd::Handle*>(0x2000);
  fsd::poll_track(h1, &mount_a, "secret/app/db#password");
  fsd::poll_track(h2, &mount_b, "secret/app/db");
  const unsigned ready = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  CHECK(fsd::poll_file(h1, nullptr) == ready);
  fsd::poll_changed(&mount_a, {"secret/app/other", false, "kv-v2/data-write"}, "");
  CHECK(fsd::poll_file(h1, nullptr) == ready);
  fsd::poll_changed(&mount_a, {"secret/app/db", false, "kv-v2/data-write"}, "");
  CHECK(fsd::poll_file(h1, nullptr) == (ready | POLLPRI | POLLERR));
  CHECK(fsd::poll_file(h2, nullptr) == ready);  // another mount's listener did not say so
  CHECK(fsd::poll_take_changed(h1));
  CHECK_FALSE(fsd::poll_take_changed(h1));
  CHECK(fsd::poll_file(h1, nullptr) == ready);
  fsd::poll_changed(&mount_b, {{}, true, "coffer/token-create"}, "");  // changes no bytes
  CHECK(fsd::poll_file(h2, nullptr) == ready);
  fsd::poll_changed(&mount_b, {{}, true, ""}, "");  // everything
  CHECK(fsd::poll_file(h2, nullptr) == (ready | POLLPRI | POLLERR));
  fsd::poll_forget(h1);
  fsd::poll_forget(h2);
  CHECK_FALSE(fsd::poll_take_changed(h2));
}

TEST_CASE("streams: a monitor reader that lost lines is told how many; an event stream is POLLIN when one came",
          "[poll][monitor]") {
  coffer_test::DevCore d;
  const auto* mon = reinterpret_cast<const fsd::Handle*>(0x3000);
  const auto* ev = reinterpret_cast<const fsd::Handle*>(0x4000);
  bool opened = false;
  REQUIRE(fsd::open_stream(*d.core, d.root, "sys/monitor@error", "", true, mon, opened).ok());
  REQUIRE(opened);
  REQUIRE(fsd::open_stream(*d.core, d.root, "sys/events/subscribe/kv*", "", true, ev, opened).ok());
  REQUIRE(opened);
  CHECK(fsd::is_stream(mon));
  std::string out;
  CHECK(fsd::read_stream(nullptr, mon, 1 << 20, out) == EAGAIN);  // O_NONBLOCK, nothing yet
  CHECK(fsd::poll_stream(ev, nullptr) == 0);
  for (int i = 0; i < 5000; ++i) engine::LogHub::instance().publish(0, "line " + std::to_string(i));
  REQUIRE(fsd::read_stream(nullptr, mon, 1 << 20, out) == 0);
  CHECK(out.starts_with("cofferd: monitor dropped 904 log lines (the reader was too slow)\nline 904\n"));
  CHECK(fsd::write_stream(mon, "filter=x == y") == EINVAL);  // a monitor takes no writes

  CHECK(fsd::write_stream(ev, "filter=operation ~") == EINVAL);
  CHECK(fsd::write_stream(ev, "filter=operation == data-write") == 0);
  auto w = coffer_test::api(d, "root", engine::Operation::Update, "secret/data/x",
                            engine::Json{{"data", engine::Json{{"k", "v"}}}});
  REQUIRE(w.ok());
  CHECK(fsd::poll_stream(ev, nullptr) == (POLLIN | POLLRDNORM));
  REQUIRE(fsd::read_stream(nullptr, ev, 1 << 20, out) == 0);
  CHECK(out.find("\"coffer_path\":\"secret/x\"") != std::string::npos);
  fsd::close_stream(mon);
  fsd::close_stream(ev);
  fsd::poll_forget(mon);
  fsd::poll_forget(ev);
  CHECK_FALSE(fsd::is_stream(mon));
}
