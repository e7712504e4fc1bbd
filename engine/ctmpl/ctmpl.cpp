// SPDX-License-Identifier: MPL-2.0
#include "engine/ctmpl/ctmpl.hpp"

#include "engine/common/utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include "engine/common/base64.hpp"

namespace engine::ctmpl {

// ---------------------------------------------------------------- the tree

struct Pipe;

// One operand: a literal, `.`, `.A.B`, `$x.A`, a function name, or a
// parenthesised pipeline, each maybe followed by a field chain.
struct Arg {
  enum Kind { Dot, Var, Str, Int, Float, Bool, Nil, Func, Sub } kind = Nil;
  std::string name;  // variable or function name, string value
  std::vector<std::string> fields;
  std::int64_t i = 0;
  double f = 0;
  bool b = false;
  std::shared_ptr<Pipe> sub;
  int line = 1;
};

struct Cmd {
  std::vector<Arg> args;
  int line = 1;
};

struct Pipe {
  std::vector<std::string> decl;  // $x := / $x = / range $k, $v :=
  bool assign = false;            // `=` rather than `:=`
  std::vector<Cmd> cmds;
  int line = 1;
};

struct Node {
  enum Kind { Text, Action, If, With, Range } kind = Text;
  std::string text;
  Pipe pipe;
  std::vector<Node> body, else_body;
  int line = 1;
};

namespace {

// The functions, and how many arguments each takes (-1: one or more).
struct FuncInfo {
  std::string_view name;
  int min_args;
  int max_args;  // -1: any number
};
constexpr std::array<FuncInfo, 27> kFuncs{{
    {"index", 1, -1},       {"len", 1, 1},       {"eq", 2, -1},       {"ne", 2, 2},           {"lt", 2, 2},
    {"le", 2, 2},           {"gt", 2, 2},        {"ge", 2, 2},        {"and", 1, -1},         {"or", 1, -1},
    {"not", 1, 1},          {"printf", 1, -1},   {"toJSON", 1, 1},    {"toJSONPretty", 1, 1}, {"base64Encode", 1, 1},
    {"base64Decode", 1, 1}, {"trimSpace", 1, 1}, {"split", 2, 2},     {"join", 2, 2},         {"replaceAll", 3, 3},
    {"toLower", 1, 1},      {"toUpper", 1, 1},   {"parseJSON", 1, 1}, {"secret", 1, 1},       {"secrets", 1, 1},
    {"print", 0, -1},       {"println", 0, -1},
}};

const FuncInfo* find_func(std::string_view name) {
  for (const auto& f : kFuncs)
    if (f.name == name) return &f;
  return nullptr;
}

// ---------------------------------------------------------------- lexer

struct Tok {
  enum Kind { Text, Open, Close, Ident, Field, Var, Dot, Str, Num, LParen, RParen, Bar, Declare, Assign, Comma, End };
  Kind kind = End;
  std::string text;
  int line = 1;
  bool adjacent = false;  // no space before it (a field chain continues)
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

struct ParseError {
  int line;
  std::string message;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Tok> run() {
    bool trim_next = false;
    while (pos_ < s_.size()) {
      const auto open = s_.find("{{", pos_);
      std::string text(s_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
      const int text_line = line_;
      count_lines(text);
      if (trim_next) {
        std::size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      trim_next = false;
      if (open == std::string_view::npos) {
        push_text(std::move(text), text_line);
        pos_ = s_.size();
        break;
      }
      pos_ = open + 2;
      // A left trim marker is "{{-" followed by a space.
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && is_space(s_[pos_ + 1])) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
        ++pos_;
      }
      push_text(std::move(text), text_line);
      // A comment: "{{/*" or "{{- /*" up to "*/}}" or "*/ -}}".
      std::size_t p = pos_;
      while (p < s_.size() && is_space(s_[p])) ++p;
      if (s_.substr(p, 2) == "/*") {
        const auto close = s_.find("*/", p + 2);
        if (close == std::string_view::npos) throw ParseError{line_, "unclosed comment"};
        count_lines(s_.substr(pos_, close + 2 - pos_));
        pos_ = close + 2;
        if (s_.substr(pos_, 2) == "}}") {
          pos_ += 2;
        } else if (pos_ < s_.size() && is_space(s_[pos_]) && s_.substr(pos_ + 1, 3) == "-}}") {
          pos_ += 4;
          trim_next = true;
        } else {
          throw ParseError{line_, "comment ends before closing delimiter"};
        }
        continue;
      }
      toks_.push_back(Tok{Tok::Open, {}, line_, false});
      trim_next = lex_action();
    }
    toks_.push_back(Tok{Tok::End, {}, line_, false});
    return std::move(toks_);
  }

