// chat/jinja_methods.cpp — Python-like methods on strings, lists and dicts (`s.split(',')`,
// `d.get('k')`, `l.append(x)`, ...). Mutating methods refuse to create reference cycles.
#include <algorithm>

#include "chat/jinja_builtins.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_strings.h"

namespace fitserve::chat::jinja {
namespace {

[[noreturn]] void fail(const std::string& msg) { Interp::fail(msg); }

std::string text_arg(Interp& in, const CallArgs& a, size_t i, const char* name, const char* method) {
  Value v = a.get(i, name);
  if (!v.is_string()) fail(std::string(method) + "() argument must be a string, not " + v.type_name());
  (void)in;
  return v.str();
}

Value string_list(const std::vector<std::string>& parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.emplace_back(p);
  return Value::array(std::move(out));
}

// startswith/endswith accept a string or a tuple/list of strings
bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_string()) return one(affix.str());
  if (affix.is_array()) {
    for (const Value& x : affix.items())
      if (x.is_string() && one(x.str())) return true;
    return false;
  }
  fail(std::string(prefix ? "startswith" : "endswith") + "() expects a string or a tuple of strings");
}

bool all_chars(const std::string& s, bool (*pred)(unsigned char)) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!pred(c)) return false;
  return true;
}

// str.format with {} / {0} / {name} fields (no format specs)
std::string py_format(Interp& in, const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) fail("format(): unmatched '{'");
      std::string field = fmt.substr(i + 1, close - i - 1);
      Value v;
      if (field.empty()) {
        v = a.get(auto_idx++, nullptr);
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        v = a.get(static_cast<size_t>(std::min<size_t>(field.size() > 6 ? 999999 : std::stoul(field), 999999)), nullptr);
      } else {
        v = a.get(SIZE_MAX, field.c_str());
      }
      out += to_output_string(v, &in.budget);
      in.check_string(out.size());
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

void no_cycle(Interp& in, const Value& target, const Value& v) {
  if (reaches(v, target, &in.budget)) fail("operation would create a reference cycle");
}

Value string_method(Interp& in, const Value& obj, const std::string& m, CallArgs& a, bool& found) {
  const std::string& s = obj.str();
  found = true;
  if (m == "upper") return Value(str::upper(s));
  if (m == "lower") return Value(str::lower(s));
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    Value chars = a.get(0, "chars");
    std::string_view set = chars.is_string() ? std::string_view(chars.str()) : str::kWhitespace;
    if (m == "strip") return Value(str::strip(s, set));
    if (m == "lstrip") return Value(str::lstrip(s, set));
    return Value(str::rstrip(s, set));
  }
  if (m == "split" || m == "rsplit") {
    Value sep = a.get(0, "sep");
    Value maxsplit = a.get(1, "maxsplit");
    long long ms = maxsplit.is_int() ? maxsplit.as_int() : -1;
    if (sep.is_string() && sep.str().empty()) fail("split(): empty separator");
    std::string sp = sep.is_string() ? sep.str() : "";
    if (m == "rsplit" && ms >= 0) {
      // split from the right: split everything, then re-join the leading surplus
      auto parts = str::split(s, sp, -1);
      if (static_cast<long long>(parts.size()) > ms + 1) {
        size_t head = parts.size() - static_cast<size_t>(ms);
        std::string joined;
        for (size_t i = 0; i < head; ++i) joined += (i ? (sp.empty() ? " " : sp) : "") + parts[i];
        std::vector<std::string> out{joined};
        out.insert(out.end(), parts.begin() + static_cast<std::ptrdiff_t>(head), parts.end());
        return string_list(out);
      }
      return string_list(parts);
    }
    auto parts = str::split(s, sp, ms);
    in.budget.step(parts.size());
    return string_list(parts);
  }
  if (m == "splitlines") {  // line breaks: \n, \r, \r\n, \v, \f, \x1c-\x1e
    std::vector<std::string> parts;
    std::string cur;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e') {
        if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        parts.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) parts.push_back(std::move(cur));
    return string_list(parts);
  }
  if (m == "replace") {
    std::string from = text_arg(in, a, 0, "old", "replace"), to = text_arg(in, a, 1, "new", "replace");
    Value count = a.get(2, "count");
    in.check_string(str::replaced_size(s, from, to));
    return Value(str::replace(s, from, to, count.is_int() ? count.as_int() : -1));
  }
  if (m == "startswith") return Value(affix_match(s, a.get(0, "prefix"), true));
  if (m == "endswith") return Value(affix_match(s, a.get(0, "suffix"), false));
  if (m == "find" || m == "rfind" || m == "index") {
    std::string sub = text_arg(in, a, 0, "sub", m.c_str());
    size_t p = m == "rfind" ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      if (m == "index") fail("substring not found");
      return Value(static_cast<int64_t>(-1));
    }
    return Value(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, p))));
  }
  if (m == "count") return Value(static_cast<int64_t>(str::count(s, text_arg(in, a, 0, "sub", "count"))));
  if (m == "title") return Value(str::title(s));
  if (m == "capitalize") return Value(str::capitalize(s));
  if (m == "join") {
    std::string out;
    bool first = true;
    for (const Value& x : iterate(in, a.get(0, "iterable"))) {
      if (!first) out += s;
      first = false;
      if (!x.is_string()) fail(std::string("join(): expected string items, got ") + x.type_name());
      out += x.str();
      in.check_string(out.size());
    }
    return Value(std::move(out));
  }
  if (m == "format") return Value(py_format(in, s, a));
  if (m == "isdigit") return Value(all_chars(s, [](unsigned char c) { return c >= '0' && c <= '9'; }));
  if (m == "isalpha")
    return Value(all_chars(s, [](unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }));
  if (m == "isalnum")
    return Value(all_chars(s, [](unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }));
  if (m == "isspace")
    return Value(all_chars(s, [](unsigned char c) { return str::kWhitespace.find(static_cast<char>(c)) != std::string_view::npos; }));
  if (m == "islower") return Value(str::lower(s) == s && str::upper(s) != s);
  if (m == "isupper") return Value(str::upper(s) == s && str::lower(s) != s);
  found = false;
  return Value();
}

