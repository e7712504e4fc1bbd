// SPDX-License-Identifier: MPL-2.0
// poll(2) state (fs/poll.hpp) and what a change is replayed as for inotify
// (fs/replay.hpp), without a mount: the kernel's side is tests/e2e/test_notify.sh.
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "fs/inode_table.hpp"
#include "fs/poll.hpp"
#include "fs/replay.hpp"

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
  fsd::poll_changed(&mount_b, {{}, true, ""}, "");  // everything
  CHECK(fsd::poll_file(h2, nullptr) == (ready | POLLPRI | POLLERR));
  fsd::poll_forget(h1);
  fsd::poll_forget(h2);
  CHECK_FALSE(fsd::poll_take_changed(h2));
}