 private:
  void count_lines(std::string_view t) { line_ += static_cast<int>(std::count(t.begin(), t.end(), '\n')); }
  void push_text(std::string t, int line) {
    if (!t.empty()) toks_.push_back(Tok{Tok::Text, std::move(t), line, false});
  }

  // Lexes up to and including "}}"; returns whether it was " -}}".
  bool lex_action() {
    bool spaced = true;
    for (;;) {
      if (pos_ >= s_.size()) throw ParseError{line_, "unclosed action"};
      const char c = s_[pos_];
      if (is_space(c)) {
        if (s_.substr(pos_ + 1, 3) == "-}}") {
          count_lines(s_.substr(pos_, 1));
          pos_ += 4;
          toks_.push_back(Tok{Tok::Close, {}, line_, false});
          return true;
        }
        if (c == '\n') ++line_;
        ++pos_;
        spaced = true;
        continue;
      }
      if (s_.substr(pos_, 2) == "}}") {
        pos_ += 2;
        toks_.push_back(Tok{Tok::Close, {}, line_, false});
        return false;
      }
      const bool adjacent = !spaced;
      spaced = false;
      const std::size_t start = pos_;
      auto push = [&](Tok::Kind k, std::string t) { toks_.push_back(Tok{k, std::move(t), line_, adjacent}); };
      if (c == '(') {
        ++pos_;
        push(Tok::LParen, {});
      } else if (c == ')') {
        ++pos_;
        push(Tok::RParen, {});
      } else if (c == '|') {
        ++pos_;
        push(Tok::Bar, {});
      } else if (c == ',') {
        ++pos_;
        push(Tok::Comma, {});
      } else if (c == ':' && s_.substr(pos_, 2) == ":=") {
        pos_ += 2;
        push(Tok::Declare, {});
      } else if (c == '=') {
        ++pos_;
        push(Tok::Assign, {});
      } else if (c == '"') {
        push(Tok::Str, lex_quoted());
      } else if (c == '`') {
        const auto close = s_.find('`', pos_ + 1);
        if (close == std::string_view::npos) throw ParseError{line_, "unterminated raw string"};
        std::string v(s_.substr(pos_ + 1, close - pos_ - 1));
        push(Tok::Str, v);
        count_lines(v);
        pos_ = close + 1;
      } else if (c == '.' && (pos_ + 1 >= s_.size() || !is_alpha(s_[pos_ + 1]))) {
        if (pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1])) {
          lex_number(adjacent);
        } else {
          ++pos_;
          push(Tok::Dot, {});
        }
      } else if (c == '.') {
        ++pos_;
        while (pos_ < s_.size() && is_alnum(s_[pos_])) ++pos_;
        push(Tok::Field, std::string(s_.substr(start + 1, pos_ - start - 1)));
      } else if (c == '$') {
        ++pos_;
        while (pos_ < s_.size() && is_alnum(s_[pos_])) ++pos_;
        push(Tok::Var, std::string(s_.substr(start, pos_ - start)));
      } else if (is_digit(c) ||
                 ((c == '-' || c == '+') && pos_ + 1 < s_.size() && (is_digit(s_[pos_ + 1]) || s_[pos_ + 1] == '.'))) {
        lex_number(adjacent);
      } else if (is_alpha(c)) {
        while (pos_ < s_.size() && is_alnum(s_[pos_])) ++pos_;
        push(Tok::Ident, std::string(s_.substr(start, pos_ - start)));
      } else {
        throw ParseError{line_, "unexpected character in action"};
      }
    }
  }

