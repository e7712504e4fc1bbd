// SPDX-License-Identifier: MPL-2.0
// bench_floor_fs: the "FUSE floor" for the Coffer benchmarks.
//
// A minimal read-only in-memory low-level libfuse3 filesystem. It serves the same tree as the
// benchmark's secrets (directories + small files, same bytes) with the same kernel cache policy
// as Coffer's shared mounts (entry/attr/negative timeouts 0, direct_io, multithreaded loop), and
// does nothing else: no locks, no allocation on the hot path. Whatever Coffer spends beyond this
// is Coffer's, not FUSE's.
//
//   bench_floor_fs [--cache] [--source DIR | --secrets N] [--max-threads N]
//                  [--max-idle-threads N] [--clone-fd] [--single-thread] [--flush] [-o OPTS]
//                  MOUNTPOINT
//
// Defaults mirror fs/mount.cpp, fs/callbacks.cpp and fs/operations.cpp as of this writing: MT
// loop with 10 workers at most and 4 idle, one shared /dev/fuse fd, FOPEN_NOFLUSH on read-only
// opens, no READDIRPLUS, mount options noexec,nosuid,nodev. Keep them in step when Coffer's change.
//
// Runs in the foreground until unmounted (fusermount3 -u) or sent SIGINT/SIGTERM.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

struct Options {
  bool cache = false;          // 1 s timeouts + page cache instead of Coffer's shared-mount policy
  bool single_thread = false;  // fuse_session_loop instead of the MT loop
  bool clone_fd = false;
  bool noflush = true;   // FOPEN_NOFLUSH on read-only opens, as Coffer does
  int max_threads = 10;  // Coffer's MountOptions defaults
  int max_idle_threads = 4;
  int secrets = 200;      // generated tree size when no --source
  std::string source;     // directory to copy into memory
  std::string fuse_opts;  // extra -o options
  std::string mountpoint;
};

// One inode. The tree is built before mounting and never changes, so handlers read it
// without locks.
struct Node {
  fuse_ino_t parent = FUSE_ROOT_ID;
  bool is_dir = false;
  std::string content;                                      // file bytes
  std::map<std::string, fuse_ino_t, std::less<>> children;  // lookup table (incl. hidden)
  std::vector<std::pair<std::string, fuse_ino_t>> listed;   // readdir order (no NAME#KEY)
};

struct Floor {
  std::vector<Node> nodes;  // index = inode number; 0 unused, 1 = root
  double timeout = 0.0;
  bool cache = false;
  bool noflush = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Floor g_floor;  // read-only once the session starts

fuse_ino_t add_node(fuse_ino_t parent, const std::string& name, bool is_dir, bool listed, std::string content = {}) {
  Node node;
  node.parent = parent;
  node.is_dir = is_dir;
  node.content = std::move(content);
  g_floor.nodes.push_back(std::move(node));
  const fuse_ino_t ino = g_floor.nodes.size() - 1;
  Node& dir = g_floor.nodes[parent];
  dir.children.emplace(name, ino);
  if (listed) dir.listed.emplace_back(name, ino);
  return ino;
}

fuse_ino_t ensure_dir(fuse_ino_t parent, const std::string& name) {
  const auto it = g_floor.nodes[parent].children.find(name);
  if (it != g_floor.nodes[parent].children.end()) return it->second;
  return add_node(parent, name, true, true);
}

// Coffer's `cat NAME#KEY`: a string raw (no quotes, no newline), anything else compact JSON.
// Precomputed here so the floor pays only the FUSE cost of the extra name, not a JSON parse.
void add_field_nodes(fuse_ino_t parent, const std::string& name, const std::string& content) {
  const auto doc = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return;
  for (const auto& [key, value] : doc.items()) {
    std::string raw = value.is_string() ? value.get<std::string>() : value.dump();
    add_node(parent, name + "#" + key, false, false, std::move(raw));
  }
}

void add_file(fuse_ino_t parent, const std::string& name, std::string content) {
  add_field_nodes(parent, name, content);
  add_node(parent, name, false, true, std::move(content));
}

void load_dir(fuse_ino_t ino, const std::filesystem::path& dir) {
  std::vector<std::filesystem::directory_entry> entries(std::filesystem::directory_iterator(dir),
                                                        std::filesystem::directory_iterator{});
  std::sort(entries.begin(), entries.end());  // stable readdir order, like a sorted listing
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory()) {
      load_dir(ensure_dir(ino, name), entry.path());
    } else if (entry.is_regular_file()) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + entry.path().string());
      add_file(ino, name, std::move(bytes));
    }
  }
}

