// SPDX-License-Identifier: MPL-2.0
// The kernel's word on execs and exits, from its process events connector
// (netlink, CN_IDX_PROC), so the caller cache (fs/caller.hpp) need not read
// /proc/TID/stat on every request to notice that a thread has exec'd or a
// tid has been given to a new process.
//
// Why it is exact: the kernel delivers an exec's or an exit's event (queued
// on our socket, or written into our ring by our filter) before the thread
// concerned returns to user space (the connector sends synchronously from
// execve and do_exit, and runs the socket's filter as it sends), so every
// event about a caller is in before that caller's next request reaches us.
// A request first takes in what is there (drain), then asks the cache. When
// events were lost, every thread is forgotten (below). An event can only
// make the cache forget, never teach it anything, so one that is lost,
// duplicated or forged costs a /proc read, never a wrong token.
//
// How they arrive. Where the kernel lets us load an eBPF socket filter and
// a ring buffer map (root, kernels since 5.8), the filter takes each event
// out of the socket and writes execs and exits into a ring that this
// process maps: a request finds out there is nothing new with two loads
// from memory, where a read of the socket's queue was a recvfrom() per
// request that said EAGAIN. Otherwise the socket's queue carries them,
// filtered in the kernel to execs and exits.
//
// Losses. The socket says ENOBUFS when its queue overflowed, or the kernel
// could not copy an event for it. The ring
// counts what it could not hold (the filter adds to a counter this process
// maps), and the filter also checks each event's per-CPU sequence number,
// which the kernel gives every event it makes (cn_msg.seq, under a per-CPU
// lock): a gap is an event the kernel made and we did not see, which
// happens when it cannot allocate a copy for our socket. A CPU's first
// event counts as a gap, as nothing before it can be vouched for; open()
// has a thread exit on each CPU it may use, so that those are behind it.
// Either way the caller forgets every thread. What neither can see is an
// event the kernel fails to allocate at all (an atomic allocation, for
// every listener at once) until that CPU's next event shows the gap.
//
// The kernel sends these only to a listener with CAP_NET_ADMIN in the
// initial user and pid namespaces (its pids are the initial namespace's,
// which are also FUSE's there); elsewhere open() says so and the caller
// cache reads /proc/TID/stat on every request, as without it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/unique_fd.hpp"

namespace fsd {

// What one event says about a thread. An exec makes the exec'ing thread the
// thread-group leader (tid == tgid), whatever tid it had before, and ends
// every other thread of the process.
struct ProcessEvent {
  enum class Kind { Exec, Exit, Other } kind = Kind::Other;
  pid_t tid = 0;
  pid_t tgid = 0;
};

// One netlink message as the connector sends it (nlmsghdr, cn_msg,
// proc_event); nullopt if it is not a well-formed process event. Public for
// tests and the fuzz target.
std::optional<ProcessEvent> parse_process_event(std::string_view message);

// One event as the eBPF filter writes it into the ring: the first 24 bytes
// of the kernel's struct proc_event (what, cpu, timestamp, then the exec's
// or exit's pid and tgid); nullopt if it is not one. Public for tests and
// the fuzz target.
std::optional<ProcessEvent> parse_ring_event(std::string_view record);

struct ProcessEventsOptions {
  // The socket's buffer in bytes (0: the system's default); tests make it
  // tiny to overflow it.
  int receive_buffer = 0;
  // The ring's size in bytes: a power of two, at least a page (0: 256 KiB,
  // 8192 events). Tests make it a page to overflow it.
  std::size_t ring_bytes = 0;
  // Use the socket's queue even where the ring could be had.
  bool socket_only = false;
};

class ProcessEvents {
 public:
  // Subscribes; nullptr (with the reason in why) when the kernel will not
  // send events to this process. With a ring, why says why not (if it
  // could not be had) and the socket's queue is used.
  static std::unique_ptr<ProcessEvents> open(std::string* why = nullptr, const ProcessEventsOptions& options = {});
  ~ProcessEvents();
  ProcessEvents(const ProcessEvents&) = delete;
  ProcessEvents& operator=(const ProcessEvents&) = delete;

  // Takes in every event queued so far, without waiting: seen(event) for
  // each exec and exit. False when events were lost since the last drain
  // (the socket overflowed): the caller must forget every thread it knows.
  // Not thread-safe: callers serialise drains (the order of events counts).
  bool drain(const std::function<void(const ProcessEvent&)>& seen);

  // Whether events come through the eBPF ring (else the socket's queue).
  bool uses_ring() const { return ring_ != nullptr; }

  // Tests: runs the loaded eBPF filter on message as if the kernel had sent
  // it (BPF_PROG_TEST_RUN); false if there is no ring or the run failed.
  bool run_filter(std::string_view message);

 private:
  struct Ring;
  explicit ProcessEvents(int fd);
  engine::UniqueFd fd_;
  std::unique_ptr<Ring> ring_;
};

}  // namespace fsd
