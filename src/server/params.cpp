// server/params.cpp — request parsing and validation (see params.h).
#include "server/params.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace fitserve::server {

namespace {

std::string field_err(const char* key, const std::string& what) {
  return std::string("Field '") + key + "': " + what;
}

std::string fmt_num(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::string s = std::to_string(v);
  return s;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

}  // namespace

int json_depth(std::string_view s, int limit) {
  int depth = 0, max_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        max_depth = depth;
        if (max_depth > limit) return max_depth;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

json parse_json_body(std::string_view body, int max_depth) {
  if (json_depth(body, max_depth) > max_depth)
    throw bad_request("request JSON is nested deeper than " + std::to_string(max_depth) + " levels");
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw bad_request("request body is not valid JSON");
  if (!j.is_object()) throw bad_request("request body must be a JSON object");
  return j;
}

// ---- Fields ----

const json* Fields::get(const char* key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Fields::has(const char* key) const { return get(key) != nullptr; }

std::optional<double> Fields::number(const char* key, double lo, double hi) const {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_request(field_err(key, std::string("expected a number, got ") + type_name(*v)));
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw bad_request(field_err(key, "Value must be between " + fmt_num(lo) + " and " + fmt_num(hi)));
  return d;
}

std::optional<int64_t> Fields::integer(const char* key, int64_t lo, int64_t hi) const {
  const json* v = get(key);
  if (!v) return std::nullopt;
  int64_t x;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw bad_request(field_err(key, "Value must be between " + std::to_string(lo) + " and " + std::to_string(hi)));
    x = v->get<int64_t>();
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9e18)
      throw bad_request(field_err(key, "expected an integer"));
    x = static_cast<int64_t>(d);
  } else {
    throw bad_request(field_err(key, std::string("expected an integer, got ") + type_name(*v)));
  }
  if (x < lo || x > hi)
    throw bad_request(field_err(key, "Value must be between " + std::to_string(lo) + " and " + std::to_string(hi)));
  return x;
}

std::optional<bool> Fields::boolean(const char* key) const {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw bad_request(field_err(key, std::string("expected a boolean, got ") + type_name(*v)));
  return v->get<bool>();
}

std::optional<std::string> Fields::string(const char* key) const {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw bad_request(field_err(key, std::string("expected a string, got ") + type_name(*v)));
  return v->get<std::string>();
}

// ---- generation options ----

namespace {

std::vector<std::string> parse_stop(const json* v) {
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    if (!v->get_ref<const std::string&>().empty()) out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) throw bad_request("Field 'stop': expected a string or an array of strings");
  if (v->size() > 64) throw bad_request("Field 'stop': at most 64 stop strings");
  for (const auto& s : *v) {
    if (!s.is_string()) throw bad_request("Field 'stop': expected a string or an array of strings");
    if (!s.get_ref<const std::string&>().empty()) out.push_back(s.get<std::string>());
  }
  return out;
}

void refuse_if_set(const Fields& f, const char* key, const char* why) {
  const json* v = f.get(key);
  if (!v) return;
  if ((v->is_array() || v->is_object() || v->is_string()) && v->empty()) return;
  throw bad_request(std::string("Field '") + key + "' is not supported by this server: " + why);
}

}  // namespace

