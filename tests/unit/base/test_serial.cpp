// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/serial.hpp"

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <catch2/catch.hpp>

namespace serial_test {

struct Record {
  std::string name;
  engine::SecureString secret;
  engine::SecureBytes blob;
  std::vector<std::uint32_t> numbers;
  std::int64_t added_in_v2 = -1;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(name, secret, blob, numbers);
    if (version >= 2) ar(added_in_v2);
  }
};

}  // namespace serial_test

CEREAL_CLASS_VERSION(serial_test::Record, 2)

TEST_CASE("serial: records round-trip through secure buffers", "[serial]") {
  serial_test::Record in{"n", engine::to_secure("s3cret"), {0, 1, 255}, {7, 8}, 42};
  const engine::SecureBytes bytes = engine::encode_record(in);
  auto out = engine::decode_record<serial_test::Record>(bytes, "record");
  REQUIRE(out.ok());
  CHECK(out->name == "n");
  CHECK(engine::as_view(out->secret) == "s3cret");
  CHECK(out->blob == in.blob);
  CHECK(out->numbers == in.numbers);
  CHECK(out->added_in_v2 == 42);

  SECTION("truncated input is Corrupt, never a partial record") {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto r = engine::decode_record<serial_test::Record>(engine::ByteView(bytes).first(n), "record");
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == engine::ErrorCode::Corrupt);
    }
  }
}
