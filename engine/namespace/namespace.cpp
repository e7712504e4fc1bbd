// SPDX-License-Identifier: MPL-2.0
#include "engine/namespace/namespace.hpp"

#include <array>

#include "engine/common/names.hpp"

namespace engine {

std::string_view namespace_name(std::string_view ns_path) {
  if (ns_path.empty()) return {};
  ns_path.remove_suffix(1);
  auto slash = ns_path.rfind('/');
  return slash == std::string_view::npos ? ns_path : ns_path.substr(slash + 1);
}

std::string parent_namespace_path(std::string_view ns_path) {
  if (ns_path.empty()) return {};
  std::string_view name = namespace_name(ns_path);
  return std::string(ns_path.substr(0, ns_path.size() - name.size() - 1));
}

Status validate_namespace_name(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kReserved = {"root", "sys",       "audit",
                                                                "auth", "cubbyhole", "identity"};
  if (name.empty()) return Error::invalid("namespace name must not be empty");
  if (name.size() > 255) return Error::name_too_long("namespace name is longer than 255 bytes");
  if (name == "." || name == "..") return Error::invalid("namespace name cannot be \".\" or \"..\"");
  for (std::string_view r : kReserved) {
    if (name == r)
      return Error::invalid("\"" + std::string(name) + "\" is a reserved path and cannot be used as a namespace name");
  }
  for (unsigned char c : name) {
    if (c == '/') return Error::invalid("namespace name must be a single path segment (no '/')");
    if (c <= 0x20 || c == 0x7f)
      return Error::invalid("namespace name cannot contain whitespace or non-printable characters");
    if (c == '+' || c == '*') return Error::invalid("namespace name cannot contain '+' or '*'");
  }
  return check_name_text(name, "namespace name");
}

}  // namespace engine
