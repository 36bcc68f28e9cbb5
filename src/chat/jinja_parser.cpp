// chat/jinja_parser.cpp — recursive-descent parser with Jinja2's operator precedence:
// cond-expr < or < and < not < comparisons/in < + - < ~ < * / // % < ** < unary < postfix,
// with filters (`|`) and tests (`is`) binding right after postfix (so `not x | f` is `not (x|f)`).
#include "chat/jinja_parser.h"

#include <charconv>
#include <cstdlib>

#include "chat/jinja_builtins.h"

namespace fitserve::chat::jinja {
namespace {

using T = Token::Type;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& toks) : t_(toks) {}

  Program run() {
    Program prog;
    std::string end;
    prog.body = parse_body({}, end);
    return prog;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p(p) {
      if (++p.depth_ > kMaxParseDepth) p.fail("template nesting too deep");
    }
    ~DepthGuard() { --p.depth_; }
    Parser& p;
  };

  const Token& peek(size_t k = 0) const {
    size_t i = p_ + k;
    return i < t_.size() ? t_[i] : t_.back();
  }
  const Token& next() {
    const Token& tok = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return tok;
  }
  bool is_op(const char* op, size_t k = 0) const { return peek(k).type == T::Op && peek(k).value == op; }
  bool is_name(const char* n, size_t k = 0) const { return peek(k).type == T::Name && peek(k).value == n; }
  [[noreturn]] void fail(const std::string& msg) const { throw SyntaxError(msg, peek().line, peek().col); }
  [[noreturn]] void fail_at(const std::string& msg, const Token& tok) const { throw SyntaxError(msg, tok.line, tok.col); }

  std::string describe(const Token& tok) const {
    switch (tok.type) {
      case T::Text: return "text";
      case T::VarBegin: return "'{{'";
      case T::VarEnd: return "'}}'";
      case T::BlockBegin: return "'{%'";
      case T::BlockEnd: return "'%}'";
      case T::Eof: return "end of template";
      case T::String: return "string literal";
      default: return "'" + tok.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', got " + describe(peek()));
    next();
  }
  void expect_name(const char* n) {
    if (!is_name(n)) fail(std::string("expected '") + n + "', got " + describe(peek()));
    next();
  }
  void expect(T type, const char* what) {
    if (peek().type != type) fail(std::string("expected ") + what + ", got " + describe(peek()));
    next();
  }
  std::string expect_identifier() {
    if (peek().type != T::Name) fail("expected a name, got " + describe(peek()));
    return next().value;
  }

  ExprPtr make(Expr::Kind k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // ---- statements -------------------------------------------------------------------------
  // Parses until one of `ends` appears as a block keyword; leaves the parser on that keyword.
  Body parse_body(std::initializer_list<const char*> ends, std::string& found) {
    DepthGuard g(*this);
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.type == T::Eof) {
        if (ends.size() != 0) {
          std::string want;
          for (const char* e : ends) want += std::string(want.empty() ? "" : " or ") + "'" + e + "'";
          fail("unexpected end of template, expected " + want);
        }
        return body;
      }
      if (tok.type == T::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->line = tok.line;
        s->col = tok.col;
        s->text = tok.value;
        next();
        body.push_back(std::move(s));
        continue;
      }
      if (tok.type == T::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->line = tok.line;
        s->col = tok.col;
        s->expr = parse_expression();
        expect(T::VarEnd, "'}}'");
        body.push_back(std::move(s));
        continue;
      }
      if (tok.type != T::BlockBegin) fail("unexpected " + describe(tok));
      const Token& kw = peek(1);
      if (kw.type != T::Name) fail_at("expected a tag name after '{%'", kw);
      for (const char* e : ends) {
        if (kw.value == e) {
          next();  // '{%'; the keyword is left for the caller
          found = e;
          return body;
        }
      }
      next();
      body.push_back(parse_statement(tok));
    }
  }

