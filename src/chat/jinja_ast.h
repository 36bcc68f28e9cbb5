// chat/jinja_ast.h — syntax tree of a parsed template (expressions and statements).
// Offers: jinja::Expr, jinja::Stmt, jinja::Program. Immutable after parsing; rendering only reads it.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace fitserve::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,      // value
    Name,         // name
    List,         // items
    Tuple,        // items
    Dict,         // items = k0, v0, k1, v1, ...
    GetAttr,      // a.name
    GetItem,      // a[b]
    Slice,        // a[b:c:d] (b, c, d may be null)
    Call,         // a(items..., kwargs...)
    Filter,       // a | name(items..., kwargs...)
    Test,         // a is [not] name(items...)
    Unary,        // op a  ('-', '+')
    Not,          // not a
    Binary,       // a op b
    Compare,      // items[0] ops[0] items[1] ops[1] ... (Python chained comparison)
    And,          // a and b
    Or,           // a or b
    Cond,         // a if b else c (c may be null)
    Placeholder,  // the captured body of {% filter %} / {% set x | f %}
  };
  Kind kind;
  int line = 0, col = 0;
  Value value;       // Literal
  std::string name;  // Name, GetAttr, Filter, Test, Unary/Binary operator
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // Test: `is not`; Binary "in": `not in`
  std::vector<std::string> ops;  // Compare: "==", "<", "in", "not in", ...
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches (cond, body) + else_body
    For,       // targets in expr [if cond] body [else else_body]
    Set,       // targets = expr | attr_obj.attr_name = expr
    SetBlock,  // {% set name [| filters] %}body{% endset %}; expr = filter chain or null
    Macro,     // name(params) body
    CallBlock, // {% call [(params)] expr %}body{% endcall %}: body is `caller`
    FilterBlock,  // {% filter chain %}body{% endfilter %}
    Break,
    Continue,
    Do,        // {% do expr %}
  };
  Kind kind;
  int line = 0, col = 0;
  std::string text;                   // Text
  ExprPtr expr;                       // Output / For iterable / Set value / Do / filter chain / CallBlock call
  ExprPtr cond;                       // For `if` filter
  ExprPtr attr_obj;                   // Set ns.attr
  std::string name;                   // Set attr name, SetBlock/Macro name
  std::vector<std::string> targets;   // For / Set names (several = unpacking)
  std::vector<std::pair<ExprPtr, Body>> branches;  // If
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro / CallBlock (default may be null)
  bool uses_loop = true;  // For: the body mentions `loop` (else no loop object is built)
};

struct Program {
  Body body;
};

}  // namespace fitserve::chat::jinja
