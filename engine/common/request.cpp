// SPDX-License-Identifier: MPL-2.0
#include "engine/common/request.hpp"

namespace engine {

const char* to_string(Operation op) noexcept {
  switch (op) {
    case Operation::Read: return "read";
    case Operation::List: return "list";
    case Operation::Create: return "create";
    case Operation::Update: return "update";
    case Operation::Patch: return "patch";
    case Operation::Delete: return "delete";
  }
  return "unknown";
}

}  // namespace engine
