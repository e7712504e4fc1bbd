// SPDX-License-Identifier: MPL-2.0
#include "engine/common/error.hpp"

namespace engine {

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::InvalidArgument: return "invalid request";
    case ErrorCode::AlreadyExists: return "already exists";
    case ErrorCode::NotEmpty: return "not empty";
    case ErrorCode::CasMismatch: return "check-and-set mismatch";
    case ErrorCode::Sealed: return "sealed";
    case ErrorCode::Unsupported: return "unsupported operation";
    case ErrorCode::TooLarge: return "request too large";
    case ErrorCode::NameTooLong: return "name too long";
    case ErrorCode::IsDirectory: return "is a directory";
    case ErrorCode::NotDirectory: return "not a directory";
    case ErrorCode::Locked: return "store locked";
    case ErrorCode::Corrupt: return "corrupt data";
    case ErrorCode::Storage: return "storage error";
    case ErrorCode::Internal: return "internal error";
    case ErrorCode::Unavailable: return "server unavailable";
    case ErrorCode::TimedOut: return "timed out";
    case ErrorCode::Conflict: return "conflict";
  }
  return "unknown error";
}

}  // namespace engine
