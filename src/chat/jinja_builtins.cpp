// chat/jinja_builtins.cpp — operators, indexing, iteration, filters, tests and global functions.
// Quirks kept from the reference engine (llama.cpp common/jinja), per spec/openai-api.md §9:
// `default` also replaces none; `is sequence` is true for lists, strings and undefined;
// `upper`/`lower` print non-strings first; `dictsort` is case-sensitive by default.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_strings.h"

namespace fitserve::chat::jinja {

// ---- helpers ------------------------------------------------------------------------------
namespace {
[[noreturn]] void fail(const std::string& msg) { Interp::fail(msg); }

bool is_intlike(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t intlike(const Value& v) { return v.is_bool() ? static_cast<int64_t>(v.as_bool()) : v.as_int(); }

int64_t to_index(const Value& v, const char* what) {
  if (!is_intlike(v)) fail(std::string(what) + " must be an integer, not " + v.type_name());
  return intlike(v);
}
}  // namespace

Value get_item(Interp& in, const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Object: {
      const Value* v = obj.obj().find(key.is_string() ? key.str() : to_output_string(key, &in.budget));
      return v ? *v : Value();
    }
    case Value::Kind::Array: {
      if (!is_intlike(key)) return Value();
      int64_t i = intlike(key);
      int64_t n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value();
      return obj.items()[static_cast<size_t>(i)];
    }
    case Value::Kind::String: {
      if (!is_intlike(key)) return Value();
      auto offs = utf8_offsets(obj.str());
      int64_t n = static_cast<int64_t>(offs.size()) - 1;
      int64_t i = intlike(key);
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value();
      return Value(obj.str().substr(offs[i], offs[i + 1] - offs[i]));
    }
    default: return Value();
  }
}

namespace {
// Python slice semantics: returns the selected indices of a sequence of length n.
std::vector<int64_t> slice_indices(int64_t n, const Value& start, const Value& stop, const Value& step) {
  auto given = [](const Value& v) { return !v.is_undefined() && !v.is_none(); };
  int64_t st = given(step) ? to_index(step, "slice step") : 1;
  if (st == 0) fail("slice step cannot be zero");
  int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? n : n - 1;
  auto clamp = [&](const Value& v, int64_t dflt) {
    if (!given(v)) return dflt;
    int64_t i = to_index(v, "slice index");
    if (i < 0) return std::max(i + n, lower);
    return std::min(i, upper);
  };
  int64_t a = clamp(start, st > 0 ? lower : upper);
  int64_t b = clamp(stop, st > 0 ? upper : lower);
  std::vector<int64_t> idx;
  if (st > 0)
    for (int64_t i = a; i < b; i += st) idx.push_back(i);
  else
    for (int64_t i = a; i > b; i += st) idx.push_back(i);
  return idx;
}
}  // namespace

Value get_slice(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_array()) {
    const auto& items = obj.items();
    std::vector<Value> out;
    for (int64_t i : slice_indices(static_cast<int64_t>(items.size()), start, stop, step)) {
      in.budget.step();
      out.push_back(items[static_cast<size_t>(i)]);
    }
    return Value::array(std::move(out));
  }
  if (obj.is_string()) {
    auto offs = utf8_offsets(obj.str());
    std::string out;
    for (int64_t i : slice_indices(static_cast<int64_t>(offs.size()) - 1, start, stop, step))
      out.append(obj.str(), offs[i], offs[i + 1] - offs[i]);
    return Value(std::move(out));
  }
  if (obj.is_undefined() || obj.is_none()) return Value();
  fail(std::string("cannot slice a ") + obj.type_name());
}

bool contains(Interp& in, const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) fail(std::string("'in <string>' requires a string on the left, not ") + item.type_name());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::Array:
      for (const Value& x : container.items())
        if (values_equal(x, item, &in.budget)) return true;
      return false;
    case Value::Kind::Object:
      return item.is_string() && container.obj().find(item.str()) != nullptr;
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    default: fail(std::string("argument of type ") + container.type_name() + " is not iterable");
  }
}

std::vector<Value> iterate(Interp& in, const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Value::Kind::Array: return v.items();
    case Value::Kind::Object:
      for (const auto& kv : v.obj().entries()) out.emplace_back(kv.first);
      return out;
    case Value::Kind::String: {
      auto offs = utf8_offsets(v.str());
      for (size_t i = 0; i + 1 < offs.size(); ++i) {
        in.budget.step();
        out.emplace_back(v.str().substr(offs[i], offs[i + 1] - offs[i]));
      }
      return out;
    }
    case Value::Kind::Undefined: return out;
    default: fail(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

// ---- arithmetic ---------------------------------------------------------------------------
namespace {
Value repeat(Interp& in, const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value("") : Value::array();
  if (seq.is_string()) {
    size_t len = seq.str().size();
    if (len && static_cast<uint64_t>(n) > in.limits.max_output / len) fail("string repetition too large");
    in.budget.step(static_cast<uint64_t>(n));
    std::string out;
    out.reserve(len * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<uint64_t>(n) > (in.limits.max_output / 16) / items.size()) fail("list repetition too large");
  in.budget.step(static_cast<uint64_t>(n) * items.size());
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::array(std::move(out));
}

std::string percent_format(Interp& in, const std::string& fmt, const Value& args) {
  std::vector<Value> list = args.is_array() ? args.items() : std::vector<Value>{args};
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::string("-+ 0#.0123456789").find(fmt[j]) != std::string::npos) spec += fmt[j++];
    if (j >= fmt.size()) fail("incomplete format");
    char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= list.size()) fail("not enough arguments for format string");
    const Value& a = list[next++];
    char buf[512];
    if (conv == 's' || conv == 'r') {
      out += conv == 's' ? to_output_string(a, &in.budget) : repr(a, &in.budget);
    } else if (conv == 'd' || conv == 'i') {
      if (!a.is_number() && !a.is_bool()) fail("%d format: a number is required");
      std::snprintf(buf, sizeof(buf), (spec + "lld").c_str(), static_cast<long long>(a.is_float() ? static_cast<int64_t>(a.as_float()) : intlike(a)));
      out += buf;
    } else if (conv == 'f' || conv == 'e' || conv == 'g' || conv == 'F' || conv == 'E' || conv == 'G') {
      if (!a.is_number() && !a.is_bool()) fail("%f format: a number is required");
      if (spec.size() > 12) fail("format spec too long");
      std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), a.as_number());
      out += buf;
    } else if (conv == 'x' || conv == 'X' || conv == 'o') {
      if (!is_intlike(a)) fail("%x format: an integer is required");
      std::snprintf(buf, sizeof(buf), (spec + "ll" + conv).c_str(), static_cast<long long>(intlike(a)));
      out += buf;
    } else {
      fail(std::string("unsupported format character '") + conv + "'");
    }
    in.check_string(out.size());
  }
  return out;
}

