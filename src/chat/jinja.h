// chat/jinja.h — public API of the Jinja-subset template engine used for chat templates.
// Offers: jinja::Template::parse(source) and Template::render(context) -> string, with
//         llama.cpp-compatible defaults (trim_blocks, lstrip_blocks, one trailing newline
//         dropped) and RenderLimits against hostile templates. Every failure is a
//         core::Error with code "template" whose message names the line and column; for
//         raise_exception() the message is the template's own text.
// Supported: {{ }}, {% if/elif/else %}, {% for %} (unpacking, `if` filter, else, loop.*,
//   break/continue), {% set %} (names, tuples, ns.attr, block set), {% macro %} with defaults,
//   {% call %}, {% filter %}, {% raw %}, {% do %}, comments and whitespace control; the
//   filters, tests, methods and globals listed in jinja_builtins.cpp / jinja_methods.cpp.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_eval.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_value.h"

namespace fitserve::chat::jinja {

class Template {
 public:
  static Template parse(const std::string& source, const LexOptions& options = {});

  std::string render(const Value& context, const RenderLimits& limits = {}) const;
  std::string render(const nlohmann::json& context, const RenderLimits& limits = {}) const;
  std::string render(const nlohmann::ordered_json& context, const RenderLimits& limits = {}) const;

 private:
  std::shared_ptr<const Program> program_;
};

}  // namespace fitserve::chat::jinja
