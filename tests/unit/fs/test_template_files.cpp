// SPDX-License-Identifier: MPL-2.0
// Template files (fs/template_files.hpp) through the compute halves of the
// fs operations, with a dev core and no FUSE mount: rendered as the caller
// at lookup, getattr and open; the fd keeps its bytes; poll's mark after a
// dependency changed; read-only; hidden by a namespace of the same name;
// kept renders on a caching mount; and what a change touches.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "fs/operations.hpp"
#include "fs/poll.hpp"
#include "fs/template_files.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using fsd::Filesystem;
using fsd::Ino;
using fsd::TokenSource;
using fsd::Who;

namespace {

fsd::TemplateFile tmpl(const std::string& name, const std::string& text, mode_t perms = 0) {
  auto parsed = engine::ctmpl::Template::parse(name, text);
  if (!parsed.ok()) FAIL("parse: " << parsed.error().message);
  return fsd::TemplateFile{name, perms, std::make_shared<const engine::ctmpl::Template>(std::move(parsed).value())};
}

const char* kEnv = "{{ with secret \"secret/data/app\" }}PASSWORD={{ .Data.data.password }}\n{{ end }}";

fsd::FsSettings settings_with(std::vector<fsd::TemplateFile> templates) {
  fsd::FsSettings s;
  s.uid = 1234;
  s.gid = 5678;
  s.templates = std::move(templates);
  return s;
}

Who who_of(const engine::Caller& c, uid_t uid = 1000) { return Who{c, uid, TokenSource::Env}; }

std::string read_all(Filesystem& fs, fsd::Handle& h) {
  auto lock = h.lock();
  std::string all;
  for (off_t off = 0;; off += 5) {
    std::string_view out;
    REQUIRE(fs.do_read(h, 5, off, out) == 0);
    if (out.empty()) break;
    all.append(out);
  }
  return all;
}

int open_template(Filesystem& fs, const Who& who, const std::string& name, int flags, std::unique_ptr<fsd::Handle>& h,
                  fuse_file_info& fi) {
  fi = fuse_file_info{};
  fi.flags = flags;
  return fs.do_open(who, fs.inodes().lookup(name), fi, h);
}

// A token that may read secret/data/app only.
std::string reader_token(DevCore& d) {
  d.put("sys/policies/acl/app-reader", "path \"secret/data/app\" { capabilities = [\"read\"] }\n");
  return make_token(d, R"({"policies":["app-reader"]})");
}

}  // namespace

TEST_CASE("templates: a template is a file at the mount root, rendered as the caller", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  Filesystem fs(*d.files, settings_with({tmpl("app.env", kEnv, 0400)}), engine::SecureString{});

  fuse_entry_param e{};
  REQUIRE(fs.do_lookup(d.root, fsd::kRootIno, "app.env", e) == 0);
  CHECK(S_ISREG(e.attr.st_mode));
  CHECK((e.attr.st_mode & 07777) == 0400);
  CHECK(e.attr.st_size == static_cast<off_t>(std::string("PASSWORD=one\n").size()));
  CHECK(e.attr.st_uid == 1234);
  CHECK(e.entry_timeout == 0.0);
  CHECK(e.attr_timeout == 0.0);

  std::unique_ptr<fsd::Handle> h;
  fuse_file_info fi{};
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, h, fi) == 0);
  CHECK(fi.direct_io == 1);  // a shared mount: no page cache (caller-dependent bytes)
  CHECK(fi.keep_cache == 0);
  CHECK(h->is_template());
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");

  // The listing of the root shows it, sorted among the tree's names.
  std::unique_ptr<fsd::DirHandle> dir;
  REQUIRE(fs.do_opendir(d.root, fsd::kRootIno, dir) == 0);
  bool found = false;
  for (const auto& entry : dir->entries) {
    if (entry.name == "app.env") found = entry.kind == engine::NodeKind::File;
  }
  CHECK(found);
  CHECK(std::is_sorted(dir->entries.begin(), dir->entries.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  // Not a directory, and not below the root.
  std::unique_ptr<fsd::DirHandle> none;
  CHECK(fs.do_opendir(d.root, fs.inodes().lookup("app.env"), none) == ENOTDIR);
  fuse_entry_param below{};
  CHECK(fs.do_lookup(d.root, fs.inodes().lookup("secret"), "app.env", below) == ENOENT);
}

TEST_CASE("templates: the mode defaults to the mount's, never executable", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  auto s = settings_with({tmpl("a.env", kEnv), tmpl("b.env", kEnv, 0755)});
  s.file_mode = 0604;
  Filesystem fs(*d.files, s, engine::SecureString{});
  struct stat st {};
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("a.env"), st) == 0);
  CHECK((st.st_mode & 07777) == 0604);
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("b.env"), st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(fs.do_access(d.root, fs.inodes().lookup("b.env"), X_OK) == EACCES);
  CHECK(fs.do_access(d.root, fs.inodes().lookup("b.env"), R_OK) == 0);
}

