// SPDX-License-Identifier: MPL-2.0
#include "fs/token_watch.hpp"

#include <exception>
#include <utility>

#include "fs/log.hpp"
#include "fs/node_paths.hpp"

namespace fsd {

TokenWatch::TokenWatch(std::function<engine::TimePoint()> expiry, std::function<void()> poll,
                       std::function<void()> expired, std::chrono::milliseconds period)
    : expiry_(std::move(expiry)), poll_(std::move(poll)), expired_(std::move(expired)), period_(period) {}

TokenWatch::~TokenWatch() { stop(); }

void TokenWatch::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = thread_without_signals([this] { run(); });
}

void TokenWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TokenWatch::run() {
  engine::TimePoint dropped_for{};  // the expiry already acted on
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    engine::TimePoint expires{};
    try {
      poll_();
      expires = expiry_();
      if (expires > kDeadToken && engine::Clock::now() >= expires && expires != dropped_for) {
        log_info("the mount token expired: everything the kernel keeps for the mount is dropped");
        expired_();
        dropped_for = expires;
      }
    } catch (const std::exception& e) {
      log_error("token watch: ", e.what());
    }
    lock.lock();
    auto wake = engine::Clock::now() + period_;
    if (expires > kDeadToken && expires != dropped_for && expires < wake) wake = expires;
    cv_.wait_until(lock, wake, [&] { return stopping_; });
  }
}

}  // namespace fsd
