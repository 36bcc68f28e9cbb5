// libFuzzer target: parse and render arbitrary templates against a small chat context.
// Any input must end in a rendered string or a core::Error — never a crash, hang or leak.
// The first byte picks a context variant; the rest is the template source.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/jinja.h"
#include "core/error.h"

namespace {

const nlohmann::json& context(int variant) {
  static const nlohmann::json base = nlohmann::json::parse(R"({
    "bos_token": "<bos>", "eos_token": "<eos>", "add_generation_prompt": true, "enable_thinking": true,
    "messages": [
      {"role": "system", "content": "  Be brief.  "},
      {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": "<|channel>thought\nx<channel|>Hello", "reasoning_content": "r",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": [1, 2.5, null, true]}}}],
       "tool_responses": [{"name": "get_weather", "response": {"t": -3}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "{\"t\": -3}"},
      {"role": "user", "content": "Thanks"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["a", "b"]},
        "opts": {"type": "object", "properties": {"deep": {"type": "boolean", "nullable": true}}},
        "list": {"type": "array", "items": {"type": "string"}}}, "required": ["city"]}}}]})");
  static const nlohmann::json empty = nlohmann::json::object();
  static const nlohmann::json no_messages = {{"messages", nlohmann::json::array()}, {"bos_token", ""}};
  switch (variant % 3) {
    case 0: return base;
    case 1: return no_messages;
    default: return empty;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string source(reinterpret_cast<const char*>(data) + 1, size - 1);
  fitserve::chat::jinja::RenderLimits limits;
  limits.max_steps = 200'000;
  limits.max_output = 64 * 1024;
  limits.max_call_depth = 40;
  limits.now_unix = 0;
  try {
    auto tmpl = fitserve::chat::jinja::Template::parse(source);
    (void)tmpl.render(context(data[0]), limits);
  } catch (const fitserve::core::Error&) {
  }
  return 0;
}
