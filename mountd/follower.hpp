// SPDX-License-Identifier: MPL-2.0
// The feed thread of a daemon on a PostgreSQL store: brings the mirror up
// to what every host committed (PostgresMirror::follow, at least once a
// second) and hands each update to the engine (Core::absorb), which updates
// what it keeps in memory and announces the changes on the change bus. Says
// in the log when the store stops being current (requests fail with EIO
// from then on) and when it is current again.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/core.hpp"
#include "engine/storage/postgres_mirror.hpp"

namespace mountd {

class Follower {
 public:
  // mirror and core must outlive the follower. Starts the thread (which
  // inherits the caller's signal mask).
  Follower(engine::PostgresMirror& mirror, engine::Core& core,
           std::chrono::milliseconds wait = std::chrono::milliseconds(1000));
  ~Follower();  // stops and joins (within one wait)
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

 private:
  void run();

  engine::PostgresMirror& mirror_;
  engine::Core& core_;
  const std::chrono::milliseconds wait_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mountd
