// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/memory_storage.hpp"

#include <mutex>

namespace engine {

Result<std::optional<SecureBytes>> MemoryStorage::get(std::string_view key) {
  std::shared_lock lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::optional<SecureBytes>{};
  return std::optional<SecureBytes>{it->second};
}

Result<std::vector<std::string>> MemoryStorage::list(std::string_view prefix, std::size_t limit) {
  std::shared_lock lock(mu_);
  return list_children(data_, prefix, limit);
}

Status MemoryStorage::apply(std::span<const WriteOp> batch) {
  std::unique_lock lock(mu_);
  for (const WriteOp& op : batch) {
    switch (op.kind) {
      case WriteOp::Kind::Put: data_.insert_or_assign(op.key, op.value); break;
      case WriteOp::Kind::Delete:
        if (auto it = data_.find(op.key); it != data_.end()) data_.erase(it);
        break;
      case WriteOp::Kind::DeletePrefix: {
        auto it = data_.lower_bound(op.key);
        while (it != data_.end() && std::string_view(it->first).starts_with(op.key)) {
          it = data_.erase(it);
        }
        break;
      }
    }
  }
  return {};
}

}  // namespace engine
