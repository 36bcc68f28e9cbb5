// chat/chat.cpp — OpenAI messages -> prompt text (normalization, legacy rewrite, prefill, diffs).
#include "chat/chat.h"

#include <ctime>

#include "core/error.h"

namespace fitserve::chat {

using nlohmann::json;

namespace {

[[noreturn]] void bad_request(const std::string& msg, const std::string& hint = {}) {
  throw core::Error("request", msg, hint);
}

bool is_media_type(const std::string& t) {
  return t == "image_url" || t == "input_audio" || t == "input_video" || t == "video_url" || t == "image" ||
         t == "audio" || t == "video";
}

json normalize_content(const json& content, size_t index, const std::string& marker, std::vector<json>* media) {
  if (content.is_null()) return "";
  if (content.is_string()) return content;
  if (!content.is_array())
    bad_request("messages[" + std::to_string(index) + "].content must be a string, an array of parts or null");
  bool has_media = false;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      bad_request("messages[" + std::to_string(index) + "].content parts must be objects with a string 'type'");
    const std::string& t = part["type"].get_ref<const std::string&>();
    if (t == "text") {
      if (!part.contains("text") || !part["text"].is_string())
        bad_request("messages[" + std::to_string(index) + "]: a text part needs a string 'text'");
    } else if (is_media_type(t)) {
      has_media = true;
    } else {
      bad_request("unsupported content[].type '" + t + "' in messages[" + std::to_string(index) + "]");
    }
  }
  if (!has_media) {
    json parts = json::array();
    for (const auto& part : content) parts.push_back({{"type", "text"}, {"text", part["text"]}});
    return parts;
  }
  if (marker.empty())
    bad_request("image/audio input is not supported by this server", "start the server with a multimodal projector (--mmproj)");
  // Flatten: text parts joined with '\n', but no newline next to a media marker (spec §2.3).
  std::string out;
  bool prev_text = false;
  for (const auto& part : content) {
    if (part["type"] == "text") {
      if (prev_text) out += '\n';
      out += part["text"].get<std::string>();
      prev_text = true;
    } else {
      out += marker;
      prev_text = false;
      if (media) media->push_back(part);
    }
  }
  return out;
}

json normalize_tool_calls(const json& calls, size_t index) {
  if (!calls.is_array()) bad_request("messages[" + std::to_string(index) + "].tool_calls must be an array");
  json out = json::array();
  for (const auto& call : calls) {
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
      bad_request("messages[" + std::to_string(index) + "].tool_calls entries need a 'function' object");
    const json& fn = call["function"];
    if (!fn.contains("name") || !fn["name"].is_string())
      bad_request("messages[" + std::to_string(index) + "].tool_calls[].function.name must be a string");
    json args = fn.contains("arguments") ? fn["arguments"] : json::object();
    if (args.is_string()) {
      try {
        args = json::parse(args.get<std::string>());
      } catch (const json::exception&) {
        bad_request("Failed to parse tool call arguments as JSON");
      }
    } else if (args.is_null()) {
      args = json::object();
    }
    json c = {{"type", "function"}, {"function", {{"name", fn["name"]}, {"arguments", args}}}};
    if (call.contains("id") && call["id"].is_string()) c["id"] = call["id"];
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::string content_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& part : content)
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
        out += part["text"].get<std::string>();
  return out;
}

json normalize_messages(const json& messages, const std::string& media_marker, std::vector<json>* media) {
  if (!messages.is_array()) bad_request("'messages' must be an array");
  if (messages.empty()) bad_request("'messages' must not be empty");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object()) bad_request("messages[" + std::to_string(i) + "] must be an object");
    if (!m.contains("role") || !m["role"].is_string() || m["role"].get_ref<const std::string&>().empty())
      bad_request("messages[" + std::to_string(i) + "].role must be a non-empty string");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    json n = {{"role", role}};
    n["content"] = normalize_content(m.contains("content") ? m["content"] : json(), i, media_marker, media);
    for (const char* key : {"reasoning_content", "reasoning"}) {
      if (m.contains(key) && m[key].is_string() && !m[key].get_ref<const std::string&>().empty()) {
        n["reasoning_content"] = m[key];
        break;
      }
    }
    for (const char* key : {"name", "tool_call_id"}) {
      if (!m.contains(key) || m[key].is_null()) continue;
      if (!m[key].is_string()) bad_request("messages[" + std::to_string(i) + "]." + key + " must be a string");
      n[key] = m[key];
    }
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      json calls = normalize_tool_calls(m["tool_calls"], i);
      if (!calls.empty()) n["tool_calls"] = std::move(calls);
    }
    out.push_back(std::move(n));
  }
  return out;
}

