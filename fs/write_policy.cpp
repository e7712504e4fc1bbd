// SPDX-License-Identifier: MPL-2.0
#include "fs/write_policy.hpp"

#include <bit>

namespace fsd {

bool is_full_chunk(std::size_t len) noexcept { return len >= kMinFullChunk && std::has_single_bit(len); }

bool should_apply_now(bool buffer_is_complete, std::size_t write_len) noexcept {
  return buffer_is_complete && !is_full_chunk(write_len);
}

}  // namespace fsd
