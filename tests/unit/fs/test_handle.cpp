// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "fs/handle.hpp"
#include "fs/write_policy.hpp"

using engine::SecureString;
using engine::WriteMode;
using fsd::Handle;

namespace {

Handle make_handle(WriteMode mode = WriteMode::Replace) {
  return Handle("secret/app", mode, engine::Caller{engine::to_secure("root")});
}

engine::Result<SecureString> ok_reply(std::string_view text) { return engine::to_secure(text); }

}  // namespace

TEST_CASE("write policy: full chunks are powers of two from 4096", "[write_policy]") {
  CHECK(fsd::is_full_chunk(4096));
  CHECK(fsd::is_full_chunk(65536));
  CHECK(fsd::is_full_chunk(131072));
  CHECK(fsd::is_full_chunk(fsd::kMaxRequestBytes));
  CHECK_FALSE(fsd::is_full_chunk(0));
  CHECK_FALSE(fsd::is_full_chunk(2048));
  CHECK_FALSE(fsd::is_full_chunk(4095));
  CHECK_FALSE(fsd::is_full_chunk(4097));
  CHECK_FALSE(fsd::is_full_chunk(12288));
}

TEST_CASE("write policy: apply now only a complete buffer from a non-chunk write", "[write_policy]") {
  CHECK(fsd::should_apply_now(true, 10));  // echo '{"a":"b"}'
  CHECK_FALSE(fsd::should_apply_now(false, 10));
  CHECK_FALSE(fsd::should_apply_now(true, 4096));  // cp mid-stream: wait for close
  CHECK(fsd::should_apply_now(true, 5000));        // cp's last, short chunk
}

TEST_CASE("handle: writes buffer until the request is finished", "[handle]") {
  Handle h = make_handle();
  CHECK_FALSE(h.has_written());
  REQUIRE(h.append("{\"a\":") == 0);
  REQUIRE(h.append("\"b\"}\n") == 0);
  CHECK(h.has_written());
  CHECK(h.has_pending());
  CHECK(h.pending() == "{\"a\":\"b\"}\n");

  CHECK(h.finish_request(ok_reply("{\"id\": 1}\n")) == 0);
  CHECK_FALSE(h.has_pending());
  CHECK_FALSE(h.last_error().has_value());
}

TEST_CASE("handle: the reply has its own cursor", "[handle]") {
  Handle h = make_handle();
  REQUIRE(h.append("x=1\n") == 0);
  REQUIRE(h.finish_request(ok_reply("0123456789")) == 0);
  CHECK(h.read_reply(4) == "0123");
  CHECK(h.read_reply(4) == "4567");
  CHECK(h.read_reply(100) == "89");
  CHECK(h.read_reply(100).empty());  // EOF, and stays there
  CHECK(h.read_reply(100).empty());
}

TEST_CASE("handle: a failed request's message becomes the reply", "[handle]") {
  Handle h = make_handle();
  REQUIRE(h.append("garbage") == 0);
  const int err = h.finish_request(engine::Error::invalid("body is not JSON"));
  CHECK(err == EINVAL);
  REQUIRE(h.last_error().has_value());
  CHECK(h.last_error()->code == engine::ErrorCode::InvalidArgument);
  CHECK(h.read_reply(1000) == "invalid request: body is not JSON\n");
  CHECK(h.finish_request(engine::Error::denied()) == EACCES);
}

TEST_CASE("handle: a write after a finished request starts a new one", "[handle]") {
  Handle h = make_handle();
  REQUIRE(h.append("a=1\n") == 0);
  REQUIRE(h.finish_request(ok_reply("first")) == 0);
  REQUIRE(h.append("b=2\n") == 0);
  CHECK(h.pending() == "b=2\n");     // not "a=1\nb=2\n"
  CHECK(h.read_reply(100).empty());  // the old reply is gone
  REQUIRE(h.finish_request(ok_reply("second")) == 0);
  CHECK(h.read_reply(100) == "second");
}