json normalize_tools(const json& tools) {
  json out = json::array();
  if (tools.is_null()) return out;
  if (!tools.is_array()) bad_request("'tools' must be an array");
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    if (!t.is_object()) bad_request("tools[" + std::to_string(i) + "] must be an object");
    if (t.contains("type") && t["type"] != "function") bad_request("tools[" + std::to_string(i) + "].type must be \"function\"");
    if (!t.contains("function") || !t["function"].is_object()) bad_request("tools[" + std::to_string(i) + "].function must be an object");
    const json& fn = t["function"];
    if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get_ref<const std::string&>().empty())
      bad_request("tools[" + std::to_string(i) + "].function.name must be a non-empty string");
    json f = {{"name", fn["name"]}, {"description", ""}};
    if (fn.contains("description") && fn["description"].is_string()) f["description"] = fn["description"];
    if (fn.contains("parameters") && !fn["parameters"].is_null()) {
      json params = fn["parameters"];
      if (params.is_string()) {
        try {
          params = json::parse(params.get<std::string>());
        } catch (const json::exception&) {
          bad_request("tools[" + std::to_string(i) + "].function.parameters is not valid JSON");
        }
      }
      if (!params.is_object()) bad_request("tools[" + std::to_string(i) + "].function.parameters must be a JSON schema object");
      f["parameters"] = std::move(params);
    }
    out.push_back({{"type", "function"}, {"function", std::move(f)}});
  }
  return out;
}

json gemma4_legacy_rewrite(const json& msgs) {
  json out = json::array();
  size_t i = 0;
  const size_t n = msgs.size();
  while (i < n) {
    const json& m = msgs[i];
    bool calls = m["role"] == "assistant" && m.contains("tool_calls");
    if (!calls || i + 1 >= n || msgs[i + 1]["role"] != "tool") {
      out.push_back(m);
      ++i;
      continue;
    }
    json merged = m;
    json responses = json::array();
    const json& tc = m["tool_calls"];
    size_t j = i + 1, k = 0;
    for (; j < n && msgs[j]["role"] == "tool"; ++j, ++k) {
      std::string name = k < tc.size() ? tc[k]["function"]["name"].get<std::string>() : msgs[j].value("tool_call_id", "");
      std::string text = content_text(msgs[j]["content"]);
      json response = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (response.is_discarded()) response = text;
      responses.push_back({{"name", name}, {"response", std::move(response)}});
    }
    merged["tool_responses"] = std::move(responses);
    if (j < n && msgs[j]["role"] == "assistant" && !msgs[j].contains("tool_calls")) {
      merged["content"] = msgs[j]["content"];
      ++j;
    }
    out.push_back(std::move(merged));
    i = j;
  }
  return out;
}

TemplateKind detect_template_kind(const std::string& source) {
  if (source.find("'<|tool_call>call:'") == std::string::npos) return TemplateKind::Generic;
  if (source.find("{#- OpenAI Chat Completions:") == std::string::npos) return TemplateKind::Gemma4Legacy;
  return TemplateKind::Gemma4;
}

ChatTemplate ChatTemplate::from_source(std::string source, std::string bos_token, std::string eos_token) {
  ChatTemplate t;
  t.tmpl_ = std::make_shared<const jinja::Template>(jinja::Template::parse(source));
  t.kind_ = detect_template_kind(source);
  t.source_ = std::move(source);
  t.bos_ = std::move(bos_token);
  t.eos_ = std::move(eos_token);
  return t;
}

std::string ChatTemplate::render_raw(const json& variables) const { return tmpl_->render(variables, limits_); }

std::string ChatTemplate::render_messages(const json& messages, const json& tools, bool add_generation_prompt,
                                          bool thinking, const ChatParams& params) const {
  json vars = json::object();
  if (params.template_kwargs.is_object())
    for (auto it = params.template_kwargs.begin(); it != params.template_kwargs.end(); ++it) vars[it.key()] = it.value();
  vars["messages"] = kind_ == TemplateKind::Gemma4Legacy ? gemma4_legacy_rewrite(messages) : messages;
  if (!tools.empty()) vars["tools"] = tools;
  else vars.erase("tools");
  vars["bos_token"] = bos_;
  vars["eos_token"] = eos_;
  vars["enable_thinking"] = thinking;
  if (add_generation_prompt) vars["add_generation_prompt"] = true;
  else vars.erase("add_generation_prompt");
  if (!params.reasoning_effort.empty() && params.reasoning_effort != "none") vars["reasoning_effort"] = params.reasoning_effort;
  std::time_t now = params.now_unix >= 0 ? static_cast<std::time_t>(params.now_unix) : std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[64];
  std::strftime(date, sizeof(date), "%d %b %Y", &tm);
  vars["date_string"] = date;

  jinja::RenderLimits lim = limits_;
  lim.now_unix = params.now_unix;
  std::string out = tmpl_->render(vars, lim);
  if (!bos_.empty() && out.compare(0, bos_.size(), bos_) == 0) out.erase(0, bos_.size());
  return out;
}

