// SPDX-License-Identifier: MPL-2.0
// The libfuse low-level callbacks of a mount. Each is a thin reply half
// around a compute half of fs/operations.hpp: it finds who is asking (and
// the token-use allowance of the request), calls Filesystem::do_X inside a
// guard (any exception becomes EIO and one log line: nothing unwinds into
// libfuse's C frames), and sends the one reply. Errors come back from the
// compute halves as errnos (fs/errno_map.hpp), already logged.
//
// Open files: fuse_file_info::fh holds the Handle* (regular files) or
// DirHandle* (directories) made by the compute half, owned by the kernel's
// file from the OPEN/OPENDIR reply until RELEASE/RELEASEDIR. The lock order
// is in fs/operations.hpp; no fs/ lock is held while a reply is sent.
#pragma once

#include <fuse_lowlevel.h>

namespace fsd {

// The callback table for fuse_session_new(); its userdata must be the
// mount's Filesystem* (fs/operations.hpp), alive until the session ends.
const fuse_lowlevel_ops& lowlevel_ops();

}  // namespace fsd
