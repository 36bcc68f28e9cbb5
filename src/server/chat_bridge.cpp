// server/chat_bridge.cpp — chat/ templates and output parsers behind the server (see chat_bridge.h).
#include "server/chat_bridge.h"

#include <cstdio>

#include "chat/chat.h"
#include "chat/gemma4_parser.h"
#include "core/error.h"
#include "server/http_error.h"

namespace fitserve::server {

using json = nlohmann::json;

namespace {

HttpError chat_error(const core::Error& e) {
  if (e.code() == "format" || e.code() == "internal") return server_error(e.what());
  return bad_request(e.what());
}

chat::ParseOptions parse_options(const ChatParams& p) {
  chat::ParseOptions o;
  o.tools = !p.tools.empty();
  o.tool_choice = p.tool_choice == "required" ? chat::ToolChoice::Required
                  : p.tool_choice == "none"   ? chat::ToolChoice::None
                                              : chat::ToolChoice::Auto;
  o.parallel_tool_calls = p.parallel_tool_calls;
  for (const auto& t : p.tools) o.tool_names.push_back(t["function"]["name"].get<std::string>());
  o.extract_reasoning = p.reasoning_format != "none";
  return o;
}

ChatMsg to_msg(const chat::ChatMessage& m) {
  ChatMsg out;
  out.content = m.content;
  out.reasoning_content = m.reasoning_content;
  for (const auto& c : m.tool_calls) out.tool_calls.push_back({c.id, c.name, c.arguments});
  return out;
}

// Gemma 4: chat's incremental parser (stable tool-call ids, spec deltas).
class Gemma4Stream final : public ChatStreamParser {
 public:
  Gemma4Stream(const RenderedChat& r, const ChatParams& p) : sp_(parse_options(p), r.generation_prompt) {}
  std::vector<json> push(std::string_view piece) override {
    try {
      return sp_.push(piece);
    } catch (const core::Error& e) {
      throw chat_error(e);
    }
  }
  std::vector<json> finish(const std::string&) override {
    try {
      return sp_.finish();
    } catch (const core::Error& e) {
      throw chat_error(e);
    }
  }
  ChatMsg message() const override { return to_msg(sp_.message()); }

 private:
  chat::StreamParser sp_;
};

// Any other template: the output is all content.
class PlainStream final : public ChatStreamParser {
 public:
  std::vector<json> push(std::string_view piece) override {
    ChatMsg next = msg_;
    text_.append(piece);
    next.content = chat::sanitize_utf8(text_, /*hold_incomplete_tail=*/true);
    auto d = diff_deltas(msg_, next);
    msg_ = std::move(next);
    return d;
  }
  std::vector<json> finish(const std::string& full) override {
    ChatMsg next;
    next.content = chat::sanitize_utf8(full, false);
    auto d = diff_deltas(msg_, next);
    msg_ = std::move(next);
    return d;
  }
  ChatMsg message() const override { return msg_; }

 private:
  std::string text_;
  ChatMsg msg_;
};

}  // namespace

struct ChatBridge::Impl {
  chat::ChatTemplate tmpl;
};

ChatBridge::ChatBridge(const engine::ModelInfo& info, const std::string& template_override) {
  if (!template_override.empty()) {
    impl_ = std::make_unique<Impl>(Impl{chat::ChatTemplate::from_source(template_override, info.bos_text, info.eos_text)});
    return;
  }
  if (!info.chat_template.empty()) {
    try {
      impl_ = std::make_unique<Impl>(Impl{chat::ChatTemplate::from_source(info.chat_template, info.bos_text, info.eos_text)});
      return;
    } catch (const core::Error& e) {
      std::fprintf(stderr, "fitserve: the model's chat template does not parse (%s); using the fallback template\n",
                   e.what());
    }
  }
  impl_ = std::make_unique<Impl>(Impl{chat::ChatTemplate::fallback(info.architecture, info.bos_text, info.eos_text)});
}

ChatBridge::~ChatBridge() = default;

RenderedChat ChatBridge::render(const ChatParams& p) const {
  chat::ChatParams cp;
  cp.messages = p.messages;
  cp.tools = p.tools.empty() ? json() : p.tools;
  cp.add_generation_prompt = p.add_generation_prompt;
  cp.enable_thinking = p.enable_thinking;
  cp.reasoning_effort = p.reasoning_effort;
  cp.template_kwargs = p.chat_template_kwargs;
  const json& cf = p.continue_final_message;
  if (cf.is_boolean()) cp.continue_final_message = cf.get<bool>() ? chat::ContinueMode::Auto : chat::ContinueMode::Off;
  else if (cf == "content") cp.continue_final_message = chat::ContinueMode::Content;
  else if (cf == "reasoning_content") cp.continue_final_message = chat::ContinueMode::Reasoning;
  // An explicit continue_final_message with the default add_generation_prompt means "continue".
  if (cp.continue_final_message != chat::ContinueMode::Off && !p.add_generation_prompt_given)
    cp.add_generation_prompt = false;
  try {
    chat::ChatPrompt out = impl_->tmpl.render(cp);
    return {std::move(out.prompt), std::move(out.generation_prompt), std::move(out.additional_stops)};
  } catch (const core::Error& e) {
    throw bad_request(e.what());
  }
}

ChatMsg ChatBridge::parse(const RenderedChat& r, const ChatParams& p, const std::string& generated) const {
  if (!is_gemma4()) {
    ChatMsg m;
    m.content = chat::sanitize_utf8(generated, false);
    return m;
  }
  try {
    chat::ChatMessage m = chat::parse_gemma4_output(r.generation_prompt + generated, parse_options(p), false);
    std::vector<std::string> ids;
    chat::assign_tool_call_ids(m, ids);
    return to_msg(m);
  } catch (const core::Error& e) {
    throw chat_error(e);
  }
}

std::unique_ptr<ChatStreamParser> ChatBridge::stream(const RenderedChat& r, const ChatParams& p) const {
  if (is_gemma4()) return std::make_unique<Gemma4Stream>(r, p);
  return std::make_unique<PlainStream>();
}

const std::string& ChatBridge::template_source() const { return impl_->tmpl.source(); }

bool ChatBridge::is_gemma4() const { return impl_->tmpl.kind() != chat::TemplateKind::Generic; }

}  // namespace fitserve::server
