// SPDX-License-Identifier: MPL-2.0
// The cofferd config file (HCL): any text parses into a Config or fails
// with an error; nothing crashes, hangs or leaks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mountd/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = mountd::parse_config(text, "fuzz.hcl");
  (void)config;
  return 0;
}
