// SPDX-License-Identifier: MPL-2.0
// Template files (README: Templates): MOUNT/NAME for each `template "NAME"`
// block of a mount, rendered (engine/fileview/template_render.hpp) with the
// opener's token at open. The fd keeps the bytes it rendered; poll(2) on it
// says when a dependency changed since (fs/poll.hpp). What a change touches
// is decided here, from the dependencies a render read.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ctmpl/ctmpl.hpp"
#include "engine/fileview/file_view.hpp"

namespace fsd {

// One template file of a mount: a name at the mount root, never executable.
struct TemplateFile {
  std::string name;  // one file name (checked by the config loader)
  mode_t perms = 0;  // 0: the mount's file_mode; x bits are always cleared
  std::shared_ptr<const engine::ctmpl::Template> parsed;
};

// True when change may alter what a template renders, given the Vault API
// paths its render read (TemplateRender::dependencies, relative to the
// mount root: "secret/data/app", or a List's "secret/metadata/"), and the
// mount's chroot. Change paths are file-tree paths ("secret/app", KV v1 and
// v2 alike), so a dependency's "data/" or "metadata/" segment is dropped
// when comparing; a List dependency covers everything below it. Errs
// towards true (a spurious wake-up or invalidation is harmless; a missed
// one serves stale bytes): `everything` is always true. Pure.
bool template_touched_by(const std::vector<std::string>& dependencies, const engine::Change& change,
                         std::string_view chroot);

}  // namespace fsd
