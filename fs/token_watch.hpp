// SPDX-License-Identifier: MPL-2.0
// A caching bound mount's watch on its token. What the kernel keeps for the
// mount was answered with the mount's token, so it must go when that token
// ends or is replaced, even if no request comes to tell (on a read-only
// caching mount the kernel serves reads alone: Filesystem::kernel_reads):
//   - at the token's expiry, everything the kernel keeps is dropped (its
//     entries and attributes already end by then: Filesystem::cache_timeout;
//     this also drops the pages, so a process that mapped a file faults and
//     is refused);
//   - the token file is checked once a period, so a new token in it drops
//     everything at once (TokenFile's on_change) instead of at the next
//     request.
// Revocations, renewals and every other change reach the kernel through the
// change bus and the mount's Invalidator; renewals also move the expiry this
// watch waits for (it asks again each period).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "engine/common/request.hpp"

namespace fsd {

// The expiry a dead token (revoked, expired, sealed store) is given: long
// past. Its end was announced already (a revocation, a seal), so the watch
// does nothing for it.
inline constexpr engine::TimePoint kDeadToken{std::chrono::nanoseconds(1)};

class TokenWatch {
 public:
  // expiry: when the mount token expires ({} = never, kDeadToken). poll: checks the
  // token file. expired: drops everything the kernel keeps. All three are
  // called on the watch's own thread, with no lock of the watch held.
  TokenWatch(std::function<engine::TimePoint()> expiry, std::function<void()> poll, std::function<void()> expired,
             std::chrono::milliseconds period = std::chrono::seconds(1));
  ~TokenWatch();  // stop()
  TokenWatch(const TokenWatch&) = delete;
  TokenWatch& operator=(const TokenWatch&) = delete;

  // Starts the thread (idempotent).
  void start();
  // Stops and joins the thread (idempotent).
  void stop();

 private:
  void run();

  const std::function<engine::TimePoint()> expiry_;
  const std::function<void()> poll_;
  const std::function<void()> expired_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fsd