GenOptions parse_gen_options(const json& body, Api api, const ServerOptions& opt, int n_slots) {
  Fields f(body);
  GenOptions g;
  auto& s = g.req.sampling;
  s = opt.sampling;
  g.sse_ping_s = opt.sse_ping_s;

  if (auto v = f.number("temperature", -1e9, 1e9)) s.temperature = static_cast<float>(*v);
  if (auto v = f.integer("top_k", INT32_MIN, INT32_MAX)) s.top_k = static_cast<int32_t>(*v);
  if (auto v = f.number("top_p", -1e9, 1e9)) s.top_p = static_cast<float>(std::clamp(*v, 0.0, 1.0));
  if (auto v = f.number("min_p", -1e9, 1e9)) s.min_p = static_cast<float>(std::clamp(*v, 0.0, 1.0));
  if (auto v = f.number("repeat_penalty", 0, 1e9)) s.repeat_penalty = static_cast<float>(*v);
  if (auto v = f.integer("repeat_last_n", -1, INT32_MAX)) s.repeat_last_n = static_cast<int32_t>(*v);
  if (auto v = f.number("frequency_penalty", -2e9, 2e9)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = f.number("presence_penalty", -2e9, 2e9)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = f.integer("seed", INT64_MIN, INT64_MAX)) {
    if (*v >= 0) {
      s.seed = static_cast<uint64_t>(*v) & 0xFFFFFFFFu;
      g.seed_given = s.seed != 0xFFFFFFFFu;
    } else {
      s.seed = 0xFFFFFFFFu;
    }
  }
  // Accepted with their "off" values only: the sampler has no such stage.
  if (auto v = f.number("typical_p", -1e9, 1e9); v && *v < 1.0)
    throw bad_request("Field 'typical_p': only 1.0 (off) is supported");
  if (auto v = f.integer("mirostat", 0, 2); v && *v != 0)
    throw bad_request("Field 'mirostat': only 0 (off) is supported");
  if (auto v = f.number("dry_multiplier", 0, 1e9); v && *v != 0)
    throw bad_request("Field 'dry_multiplier': only 0 (off) is supported");
  if (auto v = f.number("xtc_probability", 0, 1); v && *v != 0)
    throw bad_request("Field 'xtc_probability': only 0 (off) is supported");
  refuse_if_set(f, "grammar", "constrained decoding is not implemented");
  refuse_if_set(f, "json_schema", "constrained decoding is not implemented");
  refuse_if_set(f, "logit_bias", "logit biases are not implemented");

  // Token budget: OpenAI fields reject any negative value; native n_predict keeps -1 = unlimited.
  std::optional<int64_t> np;
  if (auto v = f.integer("max_completion_tokens", 0, INT32_MAX)) np = v;
  else if (auto v2 = f.integer("max_tokens", 0, INT32_MAX)) np = v2;
  else if (auto v3 = f.integer("n_predict", -1, INT32_MAX)) np = v3;
  int32_t n_predict = np ? static_cast<int32_t>(*np) : opt.n_predict;
  if (opt.n_predict >= 0 && (n_predict < 0 || n_predict > opt.n_predict)) n_predict = opt.n_predict;
  g.req.n_predict = n_predict;

  g.req.stop = parse_stop(f.get("stop"));
  if (auto v = f.boolean("ignore_eos")) g.req.ignore_eos = *v;
  if (auto v = f.boolean("cache_prompt")) g.req.cache_prompt = *v;
  if (auto v = f.integer("id_slot", -1, n_slots - 1)) g.req.slot_id = static_cast<int32_t>(*v);

  int64_t n = 1;
  if (auto v = f.integer("n", INT64_MIN, INT64_MAX)) n = *v;
  else if (auto v2 = f.integer("n_cmpl", INT64_MIN, INT64_MAX)) n = *v2;
  if (n < 1 || n > n_slots)
    throw bad_request("Field 'n': Value must be between 1 and " + std::to_string(n_slots) +
                      " (the number of slots; start the server with a larger --parallel)");
  g.n = static_cast<int>(n);

  if (auto v = f.boolean("stream")) g.stream = *v;
  if (const json* so = f.get("stream_options")) {
    if (!so->is_object()) throw bad_request("Field 'stream_options': expected an object");
    Fields sf(*so);
    if (auto v = sf.boolean("include_usage")) g.include_usage = *v;
  }
  if (auto v = f.boolean("timings_per_token")) g.timings_per_token = *v;
  if (auto v = f.boolean("return_tokens")) g.return_tokens = *v;
  if (auto v = f.boolean("post_sampling_probs"); v && *v)
    throw bad_request("Field 'post_sampling_probs' is not supported by this server: use log-probs");
  if (auto v = f.integer("sse_ping_interval", -1, 3600)) g.sse_ping_s = static_cast<int>(*v);

  // Log-probs: chat `logprobs:true` + `top_logprobs`; OAI completions `logprobs:<int>`;
  // native `n_probs`.
  int64_t n_probs = 0;
  if (api == Api::Chat) {
    bool lp = f.boolean("logprobs").value_or(false);
    auto top = f.integer("top_logprobs", 0, 20);
    if (top && !lp) throw bad_request("Field 'top_logprobs' requires 'logprobs' to be true");
    g.logprobs = lp;
    if (lp) n_probs = top.value_or(20);  // reference default
  } else if (api == Api::OaiCompletion) {
    const json* lp = f.get("logprobs");
    if (lp && lp->is_boolean()) {
      g.logprobs = lp->get<bool>();
    } else if (auto v = f.integer("logprobs", 0, 20)) {
      g.logprobs = *v > 0;
      n_probs = *v;
    }
  } else {
    if (auto v = f.integer("n_probs", 0, 100)) n_probs = *v;
    g.logprobs = n_probs > 0;
  }
  g.top_logprobs = static_cast<int>(n_probs);
  // The engine reports the chosen token's log-prob only when n_probs > 0.
  g.req.n_probs = g.logprobs ? std::max<int32_t>(1, static_cast<int32_t>(n_probs)) : 0;
  return g;
}

