// SPDX-License-Identifier: MPL-2.0
// libFuzzer target for the auto-unseal key file's text (mountd/seal_file.hpp):
// JSON as sys/init answers it, or one hex or base64 share per line. Any text
// parses into at most 255 distinct non-empty shares or is refused with
// InvalidArgument; nothing crashes, hangs or leaks. A relative path is
// resolved or refused the same way.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "mountd/seal_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto shares = mountd::parse_seal_shares(text); shares.ok()) {
    if (shares->empty() || shares->size() > 255) __builtin_trap();
    std::set<std::string> seen;
    for (const auto& s : *shares) {
      if (s.empty() || !seen.emplace(s.begin(), s.end()).second) __builtin_trap();
    }
  } else if (shares.error().code != engine::ErrorCode::InvalidArgument) {
    __builtin_trap();
  }
  // A relative path stays inside the credentials directory.
  constexpr std::string_view kDir = "/run/credentials/cofferd.service/";
  if (auto path = mountd::seal_file_path(text, "/run/credentials/cofferd.service");
      path.ok() && !text.starts_with('/')) {
    const std::string_view p = *path;
    if (!p.starts_with(kDir) || p.find("/../") != std::string_view::npos || p.ends_with("/..")) __builtin_trap();
  }
  return 0;
}
