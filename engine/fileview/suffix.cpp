// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/suffix.hpp"

namespace engine::fileview {

std::optional<Suffixed> parse_suffix(std::string_view segment) {
  Suffixed out;
  std::string_view rest = segment;
  if (auto hash = rest.rfind('#'); hash != std::string_view::npos) {
    out.field = std::string(rest.substr(hash + 1));
    out.has_field = true;
    rest = rest.substr(0, hash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    out.view = std::string(rest.substr(at + 1));
    out.has_view = true;
    rest = rest.substr(0, at);
  }
  if (!out.has_view && !out.has_field) return std::nullopt;
  if (rest.empty()) return std::nullopt;
  out.name = std::string(rest);
  return out;
}

bool literal_wins(const Result<Response>& literal) {
  if (literal.ok()) return true;
  const ErrorCode code = literal.error().code;
  return code != ErrorCode::NotFound && code != ErrorCode::Unsupported && code != ErrorCode::PermissionDenied;
}

}  // namespace engine::fileview
