// SPDX-License-Identifier: MPL-2.0
#include "fs/process_events.hpp"

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <system_error>
#include <thread>
#include <vector>

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

// --- the eBPF ring ---------------------------------------------------------
//
// Written by hand, with the bpf() system call, rather than with libbpf: the
// program is about sixty instructions, and libbpf's ring consumer stops at a
// record that is reserved but not yet committed and says nothing, where we
// must wait for it (its sender is still inside the kernel, and events behind
// it may already concern callers). Loading needs no object file or clang.

// Where the filter copies from: cn_msg.seq through proc_event's tgid.
constexpr std::int32_t kCopyFrom = kCnMsg + offsetof(struct cn_msg, seq);
constexpr std::int32_t kCopyLen = kEventData + 8 - kCopyFrom;
// The record it writes: struct proc_event up to the exec's or exit's tgid.
constexpr std::int32_t kRecordLen = offsetof(struct proc_event, event_data) + 8;
static_assert(kCopyLen == 36 && kRecordLen == 24);
// CPU slots in the state map (Debian's kernels allow up to 8192 CPUs); a CPU
// beyond them makes every one of its events a gap. The lost counter is the
// slot after them.
constexpr std::uint32_t kCpuSlots = 8192;
constexpr std::size_t kDefaultRing = 256 * 1024;

long bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof attr); }