TEST_CASE("templates: errors, never partial bytes", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  d.put("secret/other", "password=two");
  const std::string reader = reader_token(d);
  Filesystem fs(
      *d.files,
      settings_with(
          {tmpl("app.env", kEnv),
           tmpl("both.env", std::string("{{ with secret \"secret/data/app\" }}A={{ .Data.data.password }}{{ end }}\n") +
                                "{{ with secret \"secret/data/other\" }}B={{ .Data.data.password }}{{ end }}\n"),
           tmpl("gone.env", "{{ with secret \"secret/data/absent\" }}{{ .Data.data.x }}{{ end }}"),
           tmpl("key.env", "{{ with secret \"secret/data/app\" }}{{ .Data.data.nokey }}{{ end }}")}),
      engine::SecureString{});
  std::unique_ptr<fsd::Handle> h;
  fuse_file_info fi{};
  // The reader may read app, not other: the whole render is denied.
  REQUIRE(open_template(fs, who_of(as(reader)), "app.env", O_RDONLY, h, fi) == 0);
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");
  std::unique_ptr<fsd::Handle> denied;
  CHECK(open_template(fs, who_of(as(reader)), "both.env", O_RDONLY, denied, fi) == EACCES);
  CHECK_FALSE(denied);
  fuse_entry_param e{};
  CHECK(fs.do_lookup(as(reader), fsd::kRootIno, "both.env", e) == EACCES);
  CHECK(fs.do_lookup(engine::Caller{}, fsd::kRootIno, "app.env", e) == EACCES);
  CHECK(open_template(fs, who_of(d.root), "gone.env", O_RDONLY, h, fi) == ENOENT);
  CHECK(open_template(fs, who_of(d.root), "key.env", O_RDONLY, h, fi) == EIO);
  struct stat st {};
  CHECK(fs.do_getattr(d.root, fs.inodes().lookup("gone.env"), st) == ENOENT);
}

TEST_CASE("templates: read-only, whatever the caller may do", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  Filesystem fs(*d.files, settings_with({tmpl("app.env", kEnv)}), engine::SecureString{});
  const Ino ino = fs.inodes().lookup("app.env");
  std::unique_ptr<fsd::Handle> h;
  fuse_file_info fi{};
  CHECK(open_template(fs, who_of(d.root), "app.env", O_WRONLY, h, fi) == EACCES);
  CHECK(open_template(fs, who_of(d.root), "app.env", O_RDWR, h, fi) == EACCES);
  CHECK(open_template(fs, who_of(d.root), "app.env", O_RDONLY | O_TRUNC, h, fi) == EACCES);
  struct stat attr {};
  struct stat st {};
  CHECK(fs.do_setattr(d.root, ino, attr, FUSE_SET_ATTR_SIZE, st) == EACCES);
  CHECK(fs.do_setattr(d.root, ino, attr, FUSE_SET_ATTR_MTIME, st) == EACCES);
  CHECK(fs.do_access(d.root, ino, W_OK) == EACCES);
  CHECK(fs.do_unlink(who_of(d.root), fsd::kRootIno, "app.env") == EACCES);
  CHECK(fs.do_rename(d.root, fsd::kRootIno, "app.env", fsd::kRootIno, "x.env", 0) == EACCES);
  CHECK(fs.do_rename(d.root, fs.inodes().lookup("secret"), "app", fsd::kRootIno, "app.env", 0) == EACCES);
  fuse_entry_param e{};
  CHECK(fs.do_create(who_of(d.root), fsd::kRootIno, "app.env", fi, h, e) == EACCES);
  CHECK(fs.do_rmdir(d.root, fsd::kRootIno, "app.env") == ENOTDIR);
  // And it still renders.
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, h, fi) == 0);
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");
  CHECK(fs.do_write(*h, "x") == EACCES);
  fs.do_release(std::move(h));
}

