// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/events.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/common/names.hpp"
#include "engine/common/time.hpp"
#include "engine/core.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/policy/policy.hpp"

namespace engine {

// ------------------------------------------------------------------ filter

struct EventFilter::Node {
  enum class Kind { And, Or, Not, Equal, NotEqual, Contains, NotContains } kind = Kind::Equal;
  std::unique_ptr<Node> left, right;  // And/Or: both; Not: left
  std::string EventFields::*field = nullptr;
  std::string value;
};

EventFilter::EventFilter() = default;
EventFilter::~EventFilter() = default;
EventFilter::EventFilter(EventFilter&&) noexcept = default;
EventFilter& EventFilter::operator=(EventFilter&&) noexcept = default;

namespace {

using Node = EventFilter::Node;

bool eval(const Node& n, const EventFields& f) {
  switch (n.kind) {
    case Node::Kind::And: return eval(*n.left, f) && eval(*n.right, f);
    case Node::Kind::Or: return eval(*n.left, f) || eval(*n.right, f);
    case Node::Kind::Not: return !eval(*n.left, f);
    case Node::Kind::Equal: return f.*n.field == n.value;
    case Node::Kind::NotEqual: return f.*n.field != n.value;
    case Node::Kind::Contains: return (f.*n.field).find(n.value) != std::string::npos;
    case Node::Kind::NotContains: return (f.*n.field).find(n.value) == std::string::npos;
  }
  return false;
}

std::string EventFields::*selector(std::string_view name) {
  if (name == "event_type") return &EventFields::event_type;
  if (name == "operation") return &EventFields::operation;
  if (name == "source_plugin_mount") return &EventFields::source_plugin_mount;
  if (name == "data_path") return &EventFields::data_path;
  if (name == "namespace") return &EventFields::namespace_path;
  return nullptr;
}

// Recursive descent over the text; each '(' and `not` is one level counted
// against kMaxFilterDepth, every comparison against kMaxFilterTerms (so the
// tree, and the recursion that evaluates and frees it, stays small).
class FilterParser {
 public:
  explicit FilterParser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<Node>> parse() {
    auto root = parse_or(0);
    if (!root.ok()) return root;
    skip_blanks();
    if (pos_ != text_.size()) return fail("unexpected text");
    return root;
  }

 private:
  struct Token {
    enum class Kind { End, Word, Quoted, LParen, RParen, Eq, Ne, Bad } kind = Kind::End;
    std::string text;
  };

  Error fail(std::string_view what) const {
    return Error::invalid("filter: " + std::string(what) + " at column " + std::to_string(pos_ + 1));
  }

  void skip_blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }

  Token peek() {
    const std::size_t saved = pos_;
    Token t = lex();
    pos_ = saved;
    return t;
  }

