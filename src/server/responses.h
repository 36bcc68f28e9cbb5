// server/responses.h — JSON shapes of the OpenAI-compatible and native responses (pure builders).
// Offers: dump() (compact, invalid UTF-8 replaced), sse_data(), random_id(), ModelCard (what
// /v1/models and /props say about the model), timings_json(), usage_json(), logprob entries,
// ChatMsg (parsed assistant output) with message_json() and stream deltas (diff_deltas()),
// chat/text completion objects and chunks, finish/stop mapping, /v1/models and /slots entries.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace fitserve::server {

using json = nlohmann::json;

// Compact JSON; invalid UTF-8 (e.g. a byte token) becomes U+FFFD instead of throwing.
std::string dump(const json& j);
// "data: <json>\n\n"
std::string sse_data(const json& j);
// Seconds since the epoch ("created" fields).
int64_t unix_now();
// `n` random characters from [A-Za-z0-9].
std::string random_id(size_t n = 32);

struct ModelCard {
  std::string id;                    // alias shown as "model"
  std::vector<std::string> aliases;  // sorted
  std::vector<std::string> tags;
  int64_t created = 0;               // unix seconds (server start)
  std::string fingerprint;           // system_fingerprint
};

// Builds the card: id = alphabetically first alias, else the model file's stem.
ModelCard make_model_card(const std::vector<std::string>& aliases, const std::vector<std::string>& tags,
                          const std::string& model_path, int64_t created);

json timings_json(const engine::Timings& t);
json usage_json(int32_t prompt_tokens, int32_t completion_tokens, int32_t cached_tokens);

// Per-token log-prob entry {"id","token","bytes","logprob","top_logprobs":[...]}. `piece(id)`
// gives a token's raw bytes; `text` is the text the token released into the output.
using PieceFn = std::function<std::string(int32_t)>;
json logprob_entry(const engine::TokenEvent& ev, const PieceFn& piece, int top_n);
json bytes_json(const std::string& s);

struct ToolCall {
  std::string id, name, arguments;  // arguments: JSON text
};
// The assistant's output split by the chat output parser.
struct ChatMsg {
  std::string content, reasoning_content;
  std::vector<ToolCall> tool_calls;
};
// {"role":"assistant","content":C,"reasoning_content"?:R,"tool_calls"?:[...]}
json message_json(const ChatMsg& m);
// Stream deltas turning `prev` into `next` (reasoning, content, then tool calls); never empty
// strings; new calls carry id/type/name, later ones only argument suffixes.
std::vector<json> diff_deltas(const ChatMsg& prev, const ChatMsg& next);

// engine finish ("stop"/"length"/...) -> OpenAI finish_reason; tool calls turn "stop" into "tool_calls".
std::string finish_reason(const engine::Result& r, bool has_tool_calls);
// native stop_type: "eos" | "word" | "limit" | "none"
std::string stop_type(const engine::Result& r);

json chat_completion(const std::string& id, const ModelCard& card, json choices, json usage, json timings);
json chat_chunk(const std::string& id, const ModelCard& card, int index, json delta, json finish);
json text_completion(const std::string& id, const ModelCard& card, json choices, json usage, json timings,
                     const char* object = "text_completion");

// GET /v1/models body.
json models_json(const ModelCard& card, const engine::ModelInfo& info);
// One /slots entry; `params` (null = none yet) is the last request's generation settings.
json slot_json(const engine::SlotState& s, int32_t n_ctx_slot, const json& params);

}  // namespace fitserve::server
