// SPDX-License-Identifier: MPL-2.0
#include "fs/caller.hpp"

namespace fsd {

CallerResolver::CallerResolver(engine::SecureString mount_token)
    : mount_token_(std::move(mount_token)) {}

engine::Caller CallerResolver::caller_for(fuse_req_t req) const {
  (void)req;  // uid/pid-based resolution (SPEC §3 steps 2-3) is not built yet
  return engine::Caller{mount_token_};
}

}  // namespace fsd
