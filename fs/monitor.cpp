// SPDX-License-Identifier: MPL-2.0
#include "fs/monitor.hpp"

#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "engine/fileview/events.hpp"
#include "engine/fileview/monitor.hpp"
#include "fs/errno_map.hpp"
#include "fs/log.hpp"
#include "fs/op_log.hpp"
#include "fs/poll.hpp"

namespace fsd {
namespace {

// How long one wait lasts before the read looks again at interruption,
// shutdown and (event streams) the token: not a timeout of the read, which
// keeps waiting.
constexpr std::chrono::milliseconds kSlice{200};

std::atomic<bool> g_stopping{false};

struct Stream {
  // One of the two sources.
  std::unique_ptr<engine::LogHub::Subscription> monitor;
  std::unique_ptr<engine::EventStream> events;
  bool nonblocking = false;
  std::mutex mu;        // one read at a time per stream
  std::string carried;  // arrived but not yet read (a read smaller than what came)
  std::atomic<bool> has_carried{false};

  std::size_t monitor_dropped = 0;  // lines the reader was already told it lost

  bool source_ready() const { return monitor ? monitor->ready() : events->ready(); }
  // Waits up to one slice; "" when nothing came. A monitor reader that lost
  // lines is told first, as Vault's monitor does (an event stream says it
  // itself, as its events-lost line).
  engine::Result<std::string> next(std::chrono::milliseconds slice) {
    if (!monitor) return events->next(slice);
    std::string lines = monitor->next(slice);
    if (const std::size_t dropped = monitor->dropped(); dropped > monitor_dropped) {
      lines.insert(0, "cofferd: monitor dropped " + std::to_string(dropped - monitor_dropped) +
                          " log lines (the reader was too slow)\n");
      monitor_dropped = dropped;
    }
    return lines;
  }
};

std::mutex g_mu;
std::map<const Handle*, std::shared_ptr<Stream>> g_streams;

std::shared_ptr<Stream> stream_of(const Handle* h) {
  std::lock_guard lock(g_mu);
  auto it = g_streams.find(h);
  return it == g_streams.end() ? nullptr : it->second;
}

void keep(const Handle* h, std::shared_ptr<Stream> stream) {
  // Poll wake-ups from the source's thread go through the poll thread.
  auto wake = [h] { poll_wake(h); };
  if (stream->monitor) stream->monitor->on_ready(wake);
  if (stream->events) stream->events->on_ready(wake);
  std::lock_guard lock(g_mu);
  g_streams[h] = std::move(stream);
}

}  // namespace

engine::Status open_stream(engine::Core& core, const engine::Caller& caller, std::string_view engine_path,
                           std::string_view view_root, bool nonblocking, const Handle* h, bool& opened,
                           engine::TemplateMatcher templates) {
  opened = false;
  auto stream = std::make_shared<Stream>();
  stream->nonblocking = nonblocking;
  if (engine::is_monitor_path(engine_path)) {
    auto sub = engine::open_monitor(core, caller, engine_path);
    if (!sub.ok()) {
      // Not the monitor of a namespace's sys/ (a secret named so): as usual.
      if (sub.error().code == engine::ErrorCode::NotFound) return engine::ok_status();
      return std::move(sub).error();
    }
    stream->monitor = std::move(sub).value();
  } else if (engine::is_events_path(engine_path)) {
    auto sub = engine::open_events(core, caller, engine_path, view_root, 1024, std::move(templates));
    if (!sub.ok()) {
      if (sub.error().code == engine::ErrorCode::NotFound) return engine::ok_status();
      return std::move(sub).error();
    }
    stream->events = std::move(sub).value();
  } else {
    return engine::ok_status();
  }
  keep(h, std::move(stream));
  opened = true;
  return engine::ok_status();
}

bool is_stream(const Handle* h) { return stream_of(h) != nullptr; }

int read_stream(fuse_req_t req, const Handle* h, std::size_t size, std::string& out) {
  out.clear();
  if (size == 0) return 0;
  auto stream = stream_of(h);
  if (!stream) return EBADF;
  std::lock_guard lock(stream->mu);
  while (stream->carried.empty()) {
    if (g_stopping.load()) return 0;
    if (req != nullptr && fuse_req_interrupted(req)) return EINTR;
    if (stream->nonblocking && !stream->source_ready()) return EAGAIN;
    auto lines = stream->next(stream->nonblocking ? std::chrono::milliseconds(0) : kSlice);
    if (!lines.ok()) {
      log_info("event stream: ", lines.error().message, " (stream ended)");
      return to_errno(lines.error().code);
    }
    stream->carried = std::move(lines).value();
    if (stream->nonblocking && stream->carried.empty()) return EAGAIN;
  }
  // Whole lines when they fit, so a reader with a small buffer still gets
  // lines in order; a line longer than the buffer is cut.
  std::size_t take = stream->carried.size();
  if (take > size) {
    auto nl = stream->carried.rfind('\n', size - 1);
    take = nl == std::string::npos ? size : nl + 1;
  }
  out = stream->carried.substr(0, take);
  stream->carried.erase(0, take);
  stream->has_carried.store(!stream->carried.empty());
  return 0;
}

int write_stream(const Handle* h, std::string_view data) {
  auto stream = stream_of(h);
  if (!stream) return EBADF;
  if (!stream->events) return log_rejection("write", "sys/monitor", EINVAL, "a monitor takes no writes");
  if (auto st = stream->events->configure(data); !st.ok()) {
    return log_rejection("write", "sys/events/subscribe", EINVAL, st.error().message);
  }
  return 0;
}

unsigned poll_stream(const Handle* h, fuse_pollhandle* ph) {
  auto stream = stream_of(h);
  if (!stream) {
    if (ph != nullptr) fuse_pollhandle_destroy(ph);
    return POLLIN | POLLRDNORM;
  }
  // Kept before looking, so a line arriving in between still wakes it.
  if (ph != nullptr) poll_keep(h, ph);
  if (stream->has_carried.load() || stream->source_ready()) return POLLIN | POLLRDNORM;
  return 0;
}

void close_stream(const Handle* h) {
  std::shared_ptr<Stream> gone;
  {
    std::lock_guard lock(g_mu);
    auto it = g_streams.find(h);
    if (it == g_streams.end()) return;
    gone = std::move(it->second);
    g_streams.erase(it);
  }
  // Dropped outside g_mu: ending a subscription takes the hub's (or bus's)
  // lock.
}

void stop_monitors() noexcept { g_stopping.store(true); }

}  // namespace fsd
