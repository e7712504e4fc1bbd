// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/storage.hpp"

namespace engine {

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

Result<std::vector<std::optional<SecureBytes>>> Storage::get_many(std::span<const std::string_view> keys) {
  std::vector<std::optional<SecureBytes>> out;
  out.reserve(keys.size());
  for (std::string_view key : keys) {
    COFFER_TRY(auto value, get(key));
    out.push_back(std::move(value));
  }
  return out;
}

Status Storage::put(std::string_view key, ByteView value) {
  WriteOp op{WriteOp::Kind::Put, std::string(key), SecureBytes(value.begin(), value.end())};
  return apply({&op, 1});
}

Status Storage::del(std::string_view key) {
  WriteOp op{WriteOp::Kind::Delete, std::string(key), {}};
  return apply({&op, 1});
}

Status Storage::del_prefix(std::string_view prefix) {
  WriteOp op{WriteOp::Kind::DeletePrefix, std::string(prefix), {}};
  return apply({&op, 1});
}

}  // namespace engine
