// SPDX-License-Identifier: MPL-2.0
#include "engine/policy/hcl.hpp"

#include "engine/common/utf8.hpp"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

namespace engine::policy::hcl {
namespace {

// Nesting beyond this is refused: policies are shallow, and recursion depth
// must stay bounded for hostile input.
constexpr int kMaxDepth = 64;

Error syntax_error(int line, int col, std::string_view what) {
  return Error::invalid("At " + std::to_string(line) + ":" + std::to_string(col) + ": " + std::string(what));
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
// HCL1 identifiers: letters, '_' and any non-ASCII byte (UTF-8 letters), then
// also digits, '-' and '.'.
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c) || c == '-' || c == '.'; }

// ---------------------------------------------------------------------------
// HCL1 lexer

enum class Tok { Eof, LBrace, RBrace, LBrack, RBrack, Comma, Assign, Ident, String, Heredoc, Int, Float, Bool };

const char* tok_name(Tok t) {
  switch (t) {
    case Tok::Eof: return "EOF";
    case Tok::LBrace: return "LBRACE";
    case Tok::RBrace: return "RBRACE";
    case Tok::LBrack: return "LBRACK";
    case Tok::RBrack: return "RBRACK";
    case Tok::Comma: return "COMMA";
    case Tok::Assign: return "ASSIGN";
    case Tok::Ident: return "IDENT";
    case Tok::String: return "STRING";
    case Tok::Heredoc: return "HEREDOC";
    case Tok::Int: return "NUMBER";
    case Tok::Float: return "FLOAT";
    case Tok::Bool: return "BOOL";
  }
  return "?";
}

struct Token {
  Tok type = Tok::Eof;
  int line = 1;
  int col = 1;
  std::string text;  // decoded string / identifier / number text
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  // Reads the next token into `out`.
  Status next(Token& out) {
    COFFER_TRY_STATUS(skip_space_and_comments());
    out = Token{};
    out.line = line_;
    out.col = col_;
    if (pos_ >= src_.size()) return ok_status();
    const char c = src_[pos_];
    switch (c) {
      case '{':
        advance();
        out.type = Tok::LBrace;
        return ok_status();
      case '}':
        advance();
        out.type = Tok::RBrace;
        return ok_status();
      case '[':
        advance();
        out.type = Tok::LBrack;
        return ok_status();
      case ']':
        advance();
        out.type = Tok::RBrack;
        return ok_status();
      case ',':
        advance();
        out.type = Tok::Comma;
        return ok_status();
      case '=':
        advance();
        out.type = Tok::Assign;
        return ok_status();
      case '"': return lex_string(out);
      case '<': return lex_heredoc(out);
      default: break;
    }
    if (is_digit(c) || (c == '-' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1]))) {
      return lex_number(out);
    }
    if (is_ident_start(c)) {
      const std::size_t start = pos_;
      while (pos_ < src_.size() && is_ident_char(src_[pos_])) advance();
      out.text.assign(src_.substr(start, pos_ - start));
      out.type = (out.text == "true" || out.text == "false") ? Tok::Bool : Tok::Ident;
      return ok_status();
    }
    return syntax_error(line_, col_, "illegal char " + quote_char(c));
  }

 private:
  static std::string quote_char(char c) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      std::string s = "'\\x";
      s += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
      s += hex[static_cast<unsigned char>(c) & 0xF];
      return s + "'";
    }
    return std::string("'") + c + "'";
  }

  void advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  Status skip_space_and_comments() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (is_space(c)) {
        advance();
      } else if (c == '#' || (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/')) {
        while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '*') {
        const int line = line_, col = col_;
        advance();
        advance();
        bool closed = false;
        while (pos_ < src_.size()) {
          if (src_[pos_] == '*' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
            advance();
            advance();
            closed = true;
            break;
          }
          advance();
        }
        if (!closed) return syntax_error(line, col, "comment not terminated");
      } else if (c == '/') {
        return syntax_error(line_, col_, "expected '/' for comment");
      } else {
        break;
      }
    }
    return ok_status();
  }

  Status lex_string(Token& out) {
    const int line = line_, col = col_;
    advance();  // opening quote
    std::string value;
    int interp_depth = 0;  // inside ${ ... } quotes nest and are kept verbatim
    while (true) {
      if (pos_ >= src_.size()) return syntax_error(line, col, "literal not terminated");
      const char c = src_[pos_];
      if (c == '\n' && interp_depth == 0) return syntax_error(line, col, "literal not terminated");
      if (interp_depth > 0) {
        if (c == '{') ++interp_depth;
        if (c == '}') --interp_depth;
        value += c;
        advance();
        continue;
      }
      if (c == '"') {
        advance();
        break;
      }
      if (c == '$' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '{') {
        value += "${";
        advance();
        advance();
        interp_depth = 1;
        continue;
      }
      if (c != '\\') {
        value += c;
        advance();
        continue;
      }
      const int eline = line_, ecol = col_;
      advance();
      if (pos_ >= src_.size()) return syntax_error(line, col, "literal not terminated");
      const char e = src_[pos_];
      advance();
      switch (e) {
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'v': value += '\v'; break;
        case '\\': value += '\\'; break;
        case '"': value += '"'; break;
        case 'x':
        case 'u':
        case 'U': {
          const int digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          std::uint32_t cp = 0;
          for (int i = 0; i < digits; ++i) {
            if (pos_ >= src_.size() || !is_hex(src_[pos_])) {
              return syntax_error(eline, ecol, "illegal char escape");
            }
            cp = cp * 16 + static_cast<std::uint32_t>(hex_value(src_[pos_]));
            advance();
          }
          if (e == 'x') {
            value += static_cast<char>(cp);
          } else if (!utf8::append(value, cp)) {
            return syntax_error(eline, ecol, "escape sequence is invalid Unicode code point");
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t cp = static_cast<std::uint32_t>(e - '0');
            for (int i = 0; i < 2; ++i) {
              if (pos_ >= src_.size() || src_[pos_] < '0' || src_[pos_] > '7') {
                return syntax_error(eline, ecol, "illegal char escape");
              }
              cp = cp * 8 + static_cast<std::uint32_t>(src_[pos_] - '0');
              advance();
            }
            if (cp > 255) return syntax_error(eline, ecol, "octal escape value > 255");
            value += static_cast<char>(cp);
            break;
          }
          return syntax_error(eline, ecol, "unknown escape sequence");
      }
    }
    out.type = Tok::String;
    out.line = line;
    out.col = col;
    out.text = std::move(value);
    return ok_status();
  }

  Status lex_heredoc(Token& out) {
    const int line = line_, col = col_;
    if (pos_ + 1 >= src_.size() || src_[pos_ + 1] != '<') return syntax_error(line, col, "illegal char '<'");
    advance();
    advance();
    bool indented = false;
    if (pos_ < src_.size() && src_[pos_] == '-') {
      indented = true;
      advance();
    }
    const std::size_t anchor_start = pos_;
    while (pos_ < src_.size() && (is_ident_char(src_[pos_]))) advance();
    const std::string anchor(src_.substr(anchor_start, pos_ - anchor_start));
    if (anchor.empty()) return syntax_error(line, col, "zero-length heredoc anchor");
    if (pos_ < src_.size() && src_[pos_] == '\r') advance();
    if (pos_ >= src_.size() || src_[pos_] != '\n') {
      return syntax_error(line, col, "heredoc anchor must be followed by a newline");
    }
    advance();
    std::vector<std::string_view> lines;
    while (true) {
      if (pos_ >= src_.size()) return syntax_error(line, col, "heredoc not terminated");
      const std::size_t start = pos_;
      while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      std::string_view l = src_.substr(start, pos_ - start);
      const bool had_newline = pos_ < src_.size();
      std::string_view trimmed = l;
      if (!trimmed.empty() && trimmed.back() == '\r') trimmed.remove_suffix(1);
      std::string_view stripped = trimmed;
      while (!stripped.empty() && (stripped.front() == ' ' || stripped.front() == '\t')) {
        stripped.remove_prefix(1);
      }
      if ((indented ? stripped : trimmed) == anchor) {
        // The anchor line's own indentation is what `<<-` removes.
        std::string value;
        const std::size_t indent = trimmed.size() - stripped.size();
        const std::string_view prefix = trimmed.substr(0, indent);
        bool all_prefixed = indented;
        if (indented) {
          for (auto body_line : lines) {
            if (body_line.substr(0, prefix.size()) != prefix) all_prefixed = false;
          }
        }
        for (auto body_line : lines) {
          if (all_prefixed) body_line.remove_prefix(prefix.size());
          value.append(body_line);
          value += '\n';
        }
        out.type = Tok::Heredoc;
        out.line = line;
        out.col = col;
        out.text = std::move(value);
        return ok_status();
      }
      lines.push_back(l);
      if (!had_newline) return syntax_error(line, col, "heredoc not terminated");
      advance();  // newline
    }
  }

  Status lex_number(Token& out) {
    const std::size_t start = pos_;
    const int line = line_, col = col_;
    if (src_[pos_] == '-') advance();
    bool is_float = false;
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && (src_[pos_ + 1] == 'x' || src_[pos_ + 1] == 'X')) {
      advance();
      advance();
      const std::size_t digits = pos_;
      while (pos_ < src_.size() && is_hex(src_[pos_])) advance();
      if (pos_ == digits) return syntax_error(line, col, "illegal hexadecimal number");
    } else {
      while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
      if (pos_ < src_.size() && src_[pos_] == '.') {
        is_float = true;
        advance();
        const std::size_t digits = pos_;
        while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
        if (pos_ == digits) return syntax_error(line, col, "illegal float number");
      }
      if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
        is_float = true;
        advance();
        if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) advance();
        const std::size_t digits = pos_;
        while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
        if (pos_ == digits) return syntax_error(line, col, "illegal exponent");
      }
    }
    if (pos_ < src_.size() && is_ident_char(src_[pos_])) {
      return syntax_error(line, col, "illegal char in number");
    }
    out.type = is_float ? Tok::Float : Tok::Int;
    out.line = line;
    out.col = col;
    out.text.assign(src_.substr(start, pos_ - start));
    return ok_status();
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

