// SPDX-License-Identifier: MPL-2.0
#include "fs/login_lines.hpp"

#include <utility>

namespace fsd {

LoginLines::Admit LoginLines::run(uid_t uid, Task task) {
  {
    std::lock_guard lock(mu_);
    auto it = lines_.find(uid);
    if (it != lines_.end()) {
      if (it->second.waiting.size() >= kMaxQueued) return Admit::Full;
      it->second.waiting.push_back(std::move(task));
      return Admit::Queued;  // run when its turn comes, on the running thread
    }
    lines_.emplace(uid, Line{});
  }
  task(false);
  while (true) {
    Task next;
    {
      std::lock_guard lock(mu_);
      auto it = lines_.find(uid);
      if (it->second.waiting.empty()) {
        lines_.erase(it);
        return Admit::Ran;
      }
      next = std::move(it->second.waiting.front());
      it->second.waiting.pop_front();
    }
    next(true);
  }
}

std::size_t LoginLines::waiting(uid_t uid) const {
  std::lock_guard lock(mu_);
  auto it = lines_.find(uid);
  return it == lines_.end() ? 0 : it->second.waiting.size();
}

}  // namespace fsd