Value list_method(Interp& in, const Value& obj, const std::string& m, CallArgs& a, bool& found) {
  auto& items = obj.items();
  found = true;
  if (m == "append") {
    Value x = a.get(0, "object");
    no_cycle(in, obj, x);
    in.budget.step();
    x.mark_nested();
    items.push_back(x);
    return Value::none();
  }
  if (m == "extend") {
    Value x = a.get(0, "iterable");
    std::vector<Value> add = iterate(in, x);
    for (const Value& v : add) no_cycle(in, obj, v);
    in.budget.step(add.size());
    for (const Value& v : add) v.mark_nested();
    items.insert(items.end(), add.begin(), add.end());
    return Value::none();
  }
  if (m == "insert") {
    Value idx = a.get(0, "index"), x = a.get(1, "object");
    if (!is_intlike_value(idx)) fail("insert(): index must be an integer");
    no_cycle(in, obj, x);
    int64_t n = static_cast<int64_t>(items.size()), i = idx.is_bool() ? idx.as_bool() : idx.as_int();
    if (i < 0) i = std::max<int64_t>(0, i + n);
    i = std::min(i, n);
    x.mark_nested();
    items.insert(items.begin() + i, x);
    return Value::none();
  }
  if (m == "pop") {
    if (items.empty()) fail("pop from empty list");
    Value idx = a.get(0, "index");
    int64_t n = static_cast<int64_t>(items.size());
    int64_t i = idx.is_int() ? idx.as_int() : n - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n) fail("pop index out of range");
    Value v = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    return v;
  }
  if (m == "index") {
    Value x = a.get(0, "value");
    for (size_t i = 0; i < items.size(); ++i)
      if (values_equal(items[i], x, &in.budget)) return Value(static_cast<int64_t>(i));
    fail("value is not in list");
  }
  if (m == "count") {
    Value x = a.get(0, "value");
    int64_t c = 0;
    for (const Value& y : items) c += values_equal(x, y, &in.budget) ? 1 : 0;
    return Value(c);
  }
  if (m == "reverse") {
    std::reverse(items.begin(), items.end());
    return Value::none();
  }
  if (m == "copy") return Value::array(items);
  found = false;
  return Value();
}

Value dict_method(Interp& in, const Value& obj, const std::string& m, CallArgs& a, bool& found) {
  Object& o = obj.obj();
  found = true;
  if (m == "get") {
    Value k = a.get(0, "key");
    const Value* v = o.find(k.is_string() ? k.str() : to_output_string(k, &in.budget));
    if (v) return *v;
    return a.has(1, "default") ? a.get(1, "default") : Value::none();
  }
  if (m == "items" || m == "keys" || m == "values") {
    std::vector<Value> out;
    for (const auto& [k, v] : o.entries())
      out.push_back(m == "items" ? Value::array({Value(k), v}) : m == "keys" ? Value(k) : v);
    return Value::array(std::move(out));
  }
  if (m == "update") {
    for (const Value& src : a.positional) {
      if (!src.is_object()) fail("update() expects a dict");
      no_cycle(in, obj, src);
      for (const auto& [k, v] : src.obj().entries()) o.set(k, v);
    }
    for (const auto& [k, v] : a.kwargs) {
      no_cycle(in, obj, v);
      o.set(k, v);
    }
    return Value::none();
  }
  if (m == "pop") {
    Value k = a.get(0, "key");
    std::string key = k.is_string() ? k.str() : to_output_string(k, &in.budget);
    if (const Value* v = o.find(key)) {
      Value r = *v;
      o.erase(key);
      return r;
    }
    if (a.has(1, "default")) return a.get(1, "default");
    fail("pop(): key '" + key + "' not found");
  }
  if (m == "setdefault") {
    Value k = a.get(0, "key");
    std::string key = k.is_string() ? k.str() : to_output_string(k, &in.budget);
    if (const Value* v = o.find(key)) return *v;
    Value d = a.has(1, "default") ? a.get(1, "default") : Value::none();
    no_cycle(in, obj, d);
    o.set(key, d);
    return d;
  }
  if (m == "copy") {
    Value c = Value::object();
    for (const auto& [k, v] : o.entries()) c.obj().set(k, v);
    return c;
  }
  found = false;
  return Value();
}

}  // namespace

Value call_method(Interp& in, const Value& obj, const std::string& name, CallArgs& args, bool& found) {
  found = false;
  switch (obj.kind()) {
    case Value::Kind::String: return string_method(in, obj, name, args, found);
    case Value::Kind::Array: return list_method(in, obj, name, args, found);
    case Value::Kind::Object:
      if (obj.obj().is_namespace) return Value();  // namespace attributes are plain values
      return dict_method(in, obj, name, args, found);
    default: return Value();
  }
}

}  // namespace fitserve::chat::jinja
