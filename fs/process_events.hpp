// SPDX-License-Identifier: MPL-2.0
// The kernel's word on execs and exits, from its process events connector
// (netlink, CN_IDX_PROC), so the caller cache (fs/caller.hpp) need not read
// /proc/TID/stat on every request to notice that a thread has exec'd or a
// tid has been given to a new process.
//
// Why it is exact: the kernel queues an exec's or an exit's event on our
// socket before the thread concerned returns to user space (the connector
// sends synchronously from execve and do_exit), so every event about a
// caller is queued before that caller's next request reaches us. A request
// first takes in what is queued (drain), then asks the cache. A queue that
// overflowed says so (ENOBUFS): every thread is then forgotten. An event can
// only make the cache forget, never teach it anything, so one that is lost,
// duplicated or forged costs a /proc read, never a wrong token.
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

class ProcessEvents {
 public:
  // Subscribes; nullptr (with the reason in why) when the kernel will not
  // send events to this process. receive_buffer: the socket's buffer in
  // bytes (0: the system's default; tests make it tiny to overflow it).
  static std::unique_ptr<ProcessEvents> open(std::string* why = nullptr, int receive_buffer = 0);
  ~ProcessEvents();
  ProcessEvents(const ProcessEvents&) = delete;
  ProcessEvents& operator=(const ProcessEvents&) = delete;

  // Takes in every event queued so far, without waiting: seen(event) for
  // each exec and exit. False when events were lost since the last drain
  // (the socket overflowed): the caller must forget every thread it knows.
  // Not thread-safe: callers serialise drains (the order of events counts).
  bool drain(const std::function<void(const ProcessEvent&)>& seen);

 private:
  explicit ProcessEvents(int fd) : fd_(fd) {}
  engine::UniqueFd fd_;
};

}  // namespace fsd
