// SPDX-License-Identifier: MPL-2.0
// For the few unit tests that must reach a core's stores behind the API's
// back (take an audit device away while every request fails, read what a
// backend stored, bind a token to an entity as a login would): nothing
// outside tests/unit reaches Core::Impl, which Core does not hand out.
#pragma once

#include "engine/core.hpp"
#include "engine/core_impl.hpp"

namespace engine {

struct CoreTestAccess {
  static Core::Impl& internals(Core& core) { return *core.impl_; }
};

}  // namespace engine

namespace coffer_test {

inline engine::Core::Impl& internals(engine::Core& core) { return engine::CoreTestAccess::internals(core); }

}  // namespace coffer_test
