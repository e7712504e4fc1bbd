// SPDX-License-Identifier: MPL-2.0
// Small helpers on the fs's node paths ("ns/kv/app/db#password"), and the
// way the fs starts its own background threads. Shared by the kernel
// invalidators, the poll thread and the inotify replayer.
#pragma once

#include <signal.h>

#include <string_view>
#include <thread>
#include <utility>

namespace fsd {

// "NAME", "NAME@x", "NAME#k", "NAME@x#k" of the last segment share the base
// "NAME": a write to any of them may change all of them.
inline std::string_view base_of(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::size_t start = slash == std::string_view::npos ? 0 : slash + 1;
  const auto mark = path.find_first_of("@#", start);
  return mark == std::string_view::npos ? path : path.substr(0, mark);
}

// The folder of a path ("" for a top-level name).
inline std::string_view parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// A thread that never takes the daemon's signals (they belong to main's
// sigwait): every signal is blocked while it starts, so it inherits the mask.
template <class F>
std::thread thread_without_signals(F&& body) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::forward<F>(body));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace fsd