// ---- chat ----

namespace {

const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};

void check_content(const json& m, size_t i, bool may_be_null) {
  std::string where = "messages[" + std::to_string(i) + "]";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (!may_be_null) throw bad_request(where + ": 'content' is required");
    return;
  }
  if (it->is_string()) return;
  if (!it->is_array()) throw bad_request(where + ": 'content' must be a string or an array of content parts");
  for (size_t k = 0; k < it->size(); ++k) {
    const json& p = (*it)[k];
    std::string pw = where + ".content[" + std::to_string(k) + "]";
    if (!p.is_object()) throw bad_request(pw + ": expected an object");
    auto t = p.find("type");
    if (t == p.end() || !t->is_string()) throw bad_request(pw + ": 'type' is required");
    const std::string& type = t->get_ref<const std::string&>();
    if (type == "text") {
      auto tx = p.find("text");
      if (tx == p.end() || !tx->is_string()) throw bad_request(pw + ": 'text' must be a string");
    } else if (type == "image_url" || type == "input_audio" || type == "input_video" ||
               type == "video_url" || type == "image") {
      throw bad_request(pw + ": media input ('" + type +
                        "') is not supported: no multimodal projector is loaded");
    } else {
      throw bad_request(pw + ": unsupported content part type '" + type + "'");
    }
  }
}

void check_tool_calls(const json& m, size_t i) {
  auto it = m.find("tool_calls");
  if (it == m.end() || it->is_null()) return;
  std::string where = "messages[" + std::to_string(i) + "].tool_calls";
  if (!it->is_array()) throw bad_request(where + ": expected an array");
  for (size_t k = 0; k < it->size(); ++k) {
    const json& c = (*it)[k];
    std::string cw = where + "[" + std::to_string(k) + "]";
    if (!c.is_object()) throw bad_request(cw + ": expected an object");
    auto fn = c.find("function");
    if (fn == c.end() || !fn->is_object()) throw bad_request(cw + ": 'function' must be an object");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
      throw bad_request(cw + ".function: 'name' must be a non-empty string");
    auto args = fn->find("arguments");
    if (args != fn->end() && !args->is_null()) {
      if (args->is_string()) {
        json parsed = json::parse(args->get_ref<const std::string&>(), nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object())
          throw bad_request(cw + ": Failed to parse tool call arguments as JSON");
      } else if (!args->is_object()) {
        throw bad_request(cw + ".function: 'arguments' must be a JSON string or an object");
      }
    }
  }
}

void check_messages(const json& msgs) {
  if (!msgs.is_array()) throw bad_request("'messages' must be an array of message objects");
  if (msgs.empty()) throw bad_request("'messages' must not be empty");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const json& m = msgs[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request(where + ": expected an object with 'role' and 'content'");
    auto r = m.find("role");
    if (r == m.end() || !r->is_string()) throw bad_request(where + ": 'role' must be a string");
    const std::string& role = r->get_ref<const std::string&>();
    bool known = false;
    for (const char* k : kRoles) known = known || role == k;
    if (!known)
      throw bad_request(where + ": unknown role '" + role +
                        "' (expected system, developer, user, assistant or tool)");
    bool assistant = role == "assistant";
    check_content(m, i, assistant || role == "tool");
    for (const char* key : {"name", "tool_call_id", "reasoning_content"}) {
      auto it = m.find(key);
      if (it != m.end() && !it->is_null() && !it->is_string())
        throw bad_request(where + ": '" + key + "' must be a string");
    }
    if (assistant) check_tool_calls(m, i);
    else if (m.contains("tool_calls") && !m["tool_calls"].is_null())
      throw bad_request(where + ": only assistant messages may have 'tool_calls'");
  }
  size_t n = msgs.size();
  if (n >= 2 && msgs[n - 1]["role"] == "assistant" && msgs[n - 2]["role"] == "assistant")
    throw bad_request("Cannot have 2 or more assistant messages at the end of the list.");
}