  Token lex() {
    skip_blanks();
    Token t;
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      t.kind = Token::Kind::LParen;
    } else if (c == ')') {
      ++pos_;
      t.kind = Token::Kind::RParen;
    } else if (c == '=' || c == '!') {
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
        t.kind = c == '=' ? Token::Kind::Eq : Token::Kind::Ne;
        pos_ += 2;
      } else {
        t.kind = Token::Kind::Bad;
      }
    } else if (c == '"') {
      ++pos_;
      t.kind = Token::Kind::Quoted;
      while (true) {
        if (pos_ >= text_.size()) {
          t.kind = Token::Kind::Bad;
          break;
        }
        char d = text_[pos_++];
        if (d == '"') break;
        if (d == '\\') {
          if (pos_ >= text_.size()) {
            t.kind = Token::Kind::Bad;
            break;
          }
          d = text_[pos_++];
        }
        t.text.push_back(d);
      }
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' || c == '.' ||
               c == '*') {
      t.kind = Token::Kind::Word;
      while (pos_ < text_.size()) {
        const char d = text_[pos_];
        if (!(std::isalnum(static_cast<unsigned char>(d)) || d == '_' || d == '-' || d == '/' || d == '.' ||
              d == '*')) {
          break;
        }
        t.text.push_back(d);
        ++pos_;
      }
    } else {
      t.kind = Token::Kind::Bad;
    }
    return t;
  }

  static bool is_word(const Token& t, std::string_view w) { return t.kind == Token::Kind::Word && t.text == w; }

  Result<std::unique_ptr<Node>> parse_or(int depth) {
    COFFER_TRY(auto left, parse_and(depth));
    while (is_word(peek(), "or")) {
      lex();
      COFFER_TRY(auto right, parse_and(depth));
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::Or;
      n->left = std::move(left);
      n->right = std::move(right);
      left = std::move(n);
    }
    return left;
  }

  Result<std::unique_ptr<Node>> parse_and(int depth) {
    COFFER_TRY(auto left, parse_unary(depth));
    while (is_word(peek(), "and")) {
      lex();
      COFFER_TRY(auto right, parse_unary(depth));
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::And;
      n->left = std::move(left);
      n->right = std::move(right);
      left = std::move(n);
    }
    return left;
  }

  Result<std::unique_ptr<Node>> parse_unary(int depth) {
    if (depth > kMaxFilterDepth) return fail("nested too deep");
    const Token t = peek();
    if (is_word(t, "not")) {
      lex();
      COFFER_TRY(auto inner, parse_unary(depth + 1));
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::Not;
      n->left = std::move(inner);
      return n;
    }
    if (t.kind == Token::Kind::LParen) {
      lex();
      COFFER_TRY(auto inner, parse_or(depth + 1));
      if (lex().kind != Token::Kind::RParen) return fail("expected ')'");
      return inner;
    }
    return parse_match();
  }

  Result<std::unique_ptr<Node>> parse_match() {
    if (++terms_ > kMaxFilterTerms) return fail("too many comparisons");
    auto n = std::make_unique<Node>();
    Token first = lex();
    if (first.kind == Token::Kind::Quoted) {  // "v" in SEL / "v" not in SEL
      Token op = lex();
      bool negate = false;
      if (is_word(op, "not")) {
        negate = true;
        op = lex();
      }
      if (!is_word(op, "in")) return fail("expected 'in'");
      Token sel = lex();
      n->field = sel.kind == Token::Kind::Word ? selector(sel.text) : nullptr;
      if (n->field == nullptr) return fail("unknown selector");
      n->kind = negate ? Node::Kind::NotContains : Node::Kind::Contains;
      n->value = std::move(first.text);
      return n;
    }
    if (first.kind != Token::Kind::Word) return fail("expected a selector");
    n->field = selector(first.text);
    if (n->field == nullptr) return fail("unknown selector");
    Token op = lex();
    if (op.kind == Token::Kind::Eq) {
      n->kind = Node::Kind::Equal;
    } else if (op.kind == Token::Kind::Ne) {
      n->kind = Node::Kind::NotEqual;
    } else if (is_word(op, "contains")) {
      n->kind = Node::Kind::Contains;
    } else if (is_word(op, "not") && is_word(peek(), "contains")) {
      lex();
      n->kind = Node::Kind::NotContains;
    } else {
      return fail("expected ==, !=, contains or not contains");
    }
    Token value = lex();
    if (value.kind != Token::Kind::Quoted && value.kind != Token::Kind::Word) return fail("expected a value");
    n->value = std::move(value.text);
    return n;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t terms_ = 0;
};

}  // namespace

bool EventFilter::matches(const EventFields& fields) const { return root_ == nullptr || eval(*root_, fields); }

Result<EventFilter> parse_event_filter(std::string_view text) {
  if (text.size() > kMaxFilterBytes) {
    return Error::invalid("filter: longer than " + std::to_string(kMaxFilterBytes) + " bytes");
  }
  EventFilter out;
  if (text.find_first_not_of(" \t\n") == std::string_view::npos) return out;  // empty: everything
  FilterParser parser(text);
  COFFER_TRY(out.root_, parser.parse());
  return out;
}

