// chat/jinja_value.cpp — Value semantics: containers, truthiness, printing, comparison, JSON.
#include "chat/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

namespace fitserve::chat::jinja {

// ---- iterative destruction ----------------------------------------------------------------
// A template can build a value nested thousands of levels deep; destroying it recursively would
// overflow the stack. Containers are therefore freed through a per-thread work list.
namespace {
struct Graveyard {
  std::vector<ArrayData*> arrays;
  std::vector<Object*> objects;
  bool draining = false;
};
thread_local Graveyard g_graveyard;

void drain() {
  Graveyard& g = g_graveyard;
  if (g.draining) return;
  g.draining = true;
  while (!g.arrays.empty() || !g.objects.empty()) {
    if (!g.arrays.empty()) {
      auto* a = g.arrays.back();
      g.arrays.pop_back();
      delete a;  // children whose count drops to zero are queued, not destroyed recursively
    } else {
      auto* o = g.objects.back();
      g.objects.pop_back();
      delete o;
    }
  }
  g.draining = false;
}
struct ArrayDeleter {
  void operator()(ArrayData* p) const {
    g_graveyard.arrays.push_back(p);
    drain();
  }
};
struct ObjectDeleter {
  void operator()(Object* p) const {
    g_graveyard.objects.push_back(p);
    drain();
  }
};
}  // namespace

Value Value::array(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Array;
  for (const Value& x : items) x.mark_nested();
  auto* data = new ArrayData();
  data->items = std::move(items);
  v.arr_ = std::shared_ptr<ArrayData>(data, ArrayDeleter{});
  return v;
}
Value Value::object() {
  Value v;
  v.kind_ = Kind::Object;
  v.obj_ = std::shared_ptr<Object>(new Object(), ObjectDeleter{});
  return v;
}
Value Value::callable(std::shared_ptr<Callable> c) {
  Value v;
  v.kind_ = Kind::Callable;
  v.fn_ = std::move(c);
  return v;
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::Array: return arr_.get();
    case Kind::Object: return obj_.get();
    case Kind::Callable: return fn_.get();
    default: return nullptr;
  }
}

void Value::mark_nested() const {
  if (kind_ == Kind::Array) arr_->nested = true;
  else if (kind_ == Kind::Object) obj_->nested = true;
}
bool Value::is_nested() const {
  if (kind_ == Kind::Array) return arr_->nested;
  if (kind_ == Kind::Object) return obj_->nested;
  return false;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return d_ != 0.0;
    case Kind::String: return !s_.empty();
    case Kind::Array: return !arr_->items.empty();
    case Kind::Object: return obj_->size() != 0;
    case Kind::Callable: return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Array: return "list";
    case Kind::Object: return "dict";
    case Kind::Callable: return "callable";
  }
  return "?";
}

// ---- Object -------------------------------------------------------------------------------
const Value* Object::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}
Value* Object::find(const std::string& key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}
void Object::set(const std::string& key, Value v) {
  v.mark_nested();
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(v));
}
bool Object::erase(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  return true;
}

// ---- CallArgs -----------------------------------------------------------------------------
Value CallArgs::get(size_t i, const char* name) const {
  if (name)
    for (auto& [k, v] : kwargs)
      if (k == name) return v;
  if (i < positional.size()) return positional[i];
  return Value();
}
bool CallArgs::has(size_t i, const char* name) const {
  if (name)
    for (auto& kv : kwargs)
      if (kv.first == name) return true;
  return i < positional.size();
}

// ---- printing -----------------------------------------------------------------------------
namespace {
void check_depth(int depth, Budget* b) {
  int max_depth = b ? b->max_depth : 512;
  if (depth > max_depth) throw LimitError("value nesting too deep");
  if (b) b->step();
}
void check_len(const std::string& s, Budget* b) {
  if (b) b->check_size(s.size());
}
}  // namespace

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[400];
  std::snprintf(buf, sizeof(buf), "%f", d);
  std::string s = buf;
  size_t dot = s.find('.');
  if (dot != std::string::npos) {
    size_t last = s.find_last_not_of('0');
    if (last == dot) last = dot + 1;  // keep one zero: "3.0"
    s.erase(last + 1);
  }
  return s;
}

