// chat/chat.h — chat prompt rendering for the OpenAI-compatible server.
// Offers: ChatTemplate (from a model's `tokenizer.chat_template`, or a built-in fallback) that
//         turns OpenAI `messages` + `tools` into the prompt text, the way llama-server does for
//         Gemma 4 (spec/gemma4-chat.md §2, §3, §6.4, §10): message normalization, the legacy
//         Gemma 4 template rewrite, BOS stripping, the generation-prompt diff and post-fix,
//         assistant prefill / continue_final_message. Request errors are core::Error("request"),
//         template errors core::Error("template").
// Typical server use:
//   ChatTemplate t = ChatTemplate::from_source(gguf_template, "<bos>", "<eos>");  // or fallback()
//   ChatParams p; p.messages = body["messages"]; p.tools = body.value("tools", json());
//   p.template_kwargs = body.value("chat_template_kwargs", json::object());
//   ChatPrompt r = t.render(p);          // r.prompt -> tokenizer (it adds BOS itself)
//   StreamParser sp(parse_options, r.generation_prompt);   // chat/gemma4_parser.h
//   for each token: for (auto& d : sp.push(piece)) send chunk with delta d;  then sp.finish().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja.h"

namespace fitserve::chat {

enum class TemplateKind {
  Generic,       // any other template
  Gemma4,        // current Gemma 4 template (has the "OpenAI Chat Completions:" comment)
  Gemma4Legacy,  // older Gemma 4 template: tool messages are rewritten into tool_responses
};

enum class ContinueMode { Off, Auto, Content, Reasoning };

struct ChatParams {
  nlohmann::json messages = nlohmann::json::array();  // OpenAI messages (validated here)
  nlohmann::json tools;                               // OpenAI tools array, or null
  bool add_generation_prompt = true;
  bool enable_thinking = true;  // server default; chat_template_kwargs.enable_thinking overrides
  std::string reasoning_effort;  // "none" turns thinking off; others are passed to the template
  nlohmann::json template_kwargs = nlohmann::json::object();  // chat_template_kwargs
  std::string media_marker;  // text that replaces image/audio parts; empty: such parts are errors
  ContinueMode continue_final_message = ContinueMode::Off;  // explicit request field
  bool prefill_assistant = true;  // a trailing assistant message is continued (server default)
  int64_t now_unix = -1;          // render time for date-aware templates (-1: now)
};

struct ChatPrompt {
  std::string prompt;             // text to tokenize; the template's leading BOS text removed
  std::string generation_prompt;  // what the output parser must see before the generated text
  bool thinking = true;           // whether thinking was enabled for this request
  bool prefill = false;           // the last assistant message is being continued
  std::vector<nlohmann::json> media;  // the media parts, in prompt order (one marker each)
  std::vector<std::string> preserved_tokens;  // special tokens to keep when detokenizing output
  std::vector<std::string> additional_stops;
};

class ChatTemplate {
 public:
  // Parses `source` (throws core::Error "template" on syntax errors).
  static ChatTemplate from_source(std::string source, std::string bos_token, std::string eos_token);
  // Our own Gemma 4 template, written from the spec's rendering rules (current format).
  static ChatTemplate builtin_gemma4(std::string bos_token = "<bos>", std::string eos_token = "<eos>");
  // ChatML (<|im_start|>role ... <|im_end|>), for models without a template.
  static ChatTemplate builtin_chatml(std::string bos_token = "", std::string eos_token = "");
  // The template to use when a model has none (or its own fails to parse): Gemma 4 for
  // gemma4* architectures, ChatML otherwise.
  static ChatTemplate fallback(const std::string& architecture, std::string bos_token, std::string eos_token);

  // Renders the prompt. `extra_kwargs` are chat_template_kwargs; enable_thinking defaults to
  // true (llama-server's default for Gemma 4) unless extra_kwargs sets it.
  std::string apply(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                    const nlohmann::json& extra_kwargs = nlohmann::json::object()) const;
  // Full request rendering: prompt, generation prompt, prefill, media list.
  ChatPrompt render(const ChatParams& params) const;
  // Renders the template with exactly these variables (no normalization, BOS kept).
  std::string render_raw(const nlohmann::json& variables) const;

  const std::string& source() const { return source_; }
  TemplateKind kind() const { return kind_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  jinja::RenderLimits& limits() { return limits_; }

 private:
  std::string render_messages(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                              bool thinking, const ChatParams& params) const;

  std::string source_, bos_, eos_;
  TemplateKind kind_ = TemplateKind::Generic;
  std::shared_ptr<const jinja::Template> tmpl_;
  jinja::RenderLimits limits_;
};

// Detects the template family from its source (spec/gemma4-chat.md §2.7).
TemplateKind detect_template_kind(const std::string& source);

// Validates and normalizes OpenAI messages (spec §2): developer -> system, content to a string
// or a text-part array, media parts replaced by `media_marker` (collected into *media),
// tool-call arguments parsed into objects, unknown fields dropped. Throws core::Error("request").
nlohmann::json normalize_messages(const nlohmann::json& messages, const std::string& media_marker = "",
                                  std::vector<nlohmann::json>* media = nullptr);
// Reduces tools to {type:"function", function:{name, description, parameters}}; accepts
// `parameters` given as a JSON string. Throws core::Error("request").
nlohmann::json normalize_tools(const nlohmann::json& tools);
// The rewrite applied for the legacy Gemma 4 template (spec §6.4): assistant(tool_calls) + tool
// messages (+ a following plain assistant message) become one message with tool_responses.
nlohmann::json gemma4_legacy_rewrite(const nlohmann::json& normalized_messages);

// Text of a message content (string, or text parts concatenated).
std::string content_text(const nlohmann::json& content);

}  // namespace fitserve::chat
