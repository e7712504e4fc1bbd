// SPDX-License-Identifier: MPL-2.0
// The login lines of one mount: the logins written by one uid run one at a
// time, in order, on the thread of the request that found its line idle;
// the other requests' threads queue their login and go back to serve at
// once (the queued task replies when its turn has run). So a flood of
// failed logins from one uid, each held by the engine for its failed-login
// delay and Argon2, takes one FUSE worker and one CPU, and other uids'
// logins go on meanwhile.
//
// Plain C++ (no FUSE): the callbacks (fs/callbacks.cpp) make each task
// write and reply; tests drive it with any task.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace fsd {

class LoginLines {
 public:
  // A login to run. queued: it waited behind another of its uid (its writer
  // may have given up meanwhile). Must not throw.
  using Task = std::function<void(bool queued)>;

  static constexpr std::size_t kMaxQueued = 64;

  enum class Admit {
    Ran,     // uid's line was idle: task ran here, then every task queued behind it
    Queued,  // queued behind the running login; it runs on that thread
    Full,    // kMaxQueued tasks already wait for uid: task was not run (EAGAIN)
  };

  // Runs or queues task for uid, as above. Thread-safe; the lines' mutex is
  // never held while a task runs (a leaf lock: nothing is taken under it).
  Admit run(uid_t uid, Task task);

  // Tasks waiting for uid (not counting a running one), for tests.
  std::size_t waiting(uid_t uid) const;

 private:
  // A line exists while one of its logins runs; waiting holds the ones
  // queued behind it.
  struct Line {
    std::deque<Task> waiting;
  };
  mutable std::mutex mu_;
  std::unordered_map<uid_t, Line> lines_;
};

}  // namespace fsd
