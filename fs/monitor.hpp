// SPDX-License-Identifier: MPL-2.0
// sys/monitor files (SPEC §6): an open `NS/sys/monitor` (or
// `NS/sys/monitor@LEVEL`) streams the daemon's log lines while it is open,
// like `vault monitor`. The engine authorises the open and subscribes to
// its log hub (engine/fileview/monitor.hpp); here the subscription is tied to
// the open file and served by read():
//
// - a read blocks until at least one line has arrived, then returns what
//   arrived (up to the read's size; the rest waits for the next read), so
//   `cat` prints lines as they come and follows until it is interrupted;
// - a read whose caller is interrupted (Ctrl-C, `timeout`) returns EINTR;
// - when the daemon stops, blocked reads return end of file, so the FUSE
//   loop can join its workers.
//
// The files are direct-I/O and not seekable. Thread-safe.
#pragma once

#include <fuse_lowlevel.h>

#include <string>
#include <string_view>

#include "engine/core.hpp"
#include "engine/fileview/file_view.hpp"

namespace fsd {

class Handle;

// For an open of engine_path by caller on handle h: 0 with opened=false when
// it is not a monitor file (open it as usual), 0 with opened=true when the
// stream is set up for h, or the engine's error.
engine::Status open_monitor(engine::Core& core, const engine::Caller& caller, std::string_view engine_path,
                            const Handle* h, bool& opened);

// True when h was opened as a monitor.
bool is_monitor(const Handle* h);

// One read of a monitor handle (see above): 0 with out filled, EINTR, or 0
// with out empty when the daemon stops.
int read_monitor(fuse_req_t req, const Handle* h, std::size_t size, std::string& out);

// Ends h's subscription (at release). No-op for other handles.
void close_monitor(const Handle* h);

// Makes every blocked and future monitor read return end of file. Async-
// signal-safe (sets an atomic flag).
void stop_monitors() noexcept;

}  // namespace fsd
