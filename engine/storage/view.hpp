// SPDX-License-Identifier: MPL-2.0
// A Storage scoped to the keys under a prefix of another Storage: how a mount
// ("logical/<mount-uuid>/") or a namespace ("ns/<id>/") gets its own keys.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/storage.hpp"

namespace engine {

class View final : public Storage {
 public:
  // parent must outlive the view. prefix is "" or ends in '/'.
  View(Storage& parent, std::string prefix) : parent_(parent), prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }

  Result<std::optional<SecureBytes>> get(std::string_view key) override {
    return parent_.get(prefix_ + std::string(key));
  }
  Result<std::vector<std::optional<SecureBytes>>> get_many(std::span<const std::string_view> keys) override {
    std::vector<std::string> scoped;
    scoped.reserve(keys.size());
    for (std::string_view key : keys) scoped.push_back(prefix_ + std::string(key));
    const std::vector<std::string_view> views(scoped.begin(), scoped.end());
    return parent_.get_many(views);
  }
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override {
    return parent_.list(prefix_ + std::string(prefix), limit);
  }
  Status apply(std::span<const WriteOp> batch) override {
    std::vector<WriteOp> scoped(batch.begin(), batch.end());
    for (WriteOp& op : scoped) op.key.insert(0, prefix_);
    return parent_.apply(scoped);
  }

 private:
  Storage& parent_;
  std::string prefix_;
};

}  // namespace engine
