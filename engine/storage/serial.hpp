// SPDX-License-Identifier: MPL-2.0
// Records are serialised with cereal's portable binary archive. Each record
// type declares CEREAL_CLASS_VERSION and branches on the version in its
// serialize(), so a newer daemon reads an older store.
//
// Records often hold secrets, so neither direction goes through a plain heap
// buffer: output is written straight into SecureBytes (whose growth frees
// only zeroed blocks), input is read in place from the caller's bytes.
#pragma once

#include <istream>
#include <ostream>
#include <streambuf>
#include <string>

#include <cereal/archives/portable_binary.hpp>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

namespace engine {
namespace serial_detail {

// Appends everything written to a SecureBytes. No put area: cereal writes
// with sputn, which lands in xsputn as one append.
class SecureBytesSink final : public std::streambuf {
 public:
  explicit SecureBytesSink(SecureBytes& out) : out_(out) {}

 protected:
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      out_.push_back(static_cast<std::uint8_t>(traits_type::to_char_type(ch)));
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s);
    out_.insert(out_.end(), p, p + n);
    return n;
  }

 private:
  SecureBytes& out_;
};

// Reads a ByteView in place. The get area points into the caller's bytes;
// std::streambuf only writes through it on putback of a different character
// (pbackfail), which this class does not override, so the bytes stay
// untouched despite the const_cast setg() requires.
class ByteViewSource final : public std::streambuf {
 public:
  explicit ByteViewSource(ByteView in) {
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(begin, begin, begin + in.size());
  }
};

}  // namespace serial_detail

// The record's bytes. Throws only when memory runs out.
template <class T>
SecureBytes encode_record(const T& record) {
  SecureBytes bytes;
  serial_detail::SecureBytesSink sink(bytes);
  std::ostream out(&sink);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(record);
  }
  return bytes;
}

// Corrupt if the bytes are not a valid record of type T.
template <class T>
Result<T> decode_record(ByteView bytes, const char* what) {
  try {
    serial_detail::ByteViewSource source(bytes);
    std::istream in(&source);
    cereal::PortableBinaryInputArchive archive(in);
    T record{};
    archive(record);
    return record;
  } catch (const std::exception& e) {
    return Error::corrupt(std::string("cannot decode ") + what + ": " + e.what());
  }
}

}  // namespace engine
