// SPDX-License-Identifier: MPL-2.0
// The system backend (`sys/` of every namespace): mounts, namespaces, seal.
// Served by the core itself because it changes the core's own state.
#pragma once

#include <string_view>

#include "engine/core_impl.hpp"

namespace engine {

struct SysContext {
  Core::Impl& core;
  NamespaceNode& ns;      // the namespace whose sys/ this is
  const Auth& auth;
  TimePoint now;
  bool exclusive;         // the core lock is held exclusively (topology may change)
};

// Serves `sys/<rel>` in ctx.ns. Errors: NotFound, InvalidArgument,
// AlreadyExists, NotEmpty, Unsupported ("unsupported path").
Result<Response> handle_sys(SysContext& ctx, Operation op, std::string_view rel, const Json& body);

}  // namespace engine