void check_tools(const json& tools) {
  if (!tools.is_array()) throw bad_request("'tools' must be an array");
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    std::string where = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) throw bad_request(where + ": expected an object");
    auto type = t.find("type");
    if (type != t.end() && !type->is_null() && *type != "function")
      throw bad_request(where + ": only tools of type 'function' are supported");
    auto fn = t.find("function");
    if (fn == t.end() || !fn->is_object()) throw bad_request(where + ": 'function' must be an object");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
      throw bad_request(where + ".function: 'name' must be a non-empty string");
    auto desc = fn->find("description");
    if (desc != fn->end() && !desc->is_null() && !desc->is_string())
      throw bad_request(where + ".function: 'description' must be a string");
    auto params = fn->find("parameters");
    if (params != fn->end() && !params->is_null() && !params->is_object())
      throw bad_request(where + ".function: 'parameters' must be a JSON schema object");
  }
}

}  // namespace

ChatParams parse_chat_params(const json& body, const ServerOptions& opt) {
  Fields f(body);
  ChatParams c;
  auto it = body.find("messages");
  if (it == body.end()) throw bad_request("'messages' is required");
  check_messages(*it);
  c.messages = *it;

  if (const json* t = f.get("tools")) {
    check_tools(*t);
    c.tools = *t;
  }
  if (const json* tc = f.get("tool_choice")) {
    if (tc->is_string()) {
      const std::string& s = tc->get_ref<const std::string&>();
      if (s != "auto" && s != "none" && s != "required")
        throw bad_request("Field 'tool_choice': expected auto, none, required or a function object");
      c.tool_choice = s;
    } else if (tc->is_object()) {
      // {"type":"function","function":{"name":N}}: that tool is required.
      auto fn = tc->find("function");
      if (fn == tc->end() || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string())
        throw bad_request("Field 'tool_choice': expected {\"type\":\"function\",\"function\":{\"name\":...}}");
      std::string name = (*fn)["name"].get<std::string>();
      json kept = json::array();
      for (const auto& t : c.tools)
        if (t["function"]["name"] == name) kept.push_back(t);
      if (kept.empty()) throw bad_request("Field 'tool_choice': no tool named '" + name + "'");
      c.tools = std::move(kept);
      c.tool_choice = "required";
    } else {
      throw bad_request("Field 'tool_choice': expected a string or an object");
    }
  }
  if (c.tool_choice == "none") c.tools = json::array();
  if (c.tool_choice == "required" && c.tools.empty())
    throw bad_request("Field 'tool_choice': 'required' needs at least one tool");
  if (auto v = f.boolean("parallel_tool_calls")) c.parallel_tool_calls = *v;
  if (auto v = f.boolean("add_generation_prompt")) {
    c.add_generation_prompt = *v;
    c.add_generation_prompt_given = true;
  }
  if (const json* cf = f.get("continue_final_message")) {
    if (!cf->is_boolean() && !(cf->is_string() && (*cf == "content" || *cf == "reasoning_content")))
      throw bad_request("Field 'continue_final_message': expected a boolean, \"content\" or \"reasoning_content\"");
    c.continue_final_message = *cf;
    bool on = !cf->is_boolean() || cf->get<bool>();
    if (on && c.add_generation_prompt_given && c.add_generation_prompt)
      throw bad_request("Cannot use continue_final_message together with add_generation_prompt: true");
  }

  c.chat_template_kwargs = opt.chat_template_kwargs.is_object() ? opt.chat_template_kwargs : json::object();
  if (const json* kw = f.get("chat_template_kwargs")) {
    if (!kw->is_object()) throw bad_request("Field 'chat_template_kwargs': expected an object");
    for (auto k = kw->begin(); k != kw->end(); ++k) c.chat_template_kwargs[k.key()] = k.value();
  }
  c.enable_thinking = opt.enable_thinking;
  if (auto e = c.chat_template_kwargs.find("enable_thinking"); e != c.chat_template_kwargs.end()) {
    if (e->is_boolean()) c.enable_thinking = e->get<bool>();
    else if (e->is_string()) c.enable_thinking = *e == "true";
    else if (!e->is_null()) throw bad_request("chat_template_kwargs.enable_thinking must be a boolean");
  }
  if (auto v = f.string("reasoning_effort")) {
    if (*v == "none") c.enable_thinking = false;
    c.reasoning_effort = *v;
  }
  c.chat_template_kwargs["enable_thinking"] = c.enable_thinking;
  c.reasoning_format = opt.reasoning_format;
  if (auto v = f.string("reasoning_format")) {
    if (*v != "none" && *v != "auto" && *v != "deepseek" && *v != "deepseek-legacy")
      throw bad_request("Field 'reasoning_format': expected none, auto, deepseek or deepseek-legacy");
    c.reasoning_format = *v;
  }
  if (const json* rf = f.get("response_format")) {
    if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
      throw bad_request("Field 'response_format': expected {\"type\": ...}");
    std::string type = (*rf)["type"].get<std::string>();
    if (type == "json_object" || type == "json_schema")
      throw bad_request("response_format '" + type +
                        "' is not supported by this server: constrained decoding is not implemented");
    if (type != "text") throw bad_request("response_format type must be one of \"text\", \"json_object\", \"json_schema\"");
  }
  return c;
}

