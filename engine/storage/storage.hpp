// SPDX-License-Identifier: MPL-2.0
// The key/value storage contract shared by every layer of the store:
// physical backends (SQLite, memory), the encryption barrier above them, and
// prefix views that scope a mount or namespace to its own keys.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine {

class CommitDelay;  // group_commit.hpp

using ByteView = std::span<const std::uint8_t>;

inline ByteView bytes_of(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

// One element of an atomic batch.
struct WriteOp {
  enum class Kind { Put, Delete, DeletePrefix };
  Kind kind;
  std::string key;    // for DeletePrefix: every key starting with this
  SecureBytes value;  // Put only
};

// What a write touched: one key, or with `prefix` every key that starts
// with it (a DeletePrefix, whose prefix may end in any byte: "ab" names
// "ab", "abc" and "ab/d").
struct KeyRange {
  std::string key;
  bool prefix = false;
  bool operator==(const KeyRange&) const = default;
};

// The smallest key greater than every key starting with prefix, or nullopt
// when there is none (prefix empty or all 0xFF): [prefix, successor) is the
// prefix's range in bytewise order.
std::optional<std::string> prefix_successor(std::string_view prefix);

// While alive, the calling thread's reads of a store share one read
// transaction: one snapshot, and a transaction's fixed cost (SQLite: its file
// locks, two fcntl() calls at each end) paid once instead of at every get().
// For read-only stretches of code: a write this thread makes meanwhile is not
// seen by the reads after it. Nests (the outermost ends the transaction);
// other threads are not affected, and a store without transactions (or a
// second store read meanwhile) reads as usual.
class ReadTogether {
 public:
  ReadTogether() { ++depth_; }
  ~ReadTogether() {
    if (--depth_ == 0 && held_ != nullptr) std::exchange(held_, nullptr)->end();
  }
  ReadTogether(const ReadTogether&) = delete;
  ReadTogether& operator=(const ReadTogether&) = delete;

  // For stores: the transaction held for the calling thread's scope.
  struct Held {
    virtual void end() = 0;  // ends the transaction (the scope is over)

   protected:
    ~Held() = default;
  };
  static bool active() { return depth_ > 0; }
  static Held* held() { return held_; }
  // Only while active() and nothing is held.
  static void hold(Held* h) { held_ = h; }

 private:
  static inline thread_local int depth_ = 0;
  static inline thread_local Held* held_ = nullptr;
};

// Keys are UTF-8 paths with '/' as separator. Values are opaque bytes.
// All implementations are thread-safe.
class Storage {
 public:
  virtual ~Storage() = default;

  // The value at key, or nullopt if there is none. Errors: Storage, Corrupt,
  // Sealed (barrier).
  virtual Result<std::optional<SecureBytes>> get(std::string_view key) = 0;

  // The values at several keys, in the order given (nullopt where there is
  // none). The default is one get() per key; SqliteStorage reads them all in
  // one read transaction (one snapshot), which costs what one get() costs
  // plus a lookup per further key. Errors: as get().
  virtual Result<std::vector<std::optional<SecureBytes>>> get_many(std::span<const std::string_view> keys);

  // Immediate children of prefix (which is "" or ends in '/'): the key's
  // remainder up to and including the next '/', deduplicated, sorted
  // bytewise. "a/b" and "a/c/d" under prefix "a/" give ["b", "c/"].
  // limit > 0 stops after that many entries (cheap existence checks).
  virtual Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) = 0;

  // Applies every op or none (one transaction), durably: once it returns ok,
  // the change survives the process being killed.
  virtual Status apply(std::span<const WriteOp> batch) = 0;

  // Where a request that is about to write announces itself, so concurrent
  // apply() calls share a commit (group_commit.hpp); nullptr for a store
  // that commits each batch alone.
  virtual CommitDelay* commit_delay() { return nullptr; }

  // Conveniences over apply().
  Status put(std::string_view key, ByteView value);
  Status del(std::string_view key);
  Status del_prefix(std::string_view prefix);
};

}  // namespace engine
