// libFuzzer target: the Gemma 4 output parser on arbitrary model output, whole and streamed.
// Checks the streaming invariants: partial parses only grow (or the diff throws core::Error,
// which would be a bug and is reported by aborting), and all arguments of complete calls are JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "chat/gemma4_parser.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  using namespace fitserve::chat;
  ParseOptions o;
  uint8_t flags = data[0];
  o.tools = flags & 1;
  o.tool_choice = (flags & 2) ? ToolChoice::Required : ((flags & 4) ? ToolChoice::None : ToolChoice::Auto);
  o.parallel_tool_calls = !(flags & 8);
  o.extract_reasoning = !(flags & 16);
  o.json_output = (flags & 32) && !(flags & 64);
  if (flags & 64) o.tool_names = {"f", "get_weather"};
  size_t step = 1 + data[1] % 7;
  std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);

  int n = 0;
  const std::string prompt = (flags & 128) ? "<|turn>model\n" : "";
  StreamParser sp(o, prompt, [&n] { return std::to_string(n++); });
  try {
    for (size_t pos = 0; pos < text.size(); pos += step) (void)sp.push(std::string_view(text).substr(pos, step));
  } catch (const fitserve::core::Error& e) {
    if (e.code() == "internal") std::abort();  // a partial parse went backwards: parser bug
  }
  // the incremental state (fast path included) equals a fresh partial parse of everything
  ChatMessage fresh = parse_gemma4_output(prompt + text, o, true);
  if (fresh.content != sp.message().content || fresh.reasoning_content != sp.message().reasoning_content) std::abort();
  try {
    (void)sp.finish();
    for (const auto& c : sp.message().tool_calls)
      if (!nlohmann::json::accept(c.arguments)) std::abort();  // final arguments must be JSON
  } catch (const fitserve::core::Error& e) {
    if (e.code() != "format") std::abort();
  }
  return 0;
}
