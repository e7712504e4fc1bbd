// SPDX-License-Identifier: MPL-2.0
// Internal to the file view: file names with a view or a field (SPEC §1),
// "db@3", "db#password", "db@metadata#max_versions", and the one rule for
// when such a name means its suffix and when it is a literal name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"

namespace engine::fileview {

// A file name with its optional view and field: "db@3#password".
struct Suffixed {
  std::string name;
  std::string view;
  bool has_view = false;
  std::string field;
  bool has_field = false;
};

// The last '#' starts the field, the last '@' before it the view. Nullopt
// when the segment has neither, or nothing before them ("@x" is a name).
std::optional<Suffixed> parse_suffix(std::string_view segment);

// A literal name wins over @ and #, said once for every kind of file: the
// literal name is asked first, and its answer stands when it answered, or
// failed for any reason but being absent (NotFound), not an endpoint
// (Unsupported) or closed to the caller (PermissionDenied: a rule names
// "app", never "app#v"). Otherwise the suffix reading is the answer.
bool literal_wins(const Result<Response>& literal);

// The suffix reading's answer once the literal gave way: a literal the
// caller may not read stays denied when the suffix reading finds nothing
// either (the denial does not turn into a "no such file").
template <typename T>
Result<T> suffix_answer(const Result<Response>& literal, Result<T> via_suffix) {
  if (!literal.ok() && literal.error().code == ErrorCode::PermissionDenied && !via_suffix.ok() &&
      via_suffix.error().code == ErrorCode::NotFound) {
    return literal.error();
  }
  return via_suffix;
}

}  // namespace engine::fileview
