// SPDX-License-Identifier: MPL-2.0
// When a buffered write is applied (SPEC §2). A write(2) whose bytes already
// form a whole request is applied at once, so write(2) carries the error and
// `echo` reports it. But cp and cat copy in power-of-two chunks; a chunk that
// happens to parse on its own (a policy file cut at a line end) must not be
// applied half, so a "full chunk" waits for FLUSH (close) instead.
#pragma once

#include <cstddef>

namespace fsd {

// Largest request body a handle buffers (bytes). Above it write(2) fails with
// EFBIG and the buffer is dropped. The mount asks the kernel for max_write of
// this size so one write(2) up to it arrives as one WRITE.
inline constexpr std::size_t kMaxRequestBytes = std::size_t{1} << 20;

// Smallest chunk size copy tools use; below it a power of two is an ordinary
// write (`printf` of 64 bytes).
inline constexpr std::size_t kMinFullChunk = 4096;

// True when len looks like a copy tool's mid-stream chunk: a power of two of
// at least kMinFullChunk. Pure.
bool is_full_chunk(std::size_t len) noexcept;

// True when a write of write_len bytes should be applied now, given whether
// the handle's buffer (including these bytes) forms a whole request. Pure.
bool should_apply_now(bool buffer_is_complete, std::size_t write_len) noexcept;

}  // namespace fsd