Result<EventOptions> parse_event_options(std::string_view text) {
  if (text.size() > kMaxEventOptionsBytes) {
    return Error::invalid("event options: longer than " + std::to_string(kMaxEventOptionsBytes) + " bytes");
  }
  EventOptions out;
  std::size_t pos = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (true) {
    while (pos < text.size() && blank(text[pos])) ++pos;
    if (pos >= text.size()) break;
    const std::size_t eq = text.find('=', pos);
    if (eq == std::string_view::npos) return Error::invalid("event options: expected KEY=VALUE");
    const std::string_view key = text.substr(pos, eq - pos);
    pos = eq + 1;
    if (key == "filter") {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view expr = text.substr(pos, end - pos);
      while (!expr.empty() && (expr.back() == '\r' || expr.back() == ' ')) expr.remove_suffix(1);
      pos = end;
      if (out.filter) return Error::invalid("event options: filter given twice");
      COFFER_TRY(auto f, parse_event_filter(expr));
      out.filter = std::make_shared<const EventFilter>(std::move(f));
    } else if (key == "namespaces") {
      std::size_t end = pos;
      while (end < text.size() && !blank(text[end])) ++end;
      std::string_view list = text.substr(pos, end - pos);
      pos = end;
      while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view one = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        while (!one.empty() && one.front() == '/') one.remove_prefix(1);
        while (!one.empty() && one.back() == '/') one.remove_suffix(1);
        if (one.empty()) continue;
        if (out.namespaces.size() >= kMaxNamespacePatterns) {
          return Error::invalid("event options: more than " + std::to_string(kMaxNamespacePatterns) +
                                " namespace patterns");
        }
        out.namespaces.emplace_back(one);
      }
    } else {
      return Error::invalid("event options: unknown key \"" + std::string(key.substr(0, 32)) +
                            "\" (namespaces=, filter=)");
    }
  }
  return out;
}

// ------------------------------------------------------------------- paths

namespace {

constexpr std::string_view kSubscribe = "sys/events/subscribe/";

bool is_type_folder(std::string_view type) { return type == "kv-v1" || type == "kv-v2" || type == "coffer"; }

// The namespace prefix ("" or "ns1/") and TYPE of an engine path, or false.
bool split_events_path(std::string_view path, std::string_view& ns, std::string_view& type) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::size_t at = std::string_view::npos;
  if (path.starts_with(kSubscribe)) {
    at = 0;
  } else if (auto found = path.find(std::string("/") + std::string(kSubscribe)); found != std::string_view::npos) {
    at = found + 1;
  }
  if (at == std::string_view::npos) return false;
  ns = path.substr(0, at);
  type = path.substr(at + kSubscribe.size());
  return !type.empty() && !is_type_folder(type) && type.back() != '/';
}

}  // namespace

bool is_events_path(std::string_view path) {
  std::string_view ns, type;
  return split_events_path(path, ns, type);
}

bool is_events_dir(std::string_view rel) {
  if (rel == "events" || rel == "events/subscribe") return true;
  return rel.starts_with("events/subscribe/") && is_type_folder(rel.substr(17));
}

// ------------------------------------------------------------ event shape

bool changes_access_only(std::string_view event_type) noexcept {
  return event_type.starts_with("coffer/token") || event_type.starts_with("coffer/identity");
}

EventFields event_fields(const ChangeEvent& c) {
  EventFields f;
  f.event_type = c.event_type;
  const auto slash = c.event_type.find('/');
  f.operation = slash == std::string::npos ? c.event_type : c.event_type.substr(slash + 1);
  f.source_plugin_mount = c.mount_path;
  f.namespace_path = c.namespace_path;
  switch (c.kind) {
    case ChangeKind::Secret:
      if (c.event_type.starts_with("kv-v2/") && c.path.size() > c.mount_path.size()) {
        f.data_path = c.mount_path + "data/" + c.path.substr(c.mount_path.size());
      } else {
        f.data_path = c.path;
      }
      break;
    case ChangeKind::Policy: f.data_path = c.path; break;
    default: break;  // no data path: root tokens only (Vault)
  }
  return f;
}

