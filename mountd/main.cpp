// SPDX-License-Identifier: MPL-2.0
// cofferd: parses options, opens the store and the engine, mounts, serves
// until unmounted or signalled (SIGINT/SIGTERM/SIGHUP unmount cleanly), exits.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "engine/core.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/fileview/file_view.hpp"
#include "engine/storage/memory_storage.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "fs/log.hpp"
#include "fs/mount.hpp"
#include "mountd/options.hpp"

namespace {

constexpr const char* kVersion = "cofferd 0.1.0";

// Reads the mount's token: the file's contents without trailing whitespace.
engine::Result<engine::SecureString> read_token_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return engine::Error::invalid("token file " + path + " cannot be read");
  }
  if (st.st_mode & 077) {
    fsd::log_warn("token file ", path, " is accessible to group or others (chmod 600 it)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return engine::Error::invalid("token file " + path + " cannot be opened");
  engine::SecureString token{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                            token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return engine::Error::invalid("token file " + path + " is empty");
  return token;
}

engine::Result<std::unique_ptr<engine::Storage>> open_storage(const mountd::Options& o) {
  if (o.mode == mountd::Options::Mode::Dev) {
    return std::unique_ptr<engine::Storage>(std::make_unique<engine::MemoryStorage>());
  }
  auto sqlite = engine::SqliteStorage::open(o.storage_path);
  if (!sqlite.ok()) return std::move(sqlite).error();
  return std::unique_ptr<engine::Storage>(std::move(sqlite).value());
}

int fail(const std::string& what, const engine::Error& error) {
  std::cerr << "cofferd: " << what << ": " << error.message << "\n";
  return 1;
}

int run(const mountd::Options& o) {
  fsd::set_log_level(o.log_level);
  engine::crypto::init();

  auto storage = open_storage(o);
  if (!storage.ok()) return fail("cannot open storage " + o.storage_path, storage.error());

  engine::CoreOptions core_options;
  core_options.dev = o.mode == mountd::Options::Mode::Dev;
  if (core_options.dev) core_options.dev_root_token = o.dev_root_token;
  auto core = engine::Core::open(std::move(storage).value(), core_options);
  if (!core.ok()) return fail("cannot open the store", core.error());
  engine::FileView view(**core);

  fsd::MountOptions mo;
  mo.mountpoint = o.mountpoint;
  mo.allow_other = o.allow_other;
  mo.fs.uid = ::getuid();
  mo.fs.gid = ::getgid();
  mo.fs.chroot = o.chroot;
  if (!o.token_file.empty()) {
    auto token = read_token_file(o.token_file);
    if (!token.ok()) return fail("cannot use the token file", token.error());
    mo.token = std::move(token).value();
  } else if (core_options.dev) {
    mo.token = engine::to_secure(o.dev_root_token);
  }
  // else: no token; only the unauthenticated endpoints (init, unseal,
  // seal-status, health, logins) answer.
  mo.fuse_debug = false;

  auto mount = fsd::Mount::create(view, std::move(mo));
  if (!mount.ok()) return fail("cannot mount " + o.mountpoint, mount.error());

  if (core_options.dev) {
    // Like `vault server -dev`: the dev token is printed so it can be used.
    std::cout << "cofferd: mounted " << o.mountpoint << " (dev, in memory, root token: "
              << o.dev_root_token << ")" << std::endl;
  } else {
    std::cout << "cofferd: mounted " << o.mountpoint << " (storage " << o.storage_path
              << (o.chroot.empty() ? "" : ", chroot " + o.chroot)
              << (o.token_file.empty() ? "" : ", token from " + o.token_file) << ")" << std::endl;
  }
  fsd::log_info("serving ", o.mountpoint);

  const engine::Status served = (*mount)->run(/*handle_signals=*/true);
  (*mount)->unmount();
  mount->reset();
  if (!served.ok()) return fail("serving " + o.mountpoint, served.error());
  std::cout << "cofferd: unmounted " << o.mountpoint << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv, argv + argc);
    auto options = mountd::parse_options(args);
    if (!options.ok()) {
      std::cerr << "cofferd: " << options.error().message << "\n"
                << "Try 'cofferd --help'.\n";
      return 2;
    }
    if (options->show_help) {
      std::cout << mountd::usage();
      return 0;
    }
    if (options->show_version) {
      std::cout << kVersion << "\n";
      return 0;
    }
    return run(*options);
  } catch (const std::exception& e) {
    std::cerr << "cofferd: fatal: " << e.what() << "\n";
    return 1;
  }
}
