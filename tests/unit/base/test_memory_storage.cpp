// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/memory_storage.hpp"

#include <catch2/catch.hpp>

#include "engine/storage/view.hpp"
#include "tests/unit/base/storage_conformance.hpp"

TEST_CASE("MemoryStorage conforms to the Storage contract", "[storage][memory]") {
  engine::MemoryStorage s;
  conformance::check_storage_conformance(s);
}

TEST_CASE("View over MemoryStorage conforms and stays inside its prefix", "[storage][view]") {
  engine::MemoryStorage parent;
  conformance::put(parent, "outside", "x");
  conformance::put(parent, "scope", "x");
  engine::View view(parent, "scope/");
  conformance::check_storage_conformance(view);
  CHECK(conformance::has(parent, "outside"));
  CHECK(conformance::has(parent, "scope"));
}