// Same shape as bench_reads' default: secret/app/sNNN holding ~60 bytes of pretty JSON.
void generate_tree(int secrets) {
  const fuse_ino_t app = ensure_dir(ensure_dir(FUSE_ROOT_ID, "secret"), "app");
  for (int i = 0; i < secrets; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    char body[128];
    std::snprintf(body, sizeof body, "{\n  \"password\": \"pw-%03d-abcdefghijklmn\",\n  \"user\": \"svc\"\n}\n", i);
    add_file(app, name, body);
  }
}

void build_tree(const Options& opts) {
  g_floor.nodes.clear();
  g_floor.nodes.emplace_back();  // inode 0 is invalid in FUSE
  Node root;
  root.is_dir = true;
  g_floor.nodes.push_back(std::move(root));
  if (!opts.source.empty()) {
    load_dir(FUSE_ROOT_ID, opts.source);
  } else {
    generate_tree(opts.secrets);
  }
}

const Node* find_node(fuse_ino_t ino) {
  if (ino == 0 || ino >= g_floor.nodes.size()) return nullptr;
  return &g_floor.nodes[ino];
}

void fill_stat(fuse_ino_t ino, const Node& node, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_uid = g_floor.uid;
  st->st_gid = g_floor.gid;
  if (node.is_dir) {
    st->st_mode = S_IFDIR | 0750;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0640;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(node.content.size());
  }
}

void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const Node* dir = find_node(parent);
  if (dir == nullptr || !dir->is_dir) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_entry_param entry{};
  entry.attr_timeout = g_floor.timeout;
  entry.entry_timeout = g_floor.timeout;
  const auto it = dir->children.find(std::string_view(name));
  if (it == dir->children.end()) {
    // ino 0 with a timeout is a negative entry; with timeout 0 it is the same as ENOENT.
    fuse_reply_entry(req, &entry);
    return;
  }
  entry.ino = it->second;
  fill_stat(it->second, g_floor.nodes[it->second], &entry.attr);
  fuse_reply_entry(req, &entry);
}

void floor_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  const Node* node = find_node(ino);
  if (node == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  fill_stat(ino, *node, &st);
  fuse_reply_attr(req, &st, g_floor.timeout);
}

void floor_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const Node* node = find_node(ino);
  if (node == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (node->is_dir) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(req, EROFS);
    return;
  }
  fi->direct_io = g_floor.cache ? 0 : 1;
  fi->keep_cache = g_floor.cache ? 1 : 0;
  fi->noflush = g_floor.noflush ? 1 : 0;
  fuse_reply_open(req, fi);
}

void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  const Node* node = find_node(ino);
  if (node == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const std::string& bytes = node->content;
  if (off < 0 || static_cast<size_t>(off) >= bytes.size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  const size_t n = std::min(size, bytes.size() - static_cast<size_t>(off));
  fuse_reply_buf(req, bytes.data() + off, n);
}

// Coffer implements FLUSH (it commits writes there) but sets noflush on read-only opens; with
// --flush the floor lets the kernel send FLUSH on every close, to show what that costs.
void floor_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void floor_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void floor_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const Node* node = find_node(ino);
  if (node == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (!node->is_dir) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  // Without keep_cache the kernel drops the cached listing at every opendir.
  fi->cache_readdir = g_floor.cache ? 1 : 0;
  fi->keep_cache = g_floor.cache ? 1 : 0;
  fuse_reply_open(req, fi);
}

// Offsets: 1 after ".", 2 after "..", k+3 after listed[k].
void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  const Node* node = find_node(ino);
  if (node == nullptr || !node->is_dir) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  struct stat st {};
  auto add = [&](const char* name, fuse_ino_t child, off_t next) {
    st.st_ino = child;
    st.st_mode = g_floor.nodes[child].is_dir ? S_IFDIR : S_IFREG;
    const size_t need = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, next);
    if (need > size - used) return false;
    used += need;
    return true;
  };
  off_t pos = off;
  if (pos == 0 && add(".", ino, 1)) pos = 1;
  if (pos == 1 && add("..", node->parent, 2)) pos = 2;
  while (pos >= 2 && static_cast<size_t>(pos - 2) < node->listed.size()) {
    const auto& [name, child] = node->listed[static_cast<size_t>(pos - 2)];
    if (!add(name.c_str(), child, pos + 1)) break;
    ++pos;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void floor_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.lookup = floor_lookup;
  ops.getattr = floor_getattr;
  ops.open = floor_open;
  ops.read = floor_read;
  ops.flush = floor_flush;
  ops.release = floor_release;
  ops.opendir = floor_opendir;
  ops.readdir = floor_readdir;
  ops.releasedir = floor_releasedir;
  // No getxattr/access/readdirplus: libfuse answers ENOSYS and the kernel stops asking.
  return ops;
}();