TEST_CASE("templates: the fd keeps its bytes; poll marks it when a dependency changes", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  d.put("secret/unrelated", "x=1");
  Filesystem fs(*d.files, settings_with({tmpl("app.env", kEnv)}), engine::SecureString{});
  const auto listener =
      d.files->add_change_listener([&](const engine::Change& c) { fsd::poll_changed(&fs.inodes(), c, ""); });

  std::unique_ptr<fsd::Handle> h;
  fuse_file_info fi{};
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, h, fi) == 0);
  struct stat before {};
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("app.env"), before, h.get()) == 0);
  CHECK(before.st_size == 13);
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");
  CHECK((fsd::poll_file(h.get(), nullptr) & POLLPRI) == 0);

  // Another secret changes: nothing to tell, and the mtime stays.
  d.put("secret/unrelated", "x=2");
  CHECK((fsd::poll_file(h.get(), nullptr) & POLLPRI) == 0);
  struct stat same {};
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("app.env"), same) == 0);
  CHECK(same.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(same.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

  // The dependency changes: the fd is marked (sticky) and still reads what
  // it rendered; a new open renders the new value, with a newer mtime.
  d.put("secret/app", "password=second");
  CHECK((fsd::poll_file(h.get(), nullptr) & (POLLPRI | POLLERR)) == (POLLPRI | POLLERR));
  CHECK((fsd::poll_file(h.get(), nullptr) & POLLPRI) != 0);
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");
  CHECK((fsd::poll_file(h.get(), nullptr) & POLLPRI) == 0);  // the read from 0 took the mark
  struct stat kept {};
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("app.env"), kept, h.get()) == 0);
  CHECK(kept.st_size == 13);  // fstat: the fd's own bytes
  std::unique_ptr<fsd::Handle> again;
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, again, fi) == 0);
  CHECK(read_all(fs, *again) == "PASSWORD=second\n");
  struct stat after {};
  REQUIRE(fs.do_getattr(d.root, fs.inodes().lookup("app.env"), after) == 0);
  CHECK(after.st_size == 16);
  CHECK((after.st_mtim.tv_sec > before.st_mtim.tv_sec ||
         (after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec > before.st_mtim.tv_nsec)));
  fs.do_release(std::move(h));
  fs.do_release(std::move(again));
  d.files->remove_change_listener(listener);
}

TEST_CASE("templates: a namespace made later of the same name hides the template", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  Filesystem fs(*d.files, settings_with({tmpl("app.env", kEnv)}), engine::SecureString{});
  fuse_entry_param e{};
  REQUIRE(fs.do_lookup(d.root, fsd::kRootIno, "app.env", e) == 0);
  CHECK(S_ISREG(e.attr.st_mode));
  REQUIRE(d.files->make_dir(d.root, "app.env").ok());
  REQUIRE(fs.do_lookup(d.root, fsd::kRootIno, "app.env", e) == 0);
  CHECK(S_ISDIR(e.attr.st_mode));
  std::unique_ptr<fsd::DirHandle> dir;
  REQUIRE(fs.do_opendir(d.root, fsd::kRootIno, dir) == 0);
  int seen = 0;
  for (const auto& entry : dir->entries) {
    if (entry.name == "app.env") {
      ++seen;
      CHECK(entry.kind == engine::NodeKind::Directory);
    }
  }
  CHECK(seen == 1);
  // Gone again: the template is back.
  REQUIRE(d.files->remove_dir(d.root, "app.env").ok());
  REQUIRE(fs.do_lookup(d.root, fsd::kRootIno, "app.env", e) == 0);
  CHECK(S_ISREG(e.attr.st_mode));
}

