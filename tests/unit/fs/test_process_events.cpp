// SPDX-License-Identifier: MPL-2.0
// The kernel's process events (fs/process_events.hpp): messages parsed as the
// connector lays them out, and a real subscription hearing a real child's
// exec and exit.
#include <catch2/catch.hpp>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "fs/process_events.hpp"

using fsd::ProcessEvent;
using fsd::ProcessEvents;

namespace {

// A message as the kernel sends it: nlmsghdr, cn_msg, proc_event.
std::string message(std::uint32_t what, pid_t pid, pid_t tgid) {
  std::string m(NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(proc_event), '\0');
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(m.size());
  h.nlmsg_type = NLMSG_DONE;
  cn_msg c{};
  c.id.idx = CN_IDX_PROC;
  c.id.val = CN_VAL_PROC;
  c.len = sizeof(proc_event);
  proc_event e{};
  e.what = static_cast<decltype(e.what)>(what);
  e.event_data.exec.process_pid = pid;
  e.event_data.exec.process_tgid = tgid;
  std::memcpy(m.data(), &h, sizeof h);
  std::memcpy(m.data() + NLMSG_HDRLEN, &c, sizeof c);
  std::memcpy(m.data() + NLMSG_HDRLEN + sizeof c, &e, sizeof e);
  return m;
}

}  // namespace

TEST_CASE("process events: exec and exit messages are read as the kernel lays them out", "[caller]") {
  auto exec = fsd::parse_process_event(message(proc_event::PROC_EVENT_EXEC, 120, 120));
  REQUIRE(exec);
  CHECK(exec->kind == ProcessEvent::Kind::Exec);
  CHECK(exec->tid == 120);
  CHECK(exec->tgid == 120);
  auto exit = fsd::parse_process_event(message(proc_event::PROC_EVENT_EXIT, 121, 120));
  REQUIRE(exit);
  CHECK(exit->kind == ProcessEvent::Kind::Exit);
  CHECK(exit->tid == 121);
  CHECK(exit->tgid == 120);
  auto fork = fsd::parse_process_event(message(proc_event::PROC_EVENT_FORK, 1, 1));
  REQUIRE(fork);
  CHECK(fork->kind == ProcessEvent::Kind::Other);
}

TEST_CASE("process events: malformed messages are not events", "[caller]") {
  const std::string good = message(proc_event::PROC_EVENT_EXEC, 120, 120);
  CHECK_FALSE(fsd::parse_process_event(""));
  CHECK_FALSE(fsd::parse_process_event(good.substr(0, NLMSG_HDRLEN + sizeof(cn_msg) + 4)));
  // nlmsg_len longer than what was received, or too short for the event.
  std::string longer = good;
  const std::uint32_t too_long = static_cast<std::uint32_t>(good.size() + 1);
  std::memcpy(longer.data(), &too_long, sizeof too_long);
  CHECK_FALSE(fsd::parse_process_event(longer));
  std::string shorter = good;
  const std::uint32_t too_short = NLMSG_HDRLEN + sizeof(cn_msg) + 8;
  std::memcpy(shorter.data(), &too_short, sizeof too_short);
  CHECK_FALSE(fsd::parse_process_event(shorter));
  // Another connector's message.
  std::string other = good;
  const std::uint32_t idx = CN_IDX_PROC + 1;
  std::memcpy(other.data() + NLMSG_HDRLEN, &idx, sizeof idx);
  CHECK_FALSE(fsd::parse_process_event(other));
  // cn_msg.len past the end.
  std::string cut = good;
  const std::uint16_t len = 0xffff;
  std::memcpy(cut.data() + NLMSG_HDRLEN + offsetof(cn_msg, len), &len, sizeof len);
  CHECK_FALSE(fsd::parse_process_event(cut));
  // A pid of 0 or below names no thread.
  CHECK_FALSE(fsd::parse_process_event(message(proc_event::PROC_EVENT_EXIT, 0, 1)));
  CHECK_FALSE(fsd::parse_process_event(message(proc_event::PROC_EVENT_EXIT, 5, -1)));
}

TEST_CASE("process events: a real child's exec and exit are queued before it is reaped", "[caller]") {
  std::string why;
  auto events = ProcessEvents::open(&why);
  if (::geteuid() != 0) {
    WARN("not root: the kernel sends process events only to CAP_NET_ADMIN (" << why << ")");
    return;
  }
  INFO(why);
  REQUIRE(events);
  char true_[] = "true";
  char* argv[] = {true_, nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  // Both were queued before waitpid returned: no waiting needed.
  bool exec = false;
  bool exit = false;
  CHECK(events->drain([&](const ProcessEvent& e) {
    if (e.tid != pid) return;
    CHECK(e.tgid == pid);
    if (e.kind == ProcessEvent::Kind::Exec) exec = true;
    if (e.kind == ProcessEvent::Kind::Exit) exit = exec;  // in that order
  }));
  CHECK(exec);
  CHECK(exit);
  // Drained: nothing about it is left.
  bool again = false;
  CHECK(events->drain([&](const ProcessEvent& e) { again = again || e.tid == pid; }));
  CHECK_FALSE(again);
}

TEST_CASE("process events: an overflowed queue says events were lost", "[caller]") {
  // The smallest buffer the kernel allows holds a few messages: twenty
  // children's execs and exits overflow it.
  auto events = ProcessEvents::open(nullptr, 1);
  if (::geteuid() != 0) {
    WARN("not root: no process events");
    return;
  }
  REQUIRE(events);
  for (int i = 0; i < 20; ++i) {
    char true_[] = "true";
    char* argv[] = {true_, nullptr};
    char* envp[] = {nullptr};
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) == 0);
    REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  }
  int heard = 0;
  CHECK_FALSE(events->drain([&](const ProcessEvent&) { ++heard; }));
  CHECK(heard < 40);
  // Heard: a later drain is complete again (retried: the buffer is so small
  // that other processes' events on a busy box may overflow it meanwhile).
  bool complete = false;
  for (int i = 0; i < 50 && !complete; ++i) complete = events->drain([](const ProcessEvent&) {});
  CHECK(complete);
}
