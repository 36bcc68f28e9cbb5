// chat/jinja_filters.cpp — builtin filters, tests and global functions of the template engine.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_strings.h"

namespace fitserve::chat::jinja {
namespace {

[[noreturn]] void fail(const std::string& msg) { Interp::fail(msg); }

std::string as_text(Interp& in, const Value& v) { return v.is_string() ? v.str() : to_output_string(v, &in.budget); }

bool arg_flag(const CallArgs& a, size_t i, const char* name, bool dflt) {
  if (!a.has(i, name)) return dflt;
  return a.get(i, name).truthy();
}

std::vector<Value> seq_items(Interp& in, const Value& v, const char* what) {
  if (v.is_none()) fail(std::string(what) + ": none is not iterable");
  return iterate(in, v);
}

// `attribute` argument of map/sort/sum/...: dotted path, integers index lists
Value get_attribute_path(Interp& in, const Value& v, const Value& attr) {
  if (is_intlike_value(attr)) return get_item(in, v, attr);
  Value cur = v;
  for (const std::string& part : str::split(as_text(in, attr), ".")) {
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? get_item(in, cur, Value(static_cast<int64_t>(std::atoll(part.c_str())))) : get_item(in, cur, Value(part));
  }
  return cur;
}

// ---- filters ------------------------------------------------------------------------------
Value f_abs(Interp&, const Value& v, CallArgs&) {
  if (v.is_int()) {
    if (v.as_int() == INT64_MIN) fail("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  fail(std::string("abs expects a number, got ") + v.type_name());
}
Value f_attr(Interp& in, const Value& v, CallArgs& a) { return get_item(in, v, Value(as_text(in, a.get(0, "name")))); }
Value f_capitalize(Interp& in, const Value& v, CallArgs&) { return Value(str::capitalize(as_text(in, v))); }
Value f_default(Interp&, const Value& v, CallArgs& a) {
  bool boolean = arg_flag(a, 1, "boolean", false);
  bool use_default = boolean ? !v.truthy() : (v.is_undefined() || v.is_none());
  if (!use_default) return v;
  return a.has(0, "default_value") ? a.get(0, "default_value") : Value("");
}
Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  if (!v.is_object()) fail(std::string("dictsort expects a dict, got ") + v.type_name());
  bool case_sensitive = arg_flag(a, 0, "case_sensitive", true);
  bool by_value = a.has(1, "by") && as_text(in, a.get(1, "by")) == "value";
  bool reverse = arg_flag(a, 2, "reverse", false);
  std::vector<Value> pairs;
  for (const auto& [k, x] : v.obj().entries()) pairs.push_back(Value::array({Value(k), x}));
  auto key = [&](const Value& p) {
    Value k = p.items()[by_value ? 1 : 0];
    if (!case_sensitive && k.is_string()) return Value(str::lower(k.str()));
    return k;
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    int c = compare_values(key(x), key(y), &in.budget);
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(pairs));
}
Value f_escape(Interp& in, const Value& v, CallArgs&) {
  std::string out;
  for (char c : as_text(in, v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  in.check_string(out.size());
  return Value(std::move(out));
}
Value f_first(Interp& in, const Value& v, CallArgs&) {
  if (v.is_array()) return v.items().empty() ? Value() : v.items().front();
  auto items = seq_items(in, v, "first");
  return items.empty() ? Value() : items.front();
}
Value f_last(Interp& in, const Value& v, CallArgs&) {
  if (v.is_array()) return v.items().empty() ? Value() : v.items().back();
  auto items = seq_items(in, v, "last");
  return items.empty() ? Value() : items.back();
}
Value f_float(Interp&, const Value& v, CallArgs& a) {
  if (v.is_number() || v.is_bool()) return Value(v.as_number());
  if (v.is_string()) {
    std::string s = str::strip(v.str());
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value(d);
  }
  return a.has(0, "default") ? a.get(0, "default") : Value(0.0);
}
Value f_int(Interp&, const Value& v, CallArgs& a) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
  if (v.is_float() && std::isfinite(v.as_float()) && std::fabs(v.as_float()) < 9.2e18)
    return Value(static_cast<int64_t>(v.as_float()));
  if (v.is_string()) {
    std::string s = str::strip(v.str());
    int base = a.has(1, "base") && a.get(1, "base").is_int() ? static_cast<int>(a.get(1, "base").as_int()) : 10;
    if (base < 2 || base > 36) base = 10;
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, base);
    if (!s.empty() && end && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(i));
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  }
  return a.has(0, "default") ? a.get(0, "default") : Value(static_cast<int64_t>(0));
}
Value f_format(Interp& in, const Value& v, CallArgs& a) {
  return binary_op(in, "%", Value(as_text(in, v)), Value::array(a.positional));
}
Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  Value w = a.get(0, "width");
  std::string pad = w.is_string() ? w.str() : std::string(w.is_int() ? static_cast<size_t>(std::clamp<int64_t>(w.as_int(), 0, 256)) : 4, ' ');
  bool first = arg_flag(a, 1, "first", false), blank = arg_flag(a, 2, "blank", false);
  std::vector<std::string> lines = str::split(as_text(in, v), "\n");
  in.check_string(lines.size() * pad.size() + as_text(in, v).size());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    bool indent = (i > 0 || first) && (blank || !str::strip(lines[i]).empty());
    if (indent) out += pad;
    out += lines[i];
  }
  return Value(std::move(out));
}
Value f_items(Interp&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::array();
  if (!v.is_object()) fail(std::string("items expects a dict, got ") + v.type_name());
  std::vector<Value> out;
  for (const auto& [k, x] : v.obj().entries()) out.push_back(Value::array({Value(k), x}));
  return Value::array(std::move(out));
}
Value f_join(Interp& in, const Value& v, CallArgs& a) {
  std::string sep = a.has(0, "d") ? as_text(in, a.get(0, "d")) : "";
  Value attr = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& x : seq_items(in, v, "join")) {
    if (!first) out += sep;
    first = false;
    out += as_text(in, attr.is_undefined() ? x : get_attribute_path(in, x, attr));
    in.check_string(out.size());
  }
  return Value(std::move(out));
}
Value f_length(Interp&, const Value& v, CallArgs&) {
  switch (v.kind()) {
    case Value::Kind::String: return Value(static_cast<int64_t>(utf8_length(v.str())));
    case Value::Kind::Array: return Value(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Object: return Value(static_cast<int64_t>(v.obj().size()));
    case Value::Kind::Undefined: return Value(static_cast<int64_t>(0));
    default: fail(std::string("object of type ") + v.type_name() + " has no length");
  }
}
Value f_list(Interp& in, const Value& v, CallArgs&) {
  if (v.is_array()) return Value::array(v.items());
  return Value::array(seq_items(in, v, "list"));
}
Value f_lower(Interp& in, const Value& v, CallArgs&) { return Value(str::lower(as_text(in, v))); }
Value f_upper(Interp& in, const Value& v, CallArgs&) { return Value(str::upper(as_text(in, v))); }
Value f_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  Value attr = a.get(99, "attribute");
  if (!attr.is_undefined()) {
    Value dflt = a.get(99, "default");
    for (const Value& x : seq_items(in, v, "map")) {
      Value y = get_attribute_path(in, x, attr);
      out.push_back(y.is_undefined() && !dflt.is_undefined() ? dflt : y);
    }
    return Value::array(std::move(out));
  }
  if (a.positional.empty()) fail("map needs a filter name or attribute=");
  std::string name = as_text(in, a.positional[0]);
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.kwargs = a.kwargs;
  for (const Value& x : seq_items(in, v, "map")) {
    CallArgs copy = rest;
    out.push_back(in.apply_filter(name, x, copy));
  }
  return Value::array(std::move(out));
}
Value minmax(Interp& in, const Value& v, CallArgs& a, bool want_max) {
  bool cs = arg_flag(a, 0, "case_sensitive", false);
  Value attr = a.get(1, "attribute");
  Value best;
  Value best_key;
  for (const Value& x : seq_items(in, v, want_max ? "max" : "min")) {
    Value k = attr.is_undefined() ? x : get_attribute_path(in, x, attr);
    if (!cs && k.is_string()) k = Value(str::lower(k.str()));
    if (best.is_undefined() || (want_max ? compare_values(k, best_key, &in.budget) > 0 : compare_values(k, best_key, &in.budget) < 0)) {
      best = x;
      best_key = k;
    }
  }
  return best;
}
Value f_max(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, true); }
Value f_min(Interp& in, const Value& v, CallArgs& a) { return minmax(in, v, a, false); }