void usage(FILE* out) {
  std::fprintf(out,
               "usage: bench_floor_fs [--cache] [--source DIR | --secrets N] [--max-threads N]\n"
               "                      [--max-idle-threads N] [--clone-fd] [--single-thread]\n"
               "                      [--flush] [-o OPTS] MOUNTPOINT\n"
               "  --cache          1 s entry/attr timeouts and page cache (default: timeouts 0,\n"
               "                   direct_io, as on Coffer's shared mounts)\n"
               "  --source DIR     serve a copy of DIR (default: generated secret/app/sNNN)\n"
               "  --secrets N      size of the generated tree (default 200)\n"
               "  --flush          no FOPEN_NOFLUSH: the kernel sends FLUSH on every close\n"
               "  --max-threads N, --max-idle-threads N   MT loop limits (default 10, 4)\n"
               "Files NAME get hidden siblings NAME#KEY for each top-level JSON key.\n");
}

bool parse_int(const char* text, int min, int* out) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > 1'000'000) return false;
  *out = static_cast<int>(v);
  return true;
}

// Returns 0 on success, 2 on bad usage, -1 for --help.
int parse_args(int argc, char** argv, Options* opts) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "-h" || arg == "--help") return -1;
    if (arg == "--cache") {
      opts->cache = true;
    } else if (arg == "--single-thread") {
      opts->single_thread = true;
    } else if (arg == "--clone-fd") {
      opts->clone_fd = true;
    } else if (arg == "--flush") {
      opts->noflush = false;
    } else if (arg == "--source") {
      const char* v = value();
      if (v == nullptr) return 2;
      opts->source = v;
    } else if (arg == "--secrets") {
      const char* v = value();
      if (v == nullptr || !parse_int(v, 0, &opts->secrets)) return 2;
    } else if (arg == "--max-threads") {
      const char* v = value();
      if (v == nullptr || !parse_int(v, 1, &opts->max_threads)) return 2;
    } else if (arg == "--max-idle-threads") {
      const char* v = value();
      if (v == nullptr || !parse_int(v, 0, &opts->max_idle_threads)) return 2;
    } else if (arg == "-o") {
      const char* v = value();
      if (v == nullptr) return 2;
      if (!opts->fuse_opts.empty()) opts->fuse_opts += ',';
      opts->fuse_opts += v;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "bench_floor_fs: unknown option %s\n", argv[i]);
      return 2;
    } else if (opts->mountpoint.empty()) {
      opts->mountpoint = argv[i];
    } else {
      return 2;
    }
  }
  return opts->mountpoint.empty() ? 2 : 0;
}

int run(const Options& opts) {
  build_tree(opts);
  g_floor.timeout = opts.cache ? 1.0 : 0.0;
  g_floor.cache = opts.cache;
  g_floor.noflush = opts.noflush;
  g_floor.uid = getuid();
  g_floor.gid = getgid();

  std::string mount_opts = "fsname=bench_floor,subtype=bench_floor,noexec,nosuid,nodev";
  if (!opts.fuse_opts.empty()) mount_opts += "," + opts.fuse_opts;
  // The session takes argv-style options; keep the strings alive for the call.
  std::vector<std::string> arg_strings = {"bench_floor_fs", "-o", mount_opts};
  std::vector<char*> args;
  for (auto& s : arg_strings) args.push_back(s.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(args.size()), args.data());

  fuse_session* se = fuse_session_new(&fargs, &kOps, sizeof kOps, nullptr);
  if (se == nullptr) {
    std::fprintf(stderr, "bench_floor_fs: fuse_session_new failed (bad -o options?)\n");
    return 1;
  }
  int rc = 1;
  if (fuse_set_signal_handlers(se) != 0) {
    std::fprintf(stderr, "bench_floor_fs: cannot install signal handlers\n");
  } else {
    if (fuse_session_mount(se, opts.mountpoint.c_str()) != 0) {
      std::fprintf(stderr, "bench_floor_fs: cannot mount on %s\n", opts.mountpoint.c_str());
    } else {
      std::fprintf(stderr, "bench_floor_fs: %zu inodes on %s (%s)\n", g_floor.nodes.size() - 1, opts.mountpoint.c_str(),
                   opts.cache ? "cached: timeouts 1 s, page cache" : "timeouts 0, direct_io");
      if (opts.single_thread) {
        rc = fuse_session_loop(se);
      } else {
        fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd ? 1 : 0);
        fuse_loop_cfg_set_max_threads(cfg, static_cast<unsigned>(opts.max_threads));
        fuse_loop_cfg_set_idle_threads(cfg, static_cast<unsigned>(opts.max_idle_threads));
        rc = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
      }
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  fuse_opt_free_args(&fargs);
  return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  const int parsed = parse_args(argc, argv, &opts);
  if (parsed == -1) {
    usage(stdout);
    return 0;
  }
  if (parsed != 0) {
    usage(stderr);
    return 2;
  }
  try {
    return run(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_floor_fs: %s\n", e.what());
    return 1;
  }
}
