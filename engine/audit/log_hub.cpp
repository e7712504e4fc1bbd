// SPDX-License-Identifier: MPL-2.0
#include "engine/audit/log_hub.hpp"

#include <algorithm>

namespace engine {

struct LogHub::Queue {
  int level = 2;
  std::size_t max_queued = 4096;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  std::size_t dropped = 0;
  std::function<void()> wake;  // set once, before lines matter (on_ready)
};

std::optional<MonitorLevel> parse_monitor_level(std::string_view name) {
  if (name == "error" || name == "err") return MonitorLevel::Error;
  if (name == "warn" || name == "warning") return MonitorLevel::Warn;
  if (name == "info") return MonitorLevel::Info;
  if (name == "debug") return MonitorLevel::Debug;
  if (name == "trace") return MonitorLevel::Trace;
  return std::nullopt;
}

LogHub& LogHub::instance() {
  static LogHub hub;
  return hub;
}

void LogHub::recompute_locked() {
  int wanted = -1;
  for (const auto& q : queues_) wanted = std::max(wanted, q->level);
  wanted_.store(wanted, std::memory_order_release);
}

void LogHub::publish(int level, std::string_view line) {
  if (level > wanted_level()) return;
  std::string text(line);
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  std::lock_guard lock(mu_);
  for (const auto& q : queues_) {
    if (level > q->level) continue;
    {
      std::lock_guard ql(q->mu);
      q->lines.push_back(text);
      while (q->lines.size() > q->max_queued) {
        q->lines.pop_front();
        ++q->dropped;
      }
    }
    q->cv.notify_all();
    if (q->wake) q->wake();
  }
}

std::unique_ptr<LogHub::Subscription> LogHub::subscribe(MonitorLevel level, std::size_t max_queued) {
  auto q = std::make_shared<Queue>();
  q->level = static_cast<int>(level);
  q->max_queued = std::max<std::size_t>(1, max_queued);
  {
    std::lock_guard lock(mu_);
    queues_.push_back(q);
    recompute_locked();
  }
  return std::make_unique<Subscription>(*this, std::move(q));
}

LogHub::Subscription::Subscription(LogHub& hub, std::shared_ptr<Queue> queue) : hub_(hub), queue_(std::move(queue)) {}

LogHub::Subscription::~Subscription() {
  std::lock_guard lock(hub_.mu_);
  std::erase(hub_.queues_, queue_);
  hub_.recompute_locked();
}

std::string LogHub::Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(queue_->mu);
  queue_->cv.wait_for(lock, timeout, [&] { return !queue_->lines.empty(); });
  std::string out;
  for (auto& l : queue_->lines) out += l;
  queue_->lines.clear();
  return out;
}

bool LogHub::Subscription::ready() const {
  std::lock_guard lock(queue_->mu);
  return !queue_->lines.empty();
}

void LogHub::Subscription::on_ready(std::function<void()> wake) {
  std::lock_guard lock(hub_.mu_);  // publish reads it under the hub's lock
  queue_->wake = std::move(wake);
}

std::size_t LogHub::Subscription::dropped() const {
  std::lock_guard lock(queue_->mu);
  return queue_->dropped;
}

}  // namespace engine
