// SPDX-License-Identifier: MPL-2.0
#include "fs/process_events.hpp"

#include <arpa/inet.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

namespace fsd {

namespace {

// Where things lie in a connector message (the kernel's layout; read with
// memcpy, the buffer promises no alignment beyond the header's).
constexpr std::size_t kCnMsg = NLMSG_HDRLEN;                    // struct cn_msg
constexpr std::size_t kEvent = kCnMsg + sizeof(struct cn_msg);  // struct proc_event
constexpr std::size_t kEventData = kEvent + offsetof(struct proc_event, event_data);

template <class T>
T load(std::string_view m, std::size_t at) {
  T v{};
  std::memcpy(&v, m.data() + at, sizeof v);
  return v;
}

// One subscription message: LISTEN or IGNORE, tagged with nonce.
bool send_op(int fd, enum proc_cn_mcast_op op, std::uint32_t nonce) {
  std::array<char, kEvent + sizeof op> buf{};
  nlmsghdr h{};
  h.nlmsg_len = buf.size();
  h.nlmsg_type = NLMSG_DONE;
  h.nlmsg_pid = 0;
  cn_msg c{};
  c.id.idx = CN_IDX_PROC;
  c.id.val = CN_VAL_PROC;
  c.seq = nonce;
  c.ack = nonce;
  c.len = sizeof op;
  std::memcpy(buf.data(), &h, sizeof h);
  std::memcpy(buf.data() + kCnMsg, &c, sizeof c);
  std::memcpy(buf.data() + kEvent, &op, sizeof op);
  return ::send(fd, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size());
}

// The kernel's answer to a subscription tagged with nonce: its errno (0 =
// subscribed), or nullopt if this message is something else.
std::optional<std::uint32_t> ack_for(std::string_view m, std::uint32_t nonce) {
  if (m.size() < kEventData + sizeof(std::uint32_t)) return std::nullopt;
  if (load<std::uint32_t>(m, kEvent + offsetof(struct proc_event, what)) != proc_event::PROC_EVENT_NONE)
    return std::nullopt;
  if (load<std::uint32_t>(m, kCnMsg + offsetof(struct cn_msg, ack)) != nonce + 1) return std::nullopt;
  return load<std::uint32_t>(m, kEvent + offsetof(struct proc_event, event_data.ack.err));
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

std::optional<ProcessEvent> parse_process_event(std::string_view m) {
  if (m.size() < kEventData) return std::nullopt;
  const auto h = load<nlmsghdr>(m, 0);
  if (h.nlmsg_len < kEventData || h.nlmsg_len > m.size()) return std::nullopt;
  m = m.substr(0, h.nlmsg_len);
  const auto c = load<cn_msg>(m, kCnMsg);
  if (c.id.idx != CN_IDX_PROC || c.id.val != CN_VAL_PROC) return std::nullopt;
  if (c.len > m.size() - kEvent || c.len < offsetof(struct proc_event, event_data)) return std::nullopt;
  m = m.substr(0, kEvent + c.len);
  const auto what = load<std::uint32_t>(m, kEvent + offsetof(struct proc_event, what));
  ProcessEvent e;
  // exec and exit both begin with the thread's pid and tgid.
  static_assert(offsetof(struct proc_event, event_data.exec.process_pid) ==
                offsetof(struct proc_event, event_data.exit.process_pid));
  static_assert(offsetof(struct proc_event, event_data.exec.process_tgid) ==
                offsetof(struct proc_event, event_data.exit.process_tgid));
  if (what == proc_event::PROC_EVENT_EXEC || what == proc_event::PROC_EVENT_EXIT) {
    if (m.size() < kEventData + sizeof(proc_event::event_data.exec)) return std::nullopt;
    e.kind = what == proc_event::PROC_EVENT_EXEC ? ProcessEvent::Kind::Exec : ProcessEvent::Kind::Exit;
    e.tid = load<pid_t>(m, kEvent + offsetof(struct proc_event, event_data.exec.process_pid));
    e.tgid = load<pid_t>(m, kEvent + offsetof(struct proc_event, event_data.exec.process_tgid));
    if (e.tid <= 0 || e.tgid <= 0) return std::nullopt;
  }
  return e;
}

std::unique_ptr<ProcessEvents> ProcessEvents::open(std::string* why, int receive_buffer) {
  auto fail = [why](std::string reason) -> std::unique_ptr<ProcessEvents> {
    if (why != nullptr) *why = std::move(reason);
    return nullptr;
  };
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (fd < 0) return fail("netlink connector socket: " + errno_text(errno));
  std::unique_ptr<ProcessEvents> events(new ProcessEvents(fd));
  if (receive_buffer > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0) {
    return fail("sizing the socket's buffer: " + errno_text(errno));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail("joining the process events group: " + errno_text(errno));
  }
  const std::uint32_t nonce = std::random_device{}() & 0x7fffffffu;
  if (!send_op(fd, PROC_CN_MCAST_LISTEN, nonce)) return fail("subscribing: " + errno_text(errno));
  // The kernel answers from within the send; a listener in another
  // namespace gets no answer at all. The wait is only a margin.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  std::optional<std::uint32_t> err;
  std::array<char, 512> buf{};
  while (!err) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      err = ack_for(std::string_view(buf.data(), static_cast<std::size_t>(n)), nonce);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
      return fail("reading the subscription's answer: " + errno_text(errno));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("the kernel did not answer (not in the initial pid and user namespaces?)");
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  if (*err != 0) return fail("the kernel refused: " + errno_text(static_cast<int>(*err)));
  // Only execs and exits are queued: everything else (forks, uid changes,
  // other listeners' answers) is dropped by the kernel before it takes room
  // in our socket. BPF_ABS loads in network order, hence htonl.
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kEvent + offsetof(struct proc_event, what)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_EXEC), 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(proc_event::PROC_EVENT_EXIT), 1, 0),
      BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    return fail("filtering process events: " + errno_text(errno));
  }
  events->drain([](const ProcessEvent&) {});  // nothing is known yet
  return events;
}

bool ProcessEvents::drain(const std::function<void(const ProcessEvent&)>& seen) {
  // One message per recvfrom: an empty queue, the usual case, is one call
  // that says EAGAIN (cheaper than recvmmsg's setup), and the queue holds at
  // most a socket buffer's worth (a few hundred events after a long idle).
  alignas(nlmsghdr) std::array<char, 256> buf;  // messages are 76 bytes on today's kernels
  bool complete = true;
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd_.fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return complete;
      // ENOBUFS: the queue overflowed and events were dropped; go on reading
      // what is queued, the caller forgets everything. Anything else: we
      // cannot tell what was missed.
      if (errno != ENOBUFS) return false;
      complete = false;
      continue;
    }
    // Only the kernel (port 0) speaks for processes; a message longer than
    // the buffer (MSG_TRUNC gives its real length) is not one of ours.
    if (from.nl_pid != 0 || static_cast<std::size_t>(n) > buf.size()) continue;
    const std::string_view m(buf.data(), static_cast<std::size_t>(n));
    if (auto e = parse_process_event(m); e && e->kind != ProcessEvent::Kind::Other) seen(*e);
  }
}

ProcessEvents::~ProcessEvents() {
  // Tell the kernel one listener fewer (it counts them, and stops making
  // events when none is left).
  send_op(fd_.fd, PROC_CN_MCAST_IGNORE, 0);
}

}  // namespace fsd
