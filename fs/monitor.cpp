// SPDX-License-Identifier: MPL-2.0
#include "fs/monitor.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "engine/fileview/monitor.hpp"

namespace fsd {
namespace {

// How long one wait lasts before the read looks again at interruption and
// shutdown (not a timeout of the read: it keeps waiting).
constexpr std::chrono::milliseconds kSlice{200};

std::atomic<bool> g_stopping{false};

struct Stream {
  std::unique_ptr<engine::LogHub::Subscription> subscription;
  std::mutex mu;        // one read at a time per stream
  std::string carried;  // arrived but not yet read (a read smaller than what came)
};

std::mutex g_mu;
std::map<const Handle*, std::shared_ptr<Stream>> g_streams;

std::shared_ptr<Stream> stream_of(const Handle* h) {
  std::lock_guard lock(g_mu);
  auto it = g_streams.find(h);
  return it == g_streams.end() ? nullptr : it->second;
}

}  // namespace

engine::Status open_monitor(engine::Core& core, const engine::Caller& caller, std::string_view engine_path,
                            const Handle* h, bool& opened) {
  opened = false;
  if (!engine::is_monitor_path(engine_path)) return engine::ok_status();
  auto sub = engine::open_monitor(core, caller, engine_path);
  if (!sub.ok()) {
    // Not the monitor of a namespace's sys/ (a secret named so): as usual.
    if (sub.error().code == engine::ErrorCode::NotFound) return engine::ok_status();
    return std::move(sub).error();
  }
  auto stream = std::make_shared<Stream>();
  stream->subscription = std::move(sub).value();
  std::lock_guard lock(g_mu);
  g_streams[h] = std::move(stream);
  opened = true;
  return engine::ok_status();
}

bool is_monitor(const Handle* h) { return stream_of(h) != nullptr; }

int read_monitor(fuse_req_t req, const Handle* h, std::size_t size, std::string& out) {
  out.clear();
  if (size == 0) return 0;
  auto stream = stream_of(h);
  if (!stream) return EBADF;
  std::lock_guard lock(stream->mu);
  while (stream->carried.empty()) {
    if (g_stopping.load()) return 0;
    if (req != nullptr && fuse_req_interrupted(req)) return EINTR;
    stream->carried = stream->subscription->next(kSlice);
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
  return 0;
}

void close_monitor(const Handle* h) {
  std::shared_ptr<Stream> gone;
  {
    std::lock_guard lock(g_mu);
    auto it = g_streams.find(h);
    if (it == g_streams.end()) return;
    gone = std::move(it->second);
    g_streams.erase(it);
  }
  // Dropped outside g_mu: ending a subscription takes the hub's lock.
}

void stop_monitors() noexcept { g_stopping.store(true); }

}  // namespace fsd
