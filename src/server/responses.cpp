// server/responses.cpp — JSON response builders (see responses.h).
#include "server/responses.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <random>

namespace fitserve::server {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_data(const json& j) { return "data: " + dump(j) + "\n\n"; }

std::string random_id(size_t n) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}() ^
                             static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::lock_guard<std::mutex> lock(mu);
  std::string s(n, 'a');
  for (auto& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

ModelCard make_model_card(const std::vector<std::string>& aliases, const std::vector<std::string>& tags,
                          const std::string& model_path, int64_t created) {
  ModelCard c;
  c.aliases = aliases;
  std::sort(c.aliases.begin(), c.aliases.end());
  c.aliases.erase(std::unique(c.aliases.begin(), c.aliases.end()), c.aliases.end());
  c.tags = tags;
  c.id = c.aliases.empty() ? std::filesystem::path(model_path).stem().string() : c.aliases.front();
  if (c.id.empty()) c.id = "model";
  c.created = created;
  c.fingerprint = "b1-fitserve";
  return c;
}

static double finite_or_zero(double v) { return std::isfinite(v) && v > 0 ? v : 0.0; }

json timings_json(const engine::Timings& t) {
  json j;
  j["cache_n"] = t.cache_n;
  j["prompt_n"] = t.prompt_n;
  j["prompt_ms"] = finite_or_zero(t.prompt_ms);
  j["prompt_per_token_ms"] = t.prompt_n > 0 ? finite_or_zero(t.prompt_ms / t.prompt_n) : 0.0;
  j["prompt_per_second"] = t.prompt_ms > 0 ? finite_or_zero(1e3 * t.prompt_n / t.prompt_ms) : 0.0;
  j["predicted_n"] = t.predicted_n;
  j["predicted_ms"] = finite_or_zero(t.predicted_ms);
  // The first generated token comes out of the last prompt batch: rates use n-1 decode steps.
  int steps = t.predicted_n - 1;
  j["predicted_per_token_ms"] = steps > 0 ? finite_or_zero(t.predicted_ms / steps) : 0.0;
  j["predicted_per_second"] = steps > 0 && t.predicted_ms > 0 ? finite_or_zero(1e3 * steps / t.predicted_ms) : 0.0;
  if (t.draft_n > 0) {
    j["draft_n"] = t.draft_n;
    j["draft_n_accepted"] = t.draft_accepted_n;
  }
  return j;
}

json usage_json(int32_t prompt_tokens, int32_t completion_tokens, int32_t cached_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json bytes_json(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

static float finite_logprob(float lp) {
  return std::isfinite(lp) ? lp : std::numeric_limits<float>::lowest();
}

json logprob_entry(const engine::TokenEvent& ev, const PieceFn& piece, int top_n) {
  json e;
  e["id"] = ev.token;
  e["token"] = ev.text;
  e["bytes"] = bytes_json(piece(ev.token));
  e["logprob"] = finite_logprob(ev.logprob);
  json top = json::array();
  for (size_t i = 0; i < ev.top.size() && static_cast<int>(i) < top_n; ++i) {
    std::string p = piece(ev.top[i].first);
    top.push_back({{"id", ev.top[i].first}, {"token", p}, {"bytes", bytes_json(p)},
                   {"logprob", finite_logprob(ev.top[i].second)}});
  }
  e["top_logprobs"] = std::move(top);
  return e;
}

json message_json(const ChatMsg& m) {
  json msg = {{"role", "assistant"}, {"content", m.content}};
  if (!m.reasoning_content.empty()) msg["reasoning_content"] = m.reasoning_content;
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back({{"id", c.id}, {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    msg["tool_calls"] = std::move(calls);
  }
  return msg;
}

static std::string suffix_after(const std::string& prev, const std::string& next) {
  if (next.size() > prev.size() && next.compare(0, prev.size(), prev) == 0) return next.substr(prev.size());
  return {};
}

std::vector<json> diff_deltas(const ChatMsg& prev, const ChatMsg& next) {
  std::vector<json> out;
  if (auto r = suffix_after(prev.reasoning_content, next.reasoning_content); !r.empty())
    out.push_back({{"reasoning_content", r}});
  if (auto c = suffix_after(prev.content, next.content); !c.empty()) out.push_back({{"content", c}});
  size_t known = std::min(prev.tool_calls.size(), next.tool_calls.size());
  if (known > 0) {
    size_t i = known - 1;
    if (auto a = suffix_after(prev.tool_calls[i].arguments, next.tool_calls[i].arguments); !a.empty())
      out.push_back({{"tool_calls", json::array({{{"index", i}, {"function", {{"arguments", a}}}}})}});
  }
  for (size_t i = known; i < next.tool_calls.size(); ++i) {
    const auto& c = next.tool_calls[i];
    json fn = {{"name", c.name}};
    fn["arguments"] = c.arguments;
    out.push_back({{"tool_calls", json::array({{{"index", i}, {"id", c.id}, {"type", "function"},
                                                 {"function", fn}}})}});
  }
  return out;
}

std::string finish_reason(const engine::Result& r, bool has_tool_calls) {
  if (r.finish_reason == "length") return "length";
  return has_tool_calls ? "tool_calls" : "stop";
}

std::string stop_type(const engine::Result& r) {
  if (r.finish_reason == "length") return "limit";
  if (r.finish_reason == "stop") return r.stop_word.empty() ? "eos" : "word";
  return "none";
}

json chat_completion(const std::string& id, const ModelCard& card, json choices, json usage, json timings) {
  json j = {{"id", id}, {"object", "chat.completion"}, {"created", unix_now()}, {"model", card.id},
            {"system_fingerprint", card.fingerprint}, {"choices", std::move(choices)},
            {"usage", std::move(usage)}};
  if (!timings.is_null()) j["timings"] = std::move(timings);
  return j;
}

json chat_chunk(const std::string& id, const ModelCard& card, int index, json delta, json finish) {
  json choice = {{"index", index}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}};
  return {{"id", id}, {"object", "chat.completion.chunk"}, {"created", unix_now()}, {"model", card.id},
          {"system_fingerprint", card.fingerprint}, {"choices", json::array({std::move(choice)})}};
}

json text_completion(const std::string& id, const ModelCard& card, json choices, json usage, json timings,
                     const char* object) {
  json j = {{"id", id}, {"object", object}, {"created", unix_now()}, {"model", card.id},
            {"system_fingerprint", card.fingerprint}, {"choices", std::move(choices)}};
  if (!usage.is_null()) j["usage"] = std::move(usage);
  if (!timings.is_null()) j["timings"] = std::move(timings);
  return j;
}

json models_json(const ModelCard& card, const engine::ModelInfo& info) {
  json meta = {{"n_vocab", info.n_vocab}, {"n_ctx", info.n_ctx}, {"n_ctx_train", info.n_ctx_train},
               {"n_embd", info.n_embd}, {"n_params", info.n_params}, {"size", info.size_bytes}};
  json aliases = card.aliases.empty() ? json::array({card.id}) : json(card.aliases);
  json data = {{"id", card.id}, {"aliases", aliases}, {"tags", card.tags.empty() ? json::array() : json(card.tags)},
               {"object", "model"}, {"created", card.created}, {"owned_by", "llamacpp"}, {"meta", meta}};
  json details = {{"parent_model", ""}, {"format", "gguf"}, {"family", info.architecture},
                  {"families", json::array({info.architecture})}, {"parameter_size", ""},
                  {"quantization_level", ""}};
  json model = {{"name", card.id}, {"model", card.id}, {"modified_at", ""}, {"size", ""}, {"digest", ""},
                {"type", "model"}, {"description", ""}, {"tags", json::array({""})},
                {"capabilities", json::array({"completion"})}, {"parameters", ""}, {"details", details}};
  return {{"object", "list"}, {"data", json::array({data})}, {"models", json::array({model})}};
}

json slot_json(const engine::SlotState& s, int32_t n_ctx_slot, const json& params) {
  json j = {{"id", s.id}, {"n_ctx", n_ctx_slot}, {"speculative", s.speculative}, {"is_processing", s.busy}};
  if (s.speculative) {
    j["n_draft"] = s.n_draft;
    j["n_draft_accepted"] = s.n_draft_accepted;
  }
  if (s.busy) j["id_task"] = s.request;
  j["n_prompt_tokens"] = s.n_prompt;
  j["n_past"] = s.n_past;
  if (!params.is_null()) j["params"] = params;
  j["next_token"] = json::array({{{"has_next_token", s.busy},
                                  {"has_new_line", false},
                                  {"n_remain", -1},
                                  {"n_decoded", s.busy ? s.n_decoded : 0}}});
  j["prompt"] = "";
  j["generated"] = "";
  return j;
}

}  // namespace fitserve::server
