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
#include <vector>

#include "fs/process_events.hpp"

using fsd::ProcessEvent;
using fsd::ProcessEvents;

namespace {

// A message as the kernel sends it: nlmsghdr, cn_msg, proc_event.
std::string message(std::uint32_t what, pid_t pid, pid_t tgid, std::uint32_t cpu = 0, std::uint32_t seq = 0) {
  std::string m(NLMSG_HDRLEN + sizeof(cn_msg) + sizeof(proc_event), '\0');
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(m.size());
  h.nlmsg_type = NLMSG_DONE;
  cn_msg c{};
  c.id.idx = CN_IDX_PROC;
  c.id.val = CN_VAL_PROC;
  c.len = sizeof(proc_event);
  c.seq = seq;
  proc_event e{};
  e.what = static_cast<decltype(e.what)>(what);
  e.cpu = cpu;
  e.event_data.exec.process_pid = pid;
  e.event_data.exec.process_tgid = tgid;
  std::memcpy(m.data(), &h, sizeof h);
  std::memcpy(m.data() + NLMSG_HDRLEN, &c, sizeof c);
  std::memcpy(m.data() + NLMSG_HDRLEN + sizeof c, &e, sizeof e);
  return m;
}

// What the ring holds of an event: proc_event's first 24 bytes.
std::string record(std::uint32_t what, pid_t pid, pid_t tgid) {
  const std::string m = message(what, pid, tgid);
  return m.substr(NLMSG_HDRLEN + sizeof(cn_msg), 24);
}

// An exec, an exit and a fork as make(what, pid, tgid) lays them out, read
// by parse.
template <class Parse, class Make>
void exec_and_exit_parse(Parse parse, Make make) {
  auto exec = parse(make(proc_event::PROC_EVENT_EXEC, 120, 120));
  REQUIRE(exec);
  CHECK(exec->kind == ProcessEvent::Kind::Exec);
  CHECK(exec->tid == 120);
  CHECK(exec->tgid == 120);
  auto exit = parse(make(proc_event::PROC_EVENT_EXIT, 121, 120));
  REQUIRE(exit);
  CHECK(exit->kind == ProcessEvent::Kind::Exit);
  CHECK(exit->tid == 121);
  CHECK(exit->tgid == 120);
  auto fork = parse(make(proc_event::PROC_EVENT_FORK, 1, 1));
  REQUIRE(fork);
  CHECK(fork->kind == ProcessEvent::Kind::Other);
}

void spawn_true(pid_t* out = nullptr) {
  char true_[] = "true";
  char* argv[] = {true_, nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) == 0);
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  if (out != nullptr) *out = pid;
}

}  // namespace

