// SPDX-License-Identifier: MPL-2.0
// Records are serialised with cereal's portable binary archive. Each record
// type declares CEREAL_CLASS_VERSION and branches on the version in its
// serialize(), so a newer daemon reads an older store.
#pragma once

#include <sstream>
#include <string>

#include <cereal/archives/portable_binary.hpp>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

template <class T>
SecureBytes encode_record(const T& record) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(record);
  }
  std::string s = std::move(out).str();
  SecureBytes bytes(s.begin(), s.end());
  secure_zero(s.data(), s.size());
  return bytes;
}

// Corrupt if the bytes are not a valid record of type T.
template <class T>
Result<T> decode_record(ByteView bytes, const char* what) {
  try {
    std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                          std::ios::binary);
    cereal::PortableBinaryInputArchive archive(in);
    T record{};
    archive(record);
    return record;
  } catch (const std::exception& e) {
    return Error::corrupt(std::string("cannot decode ") + what + ": " + e.what());
  }
}

}  // namespace engine
