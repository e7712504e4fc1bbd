// SPDX-License-Identifier: MPL-2.0
// A throwaway PostgreSQL server (tests/pg/postgres.sh) from C++: unit tests
// and benchmarks start one, read its URL, and stop it when the object goes.
// Needs COFFER_SOURCE_DIR. Failures throw std::runtime_error.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace coffer_test {

class TestPostgres {
 public:
  TestPostgres() {
    char tmpl[] = "/tmp/coffer-test-pg.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    // The server runs as postgres, which must reach its cluster inside.
    std::filesystem::permissions(dir_, std::filesystem::perms::others_exec, std::filesystem::perm_options::add);
    run("pg_start " + quote(dir_ + "/d") + " && env | grep -E '^PG_' > " + quote(dir_ + "/vars"));
    std::ifstream env(dir_ + "/vars");
    std::string line;
    while (std::getline(env, line)) {
      if (auto eq = line.find('='); eq != std::string::npos) vars_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (!vars_.contains("PG_URL")) throw std::runtime_error("pg_start exported no PG_URL");
  }
  ~TestPostgres() {
    harness("pg_stop " + quote(dir_ + "/d"));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  const std::string& url() const { return vars_.at("PG_URL"); }
  // A crash of the server, and a start of the same cluster on the same port.
  void kill() { run("pg_kill " + quote(dir_ + "/d")); }
  void restart() { run("pg_restart " + quote(dir_ + "/d")); }
  // SQL through psql, as the superuser.
  void psql(const std::string& sql) { run("pg_psql " + quote(dir_ + "/d") + " -c " + quote(sql)); }

 private:
  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  static int harness(const std::string& command) {
    const std::string script =
        "source " + quote(std::string(COFFER_SOURCE_DIR) + "/tests/pg/postgres.sh") + " && " + command;
    return std::system(("bash -c " + quote(script)).c_str());
  }
  static void run(const std::string& command) {
    if (harness(command) != 0) throw std::runtime_error("test postgres: `" + command + "` failed");
  }

  std::string dir_;
  std::map<std::string, std::string> vars_;
};

}  // namespace coffer_test
