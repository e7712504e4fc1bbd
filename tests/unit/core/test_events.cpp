// SPDX-License-Identifier: MPL-2.0
// Change events (engine/fileview/events.hpp): the filter and options
// parsers, the event types the core names for each request, the stream's
// Vault-shaped lines and its ACL, over a real dev core.
#include <catch2/catch.hpp>

#include "engine/common/names.hpp"
#include "engine/fileview/events.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ChangeEvent;
using engine::ErrorCode;
using engine::EventFields;
using engine::Json;
using engine::Operation;

namespace {

EventFields fields(std::string type, std::string path = "secret/data/app", std::string ns = "") {
  EventFields f;
  f.event_type = type;
  f.operation = type.substr(type.find('/') + 1);
  f.source_plugin_mount = "secret/";
  f.data_path = std::move(path);
  f.namespace_path = std::move(ns);
  return f;
}

bool passes(std::string_view filter, const EventFields& f) {
  auto parsed = engine::parse_event_filter(filter);
  if (!parsed.ok()) FAIL(std::string(filter) << ": " << parsed.error().message);
  return parsed->matches(f);
}

Json secret(std::string_view value) { return Json{{"data", Json{{"k", engine::to_secure(value)}}}}; }

void ok(const engine::Result<engine::Response>& r) {
  if (!r.ok()) FAIL(r.error().message);
}

// The lines a stream has now, as JSON.
std::vector<nlohmann::json> lines_of(engine::EventStream& s) {
  auto text = s.next(std::chrono::milliseconds(50));
  if (!text.ok()) FAIL(text.error().message);
  std::vector<nlohmann::json> out;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    out.push_back(nlohmann::json::parse(rest.substr(0, nl)));
    rest.remove_prefix(nl + 1);
  }
  return out;
}

// Every event type the bus carried for one request.
struct Types {
  std::vector<std::string> seen;
  engine::ChangeBus::Subscription sub;
  explicit Types(engine::Core& core)
      : sub(core.subscribe([this](const ChangeEvent& c) {
          if (c.kind != engine::ChangeKind::Token) seen.push_back(c.event_type);
        })) {}
  std::vector<std::string> take() { return std::exchange(seen, {}); }
};

}  // namespace