namespace {
// Python's repr of a float: shortest digits that round-trip; exponent form outside 1e-4..1e16.
std::string python_float_repr(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf = [-]D.DDDDe[+-]XX
  std::string s = buf;
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return neg ? "-" + out : out;
}

void repr_string(std::string& out, const std::string& s) {
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  out += q;
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(q)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\x%02x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += q;
}

void repr_to(std::string& out, const Value& v, Budget* b, int depth) {
  check_depth(depth, b);
  switch (v.kind()) {
    case Value::Kind::String: repr_string(out, v.str()); break;
    case Value::Kind::Array: {
      out += '[';
      bool first = true;
      for (const Value& x : v.items()) {
        if (!first) out += ", ";
        first = false;
        repr_to(out, x, b, depth + 1);
        check_len(out, b);
      }
      out += ']';
      break;
    }
    case Value::Kind::Object: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.obj().entries()) {
        if (!first) out += ", ";
        first = false;
        repr_string(out, k);
        out += ": ";
        repr_to(out, x, b, depth + 1);
        check_len(out, b);
      }
      out += '}';
      break;
    }
    default: out += to_output_string(v, b);
  }
}
}  // namespace

std::string to_output_string(const Value& v, Budget* b) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return format_float(v.as_float());
    case Value::Kind::String: return v.str();
    case Value::Kind::Array:
    case Value::Kind::Object: {
      std::string out;
      repr_to(out, v, b, 0);
      return out;
    }
    case Value::Kind::Callable: return "<function " + v.fn().name() + ">";
  }
  return "";
}

std::string repr(const Value& v, Budget* b) {
  std::string out;
  repr_to(out, v, b, 0);
  return out;
}

void json_escape_to(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

namespace {
void newline_indent(std::string& out, const JsonStyle& st, int level) {
  out += '\n';
  out.append(static_cast<size_t>(st.indent) * static_cast<size_t>(level), ' ');
}

void json_to(std::string& out, const Value& v, const JsonStyle& st, Budget* b, int depth) {
  check_depth(depth, b);
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: out += "null"; break;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::Int: out += std::to_string(v.as_int()); break;
    case Value::Kind::Float: out += python_float_repr(v.as_float()); break;
    case Value::Kind::String: json_escape_to(out, v.str()); break;
    case Value::Kind::Array: {
      const auto& items = v.items();
      out += '[';
      if (items.empty()) {
        out += ']';
        break;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += st.indent >= 0 ? "," : st.item_sep;
        if (st.indent >= 0) newline_indent(out, st, depth + 1);
        json_to(out, items[i], st, b, depth + 1);
        check_len(out, b);
      }
      if (st.indent >= 0) newline_indent(out, st, depth);
      out += ']';
      break;
    }
    case Value::Kind::Object: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.obj().entries()) entries.push_back(&e);
      if (st.sort_keys)
        std::sort(entries.begin(), entries.end(), [](auto* a, auto* c) { return a->first < c->first; });
      out += '{';
      if (entries.empty()) {
        out += '}';
        break;
      }
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += st.indent >= 0 ? "," : st.item_sep;
        if (st.indent >= 0) newline_indent(out, st, depth + 1);
        json_escape_to(out, entries[i]->first);
        out += st.key_sep;
        json_to(out, entries[i]->second, st, b, depth + 1);
        check_len(out, b);
      }
      if (st.indent >= 0) newline_indent(out, st, depth);
      out += '}';
      break;
    }
    case Value::Kind::Callable: throw std::runtime_error("object of type callable is not JSON serializable");
  }
}
}  // namespace

std::string to_json_string(const Value& v, const JsonStyle& style, Budget* b) {
  std::string out;
  json_to(out, v, style, b, 0);
  return out;
}

