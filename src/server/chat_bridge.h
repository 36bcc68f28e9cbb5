// server/chat_bridge.h — the server's view of chat/: chat request -> prompt text, and generated
// text -> assistant message (content / reasoning_content / tool_calls), whole or streamed.
// Offers: ChatBridge (built from the GGUF's chat template, a --chat-template-file override, or
// chat's fallback template when the model has none or its own does not parse): render(),
// parse() (final; tool calls get ids), stream() (a ChatStreamParser giving chunk deltas).
// Gemma 4 templates use chat's Gemma 4 output parser; other templates give plain content.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/params.h"
#include "server/responses.h"

namespace fitserve::server {

struct RenderedChat {
  std::string prompt;             // what the model sees, without the BOS text
  std::string generation_prompt;  // prefix the output parser needs (e.g. "<|turn>model\n")
  std::vector<std::string> additional_stops;
};

// Incremental parse of one choice's output.
class ChatStreamParser {
 public:
  virtual ~ChatStreamParser() = default;
  virtual std::vector<nlohmann::json> push(std::string_view piece) = 0;  // deltas (maybe none)
  // Final parse of `full` (the engine's final text); remaining deltas. Throws HttpError 500.
  virtual std::vector<nlohmann::json> finish(const std::string& full) = 0;
  virtual ChatMsg message() const = 0;
};

class ChatBridge {
 public:
  // Throws core::Error("template") when `template_override` does not parse.
  ChatBridge(const engine::ModelInfo& info, const std::string& template_override);
  ~ChatBridge();
  // Throws HttpError 400 with the template's message on request/template errors.
  RenderedChat render(const ChatParams& p) const;
  // Final parse of the generated text; tool calls get fresh ids. Throws HttpError 500 when the
  // output does not match the expected format.
  ChatMsg parse(const RenderedChat& r, const ChatParams& p, const std::string& generated) const;
  std::unique_ptr<ChatStreamParser> stream(const RenderedChat& r, const ChatParams& p) const;
  const std::string& template_source() const;
  bool is_gemma4() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fitserve::server
