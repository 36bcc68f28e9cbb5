// chat/jinja_eval.cpp — statement execution and expression evaluation; the Template facade.
// Scoping follows Jinja2: the top level, each macro call and each loop iteration get their own
// frame; `if` blocks do not, so `set` inside an `if` in a loop body updates the loop-body
// variable and never leaks out of the loop. Namespaces are shared objects that `set ns.x` mutates.
#include "chat/jinja_eval.h"

#include <new>

#include "chat/jinja.h"
#include "chat/jinja_builtins.h"
#include "chat/jinja_parser.h"
#include "core/error.h"

namespace fitserve::chat::jinja {

// ---- callables defined by templates -------------------------------------------------------
class Macro : public Callable {
 public:
  Macro(const Stmt* def, FramePtr closure) : def_(def), closure_(std::move(closure)) {}
  std::string name() const override { return def_->name; }

  Value call(Interp& in, CallArgs& args) override {
    if (in.call_depth >= in.limits.max_call_depth) Interp::fail("macro recursion too deep in '" + def_->name + "'");
    struct Depth {
      explicit Depth(int& d) : d(d) { ++d; }
      ~Depth() { --d; }
      int& d;
    } depth(in.call_depth);
    auto frame = std::make_shared<Frame>();
    FramePtr parent = closure_.lock();
    frame->parent = parent ? parent : in.root_;
    std::vector<bool> used_kw(args.kwargs.size(), false);
    for (size_t i = 0; i < def_->params.size(); ++i) {
      const auto& [pname, pdefault] = def_->params[i];
      bool bound = false;
      for (size_t k = 0; k < args.kwargs.size(); ++k) {
        if (args.kwargs[k].first == pname) {
          frame->vars[pname] = args.kwargs[k].second;
          used_kw[k] = bound = true;
        }
      }
      if (bound) continue;
      if (i < args.positional.size()) frame->vars[pname] = args.positional[i];
      else if (pdefault) frame->vars[pname] = in.eval(*pdefault, frame);
      else frame->vars[pname] = Value();
    }
    std::vector<Value> varargs;
    for (size_t i = def_->params.size(); i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
    Value kwargs = Value::object();
    for (size_t k = 0; k < args.kwargs.size(); ++k) {
      if (used_kw[k]) continue;
      if (args.kwargs[k].first == "caller") frame->vars["caller"] = args.kwargs[k].second;
      else kwargs.obj().set(args.kwargs[k].first, args.kwargs[k].second);
    }
    frame->vars["varargs"] = Value::array(std::move(varargs));
    frame->vars["kwargs"] = kwargs;
    return Value(in.capture(def_->body, frame));
  }

 private:
  const Stmt* def_;
  std::weak_ptr<Frame> closure_;  // weak: a frame holding its own macro must not leak
};

// The body of a {% call %} block, callable as caller(...) inside the macro.
class CallerFn : public Callable {
 public:
  CallerFn(const Stmt* def, FramePtr frame) : def_(def), frame_(std::move(frame)) {}
  std::string name() const override { return "caller"; }
  Value call(Interp& in, CallArgs& args) override {
    auto frame = std::make_shared<Frame>();
    FramePtr parent = frame_.lock();
    frame->parent = parent ? parent : in.root_;
    for (size_t i = 0; i < def_->params.size(); ++i) {
      const auto& [pname, pdefault] = def_->params[i];
      Value v = args.get(i, pname.c_str());
      if (!args.has(i, pname.c_str()) && pdefault) v = in.eval(*pdefault, frame);
      frame->vars[pname] = v;
    }
    return Value(in.capture(def_->body, frame));
  }

 private:
  const Stmt* def_;
  std::weak_ptr<Frame> frame_;
};

class GlobalFunction : public Callable {
 public:
  GlobalFunction(std::string name, GlobalFn fn) : name_(std::move(name)), fn_(fn) {}
  std::string name() const override { return name_; }
  Value call(Interp& in, CallArgs& args) override { return fn_(in, args); }

 private:
  std::string name_;
  GlobalFn fn_;
};

class LoopCycle : public Callable {
 public:
  explicit LoopCycle(size_t index) : index_(index) {}
  std::string name() const override { return "loop.cycle"; }
  Value call(Interp&, CallArgs& args) override {
    if (args.positional.empty()) Interp::fail("loop.cycle() needs at least one argument");
    return args.positional[index_ % args.positional.size()];
  }

