// chat/jinja_parser.h — tokens -> syntax tree for the Jinja-subset engine.
// Offers: jinja::parse(tokens) -> Program. Checks filter and test names against the builtins,
//         limits nesting depth, and throws jinja::SyntaxError (with line/column) on bad syntax.
#pragma once
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace fitserve::chat::jinja {

constexpr int kMaxParseDepth = 200;  // nested expressions / blocks

Program parse(const std::vector<Token>& tokens);

}  // namespace fitserve::chat::jinja
