// SPDX-License-Identifier: MPL-2.0
// Small helpers shared by the auth method backends: typed records in a
// mount's storage, and Vault's name rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/backend/backend.hpp"
#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/storage/serial.hpp"
#include "engine/storage/storage.hpp"

namespace engine::auth {

template <class T>
Result<std::optional<T>> get_record(Storage& storage, std::string_view key, const char* what) {
  COFFER_TRY(auto bytes, storage.get(key));
  if (!bytes) return std::optional<T>{};
  COFFER_TRY(T record, decode_record<T>(ByteView(bytes->data(), bytes->size()), what));
  return std::optional<T>{std::move(record)};
}

template <class T>
Status put_record(Storage& storage, std::string_view key, const T& record) {
  SecureBytes bytes = encode_record(record);
  return storage.put(key, ByteView(bytes.data(), bytes.size()));
}

// ASCII lower case (user and group names of userpass and ldap).
std::string lower(std::string_view s);

// A LIST reply: {"keys": keys}.
Response keys_reply(Json keys);

// Roles kept at role/NAME (AppRole, peer). Vault's existence check for a
// write to role/NAME (anything else: true, so writes there need update),
// and LIST role/: the role names.
std::string role_key(std::string_view name);
Result<bool> role_exists(const BackendRequest& req);
Result<Response> list_roles(Storage& storage);

// Vault's GenericNameWithAtRegex: letters, digits, '_', '-', '.', '@', not
// empty, at most 255 bytes. InvalidArgument naming `what` otherwise.
Status check_name(std::string_view name, std::string_view what);

}  // namespace engine::auth