std::string ChatTemplate::apply(const json& messages, const json& tools, bool add_generation_prompt,
                                const json& extra_kwargs) const {
  ChatParams p;
  p.messages = messages;
  p.tools = tools;
  p.add_generation_prompt = add_generation_prompt;
  p.prefill_assistant = false;
  if (extra_kwargs.is_object()) p.template_kwargs = extra_kwargs;
  return render(p).prompt;
}

ChatPrompt ChatTemplate::render(const ChatParams& params) const {
  ChatPrompt result;
  json messages = normalize_messages(params.messages, params.media_marker, &result.media);
  json tools = normalize_tools(params.tools);

  bool thinking = params.enable_thinking;
  if (params.reasoning_effort == "none") thinking = false;
  if (params.template_kwargs.is_object() && params.template_kwargs.contains("enable_thinking")) {
    const json& et = params.template_kwargs["enable_thinking"];
    if (!et.is_boolean()) bad_request("chat_template_kwargs.enable_thinking must be a boolean");
    thinking = et.get<bool>();
  }
  result.thinking = thinking;
  const bool gemma = kind_ != TemplateKind::Generic;
  if (gemma) {
    result.preserved_tokens = {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|turn>"};
  }

  // ---- prefill / continue_final_message (spec §10) ----
  ContinueMode mode = params.continue_final_message;
  bool add_gen = params.add_generation_prompt;
  const bool last_is_assistant = messages.back()["role"] == "assistant";
  if (mode != ContinueMode::Off) {
    if (add_gen)
      bad_request("Cannot have both add_generation_prompt and continue_final_message set to true",
                  "send \"add_generation_prompt\": false together with continue_final_message");
    if (!last_is_assistant) bad_request("continue_final_message needs an assistant message at the end");
  } else if (last_is_assistant && params.prefill_assistant) {
    mode = ContinueMode::Auto;
    add_gen = false;
  }
  if (mode != ContinueMode::Off) {
    if (messages.size() >= 2 && messages[messages.size() - 2]["role"] == "assistant")
      bad_request("Cannot have 2 or more assistant messages at the end of the list.");
    json last = messages.back();
    if (last.contains("tool_calls")) bad_request("Cannot continue an assistant message that has tool calls");
    messages.erase(messages.size() - 1);
    std::string content = content_text(last["content"]);
    std::string reasoning = last.value("reasoning_content", "");
    if (mode == ContinueMode::Auto) mode = (!reasoning.empty() && content.empty()) ? ContinueMode::Reasoning : ContinueMode::Content;
    result.prefill = true;
    std::string base = messages.empty() ? std::string() : render_messages(messages, tools, false, thinking, params);
    if (gemma) {
      std::string gen = (base.size() >= 8 && base.compare(base.size() - 8, 8, "<turn|>\n") == 0) ? "<|turn>model\n" : "";
      gen += "<|channel>thought\n" + reasoning;
      if (mode == ContinueMode::Content) gen += "<channel|>" + content;
      result.generation_prompt = gen;
      result.prompt = base + gen;
    } else {
      std::string with_gen = messages.empty() ? std::string() : render_messages(messages, tools, true, thinking, params);
      size_t lcp = 0;
      while (lcp < base.size() && lcp < with_gen.size() && base[lcp] == with_gen[lcp]) ++lcp;
      result.generation_prompt = with_gen.substr(lcp) + content;
      result.prompt = with_gen + content;
    }
    return result;
  }

  // ---- ordinary rendering: prompt, and the generation prompt as the diff of the two ----
  std::string without = render_messages(messages, tools, false, thinking, params);
  std::string with = render_messages(messages, tools, true, thinking, params);
  size_t lcp = 0;
  while (lcp < without.size() && lcp < with.size() && without[lcp] == with[lcp]) ++lcp;
  result.generation_prompt = with.substr(lcp);
  result.prompt = add_gen ? with : without;
  // Gemma 4 post-fix (common/parsers/gemma4.cpp): a closed model turn after tool results
  // gets a fresh model header.
  if (gemma && add_gen && result.prompt.size() >= 8 &&
      result.prompt.compare(result.prompt.size() - 8, 8, "<turn|>\n") == 0) {
    result.prompt += "<|turn>model\n";
    result.generation_prompt = "<|turn>model\n";
  }
  return result;
}

}  // namespace fitserve::chat