// ---------------------------------------------------------------------------
// HCL1 parser

class HclParser {
 public:
  explicit HclParser(std::string_view src) : lexer_(src) {}

  Result<Value> parse_document() {
    COFFER_TRY_STATUS(advance());
    Value root;
    root.kind = Value::Kind::Object;
    root.line = 1;
    COFFER_TRY_STATUS(parse_items(root.items, /*nested=*/false, 0));
    return root;
  }

 private:
  Status advance() { return lexer_.next(tok_); }

  // Items until EOF (top level) or '}' (nested; the brace is not consumed).
  Status parse_items(std::vector<Item>& items, bool nested, int depth) {
    while (true) {
      if (tok_.type == Tok::Eof) {
        if (nested) return syntax_error(tok_.line, tok_.col, "object expected closing RBRACE got: EOF");
        return ok_status();
      }
      if (nested && tok_.type == Tok::RBrace) return ok_status();
      Item item;
      COFFER_TRY_STATUS(parse_item(item, depth));
      items.push_back(std::move(item));
      if (tok_.type == Tok::Comma) COFFER_TRY_STATUS(advance());
    }
  }

  Status parse_item(Item& item, int depth) {
    item.line = tok_.line;
    while (tok_.type == Tok::Ident || tok_.type == Tok::String) {
      item.keys.push_back(tok_.text);
      COFFER_TRY_STATUS(advance());
    }
    if (item.keys.empty()) {
      return syntax_error(tok_.line, tok_.col, std::string("expected: IDENT | STRING got: ") + tok_name(tok_.type));
    }
    if (tok_.type == Tok::Assign) {
      if (item.keys.size() > 1) {
        return syntax_error(tok_.line, tok_.col, "nested object expected: LBRACE got: ASSIGN");
      }
      COFFER_TRY_STATUS(advance());
      return parse_value(item.value, depth + 1);
    }
    if (tok_.type == Tok::LBrace) return parse_value(item.value, depth + 1);
    return syntax_error(tok_.line, tok_.col,
                        "key '" + item.keys.front() + "' expected start of object ('{') or assignment ('=')");
  }

