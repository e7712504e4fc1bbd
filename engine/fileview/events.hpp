// SPDX-License-Identifier: MPL-2.0
// Change events as a file: Vault's event system (Enterprise 1.16+,
// `vault events subscribe`), read from `NS/sys/events/subscribe/<TYPE>`.
//
// - TYPE is an event type or a glob of them ("kv-v2/data-write", "kv*",
//   "*"). Opening needs `read` on NS/sys/events/subscribe/TYPE, as Vault's
//   CheckToken asks.
// - Every committed change reaches the open streams from the core's change
//   bus (engine/common/change_bus.hpp), local or read from another host's
//   log alike. Each becomes one JSON line in Vault's `json=true` shape
//   (CloudEvents: id, source, specversion, type, time, data.event.metadata
//   with path, data_path, operation, versions, data.event_type,
//   data.plugin_info, data.namespace) plus metadata.coffer_path, the file to
//   read again. Never a secret value: the bus carries none.
// - Per event, as Vault's allowMessage: the event's namespace is the
//   stream's or matches one of its `namespaces=` globs; its type matches
//   TYPE; the filter passes; and the token holds `subscribe` with a
//   matching subscribe_event_types on `<ns>/<data_path>` (root only for an
//   event with no data path). The ACL is asked again for every event, and
//   the token checked while the stream waits, so a revoked token stops the
//   stream at once (Vault caches the check for 5 minutes).
// - A slow reader loses the oldest events: the stream keeps at most
//   max_queued, and the next read starts with one
//   {"type":"coffer/events-lost","count":N} line.
//
// Optional first write (Vault's query parameters): `namespaces=GLOB[,GLOB]`
// and `filter=EXPR`, a go-bexpr subset (parse_event_filter).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/change_bus.hpp"
#include "engine/common/error.hpp"
#include "engine/fileview/file_view.hpp"

namespace engine {

class Core;

// Limits of what a subscriber may write.
inline constexpr std::size_t kMaxEventOptionsBytes = 4096;
inline constexpr std::size_t kMaxFilterBytes = 2048;
inline constexpr int kMaxFilterDepth = 32;
inline constexpr std::size_t kMaxFilterTerms = 64;
inline constexpr std::size_t kMaxNamespacePatterns = 32;

// The fields a filter may name (Vault's event filter selectors).
struct EventFields {
  std::string event_type;           // "kv-v2/data-write"
  std::string operation;            // "data-write"
  std::string source_plugin_mount;  // "secret/"
  std::string data_path;            // "secret/data/app"
  std::string namespace_path;       // "" or "ns1/"
};

// A parsed filter: `SEL == "v"`, `SEL != "v"`, `SEL contains "v"`,
// `SEL not contains "v"`, `"v" in SEL`, `"v" not in SEL`, combined with
// `and`, `or`, `not` and parentheses (and binds tighter than or). Values
// are double-quoted (\" and \\ escape) or bare words.
class EventFilter {
 public:
  struct Node;
  EventFilter();
  ~EventFilter();
  EventFilter(EventFilter&&) noexcept;
  EventFilter& operator=(EventFilter&&) noexcept;

  bool matches(const EventFields& fields) const;

 private:
  friend Result<EventFilter> parse_event_filter(std::string_view text);
  std::unique_ptr<Node> root_;
};

// InvalidArgument, naming the column, for text over kMaxFilterBytes, deeper
// than kMaxFilterDepth, with more than kMaxFilterTerms comparisons, an
// unknown selector or any other syntax error. Pure; thread-safe.
Result<EventFilter> parse_event_filter(std::string_view text);

struct EventOptions {
  std::vector<std::string> namespaces;  // globs below the stream's namespace
  std::shared_ptr<const EventFilter> filter;
};

// "namespaces=a,b* filter=EXPR": words separated by blanks or newlines;
// `filter=` takes the rest of its line. InvalidArgument for an unknown key,
// text over kMaxEventOptionsBytes or more than kMaxNamespacePatterns. Pure.
Result<EventOptions> parse_event_options(std::string_view text);

// True when the mount-relative engine path names an event stream:
// [NS/]sys/events/subscribe/TYPE with TYPE not one of the type folders
// (kv-v1, kv-v2, coffer). Syntax only.
bool is_events_path(std::string_view path);
// True for the folders of the stream files: sys/events, sys/events/subscribe
// and the type folders below it (rel is below sys/).
bool is_events_dir(std::string_view sys_rel);

// True for event types that change who may read what, never a file's bytes
// (token and identity changes: logins, token creates and uses, entities):
// poll(2) does not call an open file changed for them. Pure.
bool changes_access_only(std::string_view event_type) noexcept;

// The event a change is, in Vault's shape, for a stream whose mount shows
// the tree below view_root ("" or "ns1": coffer_path is relative to it).
// type_pattern is the stream's TYPE (Vault's CloudEvents "type"). Pure
// but for the id and time it stamps.
std::string event_json(const ChangeEvent& change, std::string_view type_pattern, std::string_view view_root);
// The filter fields and ACL path (data_path, "" when none) of a change.
EventFields event_fields(const ChangeEvent& change);

// Coffer's event for a template file whose dependency changed (README:
// Templates): made, for a stream read through a mount with templates, from
// each change of a secret that the template's last render read. It carries
// the secret's change (namespace, mount, data_path, version: the ACL asks
// `subscribe` on that data path, for this type) with coffer_path the
// template file, relative to the mount's root. Never a value.
inline constexpr std::string_view kTemplateChangeType = "coffer/template-change";

// The template files (names relative to the mount's root) a Secret change
// touches, by what their last render read. Called on the reader's thread,
// under no engine lock; it may take leaf locks only.
using TemplateMatcher = std::function<std::vector<std::string>(const ChangeEvent&)>;

class EventStream {
 public:
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Applies the first write's options. InvalidArgument (nothing changed)
  // for bad options, or when events were already read. Thread-safe.
  Status configure(std::string_view text);

  // Waits up to timeout for events, then returns the lines of those the
  // token may see (maybe none: "" also when nothing came). PermissionDenied
  // once the token is no longer valid; Sealed while sealed. Thread-safe.
  Result<std::string> next(std::chrono::milliseconds timeout);

  // True when a change is queued (it may still be filtered out). Lock-light.
  bool ready() const;
  // Called (from the bus's thread, under no engine lock but the bus's)
  // whenever an event is queued: it must be quick and take only leaf locks.
  void on_ready(std::function<void()> wake);

  struct State;

 private:
  friend Result<std::unique_ptr<EventStream>> open_events(Core&, const Caller&, std::string_view, std::string_view,
                                                          std::size_t, TemplateMatcher);
  explicit EventStream(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  ChangeBus::Subscription subscription_;  // declared last: ends first
};

// Authorises (read on the stream's sys/events/subscribe/TYPE, token live)
// and subscribes to the core's bus. path: the engine path; view_root: the
// mount's chroot; templates: the mount's template files, for
// coffer/template-change events (none when empty). NotFound when path is no
// event stream of a namespace's sys/, PermissionDenied, Sealed. Thread-safe.
Result<std::unique_ptr<EventStream>> open_events(Core& core, const Caller& caller, std::string_view path,
                                                 std::string_view view_root, std::size_t max_queued = 1024,
                                                 TemplateMatcher templates = {});

// Whether caller may open the stream at abs sys path ("ns1/sys/events/
// subscribe/kv*"): read (or root) there. For stat.
Status may_open_events(Core& core, const Caller& caller, const std::string& abs_path);

}  // namespace engine