// ---- completion prompts ----

namespace {

Prompt parse_one_prompt(const json& p) {
  Prompt out;
  if (p.is_string()) {
    out.push_back({true, p.get<std::string>(), -1});
    return out;
  }
  if (p.is_object()) {
    if (p.contains("multimodal_data"))
      throw bad_request("multimodal data is not supported: no multimodal projector is loaded");
    auto ps = p.find("prompt_string");
    if (ps == p.end() || !ps->is_string()) throw bad_request("Field 'prompt': object prompts need 'prompt_string'");
    out.push_back({true, ps->get<std::string>(), -1});
    return out;
  }
  if (p.is_array()) {
    for (const auto& e : p) {
      if (e.is_string()) {
        out.push_back({true, e.get<std::string>(), -1});
      } else if (e.is_number_integer()) {
        if (e.is_number_unsigned() ? e.get<uint64_t>() > INT32_MAX
                                   : (e.get<int64_t>() < 0 || e.get<int64_t>() > INT32_MAX))
          throw bad_request("Field 'prompt': token id out of range");
        out.push_back({false, {}, static_cast<int32_t>(e.get<int64_t>())});
      } else {
        throw bad_request("Field 'prompt': arrays may hold strings and token ids only");
      }
    }
    return out;
  }
  throw bad_request("Field 'prompt': expected a string, an array of token ids, or an array of prompts");
}

bool is_prompt_batch(const json& p) {
  // An array whose first element is itself a prompt (string array = batch of strings in the
  // OpenAI API; an array of arrays/objects = batch of token prompts).
  if (!p.is_array() || p.empty()) return false;
  bool all_strings = true;
  for (const auto& e : p) {
    if (e.is_array() || e.is_object()) return true;
    if (!e.is_string()) all_strings = false;
  }
  return all_strings && p.size() > 1;
}

}  // namespace

std::vector<Prompt> parse_prompts(const json& prompt, bool allow_batch, size_t max_prompts) {
  std::vector<Prompt> out;
  if (prompt.is_null()) throw bad_request("'prompt' is required");
  if (allow_batch && is_prompt_batch(prompt)) {
    if (prompt.size() > max_prompts)
      throw bad_request("Field 'prompt': at most " + std::to_string(max_prompts) + " prompts per request");
    for (const auto& p : prompt) {
      if (p.is_array() && !p.empty() && (p[0].is_array() || p[0].is_object()))
        throw bad_request("Field 'prompt': prompts cannot be nested further");
      out.push_back(parse_one_prompt(p));
    }
  } else {
    out.push_back(parse_one_prompt(prompt));
  }
  return out;
}

TokenizeParams parse_tokenize(const json& body) {
  Fields f(body);
  TokenizeParams t;
  const json* c = f.get("content");
  if (!c) throw bad_request("'content' is required");
  if (!c->is_string() && !c->is_array()) throw bad_request("Field 'content': expected a string or an array");
  t.content = parse_one_prompt(*c);
  if (auto v = f.boolean("add_special")) t.add_special = *v;
  if (auto v = f.boolean("parse_special")) t.parse_special = *v;
  if (auto v = f.boolean("with_pieces")) t.with_pieces = *v;
  return t;
}

std::vector<int32_t> parse_token_ids(const json& body, const char* key, int32_t n_vocab) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_array()) throw bad_request(std::string("Field '") + key + "': expected an array of token ids");
  std::vector<int32_t> ids;
  ids.reserve(it->size());
  for (const auto& e : *it) {
    if (!e.is_number_integer()) throw bad_request(std::string("Field '") + key + "': expected an array of token ids");
    int64_t v = e.is_number_unsigned() && e.get<uint64_t>() > INT64_MAX ? -1 : e.get<int64_t>();
    if (v < 0 || v >= n_vocab)
      throw bad_request(std::string("Field '") + key + "': token id " + e.dump() + " is out of range [0, " +
                        std::to_string(n_vocab) + ")");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace fitserve::server
