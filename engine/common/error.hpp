// SPDX-License-Identifier: MPL-2.0
// Error categories and Result<T>: how every engine call reports failure.
// Exceptions never cross the engine's API; third-party throwers are caught
// where they are called and turned into an Error.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace engine {

// The category of a failure. fs/errno_map.cpp is the one table that maps these
// to errno; keep the two in step (a unit test checks every value is mapped).
enum class ErrorCode {
  NotFound,          // ENOENT
  PermissionDenied,  // EACCES
  InvalidArgument,   // EINVAL: bad request, malformed body, unknown field
  AlreadyExists,     // EEXIST
  NotEmpty,          // ENOTEMPTY
  CasMismatch,       // EBUSY: check-and-set did not match
  Sealed,            // EIO: the store is sealed
  Unsupported,       // ENOTSUP: no such operation on this path
  TooLarge,          // EFBIG: body over the size limit
  NameTooLong,       // ENAMETOOLONG
  IsDirectory,       // EISDIR
  NotDirectory,      // ENOTDIR
  Locked,            // EWOULDBLOCK: the store is held by another process
  Corrupt,           // EIO: authentication of stored bytes failed, bad record
  Storage,           // EIO: the storage layer failed
  Internal,          // EIO: a bug; always logged
  Unavailable,       // ECONNREFUSED: a server Coffer asks (LDAP) cannot be reached
  TimedOut,          // ETIMEDOUT: a server Coffer asks did not answer in time
  Conflict,          // EAGAIN: another host changed what the request read (the core runs it again)
};

// Human-readable name of a code ("not found"), for logs and replies.
const char* to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code;
  std::string message;  // for humans; never contains secret values

  static Error not_found(std::string m) { return {ErrorCode::NotFound, std::move(m)}; }
  static Error denied(std::string m = "permission denied") { return {ErrorCode::PermissionDenied, std::move(m)}; }
  static Error invalid(std::string m) { return {ErrorCode::InvalidArgument, std::move(m)}; }
  static Error exists(std::string m) { return {ErrorCode::AlreadyExists, std::move(m)}; }
  static Error not_empty(std::string m) { return {ErrorCode::NotEmpty, std::move(m)}; }
  static Error cas(std::string m) { return {ErrorCode::CasMismatch, std::move(m)}; }
  static Error sealed() { return {ErrorCode::Sealed, "Vault is sealed"}; }
  static Error unsupported(std::string m) { return {ErrorCode::Unsupported, std::move(m)}; }
  // Vault's answer for a path or operation a backend does not have
  // (logical.ErrUnsupportedPath): Unsupported "unsupported path", naming the
  // path when one is given ("unsupported path: sys/foo"). The one place
  // that text is written.
  static Error unsupported_path(std::string_view path = {}) {
    std::string m = "unsupported path";
    if (!path.empty()) m.append(": ").append(path);
    return {ErrorCode::Unsupported, std::move(m)};
  }
  static Error too_large(std::string m) { return {ErrorCode::TooLarge, std::move(m)}; }
  static Error name_too_long(std::string m) { return {ErrorCode::NameTooLong, std::move(m)}; }
  static Error corrupt(std::string m) { return {ErrorCode::Corrupt, std::move(m)}; }
  static Error storage(std::string m) { return {ErrorCode::Storage, std::move(m)}; }
  static Error conflict(std::string m) { return {ErrorCode::Conflict, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorCode::Internal, std::move(m)}; }
  static Error unavailable(std::string m) { return {ErrorCode::Unavailable, std::move(m)}; }
  static Error timed_out(std::string m) { return {ErrorCode::TimedOut, std::move(m)}; }
};

// A value or an Error. [[nodiscard]] so an ignored failure is a warning.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& {
    assert(failed_);
    return error_;
  }
  Error&& error() && {
    assert(failed_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::Internal, {}};
  bool failed_ = false;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace engine

// Propagate an error: `COFFER_TRY(auto x, f());` or `COFFER_TRY_STATUS(g());`.
#define COFFER_CONCAT_INNER(a, b) a##b
#define COFFER_CONCAT(a, b) COFFER_CONCAT_INNER(a, b)
#define COFFER_TRY_IMPL(tmp, decl, expr)        \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
#define COFFER_TRY(decl, expr) COFFER_TRY_IMPL(COFFER_CONCAT(coffer_try_, __LINE__), decl, expr)
#define COFFER_TRY_STATUS(expr)                                 \
  do {                                                          \
    auto coffer_st_ = (expr);                                   \
    if (!coffer_st_.ok()) return std::move(coffer_st_).error(); \
  } while (0)