  void lex_number(bool adjacent) {
    const std::size_t start = pos_;
    if (s_[pos_] == '-' || s_[pos_] == '+') ++pos_;
    while (pos_ < s_.size() && (is_alnum(s_[pos_]) || s_[pos_] == '.' ||
                                ((s_[pos_] == '-' || s_[pos_] == '+') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E'))))
      ++pos_;
    toks_.push_back(Tok{Tok::Num, std::string(s_.substr(start, pos_ - start)), line_, adjacent});
  }

  static int hex(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // A \u escape that is no scalar value reads as U+FFFD, as in Go.
  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (!utf8::append(out, cp)) utf8::append(out, 0xFFFD);
  }

  std::string lex_quoted() {
    std::string out;
    ++pos_;
    for (;;) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') throw ParseError{line_, "unterminated quoted string"};
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) throw ParseError{line_, "unterminated quoted string"};
      const char e = s_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t v = 0;
          for (int k = 0; k < n; ++k) {
            if (pos_ >= s_.size() || hex(s_[pos_]) < 0) throw ParseError{line_, "bad escape in quoted string"};
            v = v * 16 + static_cast<std::uint32_t>(hex(s_[pos_++]));
          }
          if (e == 'x')
            out += static_cast<char>(v);
          else
            put_utf8(out, v);
          break;
        }
        default: throw ParseError{line_, "bad escape in quoted string"};
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::vector<Tok> toks_;
};

// ---------------------------------------------------------------- parser

class Parser {
 public:
  Parser(std::vector<Tok> toks, const Limits& limits, std::vector<std::string>& literals)
      : t_(std::move(toks)), limits_(limits), literals_(literals) {
    vars_.push_back("$");
  }

  std::vector<Node> run() {
    std::string stop;
    auto nodes = list(stop);
    if (!stop.empty()) throw ParseError{stop_line_, "unexpected {{" + stop + "}}"};
    return nodes;
  }

 private:
  const Tok& peek(std::size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  Tok next() { return t_[std::min(i_++, t_.size() - 1)]; }
  void expect_close() {
    if (peek().kind != Tok::Close) throw ParseError{peek().line, "unexpected token in action"};
    ++i_;
  }

  void enter(int line) {
    if (++depth_ > limits_.max_depth) throw ParseError{line, "nesting deeper than the limit"};
  }
  void leave() { --depth_; }

  // Nodes up to an {{end}} or {{else}} (returned in `stop`) or the end.
  std::vector<Node> list(std::string& stop) {
    std::vector<Node> out;
    for (;;) {
      const Tok& t = peek();
      if (t.kind == Tok::End) return out;
      if (t.kind == Tok::Text) {
        out.push_back(Node{Node::Text, next().text, {}, {}, {}, t.line});
        continue;
      }
      // Open
      const int line = next().line;
      const Tok& k = peek();
      if (k.kind == Tok::Ident && (k.text == "end" || k.text == "else")) {
        stop = next().text;
        stop_line_ = line;
        if (stop == "end") expect_close();
        return out;
      }
      if (k.kind == Tok::Ident && (k.text == "if" || k.text == "with" || k.text == "range")) {
        ++i_;
        out.push_back(block(k.text, line));
        continue;
      }
      Node n{Node::Action, {}, pipeline(false), {}, {}, line};
      expect_close();
      out.push_back(std::move(n));
    }
  }

  // After "{{if" / "{{with" / "{{range" (or "{{else if"): the pipeline, the
  // body, an optional else, and the end.
  Node block(const std::string& kw, int line) {
    enter(line);
    const std::size_t mark = vars_.size();
    Node n;
    n.kind = kw == "if" ? Node::If : kw == "with" ? Node::With : Node::Range;
    n.line = line;
    n.pipe = pipeline(kw == "range");
    expect_close();
    std::string stop;
    n.body = list(stop);
    if (stop.empty()) throw ParseError{line, "unexpected EOF: {{" + kw + "}} without {{end}}"};
    if (stop == "else") {
      const Tok& k = peek();
      if (kw != "range" && k.kind == Tok::Ident && (k.text == "if" || k.text == "with")) {
        // {{else if ...}}: a nested block that consumes the shared {{end}}.
        ++i_;
        vars_.resize(mark);
        n.else_body.push_back(block(k.text, stop_line_));
      } else {
        expect_close();
        vars_.resize(mark);
        std::string stop2;
        n.else_body = list(stop2);
        if (stop2 != "end") throw ParseError{line, "expected {{end}} for {{" + kw + "}}"};
      }
    }
    vars_.resize(mark);
    leave();
    return n;
  }

  bool declared(const std::string& v) const { return std::find(vars_.begin(), vars_.end(), v) != vars_.end(); }

  Pipe pipeline(bool range) {
    Pipe p;
    p.line = peek().line;
    // Declarations: $x := / $x = / (range) $k, $v :=
    if (peek().kind == Tok::Var) {
      if (peek(1).kind == Tok::Declare || peek(1).kind == Tok::Assign) {
        p.decl.push_back(peek().text);
        p.assign = peek(1).kind == Tok::Assign;
        i_ += 2;
      } else if (range && peek(1).kind == Tok::Comma && peek(2).kind == Tok::Var && peek(3).kind == Tok::Declare) {
        p.decl = {peek().text, peek(2).text};
        i_ += 4;
      }
    }
    if (p.assign && !declared(p.decl[0])) throw ParseError{p.line, "undefined variable \"" + p.decl[0] + "\""};
    for (;;) {
      p.cmds.push_back(command());
      if (peek().kind != Tok::Bar) break;
      ++i_;
    }
    // Declared after the pipeline, as Go does: `$x := $x` is an error.
    if (!p.assign)
      for (const auto& v : p.decl) vars_.push_back(v);
    return p;
  }

  Cmd command() {
    Cmd c;
    c.line = peek().line;
    while (peek().kind != Tok::Close && peek().kind != Tok::Bar && peek().kind != Tok::RParen &&
           peek().kind != Tok::End)
      c.args.push_back(operand());
    if (c.args.empty()) throw ParseError{c.line, "missing value for command"};
    const Arg& head = c.args[0];
    if (head.kind == Arg::Func && head.fields.empty()) {
      const FuncInfo* f = find_func(head.name);
      if (f == nullptr) throw ParseError{c.line, "function \"" + head.name + "\" not defined"};
      if ((head.name == "secret" || head.name == "secrets") && c.args.size() > 2)
        throw ParseError{c.line, "template writes are not supported: " + head.name + " takes one path"};
      if ((head.name == "secret" || head.name == "secrets") && c.args.size() == 2 && c.args[1].kind == Arg::Str)
        literals_.push_back(c.args[1].name);
    } else if (head.kind == Arg::Nil) {
      throw ParseError{c.line, "nil is not a command"};
    }
    return c;
  }

  Arg operand() {
    Tok t = next();
    Arg a;
    a.line = t.line;
    switch (t.kind) {
      case Tok::Dot: a.kind = Arg::Dot; break;
      case Tok::Field:
        a.kind = Arg::Dot;
        a.fields.push_back(t.text);
        break;
      case Tok::Var:
        if (!declared(t.text)) throw ParseError{t.line, "undefined variable \"" + t.text + "\""};
        a.kind = Arg::Var;
        a.name = t.text;
        break;
      case Tok::Str:
        a.kind = Arg::Str;
        a.name = t.text;
        break;
      case Tok::Num: number(t, a); break;
      case Tok::Ident:
        if (t.text == "true" || t.text == "false") {
          a.kind = Arg::Bool;
          a.b = t.text == "true";
        } else if (t.text == "nil") {
          a.kind = Arg::Nil;
        } else {
          if (find_func(t.text) == nullptr) throw ParseError{t.line, "function \"" + t.text + "\" not defined"};
          a.kind = Arg::Func;
          a.name = t.text;
        }
        break;
      case Tok::LParen: {
        enter(t.line);
        a.kind = Arg::Sub;
        a.sub = std::make_shared<Pipe>(pipeline(false));
        if (next().kind != Tok::RParen) throw ParseError{t.line, "unclosed left paren"};
        leave();
        break;
      }
      default: throw ParseError{t.line, "unexpected token in operand"};
    }
    while (peek().kind == Tok::Field && peek().adjacent) {
      if (a.kind != Arg::Dot && a.kind != Arg::Var && a.kind != Arg::Sub)
        throw ParseError{t.line, "field access on a value that has no fields"};
      a.fields.push_back(next().text);
    }
    return a;
  }

  static void number(const Tok& t, Arg& a) {
    const std::string& s = t.text;
    const char* b = s.data();
    const char* e = s.data() + s.size();
    std::int64_t iv = 0;
    const char* ib = (b != e && *b == '+') ? b + 1 : b;
    if (s.size() > 2 && (s.substr(0, 2) == "0x" || s.substr(0, 2) == "0X")) {
      auto [p, ec] = std::from_chars(b + 2, e, iv, 16);
      if (ec == std::errc() && p == e) {
        a.kind = Arg::Int;
        a.i = iv;
        return;
      }
    } else if (auto [p, ec] = std::from_chars(ib, e, iv); ec == std::errc() && p == e) {
      a.kind = Arg::Int;
      a.i = iv;
      return;
    }
    double dv = 0;
    auto [p, ec] = std::from_chars(ib, e, dv);
    if (ec == std::errc() && p == e && std::isfinite(dv)) {
      a.kind = Arg::Float;
      a.f = dv;
      return;
    }
    throw ParseError{t.line, "bad number syntax"};
  }

  std::vector<Tok> t_;
  std::size_t i_ = 0;
  const Limits& limits_;
  std::vector<std::string>& literals_;
  std::vector<std::string> vars_;
  std::size_t depth_ = 0;
  int stop_line_ = 1;
};

// ---------------------------------------------------------------- values

using json = nlohmann::json;

struct ExecError {
  Error error;
};

bool truth(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return v.get<bool>();
    case json::value_t::number_integer: return v.get<std::int64_t>() != 0;
    case json::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
    case json::value_t::number_float: return v.get<double>() != 0;
    case json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !v.empty();
    default: return true;
  }
}

std::string float_text(double d) {
  std::array<char, 64> buf{};
  auto [p, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  if (ec != std::errc()) return "0";
  return std::string(buf.data(), p);
}

// A JSON string as text: nlohmann refuses invalid UTF-8; replace it.
std::string dump(const json& v, int indent) { return v.dump(indent, ' ', false, json::error_handler_t::replace); }

class Exec {
 public:
  Exec(const std::string& name, const Limits& limits, const Source& source)
      : name_(name), limits_(limits), source_(source) {}

  void list(const std::vector<Node>& nodes, const json& dot) {
    for (const auto& n : nodes) node(n, dot);
  }

  std::string out;
  std::vector<std::pair<std::string, json>> vars;

 private:
  [[noreturn]] void fail(int line, const std::string& m, ErrorCode code = ErrorCode::Corrupt) const {
    throw ExecError{Error{code, name_ + ":" + std::to_string(line) + ": " + m}};
  }

  void check_size(std::size_t n, int line) const {
    if (n > limits_.max_output) fail(line, "output larger than the limit", ErrorCode::TooLarge);
  }

  void emit(const std::string& s, int line) {
    check_size(out.size() + s.size(), line);
    out += s;
  }

  void node(const Node& n, const json& dot) {
    switch (n.kind) {
      case Node::Text: emit(n.text, n.line); return;
      case Node::Action: {
        json v = pipe(n.pipe, dot);
        if (n.pipe.decl.empty()) emit(text_of(v, n.line), n.line);
        return;
      }
      case Node::If:
      case Node::With: {
        const std::size_t mark = vars.size();
        json v = pipe(n.pipe, dot);
        if (truth(v)) {
          list(n.body, n.kind == Node::With ? v : dot);
        } else {
          vars.resize(mark);
          list(n.else_body, dot);
        }
        vars.resize(mark);
        return;
      }
      case Node::Range: range(n, dot); return;
    }
  }

  void range(const Node& n, const json& dot) {
    const std::size_t mark = vars.size();
    Pipe p = n.pipe;
    std::vector<std::string> decl = std::move(p.decl);
    p.decl.clear();
    json v = pipe(p, dot);
    if (!v.is_null() && !v.is_array() && !v.is_object()) fail(n.line, "range can't iterate over this value");
    if (v.empty()) {
      list(n.else_body, dot);
      return;
    }
    for (const auto& d : decl) vars.emplace_back(d, nullptr);
    std::size_t k = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++k) {
      if (++iterations_ > limits_.max_iterations)
        fail(n.line, "more range iterations than the limit", ErrorCode::TooLarge);
      json key = v.is_array() ? json(static_cast<std::int64_t>(k)) : json(it.key());
      if (decl.size() == 1) vars[mark].second = *it;
      if (decl.size() == 2) {
        vars[mark].second = key;
        vars[mark + 1].second = *it;
      }
      const std::size_t inner = vars.size();
      list(n.body, *it);
      vars.resize(inner);
    }
    vars.resize(mark);
  }

  std::string text_of(const json& v, int line) const {
    if (v.is_null()) fail(line, "null value printed (no value)");
    return go_text(v);
  }

  // How Go's fmt prints a value with %v.
  static std::string go_text(const json& v) {
    switch (v.type()) {
      case json::value_t::null: return "<nil>";
      case json::value_t::string: return v.get<std::string>();
      case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
      case json::value_t::number_integer: return std::to_string(v.get<std::int64_t>());
      case json::value_t::number_unsigned: return std::to_string(v.get<std::uint64_t>());
      case json::value_t::number_float: return float_text(v.get<double>());
      case json::value_t::array: {
        std::string s = "[";
        bool first = true;
        for (const auto& e : v) {
          if (!first) s += ' ';
          first = false;
          s += go_text(e);
        }
        return s + "]";
      }
      case json::value_t::object: {
        std::string s = "map[";
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (!first) s += ' ';
          first = false;
          s += it.key() + ":" + go_text(it.value());
        }
        return s + "]";
      }
      default: return "";
    }
  }

  const json& lookup_var(const std::string& name, int line) const {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it)
      if (it->first == name) return it->second;
    fail(line, "undefined variable \"" + name + "\"");
  }

