// SPDX-License-Identifier: MPL-2.0
// Stream files: `NS/sys/monitor` (or `NS/sys/monitor@LEVEL`) streams the
// daemon's log lines while it is open, like `vault monitor` (SPEC §6), and
// `NS/sys/events/subscribe/TYPE` streams change events, like `vault events
// subscribe` (engine/fileview/events.hpp). The engine authorises the open
// and subscribes (to its log hub, or to the change bus); here the
// subscription is tied to the open file and served by read():
//
// - a read blocks until at least one line has arrived, then returns what
//   arrived (up to the read's size; the rest waits for the next read), so
//   `cat` prints lines as they come and follows until it is interrupted;
//   opened O_NONBLOCK, a read with nothing queued is EAGAIN;
// - a read whose caller is interrupted (Ctrl-C, `timeout`) returns EINTR;
// - when the daemon stops, blocked reads return end of file, so the FUSE
//   loop can join its workers;
// - an event stream whose token stops being valid fails its reads (EACCES);
// - poll(2): POLLIN once a line is queued (fs/poll.hpp wakes the poller
//   from its own thread when one arrives).
//
// An event stream's first write sets its options (`namespaces=…
// filter=…`); writes to a monitor are EINVAL. The files are direct-I/O and
// not seekable. Thread-safe.
#pragma once

#include <fuse_lowlevel.h>

#include <string>
#include <string_view>

#include "engine/core.hpp"
#include "engine/fileview/events.hpp"
#include "engine/fileview/file_view.hpp"

namespace fsd {

class Handle;

// For an open of engine_path by caller on handle h: 0 with opened=false when
// it is not a stream file (open it as usual), 0 with opened=true when the
// stream is set up for h, or the engine's error. view_root: the mount's
// chroot (event paths are shown relative to it); nonblocking: O_NONBLOCK;
// templates: the mount's template files, for coffer/template-change events.
engine::Status open_stream(engine::Core& core, const engine::Caller& caller, std::string_view engine_path,
                           std::string_view view_root, bool nonblocking, const Handle* h, bool& opened,
                           engine::TemplateMatcher templates = {});

// True when h was opened as a stream.
bool is_stream(const Handle* h);

// One read of a stream handle (see above): 0 with out filled, EINTR,
// EAGAIN, EACCES, or 0 with out empty when the daemon stops.
int read_stream(fuse_req_t req, const Handle* h, std::size_t size, std::string& out);

// A write to a stream handle: an event stream's options (0, or EINVAL with
// the reason logged); EINVAL for a monitor.
int write_stream(const Handle* h, std::string_view data);

// poll(2) of a stream handle: ph (may be null) is kept to wake the poller
// when a line arrives; returns POLLIN|POLLRDNORM when one is queued now.
unsigned poll_stream(const Handle* h, fuse_pollhandle* ph);

// Ends h's subscription (at release). No-op for other handles.
void close_stream(const Handle* h);

// Makes every blocked and future stream read return end of file. Async-
// signal-safe (sets an atomic flag).
void stop_monitors() noexcept;

}  // namespace fsd