Value int_result(__int128 r) {
  if (r > INT64_MAX || r < INT64_MIN) fail("integer overflow");
  return Value(static_cast<int64_t>(r));
}
}  // namespace

Value binary_op(Interp& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return Value(values_equal(a, b, &in.budget));
  if (op == "!=") return Value(!values_equal(a, b, &in.budget));
  if (op == "<") return Value(compare_values(a, b, &in.budget) < 0);
  if (op == "<=") return Value(compare_values(a, b, &in.budget) <= 0);
  if (op == ">") return Value(compare_values(a, b, &in.budget) > 0);
  if (op == ">=") return Value(compare_values(a, b, &in.budget) >= 0);
  if (op == "~") {
    std::string l = to_output_string(a, &in.budget), r = to_output_string(b, &in.budget);
    in.check_string(l.size() + r.size());
    return Value(l + r);
  }
  const bool num = (a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool());
  const bool ints = is_intlike(a) && is_intlike(b);
  if (op == "+") {
    if (ints) return int_result(static_cast<__int128>(intlike(a)) + intlike(b));
    if (num) return Value(a.as_number() + b.as_number());
    if (a.is_string() && b.is_string()) {
      in.check_string(a.str().size() + b.str().size());
      return Value(a.str() + b.str());
    }
    if (a.is_array() && b.is_array()) {
      in.budget.step(a.items().size() + b.items().size());
      std::vector<Value> out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::array(std::move(out));
    }
  } else if (op == "-") {
    if (ints) return int_result(static_cast<__int128>(intlike(a)) - intlike(b));
    if (num) return Value(a.as_number() - b.as_number());
  } else if (op == "*") {
    if (ints) return int_result(static_cast<__int128>(intlike(a)) * intlike(b));
    if (num) return Value(a.as_number() * b.as_number());
    if ((a.is_string() || a.is_array()) && is_intlike(b)) return repeat(in, a, intlike(b));
    if ((b.is_string() || b.is_array()) && is_intlike(a)) return repeat(in, b, intlike(a));
  } else if (op == "/") {
    if (num) {
      if (b.as_number() == 0) fail("division by zero");
      return Value(a.as_number() / b.as_number());
    }
  } else if (op == "//") {
    if (ints) {
      int64_t x = intlike(a), y = intlike(b);
      if (y == 0) fail("integer division by zero");
      if (x == INT64_MIN && y == -1) fail("integer overflow");
      int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return Value(q);
    }
    if (num) {
      if (b.as_number() == 0) fail("division by zero");
      return Value(std::floor(a.as_number() / b.as_number()));
    }
  } else if (op == "%") {
    if (a.is_string()) return Value(percent_format(in, a.str(), b));
    if (ints) {
      int64_t x = intlike(a), y = intlike(b);
      if (y == 0) fail("modulo by zero");
      if (y == -1) return Value(0);
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return Value(r);
    }
    if (num) {
      if (b.as_number() == 0) fail("modulo by zero");
      double r = std::fmod(a.as_number(), b.as_number());
      if (r != 0 && ((r < 0) != (b.as_number() < 0))) r += b.as_number();
      return Value(r);
    }
  } else if (op == "**") {
    if (ints && intlike(b) >= 0) {
      int64_t base = intlike(a), e = intlike(b);
      if (base == 0) return Value(static_cast<int64_t>(e == 0 ? 1 : 0));
      if (base == 1) return Value(static_cast<int64_t>(1));
      if (base == -1) return Value(static_cast<int64_t>(e % 2 == 0 ? 1 : -1));
      __int128 r = 1;
      for (; e > 0; --e) {  // |base| >= 2: overflows within 64 steps
        r *= base;
        if (r > INT64_MAX || r < INT64_MIN) fail("integer overflow");
      }
      return Value(static_cast<int64_t>(r));
    }
    if (num) return Value(std::pow(a.as_number(), b.as_number()));
  }
  fail("unsupported operand types for " + op + ": " + a.type_name() + " and " + b.type_name());
}

}  // namespace fitserve::chat::jinja