  void set_var(const std::string& name, json v, int line) {
    for (auto it = vars.rbegin(); it != vars.rend(); ++it)
      if (it->first == name) {
        it->second = std::move(v);
        return;
      }
    fail(line, "undefined variable \"" + name + "\"");
  }

  json field(json v, const std::vector<std::string>& fields, int line) const {
    for (const auto& f : fields) {
      if (!v.is_object())
        fail(line, "can't evaluate field " + f + (v.is_null() ? " of a null value" : " of a non-map"));
      auto it = v.find(f);
      if (it == v.end()) fail(line, "map has no entry for key \"" + f + "\"");
      json next = *it;
      v = std::move(next);
    }
    return v;
  }

  json pipe(const Pipe& p, const json& dot) {
    json v;
    bool have = false;
    for (const auto& c : p.cmds) {
      v = command(c, dot, have ? &v : nullptr);
      have = true;
    }
    if (!p.decl.empty()) {
      if (p.assign)
        set_var(p.decl[0], v, p.line);
      else
        vars.emplace_back(p.decl[0], v);
    }
    return v;
  }

  json operand(const Arg& a, const json& dot) {
    switch (a.kind) {
      case Arg::Dot: return field(dot, a.fields, a.line);
      case Arg::Var: return field(lookup_var(a.name, a.line), a.fields, a.line);
      case Arg::Str: return a.name;
      case Arg::Int: return a.i;
      case Arg::Float: return a.f;
      case Arg::Bool: return a.b;
      case Arg::Nil: return nullptr;
      case Arg::Func: return call(a.name, {}, nullptr, dot, a.line);
      case Arg::Sub: return field(pipe(*a.sub, dot), a.fields, a.line);
    }
    return nullptr;
  }

