// chat/jinja_eval.h — the interpreter that renders a parsed template (internal to the engine).
// Offers: jinja::Interp (scopes, statement execution, expression evaluation, macro calls, output
//         with size/work/recursion limits) and jinja::RenderError. Builtins call back into it
//         (e.g. `map` applying a filter, `select` applying a test, raise_exception).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace fitserve::chat::jinja {

struct RenderLimits {
  size_t max_output = 32u << 20;       // bytes of output, and of any single string built
  uint64_t max_steps = 20'000'000;     // evaluation steps (loop iterations, nodes, value walks)
  int max_call_depth = 100;            // nested macro calls
  int max_value_depth = 512;           // nesting of values printed / compared / converted
  int64_t now_unix = -1;               // clock for strftime_now (-1: the real clock)
};

// An error during rendering, with the template position once known.
struct RenderError : std::runtime_error {
  explicit RenderError(const std::string& msg, bool raised = false)
      : std::runtime_error(msg), raised(raised) {}
  int line = 0, col = 0;
  bool positioned = false;
  bool raised = false;  // from raise_exception(): the message is the template's own
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};
using FramePtr = std::shared_ptr<Frame>;

class Interp {
 public:
  explicit Interp(const RenderLimits& limits);

  // Renders `program` with the variables of `context` (an object) at the top level.
  std::string render(const Program& program, const Value& context);

  Value eval(const Expr& e, const FramePtr& f);
  Value call(const Value& callee, CallArgs& args, const std::string& what);
  Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
  bool apply_test(const std::string& name, const Value& input, CallArgs& args);

  Budget budget;
  const RenderLimits limits;
  int call_depth = 0;

  [[noreturn]] static void fail(const std::string& msg) { throw RenderError(msg); }
  void check_string(size_t n) const { budget.check_size(n); }

 private:
  enum class Flow { Normal, Break, Continue };
  friend class Macro;
  friend class CallerFn;

  Flow exec(const Body& body, const FramePtr& f);
  Flow exec_stmt(const Stmt& s, const FramePtr& f);
  Flow exec_for(const Stmt& s, const FramePtr& f);
  void exec_set(const Stmt& s, const FramePtr& f);
  std::string capture(const Body& body, const FramePtr& f);
  void emit(const std::string& s);
  Value eval_inner(const Expr& e, const FramePtr& f);
  Value eval_call(const Expr& e, const FramePtr& f);
  CallArgs eval_args(const Expr& e, const FramePtr& f);
  Value lookup(const std::string& name, const FramePtr& f) const;
  void assign_targets(const std::vector<std::string>& targets, const Value& v, Frame& f);

  std::string* out_ = nullptr;
  FramePtr root_;
  const Value* placeholder_ = nullptr;  // value of the Placeholder expression in a filter chain
};

}  // namespace fitserve::chat::jinja