// A tiny assembler: instructions and forward jumps to labels.
class BpfAsm {
 public:
  enum Reg : std::uint8_t { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };
  void op(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    code_.push_back(i);
  }
  void mov(Reg dst, Reg src) { op(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void mov(Reg dst, std::int32_t imm) { op(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void mov32(Reg dst, Reg src) { op(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }  // zero-extends
  void alu(std::uint8_t o, Reg dst, std::int32_t imm) { op(BPF_ALU64 | o | BPF_K, dst, 0, 0, imm); }
  void alu(std::uint8_t o, Reg dst, Reg src) { op(BPF_ALU64 | o | BPF_X, dst, src, 0, 0); }
  void alu32(std::uint8_t o, Reg dst, std::int32_t imm) { op(BPF_ALU | o | BPF_K, dst, 0, 0, imm); }
  void load(std::uint8_t size, Reg dst, Reg src, std::int16_t off) { op(BPF_LDX | size | BPF_MEM, dst, src, off, 0); }
  void store(std::uint8_t size, Reg dst, std::int16_t off, Reg src) { op(BPF_STX | size | BPF_MEM, dst, src, off, 0); }
  void store(std::uint8_t size, Reg dst, std::int16_t off, std::int32_t imm) {
    op(BPF_ST | size | BPF_MEM, dst, 0, off, imm);
  }
  void atomic_add(Reg dst, std::int16_t off, Reg src) { op(BPF_STX | BPF_DW | BPF_ATOMIC, dst, src, off, BPF_ADD); }
  void map_fd(Reg dst, int fd) {
    op(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
    op(0, 0, 0, 0, 0);
  }
  void call(std::int32_t helper) { op(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void exit() { op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

  int label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int l) { labels_[l] = static_cast<int>(code_.size()); }
  // jump (class BPF_JMP or BPF_JMP32, op e.g. BPF_JEQ) to l if dst op imm
  void jump_if(std::uint8_t cls, std::uint8_t o, Reg dst, std::int32_t imm, int l) {
    fixups_.push_back({code_.size(), l});
    op(cls | o | BPF_K, dst, 0, 0, imm);
  }
  void jump_if(std::uint8_t o, Reg dst, Reg src, int l) {
    fixups_.push_back({code_.size(), l});
    op(BPF_JMP | o | BPF_X, dst, src, 0, 0);
  }
  void jump(int l) {
    fixups_.push_back({code_.size(), l});
    op(BPF_JMP | BPF_JA, 0, 0, 0, 0);
  }
  std::vector<bpf_insn> finish() {
    for (auto [at, l] : fixups_) code_[at].off = static_cast<std::int16_t>(labels_[l] - static_cast<int>(at) - 1);
    return std::move(code_);
  }

 private:
  std::vector<bpf_insn> code_;
  std::vector<int> labels_;
  std::vector<std::pair<std::size_t, int>> fixups_;
};

// The socket filter. For every message on the socket it returns 0, so
// nothing is ever queued there; of process events (not the answers to
// subscriptions, PROC_EVENT_NONE) it checks the CPU's sequence number and
// writes execs and exits into the ring. The state map holds, per CPU,
// (1 << 32) | the next sequence number expected (0 = none seen yet), and
// the lost counter after them.
std::vector<bpf_insn> filter_program(int state_fd, int ring_fd) {
  using A = BpfAsm;
  A a;
  const int drop = a.label();
  const int gap = a.label();
  const int in_order = a.label();
  const int to_ring = a.label();
  // Stack: [FP-40, FP-4) the copied bytes (seq at FP-40, what at FP-28, cpu
  // at FP-24, pid at FP-12, tgid at FP-8); FP-44 a map key.
  constexpr std::int16_t kBuf = -40, kSeq = kBuf, kWhat = kBuf + 12, kCpu = kBuf + 16, kKey = -44;
  auto count_lost = [&] {
    const int done = a.label();
    a.store(BPF_W, A::FP, kKey, static_cast<std::int32_t>(kCpuSlots));
    a.map_fd(A::R1, state_fd);
    a.mov(A::R2, A::FP);
    a.alu(BPF_ADD, A::R2, kKey);
    a.call(BPF_FUNC_map_lookup_elem);
    a.jump_if(BPF_JMP, BPF_JEQ, A::R0, 0, done);
    a.mov(A::R1, 1);
    a.atomic_add(A::R0, 0, A::R1);
    a.bind(done);
  };
  a.mov(A::R6, A::R1);  // the skb
  a.mov(A::R1, A::R6);
  a.mov(A::R2, kCopyFrom);
  a.mov(A::R3, A::FP);
  a.alu(BPF_ADD, A::R3, kBuf);
  a.mov(A::R4, kCopyLen);
  a.call(BPF_FUNC_skb_load_bytes);
  a.jump_if(BPF_JMP, BPF_JNE, A::R0, 0, drop);  // too short: not an event
  a.load(BPF_W, A::R7, A::FP, kWhat);
  a.jump_if(BPF_JMP32, BPF_JEQ, A::R7, proc_event::PROC_EVENT_NONE, drop);
  // The sequence check: slot = state[cpu].
  a.load(BPF_W, A::R1, A::FP, kCpu);
  a.store(BPF_W, A::FP, kKey, A::R1);
  a.map_fd(A::R1, state_fd);
  a.mov(A::R2, A::FP);
  a.alu(BPF_ADD, A::R2, kKey);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if(BPF_JMP, BPF_JEQ, A::R0, 0, gap);  // a CPU beyond the slots
  a.load(BPF_DW, A::R1, A::R0, 0);              // what the slot held
  a.load(BPF_W, A::R2, A::FP, kSeq);
  a.mov32(A::R3, A::R2);
  a.alu32(BPF_ADD, A::R3, 1);
  a.mov(A::R4, 1);
  a.alu(BPF_LSH, A::R4, 32);
  a.alu(BPF_OR, A::R3, A::R4);
  a.store(BPF_DW, A::R0, 0, A::R3);  // expect seq + 1 next
  a.mov(A::R4, A::R1);
  a.alu(BPF_RSH, A::R4, 32);
  a.jump_if(BPF_JMP, BPF_JEQ, A::R4, 0, gap);  // the CPU's first event
  a.mov32(A::R1, A::R1);
  a.jump_if(BPF_JEQ, A::R1, A::R2, in_order);
  a.bind(gap);
  count_lost();
  a.bind(in_order);
  a.jump_if(BPF_JMP32, BPF_JEQ, A::R7, proc_event::PROC_EVENT_EXEC, to_ring);
  a.jump_if(BPF_JMP32, BPF_JEQ, A::R7, static_cast<std::int32_t>(proc_event::PROC_EVENT_EXIT), to_ring);
  a.jump(drop);
  a.bind(to_ring);
  a.map_fd(A::R1, ring_fd);
  a.mov(A::R2, A::FP);
  a.alu(BPF_ADD, A::R2, kWhat);
  a.mov(A::R3, kRecordLen);
  a.mov(A::R4, BPF_RB_NO_WAKEUP);
  a.call(BPF_FUNC_ringbuf_output);
  a.jump_if(BPF_JMP, BPF_JEQ, A::R0, 0, drop);
  count_lost();  // the ring is full
  a.bind(drop);
  a.mov(A::R0, 0);
  a.exit();
  return a.finish();
}

// Has a thread exit on each CPU this process may run on, so each CPU's first
// event (a gap by the filter's rule) is behind us. Best effort: a CPU left
// out (no thread could be made) costs one forgetting of every thread later.
void exit_once_on_each_cpu() {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (::sched_getaffinity(0, sizeof mine, &mine) != 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &mine)) continue;
    try {
      std::thread([cpu] {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one);
      }).join();
    } catch (const std::system_error&) {
      return;
    }
  }
}

}  // namespace

// The maps, the program and this process's view of the ring.
struct ProcessEvents::Ring {
  engine::UniqueFd state{-1};
  engine::UniqueFd ring{-1};
  engine::UniqueFd prog{-1};
  void* consumer = MAP_FAILED;  // one page: consumer_pos, ours to write
  void* producer = MAP_FAILED;  // one page (producer_pos) and the data, mapped twice
  void* counters = MAP_FAILED;  // the state map
  std::size_t page = 0;
  std::size_t bytes = 0;
  std::size_t counters_len = 0;
  std::uint64_t lost_seen = 0;
  unsigned long stuck_at = ~0ul;  // a record that stayed reserved (never, on a sound kernel)

  ~Ring() {
    if (consumer != MAP_FAILED) ::munmap(consumer, page);
    if (producer != MAP_FAILED) ::munmap(producer, page + 2 * bytes);
    if (counters != MAP_FAILED) ::munmap(counters, counters_len);
  }
  std::uint64_t lost() const {
    return __atomic_load_n(static_cast<const std::uint64_t*>(counters) + kCpuSlots, __ATOMIC_ACQUIRE);
  }

  // Makes the maps and the program; "" or why not.
  std::string make(std::size_t ring_bytes) {
    page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    bytes = ring_bytes == 0 ? kDefaultRing : ring_bytes;
    if (bytes < page || (bytes & (bytes - 1)) != 0) return "the ring's size is not a power of two of at least a page";
    bpf_attr attr{};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = sizeof(std::uint32_t);
    attr.value_size = sizeof(std::uint64_t);
    attr.max_entries = kCpuSlots + 1;
    attr.map_flags = BPF_F_MMAPABLE;
    state.fd = static_cast<int>(bpf(BPF_MAP_CREATE, attr));
    if (state.fd < 0) return "an eBPF array map: " + errno_text(errno);
    attr = {};
    attr.map_type = BPF_MAP_TYPE_RINGBUF;
    attr.max_entries = static_cast<std::uint32_t>(bytes);
    ring.fd = static_cast<int>(bpf(BPF_MAP_CREATE, attr));
    if (ring.fd < 0) return "an eBPF ring buffer: " + errno_text(errno);
    counters_len = ((kCpuSlots + 1) * sizeof(std::uint64_t) + page - 1) / page * page;
    counters = ::mmap(nullptr, counters_len, PROT_READ, MAP_SHARED, state.fd, 0);
    consumer = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, ring.fd, 0);
    producer = ::mmap(nullptr, page + 2 * bytes, PROT_READ, MAP_SHARED, ring.fd, static_cast<off_t>(page));
    if (counters == MAP_FAILED || consumer == MAP_FAILED || producer == MAP_FAILED) {
      return "mapping the eBPF maps: " + errno_text(errno);
    }
    const std::vector<bpf_insn> code = filter_program(state.fd, ring.fd);
    auto load_program = [&](char* log, std::size_t log_size) {
      attr = {};
      attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
      attr.insns = reinterpret_cast<std::uint64_t>(code.data());
      attr.insn_cnt = static_cast<std::uint32_t>(code.size());
      attr.license = reinterpret_cast<std::uint64_t>("MPL-2.0");
      attr.log_buf = reinterpret_cast<std::uint64_t>(log);
      attr.log_size = static_cast<std::uint32_t>(log_size);
      attr.log_level = log != nullptr ? 1 : 0;
      return static_cast<int>(bpf(BPF_PROG_LOAD, attr));
    };
    prog.fd = load_program(nullptr, 0);
    if (prog.fd < 0) {
      // Again with the verifier's log, for its last line (a log too small
      // for all it says fails the load with ENOSPC, hence the size).
      std::vector<char> log(1 << 16);
      int e = errno;
      prog.fd = load_program(log.data(), log.size());
      if (prog.fd >= 0) return {};
      if (errno != ENOSPC) e = errno;
      std::string verifier(log.data(), ::strnlen(log.data(), log.size()));
      while (!verifier.empty() && verifier.back() == '\n') verifier.pop_back();
      if (auto nl = verifier.rfind('\n'); nl != std::string::npos) verifier.erase(0, nl + 1);
      return "loading the eBPF filter: " + errno_text(e) + (verifier.empty() ? "" : " (" + verifier + ")");
    }
    return {};
  }

  bool drain(const std::function<void(const ProcessEvent&)>& seen) {
    bool complete = true;
    if (const std::uint64_t now = lost(); now != lost_seen) {
      lost_seen = now;
      complete = false;
    }
    auto* consumer_pos = static_cast<unsigned long*>(consumer);
    const auto* producer_pos = static_cast<const unsigned long*>(producer);
    const char* data = static_cast<const char*>(producer) + page;
    unsigned long at = __atomic_load_n(consumer_pos, __ATOMIC_RELAXED);  // only we write it
    int waits = 0;
    for (;;) {
      const unsigned long end = __atomic_load_n(producer_pos, __ATOMIC_ACQUIRE);
      if (at >= end) return complete;
      const char* record = data + (at & (bytes - 1));
      const std::uint32_t len = __atomic_load_n(reinterpret_cast<const std::uint32_t*>(record), __ATOMIC_ACQUIRE);
      if ((len & BPF_RINGBUF_BUSY_BIT) != 0) {
        // Reserved, not yet written: its sender is between the two, inside
        // the kernel, for a few instructions. Wait (events behind it may be
        // about callers already). Should it never come, everything is
        // forgotten, now and at every drain until it does, without waiting
        // again.
        if (at == stuck_at || ++waits > 100000) {
          stuck_at = at;
          return false;
        }
        if (waits > 100) std::this_thread::yield();
        continue;
      }
      const std::uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      // Not a record the kernel wrote (the data is mapped twice, so a
      // record may run past the end, but not past the second copy).
      if (size > bytes - BPF_RINGBUF_HDR_SZ) return false;
      if ((len & BPF_RINGBUF_DISCARD_BIT) == 0) {
        if (auto e = parse_ring_event(std::string_view(record + BPF_RINGBUF_HDR_SZ, size));
            e && e->kind != ProcessEvent::Kind::Other) {
          seen(*e);
        }
      }
      at += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
      __atomic_store_n(consumer_pos, at, __ATOMIC_RELEASE);
    }
  }
};

std::optional<ProcessEvent> parse_ring_event(std::string_view r) {
  if (r.size() < static_cast<std::size_t>(kRecordLen)) return std::nullopt;
  const auto what = load<std::uint32_t>(r, offsetof(struct proc_event, what));
  ProcessEvent e;
  if (what == proc_event::PROC_EVENT_EXEC || what == proc_event::PROC_EVENT_EXIT) {
    e.kind = what == proc_event::PROC_EVENT_EXEC ? ProcessEvent::Kind::Exec : ProcessEvent::Kind::Exit;
    e.tid = load<pid_t>(r, offsetof(struct proc_event, event_data.exec.process_pid));
    e.tgid = load<pid_t>(r, offsetof(struct proc_event, event_data.exec.process_tgid));
    if (e.tid <= 0 || e.tgid <= 0) return std::nullopt;
  }
  return e;
}

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

ProcessEvents::ProcessEvents(int fd) : fd_(fd) {}

std::unique_ptr<ProcessEvents> ProcessEvents::open(std::string* why, const ProcessEventsOptions& options) {
  const int receive_buffer = options.receive_buffer;
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
  if (!options.socket_only) {
    auto ring = std::make_unique<Ring>();
    std::string no = ring->make(options.ring_bytes);
    if (no.empty() && ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &ring->prog.fd, sizeof ring->prog.fd) != 0) {
      no = "attaching the eBPF filter: " + errno_text(errno);
    }
    if (no.empty()) {
      exit_once_on_each_cpu();
      ring->drain([](const ProcessEvent&) {});  // nothing is known yet
      ring->lost_seen = ring->lost();
      events->drain([](const ProcessEvent&) {});  // what the socket queued before
      events->ring_ = std::move(ring);
      return events;
    }
    if (why != nullptr) *why = std::move(no);
  }
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
  if (ring_) return ring_->drain(seen);
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

bool ProcessEvents::run_filter(std::string_view message) {
  if (!ring_) return false;
  // A socket filter's test run takes an Ethernet frame and skips its
  // header: the message goes after 14 bytes.
  std::string frame(14, '\0');
  frame.append(message);
  bpf_attr attr{};
  attr.test.prog_fd = static_cast<std::uint32_t>(ring_->prog.fd);
  attr.test.data_in = reinterpret_cast<std::uint64_t>(frame.data());
  attr.test.data_size_in = static_cast<std::uint32_t>(frame.size());
  attr.test.repeat = 1;
  return bpf(BPF_PROG_TEST_RUN, attr) == 0;
}

ProcessEvents::~ProcessEvents() {
  // Tell the kernel one listener fewer (it counts them, and stops making
  // events when none is left).
  send_op(fd_.fd, PROC_CN_MCAST_IGNORE, 0);
}

}  // namespace fsd