TEST_CASE("process events: exec and exit messages are read as the kernel lays them out", "[caller]") {
  exec_and_exit_parse(fsd::parse_process_event, [](std::uint32_t what, pid_t pid, pid_t tgid) {
    return message(what, pid, tgid);
  });
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

TEST_CASE("process events: ring records are read as the filter writes them", "[caller]") {
  exec_and_exit_parse(fsd::parse_ring_event, record);
  CHECK_FALSE(fsd::parse_ring_event(record(proc_event::PROC_EVENT_EXEC, 120, 120).substr(0, 23)));
  CHECK_FALSE(fsd::parse_ring_event(record(proc_event::PROC_EVENT_EXIT, 0, 1)));
  CHECK_FALSE(fsd::parse_ring_event(record(proc_event::PROC_EVENT_EXIT, 5, -1)));
}

TEST_CASE("process events: a real child's exec and exit are there before it is reaped", "[caller]") {
  for (const bool socket_only : {false, true}) {
    INFO((socket_only ? "socket" : "ring"));
    std::string why;
    auto events = ProcessEvents::open(&why, {.socket_only = socket_only});
    if (::geteuid() != 0) {
      WARN("not root: the kernel sends process events only to CAP_NET_ADMIN (" << why << ")");
      return;
    }
    INFO(why);
    REQUIRE(events);
    // Root on this kernel can load the filter: the ring is what a daemon gets.
    CHECK(events->uses_ring() == !socket_only);
    pid_t pid = 0;
    spawn_true(&pid);
    // Both were there before waitpid returned: no waiting needed.
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
}

TEST_CASE("process events: an overflowed queue or ring says events were lost", "[caller]") {
  // The smallest socket buffer the kernel allows holds a few messages, the
  // smallest ring 128 events: two hundred children's execs and exits
  // overflow either.
  for (const bool socket_only : {false, true}) {
    INFO((socket_only ? "socket" : "ring"));
    auto events = ProcessEvents::open(nullptr, {.receive_buffer = 1,
                                                .ring_bytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)),
                                                .socket_only = socket_only});
    if (::geteuid() != 0) {
      WARN("not root: no process events");
      return;
    }
    REQUIRE(events);
    REQUIRE(events->uses_ring() == !socket_only);
    for (int i = 0; i < 200; ++i) spawn_true();
    int heard = 0;
    CHECK_FALSE(events->drain([&](const ProcessEvent&) { ++heard; }));
    CHECK(heard < 400);
    // Heard: a later drain is complete again (retried: the buffer is so small
    // that other processes' events on a busy box may overflow it meanwhile).
    bool complete = false;
    for (int i = 0; i < 50 && !complete; ++i) complete = events->drain([](const ProcessEvent&) {});
    CHECK(complete);
  }
}

TEST_CASE("process events: the filter counts a CPU's missing sequence numbers as lost", "[caller]") {
  auto events = ProcessEvents::open();
  if (::geteuid() != 0) {
    WARN("not root: no process events");
    return;
  }
  REQUIRE(events);
  REQUIRE(events->uses_ring());
  auto complete = [&] { return events->drain([](const ProcessEvent&) {}); };
  // Messages as from a CPU no real one is (the filter keeps a slot per CPU
  // up to 8191); drains in between take in what real processes did.
  const std::uint32_t cpu = 8000;
  auto send = [&](std::uint32_t what, std::uint32_t seq, pid_t pid = 4242) {
    REQUIRE(events->run_filter(message(what, pid, pid, cpu, seq)));
  };
  REQUIRE(complete());
  send(proc_event::PROC_EVENT_FORK, 7);  // the CPU's first: nothing before it is vouched for
  CHECK_FALSE(complete());
  send(proc_event::PROC_EVENT_FORK, 8);
  send(proc_event::PROC_EVENT_UID, 9);
  CHECK(complete());
  send(proc_event::PROC_EVENT_FORK, 11);  // 10 never came
  CHECK_FALSE(complete());
  send(proc_event::PROC_EVENT_EXEC, 12);
  // An answer to someone's subscription has no place in the sequence.
  send(proc_event::PROC_EVENT_NONE, 1234);
  send(proc_event::PROC_EVENT_EXIT, 13);
  std::vector<ProcessEvent::Kind> heard;
  CHECK(events->drain([&](const ProcessEvent& e) {
    if (e.tid == 4242) heard.push_back(e.kind);
  }));
  CHECK(heard == std::vector<ProcessEvent::Kind>{ProcessEvent::Kind::Exec, ProcessEvent::Kind::Exit});
  // The sequence wraps at 2^32.
  send(proc_event::PROC_EVENT_FORK, 0xffffffffu);
  CHECK_FALSE(complete());
  send(proc_event::PROC_EVENT_FORK, 0);
  CHECK(complete());
  // A CPU beyond the slots: every event is a gap.
  REQUIRE(events->run_filter(message(proc_event::PROC_EVENT_FORK, 1, 1, 9000, 1)));
  CHECK_FALSE(complete());
  // Too short to be an event: dropped, and no gap.
  REQUIRE(events->run_filter(message(proc_event::PROC_EVENT_FORK, 1, 1, cpu, 1).substr(0, 40)));
  CHECK(complete());
}
