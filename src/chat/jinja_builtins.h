// chat/jinja_builtins.h — the engine's builtin filters, tests, global functions and methods.
// Offers: find_filter / find_test / find_global (by name; null when unknown), call_method (string,
//         list and dict methods such as .split, .startswith, .get, .items, .append) and helpers
//         shared with the evaluator (index/slice/membership, arithmetic, iteration).
#pragma once
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace fitserve::chat::jinja {

using FilterFn = Value (*)(Interp& in, const Value& input, CallArgs& args);
using TestFn = bool (*)(Interp& in, const Value& input, CallArgs& args);
using GlobalFn = Value (*)(Interp& in, CallArgs& args);

FilterFn find_filter(const std::string& name);
TestFn find_test(const std::string& name);
GlobalFn find_global(const std::string& name);

// obj.name(args) for builtin types; sets `found` false when the type has no such method.
Value call_method(Interp& in, const Value& obj, const std::string& name, CallArgs& args, bool& found);

// ---- helpers used by the evaluator ----------------------------------------------------------
Value get_item(Interp& in, const Value& obj, const Value& key);  // obj[key]; undefined if missing
Value get_slice(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
bool contains(Interp& in, const Value& container, const Value& item);  // `item in container`
Value binary_op(Interp& in, const std::string& op, const Value& a, const Value& b);
std::vector<Value> iterate(Interp& in, const Value& v);  // for-loop items (dict -> keys)
bool is_intlike_value(const Value& v);                    // int or bool

}  // namespace fitserve::chat::jinja
