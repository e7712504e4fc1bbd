// SPDX-License-Identifier: MPL-2.0
// poll(2) on the mount (FUSE_POLL).
//
// - Streams (fs/monitor.hpp): POLLIN when a line is queued.
// - Every other open file: always readable and writable, and, as sysfs and
//   cgroup files do (kernfs_generic_poll), POLLPRI|POLLERR once its content
//   changed after the handle's last read from offset 0; that read serves
//   the new content. So `poll()` on an open secret is "wait for rotation".
//
// The kernel hands a poll handle to wake the poller later. Wake-ups never
// come from a request handler: changes arrive from the change bus (on the
// writer's thread) and stream lines from their source, which only queue
// the handle here; one poll thread of the daemon sends
// fuse_lowlevel_notify_poll. A handle's poll state lives from open to
// release. Thread-safe; every lock here is a leaf, and nothing here logs
// while holding one (a log line may itself queue a wake-up).
#pragma once

#include <fuse_lowlevel.h>

#include <string>
#include <vector>

#include "engine/fileview/file_view.hpp"

namespace fsd {

class Handle;
class InodeTable;

// Starts following changes for an open regular file of the mount whose
// inode table is `mount`, at mount-relative path.
void poll_track(const Handle* h, const InodeTable* mount, std::string path);
// The same for a template file's handle (fs/template_files.hpp): it counts
// as changed when a change touches one of the dependencies its render read
// (template_touched_by), not its own path.
void poll_track_template(const Handle* h, const InodeTable* mount, std::vector<std::string> dependencies);
// Forgets h (release): a kept poll handle is destroyed.
void poll_forget(const Handle* h);

// poll(2) of a followed file: keeps ph (may be null) and returns the mask.
unsigned poll_file(const Handle* h, fuse_pollhandle* ph);
// A read from offset 0: true when the content changed since the last one
// (the caller renders it again); clears the mark.
bool poll_take_changed(const Handle* h);

// A change announced through the view, for the files of mount (chroot: the
// mount's, change paths are relative to the view's root). Quick; from the
// bus's thread.
void poll_changed(const InodeTable* mount, const engine::Change& change, std::string_view chroot);

// For streams: keeps ph to wake the poller of h.
void poll_keep(const Handle* h, fuse_pollhandle* ph);
// Asks the poll thread to wake the poller of h, if any. Quick, leaf lock,
// never logs: callable from a logging thread.
void poll_wake(const Handle* h);

// Poll wake-ups sent so far (for tests and the bench).
std::uint64_t poll_wakeups_sent();

}  // namespace fsd