  json command(const Cmd& c, const json& dot, const json* piped) {
    const Arg& head = c.args[0];
    if (head.kind == Arg::Func && head.fields.empty()) {
      std::vector<const Arg*> rest;
      for (std::size_t k = 1; k < c.args.size(); ++k) rest.push_back(&c.args[k]);
      return call(head.name, rest, piped, dot, c.line);
    }
    if (c.args.size() > 1 || piped != nullptr) fail(c.line, "can't give argument to non-function");
    return operand(head, dot);
  }

  json call(const std::string& name, const std::vector<const Arg*>& args, const json* piped, const json& dot,
            int line) {
    const FuncInfo* f = find_func(name);
    if (f == nullptr) fail(line, "function \"" + name + "\" not defined");
    const int n = static_cast<int>(args.size()) + (piped != nullptr ? 1 : 0);
    if (n < f->min_args || (f->max_args >= 0 && n > f->max_args)) fail(line, "wrong number of args for " + name);
    // and/or evaluate lazily, returning the deciding argument.
    if (name == "and" || name == "or") {
      json v;
      for (int k = 0; k < n; ++k) {
        v = k < static_cast<int>(args.size()) ? operand(*args[k], dot) : *piped;
        if (truth(v) == (name == "or")) return v;
      }
      return v;
    }
    std::vector<json> a;
    a.reserve(static_cast<std::size_t>(n));
    for (const Arg* x : args) a.push_back(operand(*x, dot));
    if (piped != nullptr) a.push_back(*piped);
    return apply(name, a, line);
  }