  Status parse_value(Value& v, int depth) {
    if (depth > kMaxDepth) return syntax_error(tok_.line, tok_.col, "nesting too deep");
    v.line = tok_.line;
    switch (tok_.type) {
      case Tok::String:
      case Tok::Heredoc:
        v.kind = Value::Kind::String;
        v.text = std::move(tok_.text);
        return advance();
      case Tok::Bool:
        v.kind = Value::Kind::Bool;
        v.bool_value = tok_.text == "true";
        return advance();
      case Tok::Int: {
        v.kind = Value::Kind::Int;
        errno = 0;
        char* end = nullptr;
        const long long n = std::strtoll(tok_.text.c_str(), &end, 0);
        if (errno == ERANGE || end == nullptr || *end != '\0') {
          return syntax_error(tok_.line, tok_.col, "number out of range: " + tok_.text);
        }
        v.int_value = n;
        return advance();
      }
      case Tok::Float: {
        v.kind = Value::Kind::Float;
        char* end = nullptr;
        v.float_value = std::strtod(tok_.text.c_str(), &end);
        return advance();
      }
      case Tok::LBrack: {
        v.kind = Value::Kind::List;
        const int line = tok_.line, col = tok_.col;
        COFFER_TRY_STATUS(advance());
        while (true) {
          if (tok_.type == Tok::RBrack) return advance();
          if (tok_.type == Tok::Eof) return syntax_error(line, col, "list not terminated");
          Value element;
          COFFER_TRY_STATUS(parse_value(element, depth + 1));
          v.list.push_back(std::move(element));
          if (tok_.type == Tok::Comma) {
            COFFER_TRY_STATUS(advance());
          } else if (tok_.type != Tok::RBrack) {
            return syntax_error(tok_.line, tok_.col, std::string("found ") + tok_name(tok_.type) + ", expected comma");
          }
        }
      }
      case Tok::LBrace: {
        v.kind = Value::Kind::Object;
        COFFER_TRY_STATUS(advance());
        COFFER_TRY_STATUS(parse_items(v.items, /*nested=*/true, depth));
        return advance();  // the closing brace
      }
      default:
        return syntax_error(
            tok_.line, tok_.col,
            std::string("Unknown token: ") + tok_name(tok_.type) + (tok_.text.empty() ? "" : " " + tok_.text));
    }
  }