  StmtPtr new_stmt(Stmt::Kind k, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  void end_tag(const char* kw) {
    expect_name(kw);
    expect(T::BlockEnd, "'%}'");
  }

  StmtPtr parse_statement(const Token& begin) {
    const Token& kw = next();
    const std::string& k = kw.value;
    std::string found;
    if (k == "if") {
      auto s = new_stmt(Stmt::Kind::If, begin);
      ExprPtr cond = parse_expression();
      expect(T::BlockEnd, "'%}'");
      Body b = parse_body({"elif", "else", "endif"}, found);
      s->branches.emplace_back(std::move(cond), std::move(b));
      while (found == "elif") {
        next();
        ExprPtr c = parse_expression();
        expect(T::BlockEnd, "'%}'");
        Body bb = parse_body({"elif", "else", "endif"}, found);
        s->branches.emplace_back(std::move(c), std::move(bb));
      }
      if (found == "else") {
        next();
        expect(T::BlockEnd, "'%}'");
        s->else_body = parse_body({"endif"}, found);
      }
      end_tag("endif");
      return s;
    }
    if (k == "for") {
      auto s = new_stmt(Stmt::Kind::For, begin);
      bool paren = is_op("(");
      if (paren) next();
      s->targets.push_back(expect_identifier());
      while (is_op(",")) {
        next();
        s->targets.push_back(expect_identifier());
      }
      if (paren) expect_op(")");
      expect_name("in");
      s->expr = parse_expression(false);
      if (is_name("if")) {
        next();
        s->cond = parse_expression(false);
      }
      if (is_name("recursive")) fail("recursive for loops are not supported");
      expect(T::BlockEnd, "'%}'");
      loop_refs_.push_back(false);
      s->body = parse_body({"else", "endfor"}, found);
      s->uses_loop = loop_refs_.back();
      loop_refs_.pop_back();
      if (found == "else") {
        next();
        expect(T::BlockEnd, "'%}'");
        s->else_body = parse_body({"endfor"}, found);
      }
      end_tag("endfor");
      return s;
    }
    if (k == "set") {
      std::string first = expect_identifier();
      if (is_op(".")) {
        auto s = new_stmt(Stmt::Kind::Set, begin);
        const Token& at = peek();
        next();
        auto obj = make(Expr::Kind::Name, at);
        obj->name = first;
        s->attr_obj = std::move(obj);
        s->name = expect_identifier();
        expect_op("=");
        s->expr = parse_tuple_or_expression();
        expect(T::BlockEnd, "'%}'");
        return s;
      }
      std::vector<std::string> targets{first};
      while (is_op(",")) {
        next();
        targets.push_back(expect_identifier());
      }
      if (is_op("=")) {
        auto s = new_stmt(Stmt::Kind::Set, begin);
        next();
        s->targets = std::move(targets);
        s->expr = parse_tuple_or_expression();
        expect(T::BlockEnd, "'%}'");
        return s;
      }
      if (targets.size() != 1) fail("expected '=' after the names in set");
      auto s = new_stmt(Stmt::Kind::SetBlock, begin);
      s->name = first;
      if (is_op("|")) s->expr = parse_filter_chain(begin);
      expect(T::BlockEnd, "'%}'");
      s->body = parse_body({"endset"}, found);
      end_tag("endset");
      return s;
    }
    if (k == "macro") {
      auto s = new_stmt(Stmt::Kind::Macro, begin);
      s->name = expect_identifier();
      parse_params(s->params);
      expect(T::BlockEnd, "'%}'");
      s->body = parse_body({"endmacro"}, found);
      expect_name("endmacro");
      if (peek().type == T::Name) next();  // {% endmacro name %}
      expect(T::BlockEnd, "'%}'");
      return s;
    }
    if (k == "call") {
      auto s = new_stmt(Stmt::Kind::CallBlock, begin);
      if (is_op("(")) parse_params(s->params);
      s->expr = parse_expression();
      if (s->expr->kind != Expr::Kind::Call) fail("expected a macro call in {% call %}");
      expect(T::BlockEnd, "'%}'");
      s->body = parse_body({"endcall"}, found);
      end_tag("endcall");
      return s;
    }
    if (k == "filter") {
      auto s = new_stmt(Stmt::Kind::FilterBlock, begin);
      s->expr = parse_filter_chain(begin, /*leading_pipe=*/false);
      expect(T::BlockEnd, "'%}'");
      s->body = parse_body({"endfilter"}, found);
      end_tag("endfilter");
      return s;
    }
    if (k == "generation") {  // Hugging Face extension: marks assistant text; renders its body
      auto s = new_stmt(Stmt::Kind::If, begin);
      expect(T::BlockEnd, "'%}'");
      auto yes = make(Expr::Kind::Literal, begin);
      yes->value = Value(true);
      Body b = parse_body({"endgeneration"}, found);
      s->branches.emplace_back(std::move(yes), std::move(b));
      end_tag("endgeneration");
      return s;
    }
    if (k == "break" || k == "continue") {
      auto s = new_stmt(k == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, begin);
      expect(T::BlockEnd, "'%}'");
      return s;
    }
    if (k == "do") {
      auto s = new_stmt(Stmt::Kind::Do, begin);
      s->expr = parse_tuple_or_expression();
      expect(T::BlockEnd, "'%}'");
      return s;
    }
    if (k == "include" || k == "import" || k == "from" || k == "extends" || k == "block" || k == "with" ||
        k == "autoescape")
      fail_at("the '" + k + "' tag is not supported", kw);
    if (k.rfind("end", 0) == 0 || k == "elif" || k == "else")
      fail_at("unexpected '" + k + "' (no matching opening tag)", kw);
    fail_at("unknown tag '" + k + "'", kw);
  }

  void parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
    expect_op("(");
    while (!is_op(")")) {
      std::string n = expect_identifier();
      ExprPtr def;
      if (is_op("=")) {
        next();
        def = parse_expression();
      }
      params.emplace_back(std::move(n), std::move(def));
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  // `| f(args) | g` applied to a Placeholder (the captured block output)
  ExprPtr parse_filter_chain(const Token& at, bool leading_pipe = true) {
    ExprPtr e = make(Expr::Kind::Placeholder, at);
    bool first = true;
    while (true) {
      if (leading_pipe || !first) {
        if (!is_op("|")) break;
        next();
      }
      first = false;
      e = parse_filter(std::move(e));
    }
    return e;
  }

  // ---- expressions ------------------------------------------------------------------------
  ExprPtr parse_tuple_or_expression() {
    const Token& at = peek();
    ExprPtr e = parse_expression();
    if (!is_op(",")) return e;
    auto t = make(Expr::Kind::Tuple, at);
    t->items.push_back(std::move(e));
    while (is_op(",")) {
      next();
      if (peek().type == T::BlockEnd || peek().type == T::VarEnd) break;
      t->items.push_back(parse_expression());
    }
    return t;
  }

  ExprPtr parse_expression(bool with_cond = true) {
    DepthGuard g(*this);
    ExprPtr e = parse_or();
    if (with_cond && is_name("if")) {
      const Token& at = peek();
      next();
      auto c = make(Expr::Kind::Cond, at);
      c->a = std::move(e);
      c->b = parse_or();
      if (is_name("else")) {
        next();
        c->c = parse_expression();
      }
      return c;
    }
    return e;
  }

  ExprPtr binary(Expr::Kind k, const Token& at, std::string op, ExprPtr l, ExprPtr r) {
    auto e = make(k, at);
    e->name = std::move(op);
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const Token& at = next();
      l = binary(Expr::Kind::Or, at, "or", std::move(l), parse_and());
    }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const Token& at = next();
      l = binary(Expr::Kind::And, at, "and", std::move(l), parse_not());
    }
    return l;
  }
  ExprPtr parse_not() {
    DepthGuard g(*this);
    if (is_name("not")) {
      const Token& at = next();
      auto e = make(Expr::Kind::Not, at);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    const Token& first = peek();
    ExprPtr l = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      const Token& at = peek();
      std::string op;
      if (at.type == T::Op && (at.value == "==" || at.value == "!=" || at.value == "<" || at.value == "<=" ||
                               at.value == ">" || at.value == ">=")) {
        op = next().value;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return l;
    if (ops.size() == 1) {
      bool neg = ops[0] == "not in";
      ExprPtr e = binary(Expr::Kind::Binary, first, neg ? "in" : ops[0], std::move(l), std::move(operands[0]));
      e->negated = neg;
      return e;
    }
    auto e = make(Expr::Kind::Compare, first);
    e->items.push_back(std::move(l));
    for (auto& o : operands) e->items.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = peek();
      std::string op = next().value;
      l = binary(Expr::Kind::Binary, at, op, std::move(l), parse_concat());
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      const Token& at = next();
      l = binary(Expr::Kind::Binary, at, "~", std::move(l), parse_math2());
    }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = peek();
      std::string op = next().value;
      l = binary(Expr::Kind::Binary, at, op, std::move(l), parse_pow());
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      const Token& at = next();
      l = binary(Expr::Kind::Binary, at, "**", std::move(l), parse_unary(true));
    }
    return l;
  }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& at = peek();
      std::string op = next().value;
      e = make(Expr::Kind::Unary, at);
      e->name = op;
      e->a = parse_unary(false);
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    switch (tok.type) {
      case T::Name: {
        next();
        const std::string& n = tok.value;
        auto lit = [&](Value v) {
          auto e = make(Expr::Kind::Literal, tok);
          e->value = std::move(v);
          return e;
        };
        if (n == "true" || n == "True") return lit(Value(true));
        if (n == "false" || n == "False") return lit(Value(false));
        if (n == "none" || n == "None") return lit(Value::none());
        auto e = make(Expr::Kind::Name, tok);
        e->name = n;
        if (n == "loop")
          for (size_t i = 0; i < loop_refs_.size(); ++i) loop_refs_[i] = true;  // conservative for nesting
        return e;
      }
      case T::String: {
        std::string s;
        while (peek().type == T::String) s += next().value;  // adjacent literals concatenate
        auto e = make(Expr::Kind::Literal, tok);
        e->value = Value(std::move(s));
        return e;
      }
      case T::Int: {
        next();
        auto e = make(Expr::Kind::Literal, tok);
        int64_t v = 0;
        auto r = std::from_chars(tok.value.data(), tok.value.data() + tok.value.size(), v);
        if (r.ec == std::errc()) e->value = Value(v);
        else e->value = Value(std::strtod(tok.value.c_str(), nullptr));
        return e;
      }
      case T::Float: {
        next();
        auto e = make(Expr::Kind::Literal, tok);
        e->value = Value(std::strtod(tok.value.c_str(), nullptr));
        return e;
      }
      case T::Op: {
        if (tok.value == "(") {
          next();
          if (is_op(")")) {
            next();
            return make(Expr::Kind::Tuple, tok);
          }
          ExprPtr e = parse_expression();
          if (is_op(",")) {
            auto t = make(Expr::Kind::Tuple, tok);
            t->items.push_back(std::move(e));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              t->items.push_back(parse_expression());
            }
            e = std::move(t);
          }
          expect_op(")");
          return e;
        }
        if (tok.value == "[") {
          next();
          auto e = make(Expr::Kind::List, tok);
          while (!is_op("]")) {
            e->items.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return e;
        }
        if (tok.value == "{") {
          next();
          auto e = make(Expr::Kind::Dict, tok);
          while (!is_op("}")) {
            e->items.push_back(parse_expression());
            expect_op(":");
            e->items.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return e;
        }
        break;
      }
      default: break;
    }
    fail("unexpected " + describe(tok));
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) fail("*args / **kwargs in calls are not supported");
      if (peek().type == T::Name && is_op("=", 1)) {
        std::string n = next().value;
        next();
        e.kwargs.emplace_back(std::move(n), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail("positional argument after keyword argument");
        e.items.push_back(parse_expression());
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const Token& at = peek();
      if (is_op(".")) {
        next();
        if (peek().type == T::Int) {
          auto g = make(Expr::Kind::GetItem, at);
          auto idx = make(Expr::Kind::Literal, peek());
          int64_t v = 0;
          std::from_chars(peek().value.data(), peek().value.data() + peek().value.size(), v);
          idx->value = Value(v);
          next();
          g->a = std::move(e);
          g->b = std::move(idx);
          e = std::move(g);
          continue;
        }
        auto g = make(Expr::Kind::GetAttr, at);
        g->name = expect_identifier();
        g->a = std::move(e);
        e = std::move(g);
      } else if (is_op("[")) {
        next();
        ExprPtr parts[3];
        int colons = 0;
        while (true) {
          if (is_op(":")) {
            if (++colons > 2) fail("too many ':' in slice");
            next();
            continue;
          }
          if (is_op("]")) break;
          if (parts[colons]) fail("expected ':' or ']' in subscript");
          parts[colons] = parse_expression();
        }
        expect_op("]");
        if (colons == 0) {
          if (!parts[0]) fail("empty subscript");
          auto g = make(Expr::Kind::GetItem, at);
          g->a = std::move(e);
          g->b = std::move(parts[0]);
          e = std::move(g);
        } else {
          auto s = make(Expr::Kind::Slice, at);
          s->items.push_back(std::move(e));
          s->a = std::move(parts[0]);
          s->b = std::move(parts[1]);
          s->c = std::move(parts[2]);
          e = std::move(s);
        }
      } else if (is_op("(")) {
        auto c = make(Expr::Kind::Call, at);
        c->a = std::move(e);
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter(ExprPtr input) {
    const Token& at = peek();
    std::string name = expect_identifier();
    while (is_op(".")) {  // dotted filter names are not builtins, but give a clear error
      next();
      name += "." + expect_identifier();
    }
    if (!find_filter(name)) fail_at("unknown filter '" + name + "'", at);
    auto f = make(Expr::Kind::Filter, at);
    f->name = name;
    f->a = std::move(input);
    if (is_op("(")) parse_call_args(*f);
    return f;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        next();
        e = parse_filter(std::move(e));
      } else if (is_name("is")) {
        const Token& at = next();
        bool negated = false;
        if (is_name("not")) {
          next();
          negated = true;
        }
        std::string name = expect_identifier();
        // `is none`, `is true`, `is false` arrive as literals-to-be: the lexer gives names
        if (!find_test(name)) fail_at("unknown test '" + name + "'", at);
        auto t = make(Expr::Kind::Test, at);
        t->name = name;
        t->negated = negated;
        t->a = std::move(e);
        if (is_op("(")) {
          parse_call_args(*t);
        } else if (can_start_test_arg()) {
          t->items.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  bool can_start_test_arg() const {
    const Token& tok = peek();
    if (tok.type == T::String || tok.type == T::Int || tok.type == T::Float) return true;
    if (tok.type == T::Op) return tok.value == "[" || tok.value == "{";
    if (tok.type != T::Name) return false;
    static const char* stop[] = {"else", "or", "and", "if", "is", "in", "not"};
    for (const char* s : stop)
      if (tok.value == s) return false;
    return true;
  }

  const std::vector<Token>& t_;
  std::vector<bool> loop_refs_;  // per enclosing for-body: whether `loop` was mentioned
  size_t p_ = 0;
  int depth_ = 0;
};

}  // namespace

Program parse(const std::vector<Token>& tokens) { return Parser(tokens).run(); }

}  // namespace fitserve::chat::jinja