// select/reject(test, args...) and selectattr/rejectattr(attr, test, args...)
Value select_impl(Interp& in, const Value& v, CallArgs& a, bool want, bool by_attr) {
  size_t at = 0;
  Value attr;
  if (by_attr) {
    if (a.positional.empty()) fail("selectattr/rejectattr need an attribute name");
    attr = a.positional[at++];
  }
  std::string test = at < a.positional.size() ? as_text(in, a.positional[at++]) : "";
  CallArgs targs;
  targs.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(std::min(at, a.positional.size())), a.positional.end());
  std::vector<Value> out;
  for (const Value& x : seq_items(in, v, "select")) {
    Value subject = by_attr ? get_attribute_path(in, x, attr) : x;
    CallArgs copy = targs;
    bool ok = test.empty() ? subject.truthy() : in.apply_test(test, subject, copy);
    if (ok == want) out.push_back(x);
  }
  return Value::array(std::move(out));
}
Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  std::string s = as_text(in, v);
  std::string from = as_text(in, a.get(0, "old")), to = as_text(in, a.get(1, "new"));
  Value count = a.get(2, "count");
  in.check_string(str::replaced_size(s, from, to));
  return Value(str::replace(s, from, to, count.is_int() ? count.as_int() : -1));
}
Value f_reverse(Interp& in, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto offs = utf8_offsets(v.str());
    std::string out;
    for (size_t i = offs.size() - 1; i > 0; --i) out.append(v.str(), offs[i - 1], offs[i] - offs[i - 1]);
    return Value(std::move(out));
  }
  auto items = seq_items(in, v, "reverse");
  std::reverse(items.begin(), items.end());
  return Value::array(std::move(items));
}
Value f_round(Interp&, const Value& v, CallArgs& a) {
  if (!v.is_number() && !v.is_bool()) fail(std::string("round expects a number, got ") + v.type_name());
  Value p = a.get(0, "precision");
  int prec = p.is_int() ? static_cast<int>(std::clamp<int64_t>(p.as_int(), -300, 300)) : 0;
  std::string method = a.has(1, "method") && a.get(1, "method").is_string() ? a.get(1, "method").str() : "common";
  double m = std::pow(10.0, prec), x = v.as_number() * m;
  double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);  // half to even, as Python
  return Value(r / m);
}
Value f_safe(Interp&, const Value& v, CallArgs&) { return v; }
Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  bool reverse = arg_flag(a, 0, "reverse", false), cs = arg_flag(a, 1, "case_sensitive", false);
  Value attr = a.get(2, "attribute");
  auto items = seq_items(in, v, "sort");
  auto key = [&](const Value& x) {
    Value k = attr.is_undefined() ? x : get_attribute_path(in, x, attr);
    if (!cs && k.is_string()) return Value(str::lower(k.str()));
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    int c = compare_values(key(x), key(y), &in.budget);
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(items));
}
Value f_string(Interp& in, const Value& v, CallArgs&) { return Value(as_text(in, v)); }
Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  Value attr = a.get(0, "attribute");
  Value total = a.has(1, "start") ? a.get(1, "start") : Value(static_cast<int64_t>(0));
  for (const Value& x : seq_items(in, v, "sum")) total = binary_op(in, "+", total, attr.is_undefined() ? x : get_attribute_path(in, x, attr));
  return total;
}
// Jinja's title filter: words start after whitespace or one of -({[< ; first letter upper, rest lower
Value f_title(Interp& in, const Value& v, CallArgs&) {
  std::string s = as_text(in, v);
  bool start = true;
  for (char& c : s) {
    bool sep = str::kWhitespace.find(c) != std::string_view::npos || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      start = true;
      continue;
    }
    if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    else if (!start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    start = false;
  }
  return Value(std::move(s));
}
Value f_tojson(Interp& in, const Value& v, CallArgs& a) {
  JsonStyle st;
  Value indent = a.get(0, "indent");
  if (indent.is_int()) st.indent = static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64));
  if (st.indent >= 0) st.item_sep = std::string(1, ',');
  Value seps = a.get(99, "separators");
  if (seps.is_array() && seps.items().size() == 2 && seps.items()[0].is_string() && seps.items()[1].is_string()) {
    st.item_sep = seps.items()[0].str();
    st.key_sep = seps.items()[1].str();
  }
  st.sort_keys = arg_flag(a, 99, "sort_keys", false);
  return Value(to_json_string(v, st, &in.budget));
}
Value f_trim(Interp& in, const Value& v, CallArgs& a) {
  Value chars = a.get(0, "chars");
  return Value(chars.is_string() ? str::strip(as_text(in, v), chars.str()) : str::strip(as_text(in, v)));
}
Value f_truncate(Interp& in, const Value& v, CallArgs& a) {
  std::string s = as_text(in, v);
  Value len = a.get(0, "length");
  size_t n = len.is_int() && len.as_int() >= 0 ? static_cast<size_t>(len.as_int()) : 255;
  std::string end = a.has(2, "end") ? as_text(in, a.get(2, "end")) : "...";
  Value leeway = a.get(3, "leeway");
  size_t lw = leeway.is_int() && leeway.as_int() >= 0 ? static_cast<size_t>(leeway.as_int()) : 5;
  auto offs = utf8_offsets(s);
  if (offs.size() - 1 <= n + lw) return Value(s);
  size_t keep = n > utf8_length(end) ? n - utf8_length(end) : 0;
  std::string out = s.substr(0, offs[keep]);
  if (!arg_flag(a, 1, "killwords", false)) {
    size_t sp = out.find_last_of(' ');
    if (sp != std::string::npos) out.erase(sp);
  }
  return Value(out + end);
}
Value f_unique(Interp& in, const Value& v, CallArgs&) {
  std::vector<Value> out;
  for (const Value& x : seq_items(in, v, "unique")) {
    bool seen = false;
    for (const Value& y : out)
      if (values_equal(x, y, &in.budget)) seen = true;
    if (!seen) out.push_back(x);
  }
  return Value::array(std::move(out));
}
// number of runs of word characters (letters, digits, '_'; non-ASCII bytes count as letters)
Value f_wordcount(Interp& in, const Value& v, CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (unsigned char c : as_text(in, v)) {
    bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

// ---- tests --------------------------------------------------------------------------------
bool t_defined(Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interp&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interp&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_true(Interp&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(Interp&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(Interp&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Interp&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Interp&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interp&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Interp&, const Value& v, CallArgs&) { return v.is_object(); }
bool t_iterable(Interp&, const Value& v, CallArgs&) { return v.is_array() || v.is_object() || v.is_string(); }
bool t_sequence(Interp&, const Value& v, CallArgs&) { return v.is_array() || v.is_string() || v.is_undefined(); }
bool t_callable(Interp&, const Value& v, CallArgs&) { return v.is_callable(); }
bool t_sameas(Interp&, const Value& v, CallArgs& a) {
  Value o = a.get(0, "other");
  if (v.is_container() || v.is_callable()) return v.identity() == o.identity();
  if (v.kind() != o.kind()) return false;
  return v.is_none() || (v.is_bool() && v.as_bool() == o.as_bool());
}
bool t_escaped(Interp&, const Value&, CallArgs&) { return false; }
bool t_lower(Interp&, const Value& v, CallArgs&) { return v.is_string() && str::lower(v.str()) == v.str(); }
bool t_upper(Interp&, const Value& v, CallArgs&) { return v.is_string() && str::upper(v.str()) == v.str(); }
int64_t need_int(const Value& v, const char* test) {
  if (!v.is_int()) fail(std::string("test '") + test + "' expects an integer, got " + v.type_name());
  return v.as_int();
}
bool t_even(Interp&, const Value& v, CallArgs&) { return need_int(v, "even") % 2 == 0; }
bool t_odd(Interp&, const Value& v, CallArgs&) { return need_int(v, "odd") % 2 != 0; }
bool t_divisibleby(Interp&, const Value& v, CallArgs& a) {
  int64_t d = need_int(a.get(0, "num"), "divisibleby");
  if (d == 0) fail("divisibleby 0");
  if (d == -1) return true;
  return need_int(v, "divisibleby") % d == 0;
}
bool t_eq(Interp& in, const Value& v, CallArgs& a) { return values_equal(v, a.get(0, "other"), &in.budget); }
bool t_ne(Interp& in, const Value& v, CallArgs& a) { return !values_equal(v, a.get(0, "other"), &in.budget); }
bool t_lt(Interp& in, const Value& v, CallArgs& a) { return compare_values(v, a.get(0, "other"), &in.budget) < 0; }
bool t_le(Interp& in, const Value& v, CallArgs& a) { return compare_values(v, a.get(0, "other"), &in.budget) <= 0; }
bool t_gt(Interp& in, const Value& v, CallArgs& a) { return compare_values(v, a.get(0, "other"), &in.budget) > 0; }
bool t_ge(Interp& in, const Value& v, CallArgs& a) { return compare_values(v, a.get(0, "other"), &in.budget) >= 0; }
bool t_in(Interp& in, const Value& v, CallArgs& a) { return contains(in, a.get(0, "seq"), v); }

// ---- globals ------------------------------------------------------------------------------
Value g_range(Interp& in, CallArgs& a) {
  std::vector<int64_t> p;
  for (const Value& v : a.positional) {
    if (!v.is_int() && !v.is_bool()) fail(std::string("range() expects integers, got ") + v.type_name());
    p.push_back(v.is_bool() ? static_cast<int64_t>(v.as_bool()) : v.as_int());
  }
  if (p.empty() || p.size() > 3) fail("range() expects 1 to 3 arguments");
  int64_t start = p.size() == 1 ? 0 : p[0], stop = p.size() == 1 ? p[0] : p[1], step = p.size() == 3 ? p[2] : 1;
  if (step == 0) fail("range() step must not be zero");
  __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  __int128 count = span <= 0 ? 0 : (span + (step > 0 ? step : -static_cast<__int128>(step)) - 1) / (step > 0 ? step : -static_cast<__int128>(step));
  if (count > static_cast<__int128>(in.limits.max_output / 16)) fail("range() too large");
  in.budget.step(static_cast<uint64_t>(count));
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(count));
  int64_t x = start;
  for (__int128 i = 0; i < count; ++i, x = static_cast<int64_t>(static_cast<__int128>(x) + step)) out.emplace_back(x);
  return Value::array(std::move(out));
}
Value g_namespace(Interp& in, CallArgs& a) {
  Value ns = Value::object();
  ns.obj().is_namespace = true;
  for (const Value& v : a.positional) {
    if (!v.is_object()) fail("namespace() positional arguments must be dicts");
    for (const auto& [k, x] : v.obj().entries()) ns.obj().set(k, x);
  }
  for (const auto& [k, x] : a.kwargs) ns.obj().set(k, x);
  (void)in;
  return ns;
}
Value g_dict(Interp&, CallArgs& a) {
  Value d = Value::object();
  for (const Value& v : a.positional) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.obj().entries()) d.obj().set(k, x);
    } else if (v.is_array()) {
      for (const Value& pair : v.items()) {
        if (!pair.is_array() || pair.items().size() != 2 || !pair.items()[0].is_string()) fail("dict() expects key/value pairs");
        d.obj().set(pair.items()[0].str(), pair.items()[1]);
      }
    } else {
      fail("dict() expects a dict or a list of pairs");
    }
  }
  for (const auto& [k, x] : a.kwargs) d.obj().set(k, x);
  return d;
}
Value g_raise_exception(Interp& in, CallArgs& a) {
  throw RenderError(a.positional.empty() ? std::string("raise_exception() called") : as_text(in, a.positional[0]), true);
}
Value g_strftime_now(Interp& in, CallArgs& a) {
  std::string fmt = a.positional.empty() ? "%Y-%m-%d" : as_text(in, a.positional[0]);
  if (fmt.size() > 256) fail("strftime_now() format too long");
  std::time_t t = in.limits.now_unix >= 0 ? static_cast<std::time_t>(in.limits.now_unix) : std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[1024];
  size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

bool is_intlike_value(const Value& v) { return v.is_int() || v.is_bool(); }

FilterFn find_filter(const std::string& name) {
  static const std::unordered_map<std::string, FilterFn> table = {
      {"abs", f_abs}, {"attr", f_attr}, {"capitalize", f_capitalize}, {"count", f_length},
      {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape}, {"first", f_first}, {"float", f_float}, {"format", f_format},
      {"indent", f_indent}, {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last},
      {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max},
      {"min", f_min}, {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
      {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
      {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string}, {"sum", f_sum},
      {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate},
      {"unique", f_unique}, {"upper", f_upper}, {"wordcount", f_wordcount},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

TestFn find_test(const std::string& name) {
  static const std::unordered_map<std::string, TestFn> table = {
      {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined},
      {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq},
      {"escaped", t_escaped}, {"even", t_even}, {"false", t_false}, {"float", t_float},
      {"ge", t_ge}, {">=", t_ge}, {"gt", t_gt}, {">", t_gt}, {"greaterthan", t_gt}, {"in", t_in},
      {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le}, {"<=", t_le},
      {"lower", t_lower}, {"lt", t_lt}, {"<", t_lt}, {"lessthan", t_lt}, {"mapping", t_mapping},
      {"ne", t_ne}, {"!=", t_ne}, {"none", t_none}, {"number", t_number}, {"odd", t_odd},
      {"sameas", t_sameas}, {"sequence", t_sequence}, {"string", t_string}, {"true", t_true},
      {"undefined", t_undefined}, {"upper", t_upper},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

GlobalFn find_global(const std::string& name) {
  static const std::unordered_map<std::string, GlobalFn> table = {
      {"range", g_range}, {"namespace", g_namespace}, {"dict", g_dict},
      {"raise_exception", g_raise_exception}, {"strftime_now", g_strftime_now},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace fitserve::chat::jinja