  const std::string& str(const json& v, const std::string& fn, int line) const {
    if (!v.is_string()) fail(line, fn + ": expected a string argument");
    return v.get_ref<const std::string&>();
  }

  // -1, 0, 1; fails for values Go cannot compare.
  int compare(const json& a, const json& b, bool ordered, int line) const {
    if (a.is_number() && b.is_number()) {
      if (a.is_number_float() || b.is_number_float()) {
        const double x = a.get<double>(), y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
      }
      if (a.is_number_unsigned() || b.is_number_unsigned()) {
        // Mixed signs: a negative integer is below any unsigned one.
        if (a.is_number_integer() && !a.is_number_unsigned() && a.get<std::int64_t>() < 0) return -1;
        if (b.is_number_integer() && !b.is_number_unsigned() && b.get<std::int64_t>() < 0) return 1;
        const std::uint64_t x = a.get<std::uint64_t>(), y = b.get<std::uint64_t>();
        return x < y ? -1 : x > y ? 1 : 0;
      }
      const std::int64_t x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
      const int r = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      return r < 0 ? -1 : r > 0 ? 1 : 0;
    }
    if (!ordered && a.is_boolean() && b.is_boolean()) return a == b ? 0 : 1;
    if (!ordered && a.is_null() && b.is_null()) return 0;
    fail(line, "incompatible types for comparison");
  }