  Lexer lexer_;
  Token tok_;
};

// ---------------------------------------------------------------------------
// JSON parser (own, not nlohmann: HCL's JSON keeps repeated keys and we want
// line numbers).

class JsonParser {
 public:
  explicit JsonParser(std::string_view src) : src_(src) {}

  Result<Value> parse_document() {
    skip_space();
    if (pos_ >= src_.size() || src_[pos_] != '{') return error("expected '{'");
    Value root;
    COFFER_TRY_STATUS(parse_value(root, 0));
    skip_space();
    if (pos_ != src_.size()) return error("unexpected data after the top-level object");
    return root;
  }

 private:
  Error error(std::string_view what) const { return syntax_error(line_, col_, what); }

  void advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void skip_space() {
    while (pos_ < src_.size() &&
           (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r')) {
      advance();
    }
  }
  bool consume_word(std::string_view w) {
    if (src_.substr(pos_, w.size()) != w) return false;
    for (std::size_t i = 0; i < w.size(); ++i) advance();
    return true;
  }

  Status parse_value(Value& v, int depth) {
    if (depth > kMaxDepth) return error("nesting too deep");
    skip_space();
    if (pos_ >= src_.size()) return error("unexpected end of input");
    v.line = line_;
    const char c = src_[pos_];
    if (c == '{') {
      v.kind = Value::Kind::Object;
      advance();
      skip_space();
      if (pos_ < src_.size() && src_[pos_] == '}') {
        advance();
        return ok_status();
      }
      while (true) {
        skip_space();
        if (pos_ >= src_.size() || src_[pos_] != '"') return error("expected a string key");
        Item item;
        item.line = line_;
        std::string key;
        COFFER_TRY_STATUS(parse_string(key));
        item.keys.push_back(std::move(key));
        skip_space();
        if (pos_ >= src_.size() || src_[pos_] != ':') return error("expected ':'");
        advance();
        COFFER_TRY_STATUS(parse_value(item.value, depth + 1));
        v.items.push_back(std::move(item));
        skip_space();
        if (pos_ < src_.size() && src_[pos_] == ',') {
          advance();
          continue;
        }
        if (pos_ < src_.size() && src_[pos_] == '}') {
          advance();
          return ok_status();
        }
        return error("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::List;
      advance();
      skip_space();
      if (pos_ < src_.size() && src_[pos_] == ']') {
        advance();
        return ok_status();
      }
      while (true) {
        Value element;
        COFFER_TRY_STATUS(parse_value(element, depth + 1));
        v.list.push_back(std::move(element));
        skip_space();
        if (pos_ < src_.size() && src_[pos_] == ',') {
          advance();
          continue;
        }
        if (pos_ < src_.size() && src_[pos_] == ']') {
          advance();
          return ok_status();
        }
        return error("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      return parse_string(v.text);
    }
    if (consume_word("true")) {
      v.kind = Value::Kind::Bool;
      v.bool_value = true;
      return ok_status();
    }
    if (consume_word("false")) {
      v.kind = Value::Kind::Bool;
      return ok_status();
    }
    if (src_.substr(pos_, 4) == "null") return error("null values are not supported");
    if (c == '-' || is_digit(c)) return parse_number(v);
    return error(std::string("unexpected character '") + c + "'");
  }

  Status parse_number(Value& v) {
    const std::size_t start = pos_;
    if (src_[pos_] == '-') advance();
    if (pos_ >= src_.size() || !is_digit(src_[pos_])) return error("invalid number");
    if (src_[pos_] == '0') {
      advance();
    } else {
      while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
    }
    bool is_float = false;
    if (pos_ < src_.size() && src_[pos_] == '.') {
      is_float = true;
      advance();
      if (pos_ >= src_.size() || !is_digit(src_[pos_])) return error("invalid number");
      while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      is_float = true;
      advance();
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) advance();
      if (pos_ >= src_.size() || !is_digit(src_[pos_])) return error("invalid number");
      while (pos_ < src_.size() && is_digit(src_[pos_])) advance();
    }
    const std::string text(src_.substr(start, pos_ - start));
    if (!is_float) {
      errno = 0;
      char* end = nullptr;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (errno != ERANGE) {
        v.kind = Value::Kind::Int;
        v.int_value = n;
        return ok_status();
      }
    }
    v.kind = Value::Kind::Float;
    v.float_value = std::strtod(text.c_str(), nullptr);
    return ok_status();
  }

  Status read_hex4(std::uint32_t& out) {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= src_.size() || !is_hex(src_[pos_])) return error("invalid \\u escape");
      out = out * 16 + static_cast<std::uint32_t>(hex_value(src_[pos_]));
      advance();
    }
    return ok_status();
  }

  Status parse_string(std::string& out) {
    advance();  // opening quote
    while (true) {
      if (pos_ >= src_.size()) return error("string not terminated");
      const char c = src_[pos_];
      if (c == '"') {
        advance();
        return ok_status();
      }
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      advance();
      if (pos_ >= src_.size()) return error("string not terminated");
      const char e = src_[pos_];
      advance();
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          COFFER_TRY_STATUS(read_hex4(cp));
          if (cp >= 0xD800 && cp <= 0xDBFF && src_.substr(pos_, 2) == "\\u") {
            advance();
            advance();
            std::uint32_t low = 0;
            COFFER_TRY_STATUS(read_hex4(low));
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              return error("invalid surrogate pair");
            }
          }
          if (!utf8::append(out, cp)) return error("invalid \\u escape");
          break;
        }
        default: return error("invalid escape sequence");
      }
    }
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

}  // namespace

const char* kind_name(Value::Kind kind) noexcept {
  switch (kind) {
    case Value::Kind::String: return "string";
    case Value::Kind::Int: return "number";
    case Value::Kind::Float: return "float";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::List: return "list";
    case Value::Kind::Object: return "object";
  }
  return "unknown";
}

Result<Value> parse_hcl(std::string_view text) {
  HclParser parser(text);
  return parser.parse_document();
}

Result<Value> parse_json(std::string_view text) {
  JsonParser parser(text);
  return parser.parse_document();
}

Result<Value> parse(std::string_view text) {
  // A leading UTF-8 byte-order mark (editors on Windows add one) is not text.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (const char c : text) {
    if (is_space(c)) continue;
    if (c == '{') return parse_json(text);
    break;
  }
  return parse_hcl(text);
}

}  // namespace engine::policy::hcl
