// SPDX-License-Identifier: MPL-2.0
// What a mount keeps per path besides its inodes: the file view's stat and
// listing memos stay bounded however many paths are stat'd or listed (a
// `find` over a million secrets).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "engine/fileview/view_state.hpp"
#include "tests/unit/core/support.hpp"

using coffer_test::DevCore;
using engine::fileview::ViewState;

TEST_CASE("view memos: a stat or listing of every path keeps them bounded", "[memo]") {
  DevCore d;
  ViewState state(*d.core);
  const auto token = engine::to_secure("root");
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 3 * static_cast<int>(ViewState::kStatMemoMax); ++i) {
    state.remember("ns/kv/app/s" + std::to_string(i), ViewState::StatMemo{{token, 1, 0, now}, state.empty_file()});
    REQUIRE(state.memo_sizes().first <= ViewState::kStatMemoMax);
  }
  for (int i = 0; i < 3 * static_cast<int>(ViewState::kListingMemoMax); ++i) {
    state.remember_listing("ns" + std::to_string(i) + "/kv/app/", token, {"a", "b"}, 1, 0, now);
    REQUIRE(state.memo_sizes().second <= ViewState::kListingMemoMax);
  }
  // The latest entries still serve.
  CHECK(state.remembered("ns/kv/app/s" + std::to_string(3 * ViewState::kStatMemoMax - 1), token, 1, 0, now));
  CHECK(state.listed("ns" + std::to_string(3 * ViewState::kListingMemoMax - 1) + "/kv/app/", token, 1, 0, now));
}