TEST_CASE("events: globs match as Vault's go-glob", "[events]") {
  CHECK(engine::glob_match("*", "kv-v2/data-write"));
  CHECK(engine::glob_match("kv*", "kv-v1/write"));
  CHECK(engine::glob_match("kv-v2/data-*", "kv-v2/data-delete"));
  CHECK_FALSE(engine::glob_match("kv-v2/data-*", "kv-v2/metadata-write"));
  CHECK(engine::glob_match("kv-v2/data-write", "kv-v2/data-write"));
  CHECK_FALSE(engine::glob_match("kv-v2/data-write", "kv-v2/data-writes"));
  CHECK(engine::glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(engine::glob_match("a*b*c", "axxbyy"));
  CHECK(engine::glob_match("", ""));
  CHECK_FALSE(engine::glob_match("", "x"));
}

TEST_CASE("events: the filter language, a go-bexpr subset", "[events][filter]") {
  const EventFields w = fields("kv-v2/data-write");
  const EventFields d = fields("kv-v2/data-delete", "secret/data/other", "team1/");
  CHECK(passes("", w));
  CHECK(passes(R"(event_type == "kv-v2/data-write")", w));
  CHECK_FALSE(passes(R"(event_type == "kv-v2/data-write")", d));
  CHECK(passes(R"(operation != "data-write")", d));
  CHECK(passes(R"(data_path contains "other")", d));
  CHECK(passes(R"("other" in data_path)", d));
  CHECK_FALSE(passes(R"("other" not in data_path)", d));
  CHECK(passes(R"(data_path not contains "other")", w));
  CHECK(passes(R"(namespace == "team1/" and not (operation == "data-write"))", d));
  CHECK(passes(R"(operation == data-write or operation == data-delete)", d));  // bare words
  CHECK(passes(R"(source_plugin_mount == "secret/" and (namespace == "" or namespace == "team1/"))", d));
  CHECK(passes(R"(operation == "x" or operation == "y" or operation == "data-write")", w));
  CHECK_FALSE(passes(R"(operation == "data-write" and namespace == "team1/")", w));
  CHECK_FALSE(passes(R"(data_path == "a\"b")", w));  // an escaped quote inside a value
  CHECK(passes(R"(data_path != "a\"b\\")", w));
}

TEST_CASE("events: bad filters are refused with a reason and limits hold", "[events][filter]") {
  for (std::string_view bad : {"event_type", "event_type ==", "nope == \"x\"", "operation ~ 1", "(operation == x",
                               "operation == x)", "operation == \"unterminated", "and", "not", "\"x\" in",
                               "\"x\" in nope", "operation == x and", "operation === x"}) {
    auto r = engine::parse_event_filter(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.error().code == ErrorCode::InvalidArgument);
      CHECK(r.error().message.starts_with("filter: "));
    }
  }
  // Depth: parentheses and nots beyond the limit.
  std::string deep(200, '(');
  deep += "operation == x" + std::string(200, ')');
  CHECK_FALSE(engine::parse_event_filter(deep).ok());
  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "not ";
  CHECK_FALSE(engine::parse_event_filter(nots + "operation == x").ok());
  // Terms and size.
  std::string many = "operation == x";
  for (std::size_t i = 0; i < engine::kMaxFilterTerms; ++i) many += " or operation == x";
  CHECK(many.size() < engine::kMaxFilterBytes);
  CHECK_FALSE(engine::parse_event_filter(many).ok());
  CHECK_FALSE(engine::parse_event_filter(std::string(engine::kMaxFilterBytes + 1, ' ')).ok());
}

TEST_CASE("events: the first write's options", "[events][filter]") {
  auto o = engine::parse_event_options("namespaces=team*,/ops/ filter=operation != \"data-delete\"\n");
  REQUIRE(o.ok());
  CHECK(o->namespaces == std::vector<std::string>{"team*", "ops"});
  REQUIRE(o->filter);
  CHECK(o->filter->matches(fields("kv-v2/data-write")));
  CHECK_FALSE(o->filter->matches(fields("kv-v2/data-delete")));
  CHECK(engine::parse_event_options("").ok());
  CHECK_FALSE(engine::parse_event_options("json=true").ok());
  CHECK_FALSE(engine::parse_event_options("namespaces").ok());
  CHECK_FALSE(engine::parse_event_options("filter=a == b\nfilter=a == b").ok());
  CHECK_FALSE(engine::parse_event_options(std::string(engine::kMaxEventOptionsBytes + 1, 'x')).ok());
  std::string many = "namespaces=";
  for (std::size_t i = 0; i <= engine::kMaxNamespacePatterns; ++i) many += "n" + std::to_string(i) + ",";
  CHECK_FALSE(engine::parse_event_options(many).ok());
}

TEST_CASE("events: stream paths and their folders", "[events]") {
  CHECK(engine::is_events_path("sys/events/subscribe/kv-v2/data-write"));
  CHECK(engine::is_events_path("ns1/sys/events/subscribe/kv*"));
  CHECK(engine::is_events_path("sys/events/subscribe/*"));
  CHECK_FALSE(engine::is_events_path("sys/events/subscribe/kv-v2"));  // a folder
  CHECK_FALSE(engine::is_events_path("sys/events/subscribe/"));
  CHECK_FALSE(engine::is_events_path("secret/app"));
  CHECK(engine::is_events_dir("events"));
  CHECK(engine::is_events_dir("events/subscribe"));
  CHECK(engine::is_events_dir("events/subscribe/coffer"));
  CHECK_FALSE(engine::is_events_dir("events/subscribe/kv*"));
}

TEST_CASE("events: the core names what each request did", "[events][changes]") {
  DevCore d;
  Types t(*d.core);
  ok(api(d, "root", Operation::Update, "secret/data/app", secret("v1")));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/data-write"});
  ok(api(d, "root", Operation::Patch, "secret/data/app", secret("v2")));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/data-patch"});
  ok(api(d, "root", Operation::Update, "secret/delete/app", Json{{"versions", Json::array({1})}}));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/delete"});
  ok(api(d, "root", Operation::Update, "secret/undelete/app", Json{{"versions", Json::array({1})}}));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/undelete"});
  ok(api(d, "root", Operation::Update, "secret/destroy/app", Json{{"versions", Json::array({1})}}));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/destroy"});
  ok(api(d, "root", Operation::Delete, "secret/data/app"));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/data-delete"});
  ok(api(d, "root", Operation::Update, "secret/metadata/app", Json{{"max_versions", 3}}));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/metadata-write"});
  ok(api(d, "root", Operation::Delete, "secret/metadata/app"));
  CHECK(t.take() == std::vector<std::string>{"kv-v2/metadata-delete"});

  ok(api(d, "root", Operation::Update, "sys/mounts/kv1", Json{{"type", "kv"}}));
  CHECK(t.take().front() == "coffer/mount-write");
  ok(api(d, "root", Operation::Update, "kv1/app", Json{{"k", "v"}}));
  CHECK(t.take() == std::vector<std::string>{"kv-v1/write"});
  ok(api(d, "root", Operation::Delete, "kv1/app"));
  CHECK(t.take() == std::vector<std::string>{"kv-v1/delete"});

  ok(api(d, "root", Operation::Update, "sys/policies/acl/p",
         Json{{"policy", "path \"x\" { capabilities = [\"read\"] }"}}));
  CHECK(t.take() == std::vector<std::string>{"coffer/policy-write"});
  ok(api(d, "root", Operation::Delete, "sys/policies/acl/p"));
  CHECK(t.take() == std::vector<std::string>{"coffer/policy-delete"});
  ok(api(d, "root", Operation::Update, "sys/namespaces/team1"));
  CHECK(t.take().front() == "coffer/namespace-write");
}

TEST_CASE("events: a stream's lines are Vault's shape with coffer_path and no value", "[events]") {
  DevCore d;
  auto stream = engine::open_events(*d.core, d.root, "sys/events/subscribe/kv-v2/data-write", "");
  REQUIRE(stream.ok());
  ok(api(d, "root", Operation::Update, "secret/data/app/db", secret("TOPSECRET")));
  ok(api(d, "root", Operation::Delete, "secret/data/app/db"));  // another type: not shown
  auto text = (*stream)->next(std::chrono::milliseconds(50));
  REQUIRE(text.ok());
  CHECK(text->find("TOPSECRET") == std::string::npos);
  auto lines = lines_of(**stream);  // nothing more
  CHECK(lines.empty());
  auto e = nlohmann::json::parse(text->substr(0, text->find('\n')));
  CHECK(e["specversion"] == "1.0");
  CHECK(e["type"] == "kv-v2/data-write");
  CHECK(e["id"] == e["data"]["event"]["id"]);
  CHECK(e["data"]["event_type"] == "kv-v2/data-write");
  CHECK(e["data"]["namespace"] == "");
  CHECK(e["data"]["plugin_info"]["mount_path"] == "secret/");
  CHECK(e["data"]["plugin_info"]["plugin"] == "kv");
  const auto& m = e["data"]["event"]["metadata"];
  CHECK(m["operation"] == "data-write");
  CHECK(m["path"] == "secret/data/app/db");
  CHECK(m["data_path"] == "secret/data/app/db");
  CHECK(m["current_version"] == "1");
  CHECK(m["modified"] == "true");
  CHECK(m["coffer_path"] == "secret/app/db");

  // A chroot mount shows coffer_path below its root; other namespaces are
  // outside the stream's unless asked for with namespaces=.
  ok(api(d, "root", Operation::Update, "sys/namespaces/team1"));
  ok(api(d, "root", Operation::Update, "team1/sys/mounts/secret",
         Json{{"type", "kv"}, {"options", {{"version", "2"}}}}));
  auto team = engine::open_events(*d.core, d.root, "team1/sys/events/subscribe/kv*", "team1");
  REQUIRE(team.ok());
  auto root_all = engine::open_events(*d.core, d.root, "sys/events/subscribe/kv*", "");
  REQUIRE(root_all.ok());
  auto root_children = engine::open_events(*d.core, d.root, "sys/events/subscribe/kv*", "");
  REQUIRE(root_children.ok());
  REQUIRE((*root_children)->configure("namespaces=team*").ok());
  ok(api(d, "root", Operation::Update, "team1/secret/data/x", secret("v")));
  auto t = lines_of(**team);
  REQUIRE(t.size() == 1);
  CHECK(t[0]["data"]["event"]["metadata"]["coffer_path"] == "secret/x");
  CHECK(t[0]["data"]["namespace"] == "team1/");
  CHECK(lines_of(**root_all).empty());
  CHECK(lines_of(**root_children).size() == 1);
  CHECK_FALSE((*root_children)->configure("namespaces=x").ok());  // after the first read
}

TEST_CASE("events: Vault's ACL, asked for every event", "[events][acl]") {
  DevCore d;
  ok(api(d, "root", Operation::Update, "sys/policies/acl/open-only",
         Json{{"policy",
               "path \"sys/events/subscribe/*\" { capabilities = [\"read\"] }\n"
               "path \"secret/data/*\" { capabilities = [\"read\"] }"}}));
  ok(api(d, "root", Operation::Update, "sys/policies/acl/sub",
         Json{{"policy",
               "path \"sys/events/subscribe/*\" { capabilities = [\"read\"] }\n"
               "path \"secret/data/app/*\" { capabilities = [\"subscribe\"] subscribe_event_types = "
               "[\"kv-v2/data-*\"] }"}}));
  ok(api(d, "root", Operation::Update, "sys/policies/acl/wrong-type",
         Json{{"policy",
               "path \"sys/events/subscribe/*\" { capabilities = [\"read\"] }\n"
               "path \"secret/data/*\" { capabilities = [\"subscribe\"] subscribe_event_types = "
               "[\"kv-v1/*\"] }"}}));
  const std::string open_only = make_token(d, R"({"policies":["open-only"]})");
  const std::string sub = make_token(d, R"({"policies":["sub"]})");
  const std::string wrong = make_token(d, R"({"policies":["wrong-type"]})");
  const std::string none = make_token(d, R"({"policies":["default"]})");

  // Opening needs read on sys/events/subscribe/TYPE.
  auto refused = engine::open_events(*d.core, as(none), "sys/events/subscribe/kv*", "");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::PermissionDenied);
  CHECK_FALSE(engine::open_events(*d.core, as(""), "sys/events/subscribe/kv*", "").ok());

  auto s_open = engine::open_events(*d.core, as(open_only), "sys/events/subscribe/*", "");
  auto s_sub = engine::open_events(*d.core, as(sub), "sys/events/subscribe/*", "");
  auto s_wrong = engine::open_events(*d.core, as(wrong), "sys/events/subscribe/*", "");
  auto s_root = engine::open_events(*d.core, d.root, "sys/events/subscribe/*", "");
  REQUIRE(s_open.ok());
  REQUIRE(s_sub.ok());
  REQUIRE(s_wrong.ok());
  REQUIRE(s_root.ok());
  ok(api(d, "root", Operation::Update, "secret/data/app/db", secret("v")));
  ok(api(d, "root", Operation::Update, "secret/data/other", secret("v")));
  ok(api(d, "root", Operation::Update, "sys/mounts/kv1", Json{{"type", "kv"}}));  // no data path
  CHECK(lines_of(**s_open).empty());                                              // read, but no subscribe
  CHECK(lines_of(**s_wrong).empty());                                             // subscribe, types that do not match
  auto got = lines_of(**s_sub);
  REQUIRE(got.size() == 1);
  CHECK(got[0]["data"]["event"]["metadata"]["coffer_path"] == "secret/app/db");
  std::vector<std::string> root_types;
  for (const auto& l : lines_of(**s_root)) root_types.push_back(l["data"]["event_type"].get<std::string>());
  CHECK(std::count(root_types.begin(), root_types.end(), "coffer/mount-write") >= 1);  // root only

  // Revoked: the next read fails, event or not.
  ok(api(d, "root", Operation::Update, "auth/token/revoke", Json{{"token", engine::to_secure(sub)}}));
  auto after = (*s_sub)->next(std::chrono::milliseconds(10));
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == ErrorCode::PermissionDenied);
}

