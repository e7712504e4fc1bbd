// SPDX-License-Identifier: MPL-2.0
// `template "NAME" { ... }` inside a config mount block: what is accepted,
// and that a bad name or bad syntax is refused at load with FILE:LINE.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "mountd/config.hpp"

using mountd::parse_config;

namespace {

const std::string kStorage = "storage \"sqlite\" { path = \"/tmp/c.db\" }\n";

std::string error_of(const std::string& mount_body) {
  auto r = parse_config(kStorage + "mount \"/run/app\" {\n" + mount_body + "\n}\n", "coffer.hcl");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == engine::ErrorCode::InvalidArgument);
  return r.error().message;
}

}  // namespace

TEST_CASE("config: template blocks with contents are parsed at load", "[config]") {
  auto r = parse_config(kStorage +
                            "mount \"/run/app\" {\n"
                            "  file_mode = \"0600\"\n"
                            "  template \"app.env\" {\n"
                            "    contents = \"{{ with secret \\\"kv/data/app\\\" }}P={{ .Data.data.p }}{{ end }}\"\n"
                            "    perms = \"0400\"\n"
                            "  }\n"
                            "  template \"db.yml\" { contents = \"static\" }\n"
                            "}\n",
                        "coffer.hcl");
  if (!r.ok()) FAIL(r.error().message);
  REQUIRE(r->mounts.size() == 1);
  const auto& ts = r->mounts[0].templates;
  REQUIRE(ts.size() == 2);
  CHECK(ts[0].name == "app.env");
  CHECK(ts[0].line == 4);
  CHECK(ts[0].perms == 0400);
  REQUIRE(ts[0].parsed != nullptr);
  CHECK(ts[0].parsed->literal_paths() == std::vector<std::string>{"kv/data/app"});
  CHECK(ts[1].perms == 0600);  // the mount's file_mode
  REQUIRE(ts[1].parsed != nullptr);
}

TEST_CASE("config: bad templates are refused with the file and line", "[config]") {
  CHECK(error_of("template \"app.env\" {\n contents = \"x\\n{{ service \\\"db\\\" }}\" }") ==
        "coffer.hcl:3: template \"app.env\": app.env:2: function \"service\" not defined");
  CHECK(error_of("template \"sys\" { contents = \"x\" }") ==
        "coffer.hcl:3: template \"sys\" in mount \"/run/app\" would shadow the built-in \"sys\"");
  CHECK(error_of("template \"auth\" { contents = \"x\" }").find("shadow") != std::string::npos);
  CHECK(error_of("template \"identity\" { contents = \"x\" }").find("shadow") != std::string::npos);
  CHECK(error_of("template \"a/b\" { contents = \"x\" }").find("may not contain") != std::string::npos);
  CHECK(error_of("template \"a@v\" { contents = \"x\" }").find("may not contain") != std::string::npos);
  CHECK(error_of("template \"..\" { contents = \"x\" }").find("not a file name") != std::string::npos);
  CHECK(error_of("template \"a\" { }").find("exactly one of source and contents") != std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"x\"\n source = \"/etc/x\" }").find("exactly one") != std::string::npos);
  CHECK(error_of("template \"a\" { source = \"rel\" }").find("absolute path") != std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"x\"\n perms = \"0755\" }").find("coffer.hcl:4:") == 0);
  CHECK(error_of("template \"a\" { contents = \"x\"\n perms = 400 }").find("octal") != std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"x\"\n error_on_missing_key = false }").find("cannot be false") !=
        std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"x\"\n destination = \"/x\" }").find("unknown key \"destination\"") !=
        std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"x\" }\ntemplate \"a\" { contents = \"y\" }").find("declared twice") !=
        std::string::npos);
  CHECK(error_of("template \"a\" { contents = \"{{ secret \\\"pki/issue/x\\\" \\\"cn=a\\\" }}\" }")
            .find("template writes are not supported") != std::string::npos);
}

TEST_CASE("config: a template's source file is read and parsed by load_config", "[config]") {
  char dir_template[] = "/tmp/coffer-tmpl-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string good = dir + "/app.env.ctmpl", bad = dir + "/bad.ctmpl", conf = dir + "/coffer.hcl";
  std::ofstream(good) << "{{ with secret \"kv/data/app\" }}{{ .Data.data.p }}{{ end }}\n";
  std::ofstream(bad) << "ok\n\n{{ env \"HOME\" }}\n";
  std::ofstream(conf) << kStorage << "mount \"/run/app\" {\n  template \"app.env\" { source = \"" << good
                      << "\" }\n}\n";
  auto r = mountd::load_config(conf);
  if (!r.ok()) FAIL(r.error().message);
  REQUIRE(r->mounts[0].templates.size() == 1);
  REQUIRE(r->mounts[0].templates[0].parsed != nullptr);
  CHECK(r->mounts[0].templates[0].parsed->literal_paths() == std::vector<std::string>{"kv/data/app"});

  std::ofstream(conf) << kStorage << "mount \"/run/app\" {\n  template \"bad\" { source = \"" << bad << "\" }\n}\n";
  auto e = mountd::load_config(conf);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message == bad + ":3: function \"env\" not defined");

  std::ofstream(conf) << kStorage << "mount \"/run/app\" {\n  template \"gone\" { source = \"" << dir
                      << "/nope\" }\n}\n";
  auto m = mountd::load_config(conf);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find(conf + ":3: template \"gone\" in mount \"/run/app\": cannot read the source") == 0);
  std::remove(good.c_str());
  std::remove(bad.c_str());
  std::remove(conf.c_str());
  rmdir(dir.c_str());
}