TEST_CASE("templates: a caching bound mount keeps the render until a change touches it", "[templates]") {
  DevCore d;
  d.put("secret/app", "password=one");
  auto s = settings_with({tmpl("app.env", kEnv)});
  s.cache = true;
  Filesystem fs(*d.files, s, engine::to_secure("root"));
  const auto listener = d.files->add_change_listener([&](const engine::Change& c) { fs.templates_changed(c); });

  std::unique_ptr<fsd::Handle> h;
  fuse_file_info fi{};
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, h, fi) == 0);
  CHECK(fi.direct_io == 0);  // the kernel may keep the pages: one token for everyone
  CHECK(fi.keep_cache == 1);
  CHECK(fs.cache_timeout(fs.inodes().lookup("app.env"), engine::to_secure("root")) > 0.0);
  CHECK(read_all(fs, *h) == "PASSWORD=one\n");
  // The Invalidator's extra targets: the template's inode for its dependency only.
  CHECK(fs.template_targets(engine::Change{"secret/app"}).size() == 1);
  CHECK(fs.template_targets(engine::Change{"secret/other"}).empty());

  d.put("secret/app", "password=second");
  std::unique_ptr<fsd::Handle> again;
  REQUIRE(open_template(fs, who_of(d.root), "app.env", O_RDONLY, again, fi) == 0);
  CHECK(read_all(fs, *again) == "PASSWORD=second\n");
  fs.do_release(std::move(h));
  fs.do_release(std::move(again));

  // A revoked token is refused even with a kept render.
  const std::string child = make_token(d, R"({"policies":["root"]})");
  REQUIRE(open_template(fs, who_of(as(child)), "app.env", O_RDONLY, h, fi) == 0);
  fs.do_release(std::move(h));
  d.put("auth/token/revoke", "token=" + child);
  CHECK(open_template(fs, who_of(as(child)), "app.env", O_RDONLY, h, fi) == EACCES);
  d.files->remove_change_listener(listener);
}

TEST_CASE("templates: what a change touches", "[templates]") {
  using fsd::template_touched_by;
  const std::vector<std::string> v2{"secret/data/app"};
  CHECK(template_touched_by(v2, engine::Change{"secret/app"}, ""));
  CHECK(template_touched_by(v2, engine::Change{"/secret/app"}, ""));
  CHECK_FALSE(template_touched_by(v2, engine::Change{"secret/apple"}, ""));
  CHECK_FALSE(template_touched_by(v2, engine::Change{"secret/other"}, ""));
  CHECK_FALSE(template_touched_by(v2, engine::Change{"team/secret/app"}, ""));
  CHECK(template_touched_by(v2, engine::Change{{}, true}, ""));
  // KV v1: the path as read.
  CHECK(template_touched_by({"kv1/app"}, engine::Change{"kv1/app"}, ""));
  // A List covers what lies below it.
  const std::vector<std::string> list{"secret/metadata/"};
  CHECK(template_touched_by(list, engine::Change{"secret/a/b"}, ""));
  CHECK_FALSE(template_touched_by(list, engine::Change{"kv1/a"}, ""));
  // A chroot mount: change paths carry the namespace, dependencies do not.
  CHECK(template_touched_by(v2, engine::Change{"team/secret/app"}, "team"));
  CHECK_FALSE(template_touched_by(v2, engine::Change{"secret/app"}, "team"));
  CHECK_FALSE(template_touched_by(v2, engine::Change{"teamx/secret/app"}, "team"));
  CHECK_FALSE(template_touched_by({}, engine::Change{"secret/app"}, ""));
}