  json apply(const std::string& name, std::vector<json>& a, int line) {
    if (name == "index") {
      json v = a[0];
      for (std::size_t k = 1; k < a.size(); ++k) {
        if (v.is_object()) {
          const auto& key = str(a[k], "index", line);
          auto it = v.find(key);
          if (it == v.end()) fail(line, "map has no entry for key \"" + key + "\"");
          json next = *it;
          v = std::move(next);
        } else if (v.is_array()) {
          if (!a[k].is_number_integer()) fail(line, "index: array index is not an integer");
          const std::int64_t i = a[k].get<std::int64_t>();
          if (i < 0 || static_cast<std::uint64_t>(i) >= v.size()) fail(line, "index out of range");
          json next = v[static_cast<std::size_t>(i)];
          v = std::move(next);
        } else {
          fail(line, "can't index this value");
        }
      }
      return v;
    }
    if (name == "len") {
      if (a[0].is_string()) return a[0].get_ref<const std::string&>().size();
      if (a[0].is_array() || a[0].is_object()) return a[0].size();
      fail(line, "len of a value with no length");
    }
    if (name == "eq") {
      for (std::size_t k = 1; k < a.size(); ++k)
        if (compare(a[0], a[k], false, line) == 0) return true;
      return false;
    }
    if (name == "ne") return compare(a[0], a[1], false, line) != 0;
    if (name == "lt") return compare(a[0], a[1], true, line) < 0;
    if (name == "le") return compare(a[0], a[1], true, line) <= 0;
    if (name == "gt") return compare(a[0], a[1], true, line) > 0;
    if (name == "ge") return compare(a[0], a[1], true, line) >= 0;
    if (name == "not") return !truth(a[0]);
    if (name == "print" || name == "println") {
      std::string s;
      for (std::size_t k = 0; k < a.size(); ++k) {
        // Go's Sprint puts a space between operands when neither is a string.
        if (k > 0 && (name == "println" || (!a[k - 1].is_string() && !a[k].is_string()))) s += ' ';
        s += go_text(a[k]);
        check_size(s.size(), line);
      }
      if (name == "println") s += '\n';
      return s;
    }
    if (name == "printf") return printf(a, line);
    if (name == "toJSON" || name == "toJSONPretty") {
      std::string s = dump(a[0], name == "toJSON" ? -1 : 2);
      check_size(s.size(), line);
      return s;
    }
    if (name == "base64Encode") {
      const auto& s = str(a[0], name, line);
      std::string r = to_base64({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
      check_size(r.size(), line);
      return r;
    }
    if (name == "base64Decode") {
      auto r = from_base64(str(a[0], name, line));
      if (!r.ok()) fail(line, "base64Decode: invalid base64");
      return std::string(r->begin(), r->end());
    }
    if (name == "trimSpace") {
      const auto& s = str(a[0], name, line);
      std::size_t b = 0, e = s.size();
      while (b < e && (is_space(s[b]) || s[b] == '\v' || s[b] == '\f')) ++b;
      while (e > b && (is_space(s[e - 1]) || s[e - 1] == '\v' || s[e - 1] == '\f')) --e;
      return s.substr(b, e - b);
    }
    if (name == "toLower" || name == "toUpper") {
      std::string s = str(a[0], name, line);
      for (char& c : s) {
        if (name == "toLower" && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (name == "toUpper" && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      return s;
    }
    if (name == "split") {  // split SEP STRING, as consul-template: "" gives []
      const auto& sep = str(a[0], name, line);
      const auto& s = str(a[1], name, line);
      json r = json::array();
      if (s.empty()) return r;
      if (sep.empty()) {
        for (char c : s) r.push_back(std::string(1, c));
        return r;
      }
      std::size_t p = 0;
      for (;;) {
        const auto q = s.find(sep, p);
        r.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
        if (q == std::string::npos) break;
        p = q + sep.size();
      }
      return r;
    }
    if (name == "join") {  // join SEP LIST
      const auto& sep = str(a[0], name, line);
      if (!a[1].is_array()) fail(line, "join: expected a list");
      std::string s;
      bool first = true;
      for (const auto& e : a[1]) {
        if (!first) s += sep;
        first = false;
        s += str(e, name, line);
        check_size(s.size(), line);
      }
      return s;
    }
    if (name == "replaceAll") {  // replaceAll FROM TO STRING
      const auto& from = str(a[0], name, line);
      const auto& to = str(a[1], name, line);
      const auto& s = str(a[2], name, line);
      if (from.empty()) {
        // Go inserts TO around every byte... of every rune; keep it simple: between bytes.
        std::string r = to;
        for (char c : s) {
          r += c;
          r += to;
          check_size(r.size(), line);
        }
        return r;
      }
      std::string r;
      std::size_t p = 0;
      for (;;) {
        const auto q = s.find(from, p);
        if (q == std::string::npos) break;
        r.append(s, p, q - p).append(to);
        check_size(r.size(), line);
        p = q + from.size();
      }
      r.append(s, p, std::string::npos);
      check_size(r.size(), line);
      return r;
    }
    if (name == "parseJSON") {
      const auto& s = str(a[0], name, line);
      // Nesting first: values are printed and compared recursively.
      std::size_t depth = 0, max_depth = 0;
      bool in_str = false;
      for (std::size_t k = 0; k < s.size(); ++k) {
        const char c = s[k];
        if (in_str) {
          if (c == '\\')
            ++k;
          else if (c == '"')
            in_str = false;
        } else if (c == '"') {
          in_str = true;
        } else if (c == '[' || c == '{') {
          max_depth = std::max(max_depth, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
          --depth;
        }
      }
      if (max_depth > 64) fail(line, "parseJSON: nested too deep");
      json r = json::parse(s, nullptr, false);
      if (r.is_discarded()) fail(line, "parseJSON: invalid JSON");
      return r;
    }
    if (name == "secret" || name == "secrets") {
      const auto& path = str(a[0], name, line);
      if (!source_.secret || !source_.secrets) fail(line, name + ": no source");
      auto r = name == "secret" ? source_.secret(path) : source_.secrets(path);
      if (!r.ok()) {
        Error e = std::move(r).error();
        e.message = name_ + ":" + std::to_string(line) + ": " + name + " \"" + path + "\": " + e.message;
        throw ExecError{std::move(e)};
      }
      return std::move(r).value();
    }
    fail(line, "function \"" + name + "\" not defined");
  }

  static std::string quote(const std::string& s) {
    std::string r = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': r += "\\\""; break;
        case '\\': r += "\\\\"; break;
        case '\n': r += "\\n"; break;
        case '\t': r += "\\t"; break;
        case '\r': r += "\\r"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\x%02x", c);
            r += buf.data();
          } else {
            r += static_cast<char>(c);
          }
      }
    }
    return r + "\"";
  }

  json printf(const std::vector<json>& a, int line) const {
    const auto& fmt = str(a[0], "printf", line);
    std::string r;
    std::size_t next = 1;
    for (std::size_t k = 0; k < fmt.size(); ++k) {
      if (fmt[k] != '%') {
        r += fmt[k];
        continue;
      }
      if (++k >= fmt.size()) fail(line, "printf: format ends with %");
      const char verb = fmt[k];
      if (verb == '%') {
        r += '%';
        continue;
      }
      if (verb != 's' && verb != 'd' && verb != 'v' && verb != 'q')
        fail(line, "printf: only %s %d %v %q are supported");
      if (next >= a.size()) fail(line, "printf: missing argument");
      const json& v = a[next++];
      if (verb == 'd') {
        if (!v.is_number_integer()) fail(line, "printf: %d of a non-integer");
        r += go_text(v);
      } else if (verb == 's') {
        if (v.is_null()) fail(line, "printf: %s of a null value");
        r += go_text(v);
      } else if (verb == 'v') {
        if (v.is_null()) fail(line, "printf: %v of a null value");
        r += go_text(v);
      } else {
        if (!v.is_string()) fail(line, "printf: %q of a non-string");
        r += quote(v.get_ref<const std::string&>());
      }
      check_size(r.size(), line);
    }
    if (next != a.size()) fail(line, "printf: extra arguments");
    return r;
  }

  const std::string& name_;
  const Limits& limits_;
  const Source& source_;
  std::size_t iterations_ = 0;
};

}  // namespace

bool is_function(std::string_view name) { return find_func(name) != nullptr; }

Result<Template> Template::parse(std::string_view name, std::string_view text, const Limits& limits) {
  Template t;
  t.name_ = std::string(name);
  t.limits_ = limits;
  if (text.size() > limits.max_template)
    return Error::invalid(t.name_ + ":1: template larger than " + std::to_string(limits.max_template) + " bytes");
  try {
    auto toks = Lexer(text).run();
    t.root_ = std::make_shared<const std::vector<Node>>(Parser(std::move(toks), limits, t.literal_paths_).run());
  } catch (const ParseError& e) {
    return Error::invalid(t.name_ + ":" + std::to_string(e.line) + ": " + e.message);
  }
  return t;
}

Result<std::string> Template::render(const Source& source, const nlohmann::json& dot) const {
  if (!root_) return Error::internal("template not parsed");
  Exec x(name_, limits_, source);
  x.vars.emplace_back("$", dot);
  try {
    x.list(*root_, dot);
  } catch (const ExecError& e) {
    return e.error;
  } catch (const nlohmann::json::exception&) {
    return Error{ErrorCode::Corrupt, name_ + ": template: value of the wrong type"};
  }
  return std::move(x.out);
}

}  // namespace engine::ctmpl
