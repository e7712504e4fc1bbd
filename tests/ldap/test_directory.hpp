// SPDX-License-Identifier: MPL-2.0
// The test directory (tests/ldap/slapd.sh) from C++: unit tests and
// benchmarks start a throwaway slapd loaded with an LDIF, read what
// ldap_start exports (LDAP_URL, LDAP_ADMIN_DN, LDAP_PID...), pause, resume
// and change it, and stop it when the object goes. Needs COFFER_SOURCE_DIR.
// Failures throw std::runtime_error.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

namespace coffer_test {

class TestDirectory {
 public:
  // Starts slapd with `ldif` (default: tests/ldap/directory.ldif).
  explicit TestDirectory(const std::string& ldif = std::string(COFFER_SOURCE_DIR) + "/tests/ldap/directory.ldif") {
    char tmpl[] = "/tmp/coffer-test-ldap.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    run("ldap_start " + quote(dir_ + "/d") + " " + quote(ldif) + " >/dev/null && env | grep -E '^LDAPS?_' > " +
        quote(dir_ + "/vars"));
    std::ifstream env(dir_ + "/vars");
    std::string line;
    while (std::getline(env, line)) {
      if (auto eq = line.find('='); eq != std::string::npos) vars_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (!vars_.contains("LDAP_URL")) throw std::runtime_error("ldap_start exported no LDAP_URL");
  }
  ~TestDirectory() {
    harness("ldap_resume " + quote(dir_ + "/d") + " 2>/dev/null; ldap_stop " + quote(dir_ + "/d"));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestDirectory(const TestDirectory&) = delete;
  TestDirectory& operator=(const TestDirectory&) = delete;

  // An exported value: LDAP_URL, LDAPS_URL, LDAP_CA, LDAP_ADMIN_DN, LDAP_ADMIN_PW, LDAP_PID...
  const std::string& operator[](const std::string& name) const { return vars_.at(name); }

  // SIGSTOP: slapd accepts connections (the kernel does) and answers nothing.
  // Returns once the stop has taken effect (it does when slapd's threads next run).
  void pause() {
    run("ldap_pause " + quote(dir_ + "/d"));
    for (int i = 0; i < 500 && state() != 'T'; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (state() != 'T') throw std::runtime_error("slapd did not stop");
  }
  void resume() { run("ldap_resume " + quote(dir_ + "/d")); }
  // ldapmodify as the directory's admin.
  void modify(const std::string& ldif) { run("ldap_modify " + quote(dir_ + "/d") + " <<'LDIF'\n" + ldif + "\nLDIF"); }
  // slapd's process state, from /proc/PID/stat ('T' when stopped).
  char state() const {
    std::ifstream stat("/proc/" + vars_.at("LDAP_PID") + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return close == std::string::npos || close + 2 >= text.size() ? '?' : text[close + 2];
  }

 private:
  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  static int harness(const std::string& command) {
    const std::string script =
        "source " + quote(std::string(COFFER_SOURCE_DIR) + "/tests/ldap/slapd.sh") + " && " + command;
    return std::system(("bash -c " + quote(script)).c_str());
  }
  static void run(const std::string& command) {
    if (harness(command) != 0) throw std::runtime_error("test directory: `" + command + "` failed");
  }
  std::string dir_;
  std::map<std::string, std::string> vars_;
};

}  // namespace coffer_test