TEST_CASE("events: a slow reader loses the oldest and is told how many", "[events]") {
  DevCore d;
  auto stream = engine::open_events(*d.core, d.root, "sys/events/subscribe/kv-v2/data-write", "", 4);
  REQUIRE(stream.ok());
  for (int i = 0; i < 10; ++i) ok(api(d, "root", Operation::Update, "secret/data/n" + std::to_string(i), secret("v")));
  CHECK((*stream)->ready());
  auto lines = lines_of(**stream);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["type"] == "coffer/events-lost");
  CHECK(lines[0]["count"] == 6);
  CHECK(lines[1]["data"]["event"]["metadata"]["coffer_path"] == "secret/n6");
  CHECK(lines[4]["data"]["event"]["metadata"]["coffer_path"] == "secret/n9");
  CHECK_FALSE((*stream)->ready());
}

TEST_CASE("events: coffer/template-change for a template whose dependency changed", "[events][template]") {
  DevCore d;
  ok(api(d, "root", Operation::Update, "sys/policies/acl/tmpl",
         Json{{"policy",
               "path \"sys/events/subscribe/*\" { capabilities = [\"read\"] }\n"
               "path \"secret/data/app/*\" { capabilities = [\"subscribe\"] subscribe_event_types = "
               "[\"coffer/template-*\"] }"}}));
  ok(api(d, "root", Operation::Update, "sys/policies/acl/kv-only",
         Json{{"policy",
               "path \"sys/events/subscribe/*\" { capabilities = [\"read\"] }\n"
               "path \"secret/data/*\" { capabilities = [\"subscribe\"] subscribe_event_types = [\"kv*\"] }"}}));
  const std::string tmpl = make_token(d, R"({"policies":["tmpl"]})");
  const std::string kv_only = make_token(d, R"({"policies":["kv-only"]})");
  // The mount's matcher: app.env read secret/app/db (as the fs decides from
  // its last render's dependencies), other.env secret/other.
  std::vector<engine::ChangeEvent> asked;
  engine::TemplateMatcher matcher = [&asked](const engine::ChangeEvent& c) {
    asked.push_back(c);
    std::vector<std::string> out;
    if (c.path == "secret/app/db") out.push_back("app.env");
    if (c.path == "secret/other") out.push_back("other.env");
    return out;
  };
  auto s_root = engine::open_events(*d.core, d.root, "sys/events/subscribe/coffer/template-change", "", 1024, matcher);
  auto s_tmpl = engine::open_events(*d.core, as(tmpl), "sys/events/subscribe/*", "", 1024, matcher);
  auto s_kv = engine::open_events(*d.core, as(kv_only), "sys/events/subscribe/*", "", 1024, matcher);
  auto s_plain = engine::open_events(*d.core, d.root, "sys/events/subscribe/*", "");  // no templates
  REQUIRE(s_root.ok());
  REQUIRE(s_tmpl.ok());
  REQUIRE(s_kv.ok());
  REQUIRE(s_plain.ok());
  ok(api(d, "root", Operation::Update, "secret/data/app/db", secret("TOPSECRET")));
  ok(api(d, "root", Operation::Update, "secret/data/other", secret("v")));
  ok(api(d, "root", Operation::Update, "secret/data/unused", secret("v")));
  ok(api(d, "root", Operation::Update, "sys/policies/acl/p", Json{{"policy", "path \"x\" { capabilities = [\"read\"] }"}}));

  auto text = (*s_root)->next(std::chrono::milliseconds(50));
  REQUIRE(text.ok());
  CHECK(text->find("TOPSECRET") == std::string::npos);
  std::vector<nlohmann::json> root;
  for (std::size_t at = 0; at < text->size();) {
    const auto nl = text->find('\n', at);
    root.push_back(nlohmann::json::parse(text->substr(at, nl - at)));
    at = nl + 1;
  }
  REQUIRE(root.size() == 2);  // app.env, other.env; nothing for unused or the policy
  CHECK(root[0]["type"] == "coffer/template-change");
  CHECK(root[0]["data"]["event_type"] == "coffer/template-change");
  CHECK(root[0]["data"]["plugin_info"]["plugin"] == "coffer");
  CHECK(root[0]["data"]["plugin_info"]["mount_path"] == "secret/");
  const auto& m = root[0]["data"]["event"]["metadata"];
  CHECK(m["operation"] == "template-change");
  CHECK(m["coffer_path"] == "app.env");
  CHECK(m["data_path"] == "secret/data/app/db");  // the dependency: what the ACL is asked on
  CHECK(m["current_version"] == "1");
  CHECK(root[1]["data"]["event"]["metadata"]["coffer_path"] == "other.env");

  // Per event, Vault's check on the dependency's data path for this type:
  // tmpl subscribes to coffer/template-* below secret/data/app/ only; kv-only
  // to kv* (its kv events come, not the template's).
  auto t = lines_of(**s_tmpl);
  REQUIRE(t.size() == 1);
  CHECK(t[0]["data"]["event"]["metadata"]["coffer_path"] == "app.env");
  std::vector<std::string> kv_types;
  for (const auto& l : lines_of(**s_kv)) kv_types.push_back(l["data"]["event_type"].get<std::string>());
  CHECK(kv_types == std::vector<std::string>{"kv-v2/data-write", "kv-v2/data-write", "kv-v2/data-write"});
  // A stream opened with no templates never shows one.
  for (const auto& l : lines_of(**s_plain)) CHECK(l["data"]["event_type"] != "coffer/template-change");
  // Only secret changes are offered to the matcher (not the policy's).
  for (const auto& c : asked) CHECK(c.kind == engine::ChangeKind::Secret);
}