namespace {

// The event line for change c with fields f; coffer_path, when given, is
// the file to read again (a template's), else the secret's file.
std::string event_line(const ChangeEvent& c, const EventFields& f, std::string_view type_pattern,
                       std::string_view view_root, const std::string* coffer_path) {
  const std::string id = crypto::random_uuid();
  nlohmann::json metadata = nlohmann::json::object();
  metadata["operation"] = f.operation;
  metadata["modified"] = "true";
  metadata["path"] = c.api_path.empty() ? (f.data_path.empty() ? c.path : f.data_path) : c.api_path;
  if (!f.data_path.empty()) metadata["data_path"] = f.data_path;
  if (c.version > 0) metadata["current_version"] = std::to_string(c.version);
  // The file to read again, relative to the mount's root.
  if (coffer_path != nullptr) {
    metadata["coffer_path"] = *coffer_path;
  } else if (!c.path.empty()) {
    std::string file = c.namespace_path + c.path;
    std::string_view root = view_root;
    while (!root.empty() && root.back() == '/') root.remove_suffix(1);
    bool inside = true;
    if (!root.empty()) {
      inside = file.size() > root.size() && file.starts_with(root) && file[root.size()] == '/';
      if (inside) file.erase(0, root.size() + 1);
    }
    if (inside) metadata["coffer_path"] = file;
  }
  nlohmann::json plugin = nlohmann::json::object();
  if (c.kind == ChangeKind::Secret) {
    plugin["mount_class"] = "secret";
    plugin["plugin"] = f.event_type.starts_with("kv-") ? "kv" : "coffer";
    plugin["mount_path"] = c.mount_path;
  } else if (c.kind == ChangeKind::AuthData) {
    plugin["mount_class"] = "auth";
    plugin["mount_path"] = c.mount_path;
  } else {
    plugin["mount_class"] = "system";
    plugin["plugin"] = "coffer";
  }
  nlohmann::json out = {
      {"id", id},
      {"source", "https://vaultproject.io/"},
      {"specversion", "1.0"},
      {"type", std::string(type_pattern)},
      {"data",
       {{"event", {{"id", id}, {"metadata", std::move(metadata)}}},
        {"event_type", f.event_type},
        {"plugin_info", std::move(plugin)},
        {"namespace", c.namespace_path}}},
      {"datacontentype", "application/cloudevents"},  // sic: Vault's spelling
      {"time", format_time(Clock::now())},
  };
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string event_json(const ChangeEvent& c, std::string_view type_pattern, std::string_view view_root) {
  return event_line(c, event_fields(c), type_pattern, view_root, nullptr);
}

// ------------------------------------------------------------------ stream

struct EventStream::State {
  Core* core = nullptr;
  SecureString token;
  std::string ns_path;       // the stream's namespace ("" or "ns1/")
  std::string type_pattern;  // TYPE
  std::string view_root;
  std::size_t max_queued = 1024;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<ChangeEvent> queue;
  std::size_t lost = 0;
  bool read_any = false;
  EventOptions options;
  std::function<void()> wake;
  std::atomic<bool> has_queued{false};
  TemplateMatcher templates;  // set at open, then only read
};

namespace {

bool namespace_matches(const EventStream::State& s, const EventOptions& o, std::string_view ns) {
  if (ns == s.ns_path) return true;
  if (!ns.starts_with(s.ns_path)) return false;  // outside the stream's namespace
  std::string_view below = ns.substr(s.ns_path.size());
  while (!below.empty() && below.back() == '/') below.remove_suffix(1);
  for (const std::string& pattern : o.namespaces) {
    if (glob_match(pattern, below)) return true;
  }
  return false;
}

}  // namespace

EventStream::EventStream(std::shared_ptr<State> state) : state_(std::move(state)) {}

EventStream::~EventStream() = default;

Status EventStream::configure(std::string_view text) {
  COFFER_TRY(auto options, parse_event_options(text));
  std::lock_guard lock(state_->mu);
  if (state_->read_any) return Error::invalid("event options: only before the first read");
  state_->options = std::move(options);
  return ok_status();
}

bool EventStream::ready() const { return state_->has_queued.load(std::memory_order_acquire); }

void EventStream::on_ready(std::function<void()> wake) {
  std::lock_guard lock(state_->mu);
  state_->wake = std::move(wake);
}

Result<std::string> EventStream::next(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::deque<ChangeEvent> batch;
  std::size_t lost = 0;
  EventOptions options;
  {
    std::unique_lock lock(s.mu);
    s.read_any = true;
    s.cv.wait_for(lock, timeout, [&] { return !s.queue.empty() || s.lost > 0; });
    batch.swap(s.queue);
    lost = std::exchange(s.lost, 0);
    s.has_queued.store(false, std::memory_order_release);
    options = s.options;
  }
  std::string out;
  if (lost > 0) out += "{\"type\":\"coffer/events-lost\",\"count\":" + std::to_string(lost) + "}\n";
  if (batch.empty()) {
    // Nothing came: the token is still asked, so a revoke ends the stream
    // even when no event would have reached it.
    COFFER_TRY(auto standing, s.core->check_token(s.token));
    (void)standing;
    return out;
  }
  // One event, if the stream takes it: type, namespace, filter, and Vault's
  // allowMessage, asked now (a revoked token is denied here).
  auto offer = [&](const ChangeEvent& c, const EventFields& f, const std::string* coffer_path) -> Status {
    if (!glob_match(s.type_pattern, f.event_type)) return ok_status();
    if (!namespace_matches(s, options, c.namespace_path)) return ok_status();
    if (options.filter && !options.filter->matches(f)) return ok_status();
    const std::string abs = c.namespace_path + f.data_path;
    COFFER_TRY(bool allowed, s.core->may_subscribe(s.token, abs, f.event_type, f.data_path.empty()));
    if (allowed) out += event_line(c, f, s.type_pattern, s.view_root, coffer_path);
    return ok_status();
  };
  for (const ChangeEvent& c : batch) {
    const EventFields f = event_fields(c);
    COFFER_TRY_STATUS(offer(c, f, nullptr));
    // A known secret that a template of this mount read: the template's
    // event too, on the secret's data path (so who may subscribe to the
    // secret's events may to the template's, for this type).
    if (!s.templates || c.kind != ChangeKind::Secret || c.path.empty() || c.path.back() == '/') continue;
    if (!glob_match(s.type_pattern, kTemplateChangeType)) continue;
    EventFields tf = f;
    tf.event_type = std::string(kTemplateChangeType);
    tf.operation = tf.event_type.substr(tf.event_type.find('/') + 1);
    for (const std::string& name : s.templates(c)) COFFER_TRY_STATUS(offer(c, tf, &name));
  }
  return out;
}

Status may_open_events(Core& core, const Caller& caller, const std::string& abs_path) {
  if (caller.token.empty()) return Error::denied("permission denied");
  COFFER_TRY(auto bits, core.capabilities(caller.token, abs_path));
  if ((bits & policy::cap::kDeny) != 0 || (bits & policy::cap::kRead) == 0) return Error::denied("permission denied");
  return ok_status();
}

Result<std::unique_ptr<EventStream>> open_events(Core& core, const Caller& caller, std::string_view path,
                                                 std::string_view view_root, std::size_t max_queued,
                                                 TemplateMatcher templates) {
  std::string_view ns, type;
  if (!split_events_path(path, ns, type)) return Error::not_found("not an event stream");
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  {
    // Only below a namespace's system backend (not a KV secret so named).
    const auto tree = core.namespaces();
    if (tree->sealed) return Error::sealed();
    SnapshotRoute route = tree->resolve(std::string(path));
    if (route.mount == nullptr || route.mount->type != "system") return Error::not_found("not an event stream");
  }
  // Vault's subscribe request: ACL (read on sys/events/subscribe/TYPE),
  // audit, one use of a use-limited token.
  Request req;
  req.op = Operation::Read;
  req.path = std::string(path);
  req.token = caller.token;
  req.uses = caller.uses;
  req.peer = caller.peer;
  if (caller.token.empty()) return Error::denied("permission denied");
  COFFER_TRY(auto opened, core.handle(req));
  (void)opened;
  auto state = std::make_shared<EventStream::State>();
  state->core = &core;
  state->token = caller.token;
  state->ns_path = std::string(ns);
  state->type_pattern = std::string(type);
  state->view_root = std::string(view_root);
  state->max_queued = std::max<std::size_t>(1, max_queued);
  state->templates = std::move(templates);
  std::unique_ptr<EventStream> stream(new EventStream(state));
  // The bus's handler: queue only (no engine call, no lock but the queue's).
  std::weak_ptr<EventStream::State> weak = state;
  stream->subscription_ = core.subscribe([weak](const ChangeEvent& change) {
    auto s = weak.lock();
    if (!s) return;
    std::function<void()> wake;
    {
      std::lock_guard lock(s->mu);
      s->queue.push_back(change);
      while (s->queue.size() > s->max_queued) {
        s->queue.pop_front();
        ++s->lost;
      }
      s->has_queued.store(true, std::memory_order_release);
      wake = s->wake;
    }
    s->cv.notify_all();
    if (wake) wake();
  });
  return stream;
}

}  // namespace engine
