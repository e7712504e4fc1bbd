// SPDX-License-Identifier: MPL-2.0
#include "fs/errno_map.hpp"

#include <cerrno>

namespace fsd {

using engine::ErrorCode;

std::optional<int> errno_entry(ErrorCode code) noexcept {
  // No default: -Wswitch (an error with COFFER_WERROR) flags a missing code.
  switch (code) {
    case ErrorCode::NotFound: return ENOENT;
    case ErrorCode::PermissionDenied: return EACCES;
    case ErrorCode::InvalidArgument: return EINVAL;
    case ErrorCode::AlreadyExists: return EEXIST;
    case ErrorCode::NotEmpty: return ENOTEMPTY;
    case ErrorCode::CasMismatch: return EBUSY;
    case ErrorCode::Sealed: return EIO;
    case ErrorCode::Unsupported: return ENOTSUP;
    case ErrorCode::TooLarge: return EFBIG;
    case ErrorCode::NameTooLong: return ENAMETOOLONG;
    case ErrorCode::IsDirectory: return EISDIR;
    case ErrorCode::NotDirectory: return ENOTDIR;
    case ErrorCode::Locked: return EWOULDBLOCK;
    case ErrorCode::Corrupt: return EIO;
    case ErrorCode::Storage: return EIO;
    case ErrorCode::Internal: return EIO;
    case ErrorCode::Unavailable: return ECONNREFUSED;
    case ErrorCode::TimedOut: return ETIMEDOUT;
    case ErrorCode::Conflict: return EAGAIN;
  }
  return std::nullopt;
}

int to_errno(ErrorCode code) noexcept { return errno_entry(code).value_or(EIO); }

bool is_server_fault(ErrorCode code) noexcept {
  return code == ErrorCode::Corrupt || code == ErrorCode::Storage || code == ErrorCode::Internal ||
         code == ErrorCode::Locked;
}

}  // namespace fsd
