// SPDX-License-Identifier: MPL-2.0
// libFuzzer target for what the caller cache reads about a process
// (fs/caller.hpp, fs/process_events.hpp): /proc/TID/stat (its comm is the
// program's own choice of name), /proc/TID/status, an environ block and a
// process events message, and an event as the eBPF filter writes it into
// its ring. Each must parse or be refused, never read outside
// its input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fs/caller.hpp"
#include "fs/process_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto stat = fsd::parse_proc_stat(text); stat && fsd::stat_start_time(text) != stat->start_time) {
    __builtin_trap();  // the two readings of field 22 agree
  }
  if (auto tgid = fsd::status_tgid(text); tgid && *tgid <= 0) __builtin_trap();
  (void)fsd::environ_value(text, "VAULT_TOKEN");
  if (auto event = fsd::parse_process_event(text);
      event && event->kind != fsd::ProcessEvent::Kind::Other && (event->tid <= 0 || event->tgid <= 0)) {
    __builtin_trap();
  }
  if (auto event = fsd::parse_ring_event(text);
      event && event->kind != fsd::ProcessEvent::Kind::Other && (event->tid <= 0 || event->tgid <= 0)) {
    __builtin_trap();
  }
  return 0;
}
