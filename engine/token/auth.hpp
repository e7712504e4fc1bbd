// SPDX-License-Identifier: MPL-2.0
// The caller of a request once the pipeline has authenticated and
// authorised it: what a built-in backend (sys/, auth/token/) learns of who
// asks (BackendRequest::ctx).
#pragma once

#include <memory>

#include "engine/common/secure.hpp"
#include "engine/policy/acl.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

// The token and policies a request is made with, once authenticated and
// authorised.
struct Auth {
  TokenPtr token;                          // never null once authenticated
  SecureString token_id;                   // the raw token (lookup-self shows it)
  std::shared_ptr<const policy::Acl> acl;  // the token's compiled ACL
  bool sudo = false;                       // the deciding rule grants sudo (or root)
};

}  // namespace engine
