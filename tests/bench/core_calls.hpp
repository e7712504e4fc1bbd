// SPDX-License-Identifier: MPL-2.0
// What the benchmarks that drive Core::handle directly share: one API call
// with a token, a result that must be ok, and elapsed time.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include "engine/core.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

template <class T>
T must(engine::Result<T> r, const std::string& what) {
  if (!r.ok()) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}

inline engine::Result<engine::Response> call(engine::Core& core, const std::string& token, engine::Operation op,
                                             const std::string& path, engine::Json body = engine::Json::object()) {
  engine::Request req;
  req.op = op;
  req.path = path;
  req.data = std::move(body);
  req.token = engine::to_secure(token);
  return core.handle(req);
}

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace bench
