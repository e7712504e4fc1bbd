// SPDX-License-Identifier: MPL-2.0
// Memory that may hold secrets: zeroed before it is returned to the heap.
//
// SecureString / SecureBytes / Json use ZeroingAllocator for every allocation,
// including the nodes that hold small strings inline (SSO buffers live inside
// allocator-owned nodes), so a secret that passed through the engine does not
// linger in freed memory. Plain std::string is fine for names and paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace engine {

// Wipes memory in a way the compiler cannot elide (sodium_memzero).
void secure_zero(void* p, std::size_t n) noexcept;

template <class T>
struct ZeroingAllocator {
  using value_type = T;
  ZeroingAllocator() noexcept = default;
  template <class U>
  ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    secure_zero(p, n * sizeof(T));
#pragma GCC diagnostic push
    // g++ 12 misreports vectors' end-pointer arithmetic as a non-heap free.
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
    ::operator delete(p);
#pragma GCC diagnostic pop
  }
  template <class U>
  bool operator==(const ZeroingAllocator<U>&) const noexcept {
    return true;
  }
};

using SecureString = std::basic_string<char, std::char_traits<char>, ZeroingAllocator<char>>;
using SecureBytes = std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>>;

// The engine's JSON type: nlohmann::json whose strings, maps and arrays all
// live in zeroing memory. Object keys keep their order sorted (std::map), so
// rendered output is stable.
using Json = nlohmann::basic_json<std::map, std::vector, SecureString, bool, std::int64_t, std::uint64_t, double,
                                  ZeroingAllocator>;

// Conversions between the plain and secure string types (explicit on purpose).
inline SecureString to_secure(std::string_view s) { return SecureString(s.data(), s.size()); }
inline std::string to_plain(const SecureString& s) { return std::string(s.data(), s.size()); }
inline std::string_view as_view(const SecureString& s) { return {s.data(), s.size()}; }
inline std::string_view as_view(const SecureBytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Renders a JSON value the way files show it: pretty-printed (2 spaces, as the
// vault CLI's -format=json), ending in a newline.
SecureString render_pretty(const Json& value);

// A field of a secret as `cat NAME#KEY` shows it: a string's own bytes, any
// other value as compact JSON (no newline).
SecureString field_text(const Json& value);

// field_text of the member `name` of the object whose render_pretty is
// `rendered`, read off the rendering without parsing it (a stored secret's
// `cat NAME#KEY`): a top-level member is the only line that begins with two
// spaces and a quote, and a string or scalar member is that line's value.
// Nullopt when it cannot be told so: no such member, a name or a string
// with an escape in it, an object or array; the caller then parses. Never
// a wrong answer: `rendered` must be a render_pretty of an object.
std::optional<std::string_view> field_in_rendering(std::string_view rendered, std::string_view name);

}  // namespace engine
