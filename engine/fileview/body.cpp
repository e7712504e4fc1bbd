// SPDX-License-Identifier: MPL-2.0
#include "engine/fileview/body.hpp"

#include <string>

#include "engine/common/json_text.hpp"
#include "engine/common/utf8.hpp"

namespace engine {
namespace {

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Splits text into shell-style words: whitespace separates, '...' is literal,
// "..." allows \" \\ \n escapes, a backslash outside quotes escapes the next
// character. Words are collected in zeroing memory.
Result<std::vector<SecureString>> split_words(std::string_view text) {
  std::vector<SecureString> words;
  SecureString word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0') return Error::invalid("body must not contain NUL bytes");
    if (is_space(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      auto end = text.find('\'', i + 1);
      if (end == std::string_view::npos) return Error::invalid("unbalanced single quote in key=value body");
      word.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) {
          char e = text[++j];
          word.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          word.push_back(text[j]);
        }
      }
      if (j >= text.size()) return Error::invalid("unbalanced double quote in key=value body");
      i = j;
    } else if (c == '\\' && i + 1 < text.size()) {
      word.push_back(text[++i]);
    } else {
      word.push_back(c);
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace

Result<Json> parse_body(std::string_view body) {
  if (body.size() > kMaxBodyBytes) return Error::too_large("request body is larger than 1 MiB");
  std::string_view text = trim_left(body);
  if (text.empty()) return Error::invalid("empty request body");
  if (text.front() == '{' || text.front() == '[' || text.front() == '"') {
    COFFER_TRY(Json parsed, parse_json(text, "JSON body"));
    if (!parsed.is_object()) return Error::invalid("JSON body must be an object");
    return parsed;
  }
  // JSON text is checked by its parser; key=value text must be UTF-8 too,
  // or it could not be shown (or audited) as JSON afterwards.
  if (!utf8::valid(text)) return Error::invalid("key=value body is not valid UTF-8");
  COFFER_TRY(auto words, split_words(text));
  Json out = Json::object();
  std::size_t index = 0;
  for (const SecureString& w : words) {
    ++index;
    auto eq = w.find('=');
    if (eq == SecureString::npos) {
      return Error::invalid("body item " + std::to_string(index) + " is not key=value (nor is the body JSON)");
    }
    if (eq == 0) return Error::invalid("body item " + std::to_string(index) + " has an empty key");
    std::string_view key(w.data(), eq);
    if (out.contains(key)) return Error::invalid("key \"" + std::string(key) + "\" given twice");
    out[SecureString(key)] = SecureString(w.data() + eq + 1, w.size() - eq - 1);
  }
  return out;
}

bool body_is_complete(std::string_view body) {
  // A newline ends a request even when the JSON before it is broken, or
  // when nothing came before it (`echo > renew-self`: an empty body): the
  // error then comes back from write(2), which shells report, rather than
  // from close(2), which they ignore.
  if (!body.empty() && body.back() == '\n') return true;
  std::string_view text = trim_left(body);
  if (text.empty()) return false;
  return (text.front() == '{' || text.front() == '[' || text.front() == '"') && Json::accept(text.begin(), text.end());
}

}  // namespace engine
