// SPDX-License-Identifier: MPL-2.0
#include "fs/session_file.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "fs/log.hpp"
#include "fs/op_log.hpp"
#include "fs/write_policy.hpp"

namespace fsd {

int SessionFile::access(int mask) const {
  if (mask & X_OK) return log_rejection("access", kPath, EACCES, "nothing on the mount is executable");
  return 0;
}

void SessionFile::open(fuse_file_info& fi) const {
  fi.direct_io = 1;
  fi.keep_cache = 0;
}

int SessionFile::read(Handle& h, std::size_t size, std::string_view& out) const {
  // Write-only until written: the session shows in auth/token/lookup-self.
  // After a write, the reply has its own cursor (SPEC §2): the write moved
  // the fd offset past the request.
  out = h.has_written() ? h.read_reply(size) : std::string_view{};
  return 0;
}

bool SessionFile::complete(const Handle& h) { return h.pending().find('\n') != std::string_view::npos; }

int SessionFile::write(Handle& h, std::string_view data) {
  if (h.append(data) != 0) return log_failure("write", h.path(), *h.last_error());
  if (!h.has_pending()) return 0;                             // whitespace after a whole request: part of it
  if (!should_apply_now(complete(h), data.size())) return 0;  // applied at FLUSH
  return apply(h);
}

int SessionFile::apply(Handle& h) {
  std::string_view text = h.pending();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  const uid_t uid = h.who().uid;
  if (text.empty()) {
    callers_.end_session(uid);
    log_info("session: uid ", uid, " ended through the session file");
    return h.finish_request(engine::SecureString{});
  }
  if (text.find_first_of(" \t\r\n=") != std::string_view::npos) {
    const int err = h.finish_request(engine::Error::invalid("the session file takes one token"));
    return log_rejection("write", h.path(), err, "the session file takes one token");
  }
  engine::Caller candidate{engine::to_secure(text)};
  if (auto st = view_.check_token(candidate); !st.ok()) {
    const int err = h.finish_request(engine::Error::denied("permission denied: not a live token"));
    return log_rejection("write", h.path(), err, "not a live token; the session is unchanged");
  }
  callers_.bind_session(uid, std::move(candidate.token));
  log_info("session: uid ", uid, " bound through the session file");
  return h.finish_request(engine::SecureString{});
}

int SessionFile::unlink(const Who& who) {
  callers_.end_session(who.uid);
  log_info("session: uid ", who.uid, " ended by rm of the session file");
  return 0;
}

}  // namespace fsd
