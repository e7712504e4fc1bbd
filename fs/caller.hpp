// SPDX-License-Identifier: MPL-2.0
// Who is asking (SPEC §3): turns a FUSE request into the engine::Caller whose
// token the request is made with.
//
// For now every request uses the mount's own token (a fixed root token in
// --dev, the --token-file token, or none). The order SPEC §3 describes
// (VAULT_TOKEN from /proc/PID/environ, then per-uid login sessions) goes in
// here later; nothing else in fs/ looks at the request's uid or pid.
#pragma once

#include <fuse_lowlevel.h>

#include <functional>

#include "engine/common/secure.hpp"
#include "engine/fileview/file_view.hpp"

namespace fsd {

class CallerResolver {
 public:
  // mount_token: the token every request uses ("" = none: only the
  // unauthenticated endpoints answer).
  explicit CallerResolver(engine::SecureString mount_token,
                          std::function<engine::SecureString()> mount_token_source = {});

  // The caller for req. Thread-safe; never blocks.
  engine::Caller caller_for(fuse_req_t req) const;

 private:
  const engine::SecureString mount_token_;
  // When set, the mount's token is asked for at each request (token files).
  const std::function<engine::SecureString()> mount_token_source_;
};

}  // namespace fsd
