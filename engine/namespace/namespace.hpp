// SPDX-License-Identifier: MPL-2.0
// Namespaces (vault-semantics §8): canonical paths, ids, name rules.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>

#include "engine/common/error.hpp"

namespace engine {

// A namespace as stored at core/namespaces/<id>.
struct NamespaceRecord {
  std::string id;    // "root" for the root namespace, else 5 base62 chars
  std::string path;  // canonical: "" for root, "a/" or "a/b/" (one trailing '/')
  std::map<std::string, std::string> custom_metadata;
  std::int64_t created_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, path, custom_metadata, created_unix_ns);
  }
};

// The last segment of a namespace path ("b" for "a/b/"; "" for root).
std::string_view namespace_name(std::string_view ns_path);

// The parent's path ("a/" for "a/b/"; "" for "a/" and for root).
std::string parent_namespace_path(std::string_view ns_path);

// Checks one namespace name segment. InvalidArgument with the reason:
// empty, reserved (root sys audit auth cubbyhole identity), "." or "..",
// whitespace, non-printable, '+', '*', '/', longer than 255 bytes.
Status validate_namespace_name(std::string_view name);

}  // namespace engine

CEREAL_CLASS_VERSION(engine::NamespaceRecord, 1);
