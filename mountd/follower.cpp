// SPDX-License-Identifier: MPL-2.0
#include "mountd/follower.hpp"

#include "fs/log.hpp"

namespace mountd {

Follower::Follower(engine::PostgresMirror& mirror, engine::Core& core, std::chrono::milliseconds wait)
    : mirror_(mirror), core_(core), wait_(wait), thread_([this] { run(); }) {}

Follower::~Follower() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void Follower::run() {
  bool stale = false;        // said in the log that the store is not current
  bool must_reload = false;  // the engine could not take an update: take everything again
  while (!stop_.load(std::memory_order_acquire)) {
    auto up = mirror_.follow(wait_);
    if (!up.ok()) {
      if (!stale && !mirror_.current()) {
        stale = true;
        fsd::log_error("store not current (", up.error().message,
                       "); requests that need the store fail with EIO until the change feed reads again");
      }
      // Not at once again: the server is down or refusing.
      std::this_thread::sleep_for(std::min(wait_, std::chrono::milliseconds(200)));
      continue;
    }
    if (stale) {
      stale = false;
      fsd::log_info("store current again at revision ", up->revision);
    }
    if (up->reload) fsd::log_info("change feed: reloading the whole store: ", up->why);
    if (up->empty() && !must_reload) {
      core_.fed(up->revision);
      continue;
    }
    std::vector<engine::KeyRange> keys;
    for (const auto& batch : up->batches) keys.insert(keys.end(), batch.keys.begin(), batch.keys.end());
    const engine::Status st = core_.absorb(up->reload || must_reload, keys);
    must_reload = !st.ok();
    if (st.ok()) core_.fed(up->revision);
    if (!st.ok()) fsd::log_error("change feed: revision ", up->revision, " not taken in: ", st.error().message);
  }
}

}  // namespace mountd
