// SPDX-License-Identifier: MPL-2.0
// The router's namespace index: find_namespace_by_id agrees with the tree
// after create, delete, load and clear.
#include <catch2/catch.hpp>

#include "engine/router/router.hpp"
#include "engine/storage/memory_storage.hpp"

namespace {

using engine::NamespaceNode;
using engine::Router;

const auto kNow = engine::TimePoint(std::chrono::seconds(1700000000));

}  // namespace

TEST_CASE("router: namespaces are found by id after create, delete, load and clear", "[router]") {
  engine::MemoryStorage mem;
  Router router(mem);
  REQUIRE(router.bootstrap_root(kNow).ok());
  CHECK(router.find_namespace_by_id("root") == &router.root());

  auto a = router.create_namespace(router.root(), "a", {}, kNow);
  REQUIRE(a.ok());
  const std::string a_id = (*a)->id;
  NamespaceNode* a_node = router.find_namespace_by_id(a_id);
  REQUIRE(a_node != nullptr);
  CHECK(a_node->record.path == "a/");
  auto b = router.create_namespace(*a_node, "b", {}, kNow);
  REQUIRE(b.ok());
  const std::string b_id = (*b)->id;
  REQUIRE(router.find_namespace_by_id(b_id) != nullptr);
  CHECK(router.find_namespace_by_id(b_id)->parent == a_node);
  CHECK(router.find_namespace_by_id("nosuch") == nullptr);

  // A refused delete keeps the index; a done one drops the id.
  CHECK_FALSE(router.delete_namespace(router.root(), "a", false).ok());
  CHECK(router.find_namespace_by_id(a_id) == a_node);
  REQUIRE(router.delete_namespace(*a_node, "b", false).ok());
  CHECK(router.find_namespace_by_id(b_id) == nullptr);

  // A second router over the same store finds what the first made.
  Router reloaded(mem);
  REQUIRE(reloaded.load().ok());
  REQUIRE(reloaded.find_namespace_by_id(a_id) != nullptr);
  CHECK(reloaded.find_namespace_by_id(a_id)->record.path == "a/");
  CHECK(reloaded.find_namespace_by_id(b_id) == nullptr);

  reloaded.clear();
  CHECK(reloaded.find_namespace_by_id(a_id) == nullptr);
  CHECK(reloaded.find_namespace_by_id("root") == nullptr);
}