// ---- comparisons --------------------------------------------------------------------------
namespace {
bool numeric(const Value& v) { return v.is_number() || v.is_bool(); }

bool equal_impl(const Value& a, const Value& c, Budget* b, int depth) {
  check_depth(depth, b);
  if (numeric(a) && numeric(c)) {
    if (a.is_int() && c.is_int()) return a.as_int() == c.as_int();
    if (a.is_bool() && c.is_bool()) return a.as_bool() == c.as_bool();
    return a.as_number() == c.as_number();
  }
  if (a.kind() != c.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.str() == c.str();
    case Value::Kind::Array: {
      if (a.identity() == c.identity()) return true;
      const auto& x = a.items();
      const auto& y = c.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equal_impl(x[i], y[i], b, depth + 1)) return false;
      return true;
    }
    case Value::Kind::Object: {
      if (a.identity() == c.identity()) return true;
      if (a.obj().size() != c.obj().size()) return false;
      for (const auto& [k, v] : a.obj().entries()) {
        const Value* w = c.obj().find(k);
        if (!w || !equal_impl(v, *w, b, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::Callable: return a.identity() == c.identity();
    default: return false;
  }
}

int compare_impl(const Value& a, const Value& c, Budget* b, int depth) {
  check_depth(depth, b);
  if (numeric(a) && numeric(c)) {
    if (a.is_int() && c.is_int()) return a.as_int() < c.as_int() ? -1 : a.as_int() > c.as_int() ? 1 : 0;
    double x = a.as_number(), y = c.as_number();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && c.is_string()) {
    int r = a.str().compare(c.str());
    return r < 0 ? -1 : r > 0 ? 1 : 0;
  }
  if (a.is_array() && c.is_array()) {
    const auto& x = a.items();
    const auto& y = c.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      int r = compare_impl(x[i], y[i], b, depth + 1);
      if (r) return r;
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw std::runtime_error(std::string("cannot compare ") + a.type_name() + " with " + c.type_name());
}
}  // namespace

bool values_equal(const Value& a, const Value& c, Budget* b) { return equal_impl(a, c, b, 0); }
int compare_values(const Value& a, const Value& c, Budget* b) { return compare_impl(a, c, b, 0); }

bool reaches(const Value& from, const Value& target_value, Budget* b) {
  const void* target = target_value.identity();
  if (!from.is_container() || !target) return false;
  if (from.identity() == target) return true;
  if (!target_value.is_nested()) return false;  // nothing can contain it
  std::unordered_set<const void*> seen;
  std::vector<const Value*> stack{&from};
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (b) b->step();
    if (v->identity() == target) return true;
    if (!seen.insert(v->identity()).second) continue;
    if (v->is_array()) {
      for (const Value& x : v->items())
        if (x.is_container()) stack.push_back(&x);
    } else {
      for (const auto& kv : v->obj().entries())
        if (kv.second.is_container()) stack.push_back(&kv.second);
    }
  }
  return false;
}

// ---- JSON conversion ----------------------------------------------------------------------
namespace {
template <class J>
Value from_json_impl(const J& j, int depth, int max_depth) {
  if (depth > max_depth) throw std::runtime_error("JSON nesting too deep");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json_impl(x, depth + 1, max_depth));
      return Value::array(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value o = Value::object();
      for (auto it = j.begin(); it != j.end(); ++it) o.obj().set(it.key(), from_json_impl(it.value(), depth + 1, max_depth));
      return o;
    }
    default: return Value();  // binary / discarded
  }
}

nlohmann::ordered_json to_json_impl(const Value& v, int depth, int max_depth) {
  if (depth > max_depth) throw std::runtime_error("value nesting too deep");
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return nullptr;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int();
    case Value::Kind::Float: return v.as_float();
    case Value::Kind::String: return v.str();
    case Value::Kind::Array: {
      auto a = nlohmann::ordered_json::array();
      for (const Value& x : v.items()) a.push_back(to_json_impl(x, depth + 1, max_depth));
      return a;
    }
    case Value::Kind::Object: {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.obj().entries()) o[k] = to_json_impl(x, depth + 1, max_depth);
      return o;
    }
    case Value::Kind::Callable: throw std::runtime_error("a callable cannot be converted to JSON");
  }
  return nullptr;
}
}  // namespace

Value from_json(const nlohmann::json& j, int max_depth) { return from_json_impl(j, 0, max_depth); }
Value from_json(const nlohmann::ordered_json& j, int max_depth) { return from_json_impl(j, 0, max_depth); }
nlohmann::ordered_json to_json(const Value& v, int max_depth) { return to_json_impl(v, 0, max_depth); }

// ---- UTF-8 --------------------------------------------------------------------------------
std::vector<size_t> utf8_offsets(std::string_view s) {
  std::vector<size_t> offs;
  offs.reserve(s.size() + 1);
  size_t i = 0;
  while (i < s.size()) {
    offs.push_back(i);
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    // a malformed lead or truncated sequence counts as one byte per code point
    size_t k = 1;
    while (k < n && i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80) ++k;
    i += (k == n) ? n : 1;
  }
  offs.push_back(s.size());
  return offs;
}

size_t utf8_length(std::string_view s) { return utf8_offsets(s).size() - 1; }

}  // namespace fitserve::chat::jinja
