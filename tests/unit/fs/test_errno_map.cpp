// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <map>

#include "engine/common/error.hpp"
#include "fs/errno_map.hpp"

using engine::ErrorCode;

namespace {

// SPEC §2 and engine/common/error.hpp, written out independently of the
// table under test.
const std::map<ErrorCode, int>& expected_table() {
  static const std::map<ErrorCode, int> table = {
      {ErrorCode::NotFound, ENOENT},
      {ErrorCode::PermissionDenied, EACCES},
      {ErrorCode::InvalidArgument, EINVAL},
      {ErrorCode::AlreadyExists, EEXIST},
      {ErrorCode::NotEmpty, ENOTEMPTY},
      {ErrorCode::CasMismatch, EBUSY},
      {ErrorCode::Sealed, EIO},
      {ErrorCode::Unsupported, ENOTSUP},
      {ErrorCode::TooLarge, EFBIG},
      {ErrorCode::NameTooLong, ENAMETOOLONG},
      {ErrorCode::IsDirectory, EISDIR},
      {ErrorCode::NotDirectory, ENOTDIR},
      {ErrorCode::Locked, EWOULDBLOCK},
      {ErrorCode::Corrupt, EIO},
      {ErrorCode::Storage, EIO},
      {ErrorCode::Internal, EIO},
      {ErrorCode::Unavailable, ECONNREFUSED},
      {ErrorCode::TimedOut, ETIMEDOUT},
      {ErrorCode::Conflict, EAGAIN},
  };
  return table;
}

// Every ErrorCode value: the enum is contiguous from 0, and engine::to_string
// names each one ("unknown error" past the last), so this walk picks up a
// value added later without anyone listing it here.
std::vector<ErrorCode> all_codes() {
  std::vector<ErrorCode> codes;
  for (int i = 0; i < 1000; ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (std::strcmp(engine::to_string(code), "unknown error") == 0) break;
    codes.push_back(code);
  }
  return codes;
}

}  // namespace

TEST_CASE("errno map: every ErrorCode has an entry", "[errno_map]") {
  const auto codes = all_codes();
  REQUIRE(codes.size() >= 16);
  for (ErrorCode code : codes) {
    INFO("code " << static_cast<int>(code) << " (" << engine::to_string(code) << ")");
    CHECK(fsd::errno_entry(code).has_value());
    // A code the expected table lacks means the enum grew: map it in
    // fs/errno_map.cpp and list it above.
    REQUIRE(expected_table().count(code) == 1);
  }
  CHECK(codes.size() == expected_table().size());
}

TEST_CASE("errno map: each entry is the SPEC's errno", "[errno_map]") {
  for (const auto& [code, err] : expected_table()) {
    INFO("code " << engine::to_string(code));
    CHECK(fsd::errno_entry(code) == err);
    CHECK(fsd::to_errno(code) == err);
  }
}

TEST_CASE("errno map: out-of-range codes fall back to EIO", "[errno_map]") {
  const auto bogus = static_cast<ErrorCode>(4242);
  CHECK_FALSE(fsd::errno_entry(bogus).has_value());
  CHECK(fsd::to_errno(bogus) == EIO);
}

TEST_CASE("errno map: server faults are the store's, not the caller's", "[errno_map]") {
  CHECK(fsd::is_server_fault(ErrorCode::Internal));
  CHECK(fsd::is_server_fault(ErrorCode::Storage));
  CHECK(fsd::is_server_fault(ErrorCode::Corrupt));
  CHECK_FALSE(fsd::is_server_fault(ErrorCode::PermissionDenied));
  CHECK_FALSE(fsd::is_server_fault(ErrorCode::NotFound));
}
