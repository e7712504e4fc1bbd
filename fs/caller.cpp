// SPDX-License-Identifier: MPL-2.0
#include "fs/caller.hpp"

namespace fsd {

CallerResolver::CallerResolver(engine::SecureString mount_token,
                               std::function<engine::SecureString()> mount_token_source)
    : mount_token_(std::move(mount_token)), mount_token_source_(std::move(mount_token_source)) {}

engine::Caller CallerResolver::caller_for(fuse_req_t req) const {
  (void)req;  // uid/pid-based resolution (SPEC §3 steps 2-3) is not built yet
  if (mount_token_source_) return engine::Caller{mount_token_source_()};
  return engine::Caller{mount_token_};
}

}  // namespace fsd
