// SPDX-License-Identifier: MPL-2.0
// The file view: file names as the kernel hands them (NAME, NAME@VIEW,
// NAME#KEY, namespaces, mounts, sys/ and auth/ files) with a body, through
// every verb, as the root token of one dev core kept across inputs (so
// earlier inputs build state later ones walk). Every answer must be a value
// or an Error; a crash, a sanitizer report or an escaped exception fails.
//
// Input: one byte choosing the verb, the path up to the first newline, then
// the body. Paths that would leave the process (audit files on disk, LDAP
// servers), seal the store or spend seconds on purpose (Argon2 hashing, the
// failed-login delay) are skipped: they are not parsers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/core.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/memory_storage.hpp"

namespace {

struct Fixture {
  std::unique_ptr<engine::Core> core;
  std::unique_ptr<engine::FileView> files;
  engine::Caller root{engine::to_secure("root")};

  Fixture() {
    auto opened = engine::Core::open(std::make_unique<engine::MemoryStorage>(), {"root", true});
    if (!opened.ok()) __builtin_trap();
    core = std::move(opened).value();
    files = std::make_unique<engine::FileView>(*core);
  }
};

bool skipped(std::string_view path) {
  for (std::string_view word : {"seal", "audit", "ldap", "login", "userpass", "approle", "unseal", "init"}) {
    if (path.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine;
  static Fixture f;
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto nl = in.find('\n');
  const std::string_view path = in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  if (skipped(path)) return 0;

  switch (data[0] % 9) {
    case 0: (void)f.files->stat(f.root, path); break;
    case 1: (void)f.files->read(f.root, path); break;
    case 2: (void)f.files->list(f.root, path); break;
    case 3: (void)f.files->write(f.root, path, body, WriteMode::Replace); break;
    case 4: (void)f.files->write(f.root, path, body, WriteMode::Append); break;
    case 5: (void)f.files->remove(f.root, path); break;
    case 6: (void)f.files->make_dir(f.root, path); break;
    case 7: (void)f.files->remove_dir(f.root, path); break;
    case 8:
      (void)f.files->is_complete(path, body);
      (void)f.files->check_access(f.root, path, NodeKind::File, true, true);
      break;
  }
  return 0;
}
