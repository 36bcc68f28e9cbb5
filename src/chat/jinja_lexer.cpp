// chat/jinja_lexer.cpp — template text -> tokens, with Jinja's whitespace control rules.
#include "chat/jinja_lexer.h"

#include <algorithm>
#include <cstring>

namespace fitserve::chat::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& opts) : src_(std::move(src)), opts_(opts) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    const size_t n = src_.size();
    size_t pos = 0;
    bool strip_next = false;  // previous tag ended with '-': strip all leading whitespace
    bool trim_next = false;   // previous block/comment tag: drop one leading newline
    while (true) {
      size_t tag = find_tag(pos);
      size_t begin = pos, end = tag;
      if (strip_next) {
        while (begin < end && is_space(src_[begin])) ++begin;
      } else if (trim_next && begin < end && src_[begin] == '\n') {
        ++begin;
      }
      if (tag < n) {
        char kind = src_[tag + 1];
        char mod = tag + 2 < n ? src_[tag + 2] : '\0';
        if (mod == '-') {
          while (end > begin && is_space(src_[end - 1])) --end;
        } else if (mod != '+' && opts_.lstrip_blocks && (kind == '%' || kind == '#')) {
          size_t k = end;
          while (k > begin && (src_[k - 1] == ' ' || src_[k - 1] == '\t')) --k;
          if (k == 0 || src_[k - 1] == '\n') end = k;
        }
      }
      if (end > begin) push(Token::Type::Text, src_.substr(begin, end - begin), begin);
      if (tag >= n) break;

      char kind = src_[tag + 1];
      size_t i = tag + 2;
      if (i < n && (src_[i] == '-' || src_[i] == '+')) ++i;
      char end_mod = '\0';
      if (kind == '#') {
        size_t close = src_.find("#}", i);
        if (close == std::string::npos) fail("unterminated comment", tag);
        if (close > i && (src_[close - 1] == '-' || src_[close - 1] == '+')) end_mod = src_[close - 1];
        pos = close + 2;
        strip_next = end_mod == '-';
        trim_next = opts_.trim_blocks && end_mod == '\0';
        continue;
      }
      bool block = kind == '%';
      size_t first_tok = toks_.size();
      push(block ? Token::Type::BlockBegin : Token::Type::VarBegin, "", tag);
      pos = lex_tag(i, block, end_mod);
      push(block ? Token::Type::BlockEnd : Token::Type::VarEnd, "", pos - 2);
      strip_next = end_mod == '-';
      trim_next = block && opts_.trim_blocks && end_mod == '\0';
      if (block && toks_.size() == first_tok + 3 && toks_[first_tok + 1].type == Token::Type::Name &&
          toks_[first_tok + 1].value == "raw") {
        toks_.resize(first_tok);
        pos = lex_raw(pos, tag, strip_next, trim_next);
      }
    }
    push(Token::Type::Eof, "", n);
    return std::move(toks_);
  }

 private:
  [[noreturn]] void fail(const std::string& msg, size_t at) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    size_t col = at - line_starts_[line - 1] + 1;
    throw SyntaxError(msg, static_cast<int>(line), static_cast<int>(col));
  }

  void push(Token::Type t, std::string v, size_t at) {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    toks_.push_back(Token{t, std::move(v), static_cast<int>(line), static_cast<int>(at - line_starts_[line - 1] + 1)});
  }

  size_t find_tag(size_t pos) const {
    size_t i = pos;
    while (true) {
      i = src_.find('{', i);
      if (i == std::string::npos || i + 1 >= src_.size()) return src_.size();
      char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') return i;
      ++i;
    }
  }

  // Lexes the inside of a {{ }} or {% %} tag starting at i; returns the index after the closer.
  size_t lex_tag(size_t i, bool block, char& end_mod) {
    const size_t n = src_.size();
    const char closer = block ? '%' : '}';
    int depth = 0;  // () [] {} nesting; a closer only counts at depth 0
    while (true) {
      while (i < n && is_space(src_[i])) ++i;
      if (i >= n) fail(block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", i);
      char c = src_[i];
      if (depth == 0) {
        if ((c == '-' || c == '+') && i + 2 < n && src_[i + 1] == closer && src_[i + 2] == '}') {
          end_mod = c;
          return i + 3;
        }
        if (c == closer && i + 1 < n && src_[i + 1] == '}') {
          end_mod = '\0';
          return i + 2;
        }
      }
      if (is_name_start(c)) {
        size_t s = i;
        while (i < n && is_name_char(src_[i])) ++i;
        push(Token::Type::Name, src_.substr(s, i - s), s);
      } else if (is_digit(c)) {
        i = lex_number(i);
      } else if (c == '\'' || c == '"') {
        i = lex_string(i);
      } else {
        static const char* ops2[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* o : ops2)
          if (src_.compare(i, 2, o) == 0) op = o;
        if (op.empty()) {
          if (!std::strchr("+-*/%~<>=()[]{},.:|", c)) fail(std::string("unexpected character '") + c + "' in tag", i);
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        }
        push(Token::Type::Op, op, i);
        i += op.size();
      }
    }
  }

  size_t lex_number(size_t i) {
    const size_t n = src_.size();
    size_t s = i;
    bool is_float = false;
    while (i < n && (is_digit(src_[i]) || src_[i] == '_')) ++i;
    if (i + 1 < n && src_[i] == '.' && is_digit(src_[i + 1])) {
      is_float = true;
      ++i;
      while (i < n && (is_digit(src_[i]) || src_[i] == '_')) ++i;
    }
    if (i < n && (src_[i] == 'e' || src_[i] == 'E')) {
      size_t j = i + 1;
      if (j < n && (src_[j] == '+' || src_[j] == '-')) ++j;
      if (j < n && is_digit(src_[j])) {
        is_float = true;
        i = j;
        while (i < n && is_digit(src_[i])) ++i;
      }
    }
    std::string text;
    for (size_t k = s; k < i; ++k)
      if (src_[k] != '_') text += src_[k];
    push(is_float ? Token::Type::Float : Token::Type::Int, text, s);
    return i;
  }

  size_t lex_string(size_t i) {
    const size_t n = src_.size();
    const char q = src_[i];
    size_t s = i++;
    std::string out;
    while (true) {
      if (i >= n) fail("unterminated string literal", s);
      char c = src_[i];
      if (c == q) break;
      if (c == '\\' && i + 1 < n) {
        char e = src_[i + 1];
        i += 2;
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '0': out += '\0'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case '\\': out += '\\'; break;
          case '\'': out += '\''; break;
          case '"': out += '"'; break;
          case '\n': break;  // line continuation
          case 'x':
          case 'u':
          case 'U': {
            size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (size_t k = 0; k < digits; ++k) {
              char h = i + k < n ? src_[i + k] : '\0';
              int v = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
              if (v < 0) fail("bad escape in string literal", i);
              cp = cp * 16 + static_cast<uint32_t>(v);
            }
            if (cp > 0x10ffff) fail("bad escape in string literal", i);
            i += digits;
            append_utf8(out, cp);
            break;
          }
          default:
            out += '\\';
            out += e;
        }
        continue;
      }
      out += c;
      ++i;
    }
    push(Token::Type::String, std::move(out), s);
    return i + 1;
  }

  // After `{% raw %}` ending at pos: everything up to `{% endraw %}` is text.
  size_t lex_raw(size_t pos, size_t raw_tag, bool& strip_next, bool& trim_next) {
    const size_t n = src_.size();
    size_t q = pos;
    while (true) {
      q = src_.find("{%", q);
      if (q == std::string::npos) fail("unterminated raw block (missing {% endraw %})", raw_tag);
      size_t j = q + 2;
      char open_mod = (j < n && (src_[j] == '-' || src_[j] == '+')) ? src_[j++] : '\0';
      while (j < n && is_space(src_[j])) ++j;
      if (src_.compare(j, 6, "endraw") != 0) {
        q += 2;
        continue;
      }
      j += 6;
      while (j < n && is_space(src_[j])) ++j;
      char end_mod = '\0';
      if (j < n && (src_[j] == '-' || src_[j] == '+')) end_mod = src_[j++];
      if (src_.compare(j, 2, "%}") != 0) {
        q += 2;
        continue;
      }
      size_t begin = pos, end = q;
      if (strip_next) {
        while (begin < end && is_space(src_[begin])) ++begin;
      } else if (trim_next && begin < end && src_[begin] == '\n') {
        ++begin;
      }
      if (open_mod == '-')
        while (end > begin && is_space(src_[end - 1])) --end;
      if (end > begin) push(Token::Type::Text, src_.substr(begin, end - begin), begin);
      strip_next = end_mod == '-';
      trim_next = opts_.trim_blocks && end_mod == '\0';
      return j + 2;
    }
  }

  std::string src_;
  LexOptions opts_;
  std::vector<size_t> line_starts_;
  std::vector<Token> toks_;
};

std::string normalize_newlines(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

}  // namespace

std::vector<Token> lex(const std::string& source, const LexOptions& opts) {
  std::string src = normalize_newlines(source);
  if (!opts.keep_trailing_newline && !src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src), opts).run();
}

}  // namespace fitserve::chat::jinja
