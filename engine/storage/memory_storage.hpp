// SPDX-License-Identifier: MPL-2.0
// Physical storage in memory: for `cofferd --dev` and unit tests. Passes the
// same conformance suite as SqliteStorage.
#pragma once

#include <map>
#include <shared_mutex>

#include "engine/storage/storage.hpp"

namespace engine {

class MemoryStorage final : public Storage {
 public:
  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, SecureBytes, std::less<>> data_;
};

// Children of `prefix` among the sorted keys of a map-like range, as
// Storage::list describes. Shared by the in-memory implementations.
template <class Map>
std::vector<std::string> list_children(const Map& sorted, std::string_view prefix, std::size_t limit) {
  std::vector<std::string> out;
  auto it = sorted.lower_bound(prefix);
  while (it != sorted.end() && std::string_view(it->first).starts_with(prefix)) {
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      out.emplace_back(rest);
      ++it;
    } else {
      std::string child(rest.substr(0, slash + 1));
      out.push_back(child);
      // Skip the whole subtree: the next key after "<prefix><child-without-/>0"
      // ('0' is the byte after '/').
      std::string next = std::string(prefix) + child;
      next.back() = '/' + 1;
      it = sorted.lower_bound(next);
    }
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

}  // namespace engine
