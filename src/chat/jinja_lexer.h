// chat/jinja_lexer.h — tokenizer for the Jinja-subset template engine.
// Offers: jinja::Token, jinja::lex(source, options) -> tokens. Applies the whitespace rules
//         (`{%-`/`-%}` stripping, trim_blocks, lstrip_blocks, `+` overrides, dropping one trailing
//         newline, CRLF -> LF), removes comments, and turns {% raw %} blocks into text.
//         Throws jinja::SyntaxError with line/column on malformed input.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace fitserve::chat::jinja {

struct SyntaxError : std::runtime_error {
  SyntaxError(const std::string& msg, int line, int col)
      : std::runtime_error(msg), line(line), col(col) {}
  int line, col;
};

struct Token {
  enum class Type { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };
  Type type;
  std::string value;  // text, name, decoded string literal, number literal, operator
  int line = 1, col = 1;
};

struct LexOptions {
  bool trim_blocks = true;            // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;          // strip spaces/tabs before a block or comment tag at line start
  bool keep_trailing_newline = false;  // false: one trailing newline of the source is dropped
};

std::vector<Token> lex(const std::string& source, const LexOptions& opts = {});

}  // namespace fitserve::chat::jinja