 private:
  size_t index_;
};

// ---- Interp -------------------------------------------------------------------------------
Interp::Interp(const RenderLimits& limits) : limits(limits) {
  budget.steps = limits.max_steps;
  budget.max_string = limits.max_output;
  budget.max_depth = limits.max_value_depth;
}

std::string Interp::render(const Program& program, const Value& context) {
  root_ = std::make_shared<Frame>();
  if (context.is_object())
    for (const auto& [k, v] : context.obj().entries()) root_->vars[k] = v;
  std::string result;
  out_ = &result;
  Flow flow = exec(program.body, root_);
  if (flow != Flow::Normal) fail("'break' or 'continue' outside a loop");
  root_.reset();
  return result;
}

void Interp::emit(const std::string& s) {
  check_string(out_->size() + s.size());
  out_->append(s);
}

std::string Interp::capture(const Body& body, const FramePtr& f) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    Flow flow = exec(body, f);
    if (flow != Flow::Normal) fail("'break' or 'continue' outside a loop");
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Interp::Flow Interp::exec(const Body& body, const FramePtr& f) {
  for (const auto& s : body) {
    Flow flow;
    try {
      flow = exec_stmt(*s, f);
    } catch (RenderError& e) {
      if (!e.positioned) {
        e.line = s->line;
        e.col = s->col;
        e.positioned = true;
      }
      throw;
    }
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec_stmt(const Stmt& s, const FramePtr& f) {
  budget.step();
  switch (s.kind) {
    case Stmt::Kind::Text: emit(s.text); return Flow::Normal;
    case Stmt::Kind::Output: emit(to_output_string(eval(*s.expr, f), &budget)); return Flow::Normal;
    case Stmt::Kind::If:
      for (const auto& [cond, body] : s.branches)
        if (eval(*cond, f).truthy()) return exec(body, f);
      return exec(s.else_body, f);
    case Stmt::Kind::For: return exec_for(s, f);
    case Stmt::Kind::Set: exec_set(s, f); return Flow::Normal;
    case Stmt::Kind::SetBlock: {
      Value captured(capture(s.body, f));
      if (s.expr) {
        const Value* saved = placeholder_;
        placeholder_ = &captured;
        Value v = eval(*s.expr, f);
        placeholder_ = saved;
        f->vars[s.name] = v;
      } else {
        f->vars[s.name] = captured;
      }
      return Flow::Normal;
    }
    case Stmt::Kind::Macro:
      f->vars[s.name] = Value::callable(std::make_shared<Macro>(&s, f));
      return Flow::Normal;
    case Stmt::Kind::CallBlock: {
      const Expr& call = *s.expr;
      Value callee = eval(*call.a, f);
      CallArgs args = eval_args(call, f);
      args.kwargs.emplace_back("caller", Value::callable(std::make_shared<CallerFn>(&s, f)));
      emit(to_output_string(this->call(callee, args, "call block"), &budget));
      return Flow::Normal;
    }
    case Stmt::Kind::FilterBlock: {
      Value captured(capture(s.body, f));
      const Value* saved = placeholder_;
      placeholder_ = &captured;
      Value v = eval(*s.expr, f);
      placeholder_ = saved;
      emit(to_output_string(v, &budget));
      return Flow::Normal;
    }
    case Stmt::Kind::Break: return Flow::Break;
    case Stmt::Kind::Continue: return Flow::Continue;
    case Stmt::Kind::Do: eval(*s.expr, f); return Flow::Normal;
  }
  return Flow::Normal;
}

void Interp::assign_targets(const std::vector<std::string>& targets, const Value& v, Frame& f) {
  if (targets.size() == 1) {
    f.vars[targets[0]] = v;
    return;
  }
  if (!v.is_array()) fail(std::string("cannot unpack a ") + v.type_name() + " into " + std::to_string(targets.size()) + " names");
  const auto& items = v.items();
  if (items.size() != targets.size())
    fail("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) + " names");
  for (size_t i = 0; i < targets.size(); ++i) f.vars[targets[i]] = items[i];
}

Interp::Flow Interp::exec_for(const Stmt& s, const FramePtr& f) {
  Value iterable = eval(*s.expr, f);
  std::vector<Value> items = iterate(*this, iterable);
  if (s.cond) {
    std::vector<Value> kept;
    for (auto& item : items) {
      auto tmp = std::make_shared<Frame>();
      tmp->parent = f;
      assign_targets(s.targets, item, *tmp);
      if (eval(*s.cond, tmp).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, f);
  const size_t n = items.size();
  for (size_t i = 0; i < n; ++i) {
    budget.step();
    auto frame = std::make_shared<Frame>();
    frame->parent = f;
    assign_targets(s.targets, items[i], *frame);
    if (!s.uses_loop) {
      if (exec(s.body, frame) == Flow::Break) break;
      continue;
    }
    Value loop = Value::object();
    Object& lo = loop.obj();
    lo.set("index", Value(static_cast<int64_t>(i + 1)));
    lo.set("index0", Value(static_cast<int64_t>(i)));
    lo.set("revindex", Value(static_cast<int64_t>(n - i)));
    lo.set("revindex0", Value(static_cast<int64_t>(n - i - 1)));
    lo.set("first", Value(i == 0));
    lo.set("last", Value(i + 1 == n));
    lo.set("length", Value(static_cast<int64_t>(n)));
    lo.set("depth", Value(1));
    lo.set("depth0", Value(0));
    lo.set("previtem", i > 0 ? items[i - 1] : Value());
    lo.set("nextitem", i + 1 < n ? items[i + 1] : Value());
    lo.set("cycle", Value::callable(std::make_shared<LoopCycle>(i)));
    frame->vars["loop"] = loop;
    Flow flow = exec(s.body, frame);
    if (flow == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interp::exec_set(const Stmt& s, const FramePtr& f) {
  Value v = eval(*s.expr, f);
  if (s.attr_obj) {
    Value target = eval(*s.attr_obj, f);
    if (!target.is_object() || !target.obj().is_namespace)
      fail("cannot assign attribute '" + s.name + "': '" + s.attr_obj->name + "' is not a namespace");
    if (reaches(v, target, &budget)) fail("assignment would create a reference cycle");
    target.obj().set(s.name, v);
    return;
  }
  assign_targets(s.targets, v, *f);
}

Value Interp::lookup(const std::string& name, const FramePtr& f) const {
  for (const Frame* fr = f.get(); fr; fr = fr->parent.get()) {
    auto it = fr->vars.find(name);
    if (it != fr->vars.end()) return it->second;
  }
  if (GlobalFn g = find_global(name)) return Value::callable(std::make_shared<GlobalFunction>(name, g));
  return Value();
}

Value Interp::eval(const Expr& e, const FramePtr& f) {
  try {
    budget.step();
    return eval_inner(e, f);
  } catch (RenderError& err) {
    if (!err.positioned) {
      err.line = e.line;
      err.col = e.col;
      err.positioned = true;
    }
    throw;
  } catch (const LimitError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& ex) {
    RenderError err(ex.what());
    err.line = e.line;
    err.col = e.col;
    err.positioned = true;
    throw err;
  }
}

CallArgs Interp::eval_args(const Expr& e, const FramePtr& f) {
  CallArgs args;
  for (const auto& x : e.items) args.positional.push_back(eval(*x, f));
  for (const auto& [k, x] : e.kwargs) args.kwargs.emplace_back(k, eval(*x, f));
  return args;
}

Value Interp::call(const Value& callee, CallArgs& args, const std::string& what) {
  if (!callee.is_callable()) {
    if (callee.is_undefined()) fail("'" + what + "' is undefined (not a known function or macro)");
    fail("'" + what + "' is not callable");
  }
  return callee.fn().call(*this, args);
}

Value Interp::eval_call(const Expr& e, const FramePtr& f) {
  const Expr& callee_expr = *e.a;
  if (callee_expr.kind == Expr::Kind::GetAttr) {
    Value obj = eval(*callee_expr.a, f);
    CallArgs args = eval_args(e, f);
    bool found = false;
    Value r = call_method(*this, obj, callee_expr.name, args, found);
    if (found) return r;
    Value attr = obj.is_object() ? (obj.obj().find(callee_expr.name) ? *obj.obj().find(callee_expr.name) : Value()) : Value();
    if (!attr.is_callable())
      fail(std::string(obj.type_name()) + " has no method '" + callee_expr.name + "'");
    return call(attr, args, callee_expr.name);
  }
  Value callee = eval(callee_expr, f);
  CallArgs args = eval_args(e, f);
  return call(callee, args, callee_expr.kind == Expr::Kind::Name ? callee_expr.name : "expression");
}

Value Interp::apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (!fn) fail("unknown filter '" + name + "'");
  return fn(*this, input, args);
}

bool Interp::apply_test(const std::string& name, const Value& input, CallArgs& args) {
  TestFn fn = find_test(name);
  if (!fn) fail("unknown test '" + name + "'");
  return fn(*this, input, args);
}

Value Interp::eval_inner(const Expr& e, const FramePtr& f) {
  switch (e.kind) {
    case Expr::Kind::Literal: return e.value;
    case Expr::Kind::Name: return lookup(e.name, f);
    case Expr::Kind::Placeholder: return placeholder_ ? *placeholder_ : Value();
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& x : e.items) items.push_back(eval(*x, f));
      return Value::array(std::move(items));
    }
    case Expr::Kind::Dict: {
      Value o = Value::object();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], f);
        Value v = eval(*e.items[i + 1], f);
        o.obj().set(k.is_string() ? k.str() : to_output_string(k, &budget), v);
      }
      return o;
    }
    case Expr::Kind::GetAttr: {
      Value obj = eval(*e.a, f);
      if (obj.is_object()) {
        const Value* v = obj.obj().find(e.name);
        return v ? *v : Value();
      }
      return Value();
    }
    case Expr::Kind::GetItem: {
      Value obj = eval(*e.a, f);
      Value key = eval(*e.b, f);
      return get_item(*this, obj, key);
    }
    case Expr::Kind::Slice: {
      Value obj = eval(*e.items[0], f);
      Value start = e.a ? eval(*e.a, f) : Value();
      Value stop = e.b ? eval(*e.b, f) : Value();
      Value step = e.c ? eval(*e.c, f) : Value();
      return get_slice(*this, obj, start, stop, step);
    }
    case Expr::Kind::Call: return eval_call(e, f);
    case Expr::Kind::Filter: {
      Value input = eval(*e.a, f);
      CallArgs args = eval_args(e, f);
      return apply_filter(e.name, input, args);
    }
    case Expr::Kind::Test: {
      Value input = eval(*e.a, f);
      CallArgs args = eval_args(e, f);
      bool r = apply_test(e.name, input, args);
      return Value(e.negated ? !r : r);
    }
    case Expr::Kind::Unary: {
      Value v = eval(*e.a, f);
      if (e.name == "-") return binary_op(*this, "-", Value(0), v);
      if (!v.is_number() && !v.is_bool()) fail(std::string("bad operand type for unary +: ") + v.type_name());
      return v.is_bool() ? Value(static_cast<int64_t>(v.as_bool())) : v;
    }
    case Expr::Kind::Not: return Value(!eval(*e.a, f).truthy());
    case Expr::Kind::And: {
      Value l = eval(*e.a, f);
      return l.truthy() ? eval(*e.b, f) : l;
    }
    case Expr::Kind::Or: {
      Value l = eval(*e.a, f);
      return l.truthy() ? l : eval(*e.b, f);
    }
    case Expr::Kind::Cond: {
      if (eval(*e.b, f).truthy()) return eval(*e.a, f);
      return e.c ? eval(*e.c, f) : Value();
    }
    case Expr::Kind::Compare: {  // a < b < c  ==  a < b and b < c, b evaluated once
      Value l = eval(*e.items[0], f);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value r = eval(*e.items[i + 1], f);
        const std::string& op = e.ops[i];
        bool ok = op == "in" ? contains(*this, r, l) : op == "not in" ? !contains(*this, r, l) : binary_op(*this, op, l, r).truthy();
        if (!ok) return Value(false);
        l = std::move(r);
      }
      return Value(true);
    }
    case Expr::Kind::Binary: {
      Value l = eval(*e.a, f);
      Value r = eval(*e.b, f);
      if (e.name == "in") {
        bool in = contains(*this, r, l);
        return Value(e.negated ? !in : in);
      }
      return binary_op(*this, e.name, l, r);
    }
  }
  fail("bad expression");
}

// ---- Template facade ----------------------------------------------------------------------
namespace {
std::string where(int line, int col) {
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}
}  // namespace

Template Template::parse(const std::string& source, const LexOptions& options) {
  try {
    Template t;
    t.program_ = std::make_shared<const Program>(jinja::parse(lex(source, options)));
    return t;
  } catch (const SyntaxError& e) {
    throw core::Error("template", std::string("chat template syntax error: ") + e.what() + " (" + where(e.line, e.col) + ")",
                      "check the template source near that position");
  }
}

std::string Template::render(const Value& context, const RenderLimits& limits) const {
  Interp in(limits);
  try {
    return in.render(*program_, context);
  } catch (const RenderError& e) {
    std::string pos = e.positioned ? " (" + where(e.line, e.col) + ")" : "";
    if (e.raised) throw core::Error("template", std::string(e.what()) + pos, "raised by the chat template");
    throw core::Error("template", std::string("chat template error: ") + e.what() + pos);
  } catch (const LimitError& e) {
    throw core::Error("template", std::string("chat template error: ") + e.what(),
                      "the template or its input is too large or loops without end");
  } catch (const std::bad_alloc&) {
    throw core::Error("template", "chat template error: out of memory while rendering");
  }
}

std::string Template::render(const nlohmann::json& context, const RenderLimits& limits) const {
  Value ctx;
  try {
    ctx = from_json(context, limits.max_value_depth);
  } catch (const std::exception& e) {
    throw core::Error("template", std::string("chat template input: ") + e.what());
  }
  return render(ctx, limits);
}

std::string Template::render(const nlohmann::ordered_json& context, const RenderLimits& limits) const {
  Value ctx;
  try {
    ctx = from_json(context, limits.max_value_depth);
  } catch (const std::exception& e) {
    throw core::Error("template", std::string("chat template input: ") + e.what());
  }
  return render(ctx, limits);
}

}  // namespace fitserve::chat::jinja
