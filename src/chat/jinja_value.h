// chat/jinja_value.h — the runtime value of the Jinja-subset template engine.
// Offers: jinja::Value (undefined, none, bool, int, float, string, array, object, callable) with
//         Python/Jinja semantics: lists and dicts are shared references, dicts keep insertion
//         order; truthiness, equality, ordering, printing (Jinja's str()), repr and tojson;
//         conversion from/to nlohmann::json (ordered or not); CallArgs and the Callable interface.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fitserve::chat::jinja {

class Value;
class Interp;
struct ArrayData;
struct CallArgs;

// Work accounting shared by one render: every recursive walk over values and every string the
// engine builds is charged here, so a hostile template (or input) cannot hang or exhaust memory.
class LimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
struct Budget {
  uint64_t steps = UINT64_MAX;   // node visits left
  size_t max_string = SIZE_MAX;  // longest string (and output) the engine may build
  int max_depth = 512;           // deepest value nesting walked by print/compare/convert
  void step(uint64_t n = 1) {
    if (steps < n) throw LimitError("template exceeded its work limit (possible infinite loop)");
    steps -= n;
  }
  void check_size(size_t n) const {
    if (n > max_string) throw LimitError("template output or string exceeds the size limit");
  }
};

// Something callable from a template: a macro, a builtin function, a bound method.
class Callable {
 public:
  virtual ~Callable() = default;
  virtual Value call(Interp& in, CallArgs& args) = 0;
  virtual std::string name() const = 0;
};

class Object;

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, Array, Object, Callable };

  Value() = default;  // undefined
  Value(bool b) : kind_(Kind::Bool), b_(b) {}
  Value(int i) : kind_(Kind::Int), i_(i) {}
  Value(int64_t i) : kind_(Kind::Int), i_(i) {}
  Value(double d) : kind_(Kind::Float), d_(d) {}
  Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::String), s_(s) {}
  Value(const char* s) : kind_(Kind::String), s_(s) {}
  static Value none() { Value v; v.kind_ = Kind::None; return v; }
  static Value array(std::vector<Value> items = {});
  static Value object();
  static Value callable(std::shared_ptr<Callable> c);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_callable() const { return kind_ == Kind::Callable; }
  bool is_container() const { return kind_ == Kind::Array || kind_ == Kind::Object; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_float() const { return d_; }
  double as_number() const { return kind_ == Kind::Int ? double(i_) : kind_ == Kind::Bool ? double(b_) : d_; }
  const std::string& str() const { return s_; }
  std::vector<Value>& items() const;  // shared: mutations are visible to all copies
  Object& obj() const { return *obj_; }
  Callable& fn() const { return *fn_; }
  const void* identity() const;  // address of the shared container (for `is sameas` and cycle checks)
  // Records that this container now sits inside another one; only such containers can be
  // reached from elsewhere, so only they need the (costly) reference-cycle walk.
  void mark_nested() const;
  bool is_nested() const;

  bool truthy() const;
  const char* type_name() const;  // "undefined", "none", "boolean", ... (for error messages)

 private:
  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<ArrayData> arr_;
  std::shared_ptr<Object> obj_;
  std::shared_ptr<Callable> fn_;
};

// A dict: insertion-ordered, string keys (non-string keys are converted to their string form).
class Object {
 public:
  bool is_namespace = false;  // attributes may be assigned with {% set ns.x = ... %}
  bool nested = false;        // has been stored inside another container (cycle checks)
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  void set(const std::string& key, Value v);
  bool erase(const std::string& key);
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;  // key -> position in entries_
};

struct ArrayData {
  std::vector<Value> items;
  bool nested = false;
};
inline std::vector<Value>& Value::items() const { return arr_->items; }

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> kwargs;
  // Python-style binding: positional i or keyword `name`; returns undefined when absent.
  Value get(size_t i, const char* name) const;
  bool has(size_t i, const char* name) const;
};

// ---- printing -----------------------------------------------------------------------------
std::string format_float(double d);             // C %f, trailing zeros stripped, one kept ("2.5", "3.0")
// what {{ v }} prints (None, True, 2.5, ['a', 1])
std::string to_output_string(const Value& v, Budget* budget = nullptr);
// Python repr ('a' quoted), used inside printed containers
std::string repr(const Value& v, Budget* budget = nullptr);
struct JsonStyle {
  int indent = -1;  // < 0: one line
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
// tojson filter; throws std::runtime_error for callables
std::string to_json_string(const Value& v, const JsonStyle& style = {}, Budget* budget = nullptr);
void json_escape_to(std::string& out, std::string_view s);  // "…" with JSON escapes, UTF-8 kept

// ---- comparisons --------------------------------------------------------------------------
bool values_equal(const Value& a, const Value& b, Budget* budget = nullptr);
// <0, 0, >0; throws std::runtime_error if the two are not orderable (Python rules)
int compare_values(const Value& a, const Value& b, Budget* budget = nullptr);
// true if `from` is `target` or contains it (at any depth); used to refuse reference cycles
bool reaches(const Value& from, const Value& target, Budget* budget = nullptr);

// ---- JSON conversion ----------------------------------------------------------------------
// Throws std::runtime_error when nesting is deeper than max_depth.
Value from_json(const nlohmann::json& j, int max_depth = 512);
Value from_json(const nlohmann::ordered_json& j, int max_depth = 512);
nlohmann::ordered_json to_json(const Value& v, int max_depth = 512);

// ---- UTF-8 helpers ------------------------------------------------------------------------
std::vector<size_t> utf8_offsets(std::string_view s);  // byte offset of every code point, plus size
size_t utf8_length(std::string_view s);

}  // namespace fitserve::chat::jinja