TEST_CASE("handle: a request over 1 MiB is refused and drops the buffer", "[handle]") {
  Handle h = make_handle();
  const std::string chunk(fsd::kMaxRequestBytes / 2, 'x');
  REQUIRE(h.append(chunk) == 0);
  REQUIRE(h.append(chunk) == 0);  // exactly the limit is fine
  CHECK(h.append("y") == EFBIG);
  CHECK_FALSE(h.has_pending());
  REQUIRE(h.last_error().has_value());
  CHECK(h.last_error()->code == engine::ErrorCode::TooLarge);
  // The rest of that stream would be half a request: refused too.
  CHECK(h.append("{}") == EFBIG);
  CHECK_FALSE(h.has_pending());
  CHECK(h.read_reply(1000).starts_with("request too large"));
}

TEST_CASE("handle: the snapshot is served by offset", "[handle]") {
  Handle h = make_handle(WriteMode::Append);
  CHECK(h.mode() == WriteMode::Append);
  CHECK_FALSE(h.has_snapshot());
  h.set_snapshot(engine::to_secure("{\n  \"a\": \"b\"\n}\n"));
  REQUIRE(h.has_snapshot());
  CHECK(h.snapshot_slice(0, 4) == "{\n  ");
  CHECK(h.snapshot_slice(4, 3) == "\"a\"");
  CHECK(h.snapshot_slice(14, 100) == "\n");
  CHECK(h.snapshot_slice(15, 100).empty());
  CHECK(h.snapshot_slice(1000, 100).empty());
  CHECK(h.snapshot_slice(-1, 100).empty());
}

TEST_CASE("handle: error reply text", "[handle]") {
  CHECK(fsd::error_reply_text(engine::Error::not_found("")) == "not found\n");
  CHECK(fsd::error_reply_text(engine::Error::cas("version 3 expected")) ==
        "check-and-set mismatch: version 3 expected\n");
}

TEST_CASE("reply_warnings takes Vault's warnings from a reply, for the log", "[fs][handle]") {
  CHECK(fsd::reply_warnings(R"({"auth":{"client_token":"hvs.x"},"warnings":["Policy \"nope\" does not exist"]})") ==
        std::vector<std::string>{"Policy \"nope\" does not exist"});
  CHECK(fsd::reply_warnings(R"({"auth":{}})").empty());
  CHECK(fsd::reply_warnings("").empty());
  CHECK(fsd::reply_warnings("not json \"warnings\"").empty());
  CHECK(fsd::reply_warnings(R"({"warnings":"not a list"})").empty());
}

TEST_CASE("handle: whitespace after a finished request belongs to it", "[handle]") {
  // print(json.dumps(obj)): the object in one write(2), "\n" in another.
  Handle h = make_handle();
  REQUIRE(h.append("{\"a\":\"b\"}") == 0);
  REQUIRE(h.finish_request(ok_reply("applied")) == 0);
  REQUIRE(h.append("\n") == 0);
  CHECK_FALSE(h.has_pending());  // not a new, empty request
  REQUIRE(h.append(" \t\r\n") == 0);
  CHECK_FALSE(h.has_pending());
  CHECK(h.read_reply(100) == "applied");  // still the reply of that request
  // Something else is a new request.
  REQUIRE(h.append("\nb=2\n") == 0);
  CHECK(h.pending() == "\nb=2\n");
}

TEST_CASE("handle: a bare newline is a request when it is all the fd wrote", "[handle]") {
  Handle h = make_handle();
  REQUIRE(h.append("\n") == 0);  // echo > renew-self
  CHECK(h.pending() == "\n");
}

TEST_CASE("handle: a refused request refuses the rest of its stream", "[handle]") {
  Handle h = make_handle();
  REQUIRE(h.append("path \"a\" { capabilities = [\"banana\"] }\n") == 0);
  CHECK(h.refuse(engine::Error::invalid("path \"a\": invalid capability \"banana\"")) == EINVAL);
  CHECK_FALSE(h.has_pending());
  CHECK(h.append("path \"b\" { capabilities = [\"read\"] }\n") == EINVAL);
  CHECK_FALSE(h.has_pending());  // nothing left to apply at close
  CHECK(h.read_reply(1000) == "invalid request: path \"a\": invalid capability \"banana\"\n");
}
