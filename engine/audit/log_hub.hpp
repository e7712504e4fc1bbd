// SPDX-License-Identifier: MPL-2.0
// The in-process log hub behind sys/monitor: the daemon's logger publishes
// every formatted line here; each open sys/monitor file subscribes with its
// log_level and reads the lines as they come. Lines carry no secrets (the
// logger's contract), so they live in plain strings.
//
// A slow reader loses lines rather than slowing the daemon (as Vault's
// monitor): each subscription queues at most max_queued lines and drops the
// oldest beyond that.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engine {

// Levels, least verbose first (the fs logger's order; trace = debug + 1).
enum class MonitorLevel { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

// "error"/"err", "warn"/"warning", "info", "debug", "trace"; nullopt otherwise.
std::optional<MonitorLevel> parse_monitor_level(std::string_view name);

class LogHub {
 public:
  class Subscription;

  // The process's hub. Thread-safe.
  static LogHub& instance();

  // The most verbose level some subscriber wants, or -1 when none: the
  // logger formats lines below its own level only when this asks for them.
  // Lock-free.
  int wanted_level() const { return wanted_.load(std::memory_order_acquire); }

  // Hands one line (with or without its final newline) to every subscriber
  // whose level takes `level`. Never blocks on a reader. Thread-safe.
  void publish(int level, std::string_view line);

  // A new subscription; it ends when the returned object is destroyed.
  std::unique_ptr<Subscription> subscribe(MonitorLevel level, std::size_t max_queued = 4096);

  struct Queue;

 private:
  void recompute_locked();
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Queue>> queues_;
  std::atomic<int> wanted_{-1};
  friend class Subscription;
};

class LogHub::Subscription {
 public:
  Subscription(LogHub& hub, std::shared_ptr<Queue> queue);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits up to `timeout` for at least one line, then returns every queued
  // line, each ending in '\n' ("" when none came in time). Thread-safe.
  std::string next(std::chrono::milliseconds timeout);
  // Lines dropped because the reader was too slow.
  std::size_t dropped() const;
  // True when a line is queued. Thread-safe.
  bool ready() const;
  // Called after each line queued for this subscription (on the logging
  // thread, under the hub's lock): quick, leaf locks only, never logs.
  void on_ready(std::function<void()> wake);

 private:
  LogHub& hub_;
  std::shared_ptr<Queue> queue_;
};

}  // namespace engine
